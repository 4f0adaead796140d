"""Shared pieces of the signalling and video tests: a fake authenticator, a recorder, socket
helpers, waiting for a condition, and whether media flows between peers."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import aioice.ice
import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient

from service.domain.clock import Clock
from signalling.backplane import Backplane
from signalling.config import HubConfig
from signalling.hub import SignallingHub, add_routes
from signalling.identity import (
    AdmissionLedger,
    Authenticator,
    Identity,
    SessionEvent,
    SessionRecorder,
)
from signalling.peer import MeshPeer, ReconnectPolicy

T = TypeVar("T")

ORIGIN = "https://samkons.test"
ROOM = "rm-4kq9d2"


@dataclass
class FakeAuthenticator:
    """Join tokens in a dict; a token names its room, like the real hashed join tokens."""

    tokens: dict[str, Identity] = field(default_factory=dict)
    expired: set[str] = field(default_factory=set)
    check_room: bool = True

    def add(
        self,
        token: str,
        participant_id: str,
        *,
        role: str = "patient",
        clinician: bool = False,
        room: str = ROOM,
        name: str | None = None,
    ) -> Identity:
        identity = Identity(
            room_id=room,
            participant_id=participant_id,
            display_name=name or f"Person {participant_id}",
            role=role,
            is_clinician=clinician,
        )
        self.tokens[token] = identity
        return identity

    async def authenticate(self, request: web.Request) -> Identity:
        token = request.query.get("token", "")
        identity = self.tokens.get(token)
        if identity is None or token in self.expired:
            raise web.HTTPUnauthorized(text="bad token")
        if self.check_room and identity.room_id != request.match_info.get("room"):
            raise web.HTTPForbidden(text="token of another consultation")
        return identity


@dataclass
class ListRecorder:
    events: list[tuple[str, str, SessionEvent, datetime]] = field(default_factory=list)

    async def record(
        self, room_id: str, participant_id: str, event: SessionEvent, at: datetime
    ) -> None:
        self.events.append((room_id, participant_id, event, at))

    def of(self, participant_id: str) -> list[SessionEvent]:
        return [e for _, p, e, _ in self.events if p == participant_id]


def make_app(
    authenticator: Authenticator,
    *,
    recorder: SessionRecorder | None = None,
    backplane: Backplane | None = None,
    clock: Clock | None = None,
    ledger: AdmissionLedger | None = None,
    **config: Any,
) -> tuple[web.Application, SignallingHub]:
    hub = SignallingHub(
        HubConfig(allowed_origins=frozenset({ORIGIN}), **config),
        authenticator,
        recorder=recorder,
        backplane=backplane,
        clock=clock,
        ledger=ledger,
    )
    app = web.Application()
    add_routes(app, hub)
    return app, hub


async def connect(
    client: TestClient[Any, Any], token: str, *, room: str = ROOM, origin: str = ORIGIN
) -> ClientWebSocketResponse:
    return await client.ws_connect(f"/ws/{room}?token={token}", headers={"Origin": origin})


async def join(
    client: TestClient[Any, Any], token: str, *, room: str = ROOM, **media: bool
) -> tuple[ClientWebSocketResponse, dict[str, Any]]:
    ws = await connect(client, token, room=room)
    message: dict[str, Any] = {"type": "join", "protocol": 1}
    if media:
        message["media"] = media
    await ws.send_json(message)
    joined = await receive_type(ws, "joined")
    return ws, joined


async def receive_json(ws: ClientWebSocketResponse, timeout: float = 5.0) -> dict[str, Any]:
    frame = await ws.receive(timeout=timeout)
    if frame.type != WSMsgType.TEXT:
        raise AssertionError(f"expected a text frame, got {frame.type} {frame.data!r}")
    value: dict[str, Any] = json.loads(frame.data)
    return value


async def receive_type(
    ws: ClientWebSocketResponse, kind: str, timeout: float = 5.0
) -> dict[str, Any]:
    """The next message of `kind`, skipping others (roster updates arrive at any time)."""
    async with asyncio.timeout(timeout):
        while True:
            message = await receive_json(ws, timeout)
            if message["type"] == kind:
                return message


async def roster_until(
    ws: ClientWebSocketResponse, predicate: Any, timeout: float = 5.0
) -> list[dict[str, Any]]:
    """Participant lists until one satisfies `predicate`."""
    async with asyncio.timeout(timeout):
        while True:
            message = await receive_type(ws, "participants", timeout)
            if predicate(message["participants"]):
                participants: list[dict[str, Any]] = message["participants"]
                return participants


def states(participants: list[dict[str, Any]]) -> dict[str, str]:
    return {p["participant_id"]: p["state"] for p in participants}


async def closed_with(ws: ClientWebSocketResponse, timeout: float = 5.0) -> int | None:
    """Read until the socket closes; return its close code."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.receive()
            if frame.type == WSMsgType.CLOSE:
                # The code the server sent (ws.close_code may say 1006 if the server hangs up
                # before our close reply arrives).
                code: int = frame.data
                return code
            if frame.type in (WSMsgType.CLOSING, WSMsgType.CLOSED):
                return ws.close_code


