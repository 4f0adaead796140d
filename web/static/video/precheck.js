// "Test utstyret ditt": camera and microphone preview, and a round trip through the server's
// echo peer, which returns your own media. Reports whether a connection could be made and
// whether it needed the TURN relay (the selected candidate pair uses a relay candidate).
'use strict';

(() => {
  const root = document.getElementById('precheck');
  if (!root) return;

  const texts = JSON.parse(root.dataset.texts);
  const iceServers = JSON.parse(root.dataset.iceServers);
  const el = (id) => document.getElementById(id);
  const CONNECT_LIMIT_MS = 15000;
  const FRAMES_LIMIT_MS = 10000;
  const GATHER_LIMIT_MS = 5000;

  let stream = null;
  let pc = null;
  let sessionId = null;
  let meterTimer = null;
  let audioContext = null;

  function show(id, text) {
    el(id).textContent = text;
  }

  function finish(result, relay) {
    root.dataset.result = result;
    if (relay !== undefined) root.dataset.relay = String(relay);
  }

  function waitFor(check, limitMs) {
    return new Promise((resolve) => {
      const started = Date.now();
      const tick = async () => {
        if (await check()) return resolve(true);
        if (Date.now() - started > limitMs) return resolve(false);
        setTimeout(tick, 200);
      };
      tick();
    });
  }

  function showMicLevel(audioTrack) {
    const meter = el('mic-level');
    try {
      audioContext = new AudioContext();
      const source = audioContext.createMediaStreamSource(new MediaStream([audioTrack]));
      const analyser = audioContext.createAnalyser();
      analyser.fftSize = 256;
      source.connect(analyser);
      const samples = new Uint8Array(analyser.fftSize);
      meter.hidden = false;
      meterTimer = setInterval(() => {
        analyser.getByteTimeDomainData(samples);
        let peak = 0;
        for (const s of samples) peak = Math.max(peak, Math.abs(s - 128) / 128);
        meter.value = peak;
      }, 100);
    } catch (err) {
      meter.hidden = true;
    }
  }

  async function selectedPair() {
    const stats = await pc.getStats();
    const byId = new Map();
    let pairId = null;
    let frames = 0;
    stats.forEach((report) => {
      byId.set(report.id, report);
      if (report.type === 'transport' && report.selectedCandidatePairId) {
        pairId = report.selectedCandidatePairId;
      }
      if (report.type === 'inbound-rtp' && report.kind === 'video') {
        frames += report.framesDecoded || 0;
      }
    });
    const pair = pairId ? byId.get(pairId) : null;
    return {
      frames,
      local: pair ? byId.get(pair.localCandidateId) : null,
      remote: pair ? byId.get(pair.remoteCandidateId) : null,
    };
  }

  async function openDevices() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    } catch (err) {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (err2) {
        stream = new MediaStream();
      }
    }
    el('preview').srcObject = stream;
    const video = stream.getVideoTracks()[0];
    const audio = stream.getAudioTracks()[0];
    show('result-camera', video ? texts.works : texts.missing);
    show('result-microphone', audio ? texts.works : texts.missing);
    root.dataset.camera = String(Boolean(video));
    root.dataset.microphone = String(Boolean(audio));
    if (audio) showMicLevel(audio);
  }

  async function roundTrip() {
    pc = new RTCPeerConnection({ iceServers });
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    if (stream.getTracks().length === 0) {
      // Nothing to send: still test the connection, receiving only.
      pc.addTransceiver('video', { direction: 'recvonly' });
    }
    const echoed = new MediaStream();
    pc.ontrack = (event) => {
      echoed.addTrack(event.track);
      el('echo').srcObject = echoed;
    };
    await pc.setLocalDescription(await pc.createOffer());
    // The echo endpoint takes one offer with every candidate in it (no trickle).
    await waitFor(() => pc.iceGatheringState === 'complete', GATHER_LIMIT_MS);
    const response = await fetch('/api/v1/echo', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'offer', sdp: pc.localDescription.sdp }),
    });
    if (response.status === 503) {
      show('result-connection', texts.busy);
      finish('busy');
      return;
    }
    if (!response.ok) {
      show('result-connection', texts.connect_failed);
      finish('failed');
      return;
    }
    const answer = await response.json();
    sessionId = answer.id;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    const connected = await waitFor(() => pc.connectionState === 'connected', CONNECT_LIMIT_MS);
    if (!connected) {
      show('result-connection', texts.connect_failed);
      finish('failed');
      return;
    }
    const hasVideo = stream.getVideoTracks().length > 0;
    const flowing = await waitFor(async () => !hasVideo || (await selectedPair()).frames > 0, FRAMES_LIMIT_MS);
    const pair = await selectedPair();
    const relay = [pair.local, pair.remote].some((c) => c && c.candidateType === 'relay');
    if (!flowing) {
      show('result-connection', texts.connect_failed);
      finish('failed', relay);
      return;
    }
    show('result-connection', relay ? texts.connected_relay : texts.connected_direct);
    root.dataset.framesDecoded = String(pair.frames);
    finish('connected', relay);
  }

  function stop() {
    clearInterval(meterTimer);
    if (audioContext) audioContext.close();
    if (pc) pc.close();
    pc = null;
    if (stream) for (const track of stream.getTracks()) track.stop();
    if (sessionId) {
      fetch(`/api/v1/echo/${encodeURIComponent(sessionId)}`, { method: 'DELETE', keepalive: true });
      sessionId = null;
    }
    el('start-test').hidden = false;
    el('stop-test').hidden = true;
  }

  async function start() {
    el('start-test').hidden = true;
    el('stop-test').hidden = false;
    finish('running');
    show('result-connection', texts.checking);
    try {
      await openDevices();
      await roundTrip();
    } catch (err) {
      show('result-connection', texts.connect_failed);
      finish('failed');
    }
  }

  el('start-test').addEventListener('click', start);
  el('stop-test').addEventListener('click', stop);
  window.addEventListener('pagehide', stop);
})();
