"""A Python participant: the signalling client rules of docs/signalling.md, with aiortc media.

`MeshPeer` joins a room over the WebSocket, keeps one `RTCPeerConnection` per other admitted
participant (the smaller id offers), handles trickled and in-SDP candidates, and reconnects with
backoff after a lost socket, setting up new peer connections (aiortc has no ICE restart). It sends
synthetic audio and video and counts the frames it receives, which is what the tests and a
server-side test peer need. It follows exactly the rules the browser page follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import aiohttp
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.rtcicetransport import RTCIceCandidate
from aiortc.sdp import candidate_from_sdp
from av import VideoFrame

from signalling.codec import (
    BOTH_ON,
    PROTOCOL_VERSION,
    Admit,
    AdmitAll,
    Admitted,
    AnswerFrom,
    Candidate,
    CandidateFrom,
    CodecError,
    Ended,
    EndedReason,
    IceCandidate,
    IceServer,
    Join,
    Joined,
    Leave,
    Media,
    MediaState,
    Offer,
    OfferFrom,
    Participant,
    Participants,
    Ping,
    Remove,
    Removed,
    ServerMessage,
    encode,
    parse_server_message,
)
from signalling.codec import (
    Answer as AnswerMessage,
)
from signalling.rooms import offers_to

log = logging.getLogger(__name__)

# Close codes after which reconnecting cannot help (see docs/signalling.md).
FINAL_CLOSE_CODES = frozenset({1000, 1007, 1009, 4001, 4002, 4003, 4005})


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Exponential backoff with full jitter; give up after a long time without `joined`."""

    initial: float = 0.5
    maximum: float = 10.0
    give_up_after: float = 120.0
    ping_interval: float = 15.0
    silence_timeout: float = 40.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        ceiling: float = min(self.maximum, self.initial * 2.0**attempt)
        return rng() * ceiling


class SyntheticVideoTrack(VideoStreamTrack):
    """Small frames whose content changes every frame, so the encoder sends real data."""

    def __init__(self, width: int = 160, height: int = 120) -> None:
        super().__init__()
        self._width = width
        self._height = height
        self._count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self._width, height=self._height)
        self._count += 1
        shade = self._count % 256
        for plane in frame.planes:
            plane.update(bytes([shade]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


@dataclass
class FrameCounts:
    audio: int = 0
    video: int = 0


@dataclass(eq=False)
class _PeerLink:
    """One peer connection, tied to one connection of the remote participant."""

    participant_id: str
    connection: str
    pc: RTCPeerConnection
    received: FrameCounts = field(default_factory=FrameCounts)
    remote_set: bool = False
    pending: list[RTCIceCandidate] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await self.pc.close()


def parse_trickled_candidate(
    text: str, sdp_mid: str | None, sdp_mline_index: int | None
) -> RTCIceCandidate | None:
    """A browser's trickled candidate for aiortc; None for the final empty one."""
    text = text.strip()
    if not text:
        return None
    candidate = candidate_from_sdp(text.removeprefix("candidate:"))
    candidate.sdpMid = sdp_mid
    candidate.sdpMLineIndex = sdp_mline_index
    return candidate


def split_candidates(sdp: str) -> tuple[str, list[IceCandidate]]:
    """Take the candidates out of an SDP, as a browser would trickle them instead."""
    kept: list[str] = []
    candidates: list[tuple[int, str]] = []
    mids: dict[int, str] = {}
    section = -1
    for line in sdp.splitlines():
        if line.startswith("m="):
            section += 1
        elif line.startswith("a=mid:"):
            mids[section] = line.removeprefix("a=mid:")
        if line.startswith("a=candidate:"):
            candidates.append((section, line.removeprefix("a=")))
            continue
        if line == "a=end-of-candidates":
            continue
        kept.append(line)
    trickled = [
        IceCandidate(candidate=text, sdpMid=mids.get(index), sdpMLineIndex=index)
        for index, text in candidates
    ]
    return "\r\n".join(kept) + "\r\n", trickled


def rtc_configuration(
    ice_servers: list[IceServer], *, relay_only: bool = False
) -> RTCConfiguration:
    """Always an explicit list: with none, aiortc would try a public STUN server."""
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
            for s in ice_servers
        ],
        iceTransportPolicy=(
            RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
        ),
    )