# --- real media ----------------------------------------------------------------------------


def routable_addresses(addresses: list[str]) -> list[str]:
    return [a for a in addresses if not ipaddress.ip_address(a).is_loopback]


def use_loopback_if_alone(monkeypatch: pytest.MonkeyPatch) -> bool:
    """Make aiortc usable on a loopback-only machine; True if that was needed.

    With no interface but `lo`, aioice offers no host candidates and ICE stays `new` forever
    without an error. Offering 127.0.0.1 then lets the calls connect.
    """
    if routable_addresses(aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True)):
        return False

    def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    monkeypatch.setattr(aioice.ice, "get_host_addresses", loopback_only)
    return True


class TcpCutter:
    """A TCP relay in front of a server whose connections a test can cut, like a lost network."""

    def __init__(self, target_port: int, listen_port: int = 0) -> None:
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = listen_port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


async def eventually(
    condition: Callable[[], bool],
    timeout: float = 5.0,
    what: str = "the condition",
    *,
    interval: float = 0.02,
) -> None:
    """Wait until `condition()` holds; fail the test naming `what` after `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


async def eventually_async(
    read: Callable[[], Awaitable[T]],
    until: Callable[[T], object] = bool,
    *,
    timeout: float = 5.0,
    what: str = "the condition",
    interval: float = 0.05,
) -> T:
    """Read until `until(value)` holds (by default: the value is truthy) and return the value.

    For what only an await can tell: a database row, a browser's state.
    """
    found: T | None = None
    try:
        async with asyncio.timeout(timeout):
            while not until(value := await read()):
                found = value
                await asyncio.sleep(interval)
            return value
    except TimeoutError:
        raise AssertionError(
            f"timed out after {timeout}s waiting for {what}; last read {found!r}"
        ) from None


# Reconnects within a second, and gives up only well after a test would have failed anyway.
FAST_RECONNECT = ReconnectPolicy(initial=0.2, maximum=1.0, give_up_after=20.0)


async def start_peer(
    peers: list[MeshPeer],
    session: aiohttp.ClientSession,
    url: str,
    *,
    origin: str = ORIGIN,
    policy: ReconnectPolicy = FAST_RECONNECT,
    timeout: float = 5.0,
    trickle: bool = False,
) -> MeshPeer:
    """A mesh peer that has joined the room at `url`; kept in `peers` for the test to close."""
    peer = MeshPeer(session, url, origin=origin, policy=policy, trickle=trickle)
    peers.append(peer)
    peer.start()
    await asyncio.wait_for(peer.joined.wait(), timeout)
    return peer


# Enough frames each way that media is flowing, not just a first frame that slipped through.
MIN_AUDIO_FRAMES = 10
MIN_VIDEO_FRAMES = 5


def media_flows_everywhere(
    peers: list[MeshPeer], *, audio: int = MIN_AUDIO_FRAMES, video: int = MIN_VIDEO_FRAMES
) -> bool:
    """Every peer has received at least `audio` and `video` frames from every other peer."""
    for receiver, sender in itertools.permutations(peers, 2):
        counts = receiver.frames_from(sender.participant_id)
        if counts.audio < audio or counts.video < video:
            return False
    return True
