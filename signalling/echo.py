"""The echo peer behind the pre-call check: a server-side aiortc peer that returns your own media.

A browser sends an offer (with all its candidates, no trickle) and gets an answer; the audio and
video it sends come straight back, so the page can show that a connection is possible from where
the person sits, and whether it needed the TURN relay. Server-side media costs CPU, so the number
of sessions at once is capped, and each one ends after `session_limit` even if nobody hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from signalling.codec import IceServer
from signalling.peer import rtc_configuration

log = logging.getLogger(__name__)


class EchoBusy(Exception):
    """All echo sessions are in use; try again shortly."""


class EchoOfferRefused(Exception):
    """The offer could not be answered (not a usable SDP offer)."""


@dataclass(eq=False)
class _EchoSession:
    id: str
    pc: RTCPeerConnection
    relay: MediaRelay = field(default_factory=MediaRelay)
    timer: asyncio.TimerHandle | None = None


class EchoService:
    """Echo sessions of one app instance: at most `max_sessions` at once."""

    def __init__(self, max_sessions: int, *, session_limit: timedelta = timedelta(seconds=90)):
        if max_sessions < 0:
            raise ValueError("max_sessions must not be negative")
        self._max_sessions = max_sessions
        self._session_limit = session_limit
        self._sessions: dict[str, _EchoSession] = {}
        self._closing: set[asyncio.Task[bool]] = set()
        self._closed = False

    @property
    def active(self) -> int:
        return len(self._sessions)

    async def answer(self, offer_sdp: str, ice_servers: Sequence[IceServer]) -> tuple[str, str]:
        """Answer a browser's offer; returns `(session id, answer SDP)`.

        Raises `EchoBusy` when every session is taken and `EchoOfferRefused` for a bad offer.
        """
        if self._closed or len(self._sessions) >= self._max_sessions:
            raise EchoBusy
        # The list is explicit even when empty: with none, aiortc would try a public STUN server.
        pc = RTCPeerConnection(rtc_configuration(list(ice_servers)))
        session = _EchoSession(id=secrets.token_urlsafe(16), pc=pc)
        # Take the slot before the first await, so concurrent offers cannot overshoot the cap.
        self._sessions[session.id] = session

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            pc.addTrack(session.relay.subscribe(track))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._end_soon(session.id)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            if not pc.getTransceivers():
                raise ValueError("the offer has no audio or video")
            answer = await pc.createAnswer()
            # aiortc gathers every candidate here and puts them into the answer.
            await pc.setLocalDescription(answer)
        except Exception as error:
            await self.end(session.id)
            raise EchoOfferRefused(str(error)[:200]) from None
        loop = asyncio.get_running_loop()
        session.timer = loop.call_later(
            self._session_limit.total_seconds(), self._end_soon, session.id
        )
        return session.id, pc.localDescription.sdp

    async def end(self, session_id: str) -> bool:
        """End one session; False if there was none with that id."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        if session.timer is not None:
            session.timer.cancel()
        with contextlib.suppress(Exception):
            await session.pc.close()
        return True

    def _end_soon(self, session_id: str) -> None:
        task = asyncio.ensure_future(self.end(session_id))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        self._closed = True
        for session_id in list(self._sessions):
            await self.end(session_id)
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=5)