class MeshPeer:
    """One participant in a full-mesh call, driven by the signalling protocol."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        origin: str,
        policy: ReconnectPolicy | None = None,
        media: MediaState | None = None,
        relay_only: bool = False,
        trickle: bool = False,
    ) -> None:
        self._session = session
        self._url = url
        self._origin = origin
        self._policy = policy or ReconnectPolicy()
        self._media = media or BOTH_ON
        self._relay_only = relay_only
        # Browsers trickle candidates; with trickle=True this peer does the same, so both ways
        # of exchanging candidates can be tested against each other.
        self._trickle = trickle
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._links: dict[str, _PeerLink] = {}
        self._created: set[RTCPeerConnection] = set()
        self.you: Participant | None = None
        self.roster: dict[str, Participant] = {}
        self.ice_servers: list[IceServer] = []
        self.joins = 0
        self.trickled_candidates_added = 0
        self.final_close_code: int | None = None
        self.ended_reason: EndedReason | None = None
        self.errors: list[str] = []
        self.joined = asyncio.Event()
        self.admitted = asyncio.Event()
        self.finished = asyncio.Event()

    @property
    def participant_id(self) -> str:
        if self.you is None:
            raise RuntimeError("not joined yet")
        return self.you.participant_id

    @property
    def is_admitted(self) -> bool:
        if self.you is None:
            return False
        me = self.roster.get(self.you.participant_id)
        return me is not None and me.state == "admitted" and me.connection == self.you.connection

    def frames_from(self, participant_id: str) -> FrameCounts:
        """Frames received on the current peer connection with that participant."""
        link = self._links.get(participant_id)
        return FrameCounts() if link is None else link.received

    def peer_connection_of(self, participant_id: str) -> RTCPeerConnection | None:
        link = self._links.get(participant_id)
        return None if link is None else link.pc

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def send(self, message: Admit | AdmitAll | Remove | Media | Ping) -> None:
        """Send a room command (admitting, media state); the mesh messages are automatic."""
        if self._ws is None or self._ws.closed:
            raise ConnectionError("not connected")
        await self._ws.send_str(encode(message))

    async def close(self) -> None:
        """Leave the room and stop everything."""
        self._stopping = True
        if self._ws is not None and not self._ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._ws.send_str(encode(Leave()))
            await self._ws.close()
        if self._task is not None:
            # Closing the socket ends the loop; cancel only if it does not end by itself, as a
            # cancelled RTCPeerConnection.close() can leave its sockets open.
            done, _ = await asyncio.wait({self._task}, timeout=5)
            if not done:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self._close_links()
        for pc in self._created:
            await pc.close()
        self._created.clear()

    # --- connection loop -------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        attempt = 0
        last_joined = loop.time()
        try:
            while not self._stopping:
                joins_before = self.joins
                code = await self._connect_once()
                await self._close_links()
                self.roster = {}
                self.admitted.clear()
                if self.joins > joins_before:
                    attempt, last_joined = 0, loop.time()
                if self._stopping or code in FINAL_CLOSE_CODES:
                    self.final_close_code = code
                    return
                if loop.time() - last_joined > self._policy.give_up_after:
                    return
                await asyncio.sleep(self._policy.delay(attempt))
                attempt += 1
        finally:
            self.finished.set()

    async def _connect_once(self) -> int | None:
        try:
            ws = await self._session.ws_connect(
                self._url, headers={"Origin": self._origin}, autoping=True
            )
        except (aiohttp.ClientError, OSError) as error:
            log.info("signalling connect failed: %s", type(error).__name__)
            return None
        self._ws = ws
        pinger = asyncio.create_task(self._ping_every(ws))
        try:
            await ws.send_str(encode(Join(protocol=PROTOCOL_VERSION, media=self._media)))
            while True:
                frame = await ws.receive(timeout=self._policy.silence_timeout)
                if frame.type != aiohttp.WSMsgType.TEXT:
                    if frame.type == aiohttp.WSMsgType.CLOSE:
                        code: int = frame.data
                        return code
                    return ws.close_code
                try:
                    message = parse_server_message(frame.data)
                except CodecError:
                    continue
                await self._handle(message)
        except (TimeoutError, ConnectionError):
            return None
        finally:
            pinger.cancel()
            if not ws.closed:
                await ws.close()

    async def _ping_every(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not ws.closed:
                await asyncio.sleep(self._policy.ping_interval)
                await ws.send_str(encode(Ping()))

    async def _send(self, message: Offer | AnswerMessage | Candidate) -> None:
        if self._ws is not None and not self._ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._ws.send_str(encode(message))

    # --- messages, strictly in order -------------------------------------------------------

    async def _handle(self, message: ServerMessage) -> None:
        match message:
            case Joined():
                self.you = message.you
                self.ice_servers = list(message.ice_servers)
                self.joins += 1
                self.joined.set()
                await self._apply_roster(message.participants)
            case Participants():
                await self._apply_roster(message.participants)
            case Admitted():
                pass  # the roster that follows says the same; the mesh is built from it
            case Removed():
                self._stopping = True
            case Ended():
                self.ended_reason = message.reason
                self._stopping = True
            case OfferFrom():
                await self._on_offer(message)
            case AnswerFrom():
                await self._on_answer(message)
            case CandidateFrom():
                await self._on_candidate(message)
            case _:
                if message.type == "error":
                    self.errors.append(message.code)

    async def _apply_roster(self, participants: list[Participant]) -> None:
        self.roster = {p.participant_id: p for p in participants}
        if self.is_admitted:
            self.admitted.set()
        else:
            self.admitted.clear()
            await self._close_links()
            return
        for participant_id, link in list(self._links.items()):
            current = self.roster.get(participant_id)
            if (
                current is None
                or current.state != "admitted"
                or (current.connection != link.connection)
            ):
                del self._links[participant_id]
                await self._close_link(link)
        me = self.participant_id
        for peer in participants:
            if (
                peer.participant_id != me
                and peer.state == "admitted"
                and peer.participant_id not in self._links
                and offers_to(me, peer.participant_id)
            ):
                await self._offer(peer)

    def _new_link(self, participant_id: str, connection: str) -> _PeerLink:
        pc = RTCPeerConnection(rtc_configuration(self.ice_servers, relay_only=self._relay_only))
        self._created.add(pc)
        link = _PeerLink(participant_id, connection, pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            link.readers.append(asyncio.create_task(_count_frames(track, link.received)))

        pc.addTrack(AudioStreamTrack())
        pc.addTrack(SyntheticVideoTrack())
        self._links[participant_id] = link
        return link

    async def _offer(self, peer: Participant) -> None:
        link = self._new_link(peer.participant_id, peer.connection)
        offer = await link.pc.createOffer()
        # aiortc gathers every candidate here and puts them into the SDP.
        await link.pc.setLocalDescription(offer)
        await self._send_description(link, "offer")

    async def _on_offer(self, message: OfferFrom) -> None:
        old = self._links.pop(message.from_, None)
        if old is not None:
            await self._close_link(old)
        link = self._new_link(message.from_, message.from_connection)
        await link.pc.setRemoteDescription(RTCSessionDescription(sdp=message.sdp, type="offer"))
        await self._remote_description_set(link)
        answer = await link.pc.createAnswer()
        await link.pc.setLocalDescription(answer)
        await self._send_description(link, "answer")

    async def _send_description(self, link: _PeerLink, kind: Literal["offer", "answer"]) -> None:
        sdp = link.pc.localDescription.sdp
        to = link.participant_id
        if not self._trickle:
            await self._send(
                Offer(to=to, sdp=sdp) if kind == "offer" else AnswerMessage(to=to, sdp=sdp)
            )
            return
        bare_sdp, candidates = split_candidates(sdp)
        await self._send(
            Offer(to=to, sdp=bare_sdp) if kind == "offer" else AnswerMessage(to=to, sdp=bare_sdp)
        )
        for candidate in candidates:
            await self._send(Candidate(to=to, candidate=candidate))
        await self._send(Candidate(to=to, candidate=IceCandidate(candidate="")))

    async def _on_answer(self, message: AnswerFrom) -> None:
        link = self._links.get(message.from_)
        if link is None or link.connection != message.from_connection or link.remote_set:
            return
        await link.pc.setRemoteDescription(RTCSessionDescription(sdp=message.sdp, type="answer"))
        await self._remote_description_set(link)

    async def _on_candidate(self, message: CandidateFrom) -> None:
        link = self._links.get(message.from_)
        if link is None or link.connection != message.from_connection:
            return
        if message.candidate is None:
            return
        candidate = parse_trickled_candidate(
            message.candidate.candidate,
            message.candidate.sdpMid,
            message.candidate.sdpMLineIndex,
        )
        if candidate is None:
            return
        self.trickled_candidates_added += 1
        if link.remote_set:
            await link.pc.addIceCandidate(candidate)
        else:
            link.pending.append(candidate)

    async def _remote_description_set(self, link: _PeerLink) -> None:
        link.remote_set = True
        pending, link.pending = link.pending, []
        for candidate in pending:
            await link.pc.addIceCandidate(candidate)

    async def _close_links(self) -> None:
        links, self._links = list(self._links.values()), {}
        for link in links:
            with contextlib.suppress(Exception):
                await self._close_link(link)

    async def _close_link(self, link: _PeerLink) -> None:
        await link.close()
        self._created.discard(link.pc)


async def _count_frames(track: MediaStreamTrack, counts: FrameCounts) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()
            if track.kind == "audio":
                counts.audio += 1
            else:
                counts.video += 1
