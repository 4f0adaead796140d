// The call page: signalling over WebSocket and a full mesh of RTCPeerConnections.
//
// It follows docs/signalling.md ("Setting up the mesh", "Reconnecting") exactly, like the
// Python test peer (signalling/peer.py): one peer connection per other admitted participant,
// the smaller participant id offers, messages are handled strictly in order, candidates that
// arrive early are queued, and after a reconnect every peer connection is made anew.
'use strict';

(() => {
  const root = document.getElementById('call-root');
  if (!root) return;

  const texts = JSON.parse(root.dataset.texts);
  const isClinician = root.dataset.clinician === 'true';
  const wsPath = root.dataset.wsPath;
  const token = root.dataset.token || null;

  // Close codes after which reconnecting cannot help.
  const FINAL_CLOSE_CODES = new Set([1000, 1007, 1009, 4001, 4002, 4003, 4005]);
  const BACKOFF_INITIAL_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  const GIVE_UP_AFTER_MS = 120000;
  const PING_EVERY_MS = 15000;
  const SILENCE_LIMIT_MS = 40000;

  // The join link must not stay in the address bar (shoulder surfing, shared screens, history).
  // The tab keeps it so that a reload (which lands on /bli-med) can reopen the call.
  if (token) {
    try {
      sessionStorage.setItem('samkons.join', token);
    } catch (err) {
      // Private mode without storage: a reload then asks for the link again.
    }
    history.replaceState(null, '', '/bli-med');
  }

  const el = (id) => document.getElementById(id);
  const connState = el('conn-state');
  const tiles = el('tiles');
  const tileTemplate = el('tile-template');
  const rosterList = el('roster');
  const waitingView = el('waiting-view');
  const endedView = el('ended-view');
  const announcer = el('announcer');
  const controls = el('controls');

  let socket = null;
  let you = null;
  let roster = new Map();
  let iceServers = [];
  const links = new Map(); // participant id → {pc, connection, remoteSet, pending, stream}
  let localStream = new MediaStream();
  let cameraTrack = null;
  let screenTrack = null;
  let micOn = true;
  let cameraOn = true;
  let attempt = 0;
  let lastJoinedAt = Date.now();
  let lastHeardAt = Date.now();
  let pingTimer = null;
  let watchdogTimer = null;
  let stopped = false;
  let endedReason = 'over'; // from the server's `ended` frame, before it closes with 4005
  let inbox = Promise.resolve();
  let heard = null; // the roster as last announced; null until the first one after joining

  function setState(state, text) {
    root.dataset.state = state;
    connState.textContent = text;
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
    }
  }

  // --- the socket --------------------------------------------------------------------------

  function socketUrl() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const query = token ? `?token=${encodeURIComponent(token)}` : '';
    return `${scheme}//${location.host}${wsPath}${query}`;
  }

  function connect() {
    if (stopped) return;
    setState('connecting', attempt === 0 ? texts.connecting : texts.reconnecting);
    const ws = new WebSocket(socketUrl());
    socket = ws;
    ws.onopen = () => {
      lastHeardAt = Date.now();
      send({ type: 'join', protocol: 1, media: { audio: micOn, video: cameraOn } });
      startTimers(ws);
    };
    ws.onmessage = (event) => {
      lastHeardAt = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      // Read at once: the close that follows it is handled before the queue reaches it.
      if (message.type === 'ended') {
        endedReason = message.reason === 'cancelled' ? 'cancelled' : 'over';
      }
      // Strictly in order: each message waits for the one before it.
      inbox = inbox.then(() => handle(message)).catch((err) => console.error('signalling', err));
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      lost(event.code);
    };
  }

  function startTimers(ws) {
    stopTimers();
    pingTimer = setInterval(() => send({ type: 'ping' }), PING_EVERY_MS);
    watchdogTimer = setInterval(() => {
      if (Date.now() - lastHeardAt > SILENCE_LIMIT_MS && socket === ws) {
        // Nothing heard for too long: treat the socket as dead even if it has not noticed.
        ws.onclose = null;
        ws.close();
        lost(null);
      }
    }, 5000);
  }

  function stopTimers() {
    clearInterval(pingTimer);
    clearInterval(watchdogTimer);
  }

  function lost(code) {
    socket = null;
    stopTimers();
    inbox = inbox.then(() => {
      closeAllLinks();
      roster = new Map();
      renderRoster();
    });
    if (stopped) return;
    if (code !== null && FINAL_CLOSE_CODES.has(code)) {
      const reason =
        { 1000: 'left', 4001: 'replaced', 4002: 'removed', 4005: `ended_${endedReason}` }[code] ||
        'failed';
      end(texts[reason], reason);
      return;
    }
    if (Date.now() - lastJoinedAt > GIVE_UP_AFTER_MS) {
      end(texts.gave_up, 'gave_up');
      return;
    }
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** attempt);
    attempt += 1;
    setState('reconnecting', texts.reconnecting);
    setTimeout(connect, Math.random() * ceiling);
  }

  function end(text, state) {
    stopped = true;
    stopTimers();
    if (socket) {
      socket.onclose = null;
      socket.close();
      socket = null;
    }
    closeAllLinks();
    for (const track of localStream.getTracks()) track.stop();
    if (screenTrack) screenTrack.stop();
    el('ended-title').textContent = state === 'removed' ? texts.removed_title : texts.ended_title;
    el('ended-text').textContent = text;
    // Only who left, or moved to another tab, can come back while the call goes on.
    el('rejoin').hidden = state !== 'left' && state !== 'replaced';
    endedView.hidden = false;
    waitingView.hidden = true;
    controls.hidden = true;
    tiles.replaceChildren();
    setState(state, '');
    // The focused button may just have been hidden: focus goes where the news is.
    el('ended-title').focus();
  }

  // --- messages ----------------------------------------------------------------------------

  async function handle(message) {
    switch (message.type) {
      case 'joined':
        you = message.you;
        iceServers = message.ice_servers;
        attempt = 0;
        lastJoinedAt = Date.now();
        heard = null; // everyone already in the room is no news
        await applyRoster(message.participants);
        break;
      case 'participants':
        await applyRoster(message.participants);
        break;
      case 'offer':
        await onOffer(message);
        break;
      case 'answer':
        await onAnswer(message);
        break;
      case 'candidate':
        await onCandidate(message);
        break;
      case 'error':
        console.warn('signalling refused', message.code, message.ref);
        break;
      default:
        break; // admitted, removed, ended, pong: the roster and the close code say the rest
    }
  }

  function amAdmitted() {
    if (!you) return false;
    const me = roster.get(you.participant_id);
    return Boolean(me && me.state === 'admitted' && me.connection === you.connection);
  }

  async function applyRoster(participants) {
    roster = new Map(participants.map((p) => [p.participant_id, p]));
    const admitted = amAdmitted();
    announceChanges();
    renderRoster();
    if (!admitted) {
      closeAllLinks();
      setState('waiting', texts.waiting);
      waitingView.hidden = false;
      el('waiting-text').textContent = texts.waiting;
      return;
    }
    waitingView.hidden = true;
    setState('connected', texts.connected);
    for (const [id, link] of links) {
      const current = roster.get(id);
      if (!current || current.state !== 'admitted' || current.connection !== link.connection) {
        closeLink(id);
      }
    }
    for (const peer of roster.values()) {
      if (
        peer.participant_id !== you.participant_id &&
        peer.state === 'admitted' &&
        !links.has(peer.participant_id) &&
        you.participant_id < peer.participant_id
      ) {
        await offer(peer);
      }
    }
    renderTiles();
  }

  function outgoingVideo() {
    return screenTrack || cameraTrack;
  }

  function newLink(participantId, connection) {
    const pc = new RTCPeerConnection({ iceServers });
    const link = { pc, connection, remoteSet: false, pending: [], stream: new MediaStream() };
    for (const track of localStream.getAudioTracks()) pc.addTrack(track, localStream);
    const video = outgoingVideo();
    if (video) pc.addTrack(video, localStream);
    pc.onicecandidate = (event) => {
      const c = event.candidate;
      send({
        type: 'candidate',
        to: participantId,
        candidate: c && c.candidate
          ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }
          : null,
      });
    };
    pc.ontrack = (event) => {
      link.stream.addTrack(event.track);
      renderTiles();
    };
    pc.onconnectionstatechange = () => renderTiles();
    links.set(participantId, link);
    return link;
  }

  async function offer(peer) {
    const link = newLink(peer.participant_id, peer.connection);
    await link.pc.setLocalDescription(await link.pc.createOffer());
    send({ type: 'offer', to: peer.participant_id, sdp: link.pc.localDescription.sdp });
  }

  async function onOffer(message) {
    if (!amAdmitted()) return;
    closeLink(message.from);
    const link = newLink(message.from, message.from_connection);
    await link.pc.setRemoteDescription({ type: 'offer', sdp: message.sdp });
    await remoteDescriptionSet(link);
    await link.pc.setLocalDescription(await link.pc.createAnswer());
    send({ type: 'answer', to: message.from, sdp: link.pc.localDescription.sdp });
    renderTiles();
  }

  async function onAnswer(message) {
    const link = links.get(message.from);
    if (!link || link.connection !== message.from_connection || link.remoteSet) return;
    await link.pc.setRemoteDescription({ type: 'answer', sdp: message.sdp });
    await remoteDescriptionSet(link);
  }

  async function onCandidate(message) {
    const link = links.get(message.from);
    if (!link || link.connection !== message.from_connection) return;
    const candidate = message.candidate;
    if (!candidate || !candidate.candidate) return; // end of candidates
    if (link.remoteSet) {
      await link.pc.addIceCandidate(candidate);
    } else {
      link.pending.push(candidate);
    }
  }

  async function remoteDescriptionSet(link) {
    link.remoteSet = true;
    const pending = link.pending;
    link.pending = [];
    for (const candidate of pending) await link.pc.addIceCandidate(candidate);
  }

  function closeLink(participantId) {
    const link = links.get(participantId);
    if (!link) return;
    links.delete(participantId);
    link.pc.close();
  }

  function closeAllLinks() {
    for (const id of [...links.keys()]) closeLink(id);
    renderTiles();
  }

  // --- what the page shows -----------------------------------------------------------------

  function roleName(role) {
    return texts[`role_${role}`] || role;
  }

  function mediaNote(participant) {
    const notes = [];
    if (!participant.media.audio) notes.push(texts.mic_off);
    if (!participant.media.video) notes.push(texts.cam_off);
    return notes.join(', ');
  }

  function renderRoster() {
    rosterList.replaceChildren();
    const waiting = [];
    for (const p of roster.values()) {
      const item = document.createElement('li');
      const mine = you && p.participant_id === you.participant_id;
      let label = `${p.display_name} (${roleName(p.role)}${mine ? `, ${texts.you}` : ''})`;
      if (p.state === 'waiting') label += ` – ${texts.state_waiting}`;
      const note = mediaNote(p);
      if (note) label += ` – ${note}`;
      item.textContent = label;
      item.dataset.participant = p.participant_id;
      item.dataset.state = p.state;
      rosterList.append(item);
      if (p.state === 'waiting') waiting.push(p);
    }
    if (isClinician) renderWaitingList(waiting);
  }

  // Updated in place, never rebuilt: a keyboard user's focus on a button stays where it is
  // when someone else mutes or joins. Each button is named for the person it lets in.
  function renderWaitingList(waiting) {
    const list = el('waiting-list');
    const wanted = new Set(waiting.map((p) => p.participant_id));
    const items = new Map([...list.children].map((item) => [item.dataset.participant, item]));
    let lostFocus = false;
    for (const [id, item] of items) {
      if (wanted.has(id)) continue;
      lostFocus = lostFocus || item.contains(document.activeElement);
      item.remove();
      items.delete(id);
    }
    let previous = null;
    for (const p of waiting) {
      let item = items.get(p.participant_id);
      if (!item) {
        item = waitingItem(p.participant_id);
      }
      item.querySelector('.who').textContent = `${p.display_name} (${roleName(p.role)})`;
      item.querySelector('button').setAttribute(
        'aria-label', texts.admit_named.replace('{name}', p.display_name));
      const place = previous ? previous.nextElementSibling : list.firstElementChild;
      if (place !== item) list.insertBefore(item, place);
      previous = item;
    }
    el('nobody-waiting').hidden = waiting.length > 0;
    el('admit-all').hidden = waiting.length < 2;
    if (lostFocus) {
      // The person whose button had focus was let in: go on to the next one, or to the list.
      const next = list.querySelector('button');
      (next || el('waiting-list-title')).focus();
    }
  }

  function waitingItem(participantId) {
    const item = document.createElement('li');
    item.dataset.participant = participantId;
    const name = document.createElement('span');
    name.className = 'who';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'button admit';
    button.textContent = texts.admit;
    button.dataset.participant = participantId;
    button.addEventListener('click', () => send({ type: 'admit', participant_id: participantId }));
    item.append(name, ' ', button);
    return item;
  }

  // What changed since the last roster, said once in the live region: who waits (to those who
  // can let them in), who came, who went, who turned their microphone off or on.
  function announceChanges() {
    const before = heard;
    heard = new Map([...roster].map(([id, p]) => [id, { ...p, media: { ...p.media } }]));
    if (!before || !you) return;
    const news = [];
    const say = (text, p) => news.push(text.replace('{name}', p.display_name));
    for (const [id, p] of roster) {
      if (id === you.participant_id) continue;
      const old = before.get(id);
      if (p.state === 'waiting') {
        if (isClinician && (!old || old.state !== 'waiting')) say(texts.announce_waiting, p);
        continue;
      }
      if (!old || old.state !== 'admitted') {
        say(texts.announce_joined, p);
      } else if (old.media.audio !== p.media.audio) {
        say(p.media.audio ? texts.announce_mic_on : texts.announce_mic_off, p);
      }
    }
    for (const [id, old] of before) {
      if (id !== you.participant_id && old.state === 'admitted' && !roster.has(id)) {
        say(texts.announce_left, old);
      }
    }
    if (news.length) announcer.textContent = news.join(' ');
  }

  function tileFor(key) {
    let tile = tiles.querySelector(`[data-participant="${CSS.escape(key)}"]`);
    if (!tile) {
      tile = tileTemplate.content.firstElementChild.cloneNode(true);
      tile.dataset.participant = key;
      const remove = tile.querySelector('button.remove');
      if (remove) {
        remove.dataset.participant = key;
        remove.addEventListener('click', () => confirmRemove(key));
      }
      tiles.append(tile);
    }
    return tile;
  }

  // Only clinicians get the button; the server refuses `remove` from anyone else anyway.
  function confirmRemove(participantId) {
    const participant = roster.get(participantId);
    if (!participant) return;
    if (window.confirm(texts.remove_confirm.replace('{name}', participant.display_name))) {
      send({ type: 'remove', participant_id: participantId });
    }
  }

  function fillTile(tile, participant, stream, peerState, mine) {
    const video = tile.querySelector('video');
    if (video.srcObject !== stream) video.srcObject = stream;
    video.muted = mine; // never play your own sound back to yourself
    tile.querySelector('.name').textContent = participant.display_name;
    const role = roleName(participant.role);
    tile.querySelector('.role').textContent = mine ? `${role}, ${texts.you}` : role;
    tile.querySelector('.media').textContent = mediaNote(participant);
    tile.querySelector('.peer-state').textContent = peerState ? texts[`peer_${peerState}`] : '';
    tile.dataset.peerState = peerState || 'self';
    const remove = tile.querySelector('button.remove');
    // Clinicians take guests (patient, relatives, interpreter, staff) out, never each other.
    if (remove) {
      remove.hidden = mine || participant.is_clinician;
      remove.setAttribute(
        'aria-label', texts.remove_named.replace('{name}', participant.display_name));
    }
  }

  function renderTiles() {
    const wanted = new Set();
    if (you && amAdmitted()) {
      const me = roster.get(you.participant_id);
      wanted.add(you.participant_id);
      fillTile(tileFor(you.participant_id), me, localStream, null, true);
      for (const [id, link] of links) {
        const participant = roster.get(id);
        if (!participant) continue;
        wanted.add(id);
        fillTile(tileFor(id), participant, link.stream, link.pc.connectionState, false);
      }
    }
    for (const tile of [...tiles.children]) {
      if (!wanted.has(tile.dataset.participant)) tile.remove();
    }
    tiles.dataset.count = String(wanted.size);
  }

  // --- controls ----------------------------------------------------------------------------

  function announceMedia() {
    send({ type: 'media', audio: micOn, video: cameraOn });
  }

  // A toggle keeps its words; only aria-pressed (and the look that follows it) changes, so a
  // screen reader says "Mute, pressed" rather than "Unmute, pressed".
  function showPressed() {
    el('toggle-mic').setAttribute('aria-pressed', String(!micOn));
    el('toggle-camera').setAttribute('aria-pressed', String(!cameraOn));
    if (isClinician) el('toggle-share').setAttribute('aria-pressed', String(Boolean(screenTrack)));
  }

  function toggleMic() {
    micOn = !micOn;
    for (const track of localStream.getAudioTracks()) track.enabled = micOn;
    showPressed();
    announceMedia();
  }

  function toggleCamera() {
    cameraOn = !cameraOn;
    if (cameraTrack) cameraTrack.enabled = cameraOn;
    showPressed();
    announceMedia();
  }

  async function replaceOutgoingVideo(track) {
    for (const link of links.values()) {
      const sender = link.pc.getSenders().find((s) => s.track && s.track.kind === 'video');
      if (sender) await sender.replaceTrack(track);
    }
    for (const old of localStream.getVideoTracks()) localStream.removeTrack(old);
    if (track) localStream.addTrack(track);
    renderTiles();
  }

  async function toggleShare() {
    if (screenTrack) {
      const track = screenTrack;
      screenTrack = null;
      track.stop();
      await replaceOutgoingVideo(cameraTrack);
    } else {
      let display;
      try {
        display = await navigator.mediaDevices.getDisplayMedia({ video: true });
      } catch (err) {
        return; // the person chose not to share
      }
      screenTrack = display.getVideoTracks()[0];
      screenTrack.addEventListener('ended', () => {
        if (screenTrack) toggleShare();
      });
      await replaceOutgoingVideo(screenTrack);
    }
    showPressed();
  }

  function leave() {
    send({ type: 'leave' });
    end(texts.left, 'left');
  }

  // --- diagnostics -------------------------------------------------------------------------

  // What arrives from each peer, for support and for the automated browser tests.
  async function inboundVideo() {
    const result = [];
    for (const [id, link] of links) {
      const stats = await link.pc.getStats();
      let frames = 0;
      let width = 0;
      let pairId = null;
      const byId = new Map();
      stats.forEach((report) => {
        byId.set(report.id, report);
        if (report.type === 'inbound-rtp' && report.kind === 'video') {
          frames += report.framesDecoded || 0;
          width = Math.max(width, report.frameWidth || 0);
        }
        if (report.type === 'transport' && report.selectedCandidatePairId) {
          pairId = report.selectedCandidatePairId;
        }
      });
      const pair = pairId ? byId.get(pairId) : null;
      const local = pair ? byId.get(pair.localCandidateId) : null;
      const tile = tiles.querySelector(`[data-participant="${CSS.escape(id)}"] video`);
      result.push({
        participant: id,
        state: link.pc.connectionState,
        framesDecoded: frames,
        frameWidth: width,
        videoWidth: tile ? tile.videoWidth : 0,
        candidateType: local ? local.candidateType : null,
      });
    }
    return result;
  }

  window.samkonsCall = Object.freeze({ inboundVideo });

  // --- start -------------------------------------------------------------------------------

  async function openMedia() {
    try {
      localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    } catch (err) {
      try {
        localStream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (err2) {
        localStream = new MediaStream();
      }
      connState.textContent = texts.no_media;
    }
    cameraTrack = localStream.getVideoTracks()[0] || null;
    cameraOn = Boolean(cameraTrack);
    micOn = localStream.getAudioTracks().length > 0;
    showPressed();
  }

  // The toolbar pattern: Tab reaches one button (the last one used), the arrow keys, Home and
  // End move between the buttons that are shown.
  function controlButtons() {
    return [...controls.querySelectorAll('button')].filter((b) => !b.hidden);
  }

  function moveInToolbar(event) {
    const buttons = controlButtons();
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    const moves = {
      ArrowRight: at + 1,
      ArrowDown: at + 1,
      ArrowLeft: at - 1,
      ArrowUp: at - 1,
      Home: 0,
      End: buttons.length - 1,
    };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = buttons[(moves[event.key] + buttons.length) % buttons.length];
    for (const b of buttons) b.setAttribute('tabindex', b === next ? '0' : '-1');
    next.focus();
  }

  controls.addEventListener('keydown', moveInToolbar);
  controls.addEventListener('focusin', (event) => {
    if (!(event.target instanceof HTMLButtonElement)) return;
    for (const b of controlButtons()) b.setAttribute('tabindex', b === event.target ? '0' : '-1');
  });

  el('toggle-mic').addEventListener('click', toggleMic);
  el('toggle-camera').addEventListener('click', toggleCamera);
  el('leave').addEventListener('click', leave);
  // A new page load joins afresh (a guest's reload reopens the link kept in the tab).
  el('rejoin').addEventListener('click', () => location.reload());
  if (isClinician) {
    el('toggle-share').addEventListener('click', toggleShare);
    el('admit-all').addEventListener('click', () => send({ type: 'admit_all' }));
  }
  window.addEventListener('pagehide', () => {
    if (!stopped) send({ type: 'leave' });
  });

  openMedia().then(connect);
})();
