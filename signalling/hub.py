"""The signalling hub: the WebSocket endpoint that runs rooms on top of a backplane.

`SignallingHub.handle` serves one socket: it checks the Origin and the caller's identity before
upgrading, then reads messages strictly in order. Every outgoing frame goes through a bounded
queue per socket with its own writer task, so one slow browser never holds up a room; the writer
sends whatever has queued up meanwhile in one write to the socket (`_Connection._write`). A relay
to a socket of this instance goes straight into that queue when the backplane has nothing
pending (`_relay_at_once`), otherwise through the backplane. Whatever happens while serving, the
participant's presence is removed in `finally`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import struct
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Literal

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.abc import AbstractStreamWriter

from service.domain.clock import Clock, SystemClock
from signalling.backplane import (
    Backplane,
    BackplaneEvent,
    MemoryBackplane,
    Relay,
    Removal,
    RosterChanged,
)
from signalling.codec import (
    Admit,
    AdmitAll,
    Admitted,
    Answer,
    Candidate,
    ClientMessage,
    CodecError,
    Error,
    ErrorCode,
    IceServer,
    Join,
    Joined,
    Leave,
    Media,
    Offer,
    Participants,
    Ping,
    Pong,
    RelayedFrame,
    Remove,
    Removed,
    encode,
    parse_client_message,
    relay_frame,
)
from signalling.identity import (
    Authenticator,
    Identity,
    NullRecorder,
    SessionEvent,
    SessionRecorder,
)
from signalling.mailbox import Mailbox
from signalling.ratelimit import TokenBucket
from signalling.rooms import (
    Member,
    RoomView,
    admitted_on_join,
    check_admit,
    check_admit_all,
    check_relay,
    check_remove,
    relay_target,
)
from signalling.turn import ice_servers_for, mint_turn_credentials

log = logging.getLogger(__name__)

CLOSE_REPLACED = 4001
CLOSE_REMOVED = 4002
CLOSE_ABUSE = 4003
CLOSE_JOIN_TIMEOUT = 4004
CLOSE_FLOOD = 4029

EndReason = Literal["leave", "replaced", "removed"]
_SOCKET_ENDS = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR})
_PEER_MESSAGES = (Offer, Answer, Candidate)
# A writer sends what has queued up in writes of about this size: enough for a whole burst of
# signals, and about asyncio's high-water mark, past which the writer waits for the socket.
_WRITE_BATCH_CHARS = 64 * 1024
_TEXT_FIN = 0x81  # FIN bit and opcode 1 (text), RFC 6455 section 5.2
_pack_length_16 = struct.Struct("!BBH").pack
_pack_length_64 = struct.Struct("!BBQ").pack


@dataclass(frozen=True, slots=True)
class HubConfig:
    """What the hub needs from the app's settings."""

    allowed_origins: frozenset[str]
    turn_secret: str | None = None
    turn_urls: tuple[str, ...] = ()
    stun_urls: tuple[str, ...] = ()
    # coturn checks the expiry on every refresh of an allocation, so this must outlast a call.
    turn_ttl: timedelta = timedelta(hours=4)
    # Frames between the protocol limit (64 KB, answered with an error frame) and this are read
    # and refused politely; larger ones make aiohttp close the socket with 1009.
    hard_max_frame_bytes: int = 1024 * 1024
    rate_burst: float = 200.0
    rate_per_second: float = 50.0
    max_refusals: int = 20
    join_timeout: timedelta = timedelta(seconds=10)
    websocket_heartbeat: timedelta = timedelta(seconds=20)
    send_queue_size: int = 256

    def __post_init__(self) -> None:
        origins = frozenset(normalise_origin(o) for o in self.allowed_origins)
        object.__setattr__(self, "allowed_origins", origins)


def normalise_origin(origin: str) -> str:
    """Origins compare case-insensitively and without a trailing slash."""
    return origin.strip().lower().rstrip("/")


@dataclass(frozen=True, slots=True)
class _CloseFrame:
    code: int
    reason: bytes


@dataclass(eq=False)
class _Connection:
    id: str
    identity: Identity
    ws: web.WebSocketResponse
    # The socket under `ws`, written to directly by `write_frames` (None if it was already lost).
    transport: asyncio.Transport | None
    stream: AbstractStreamWriter
    bucket: TokenBucket
    outbox: Mailbox[str | _CloseFrame]
    joined: bool = False
    # Set once the presence record is written, so a failure mid-join still removes it.
    present: bool = False
    told_admitted: bool = False
    closing: bool = False
    end_reason: EndReason | None = None
    refusals: int = 0

    @property
    def room_id(self) -> str:
        return self.identity.room_id

    @property
    def participant_id(self) -> str:
        return self.identity.participant_id

    def send(self, message: Error | Joined | Participants | Admitted | Removed | Pong) -> None:
        self._put(encode(message))

    def send_relayed(self, frame: RelayedFrame) -> None:
        self._put(frame)

    def _put(self, frame: str) -> None:
        if self.closing:
            return
        if not self.outbox.put(frame):
            self.give_up()

    def give_up(self) -> None:
        """Drop a browser that stopped reading: its queue is full and its socket buffers too.

        A close frame would wait behind everything it does not read, and the room would show
        it present until the heartbeat noticed (20 s and more); cutting the connection ends its
        handler now, which takes it out of the room. Its tab reconnects if it is still alive.
        """
        self.closing = True
        self.outbox.clear()
        if self.transport is not None:
            self.transport.abort()

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already queued have been sent."""
        if self.closing:
            return
        self.closing = True
        frame = _CloseFrame(code, reason.encode())
        if not self.outbox.put(frame):
            # A reader too slow to drain its queue does not get the queued frames either.
            self.outbox.clear()
            self.outbox.put(frame)

    async def write_frames(self) -> None:
        """Send queued frames until the close frame, each batch of them in one write."""
        while True:
            # No local variable keeps a sent frame alive while waiting for the next one: with
            # thousands of quiet sockets that added up to 3 KB a socket (the join's rosters).
            outcome = self._write_batch(await self.outbox.get())
            if outcome == "failed":
                return
            if isinstance(outcome, _CloseFrame):
                await self.ws.close(code=outcome.code, message=outcome.reason)
                return
            try:
                # Waits only while the socket's buffer is above its high-water mark.
                await self.stream.drain()
            except (ConnectionError, RuntimeError):
                self.closing = True
                return

    def _write_batch(self, item: str | _CloseFrame) -> Literal["sent", "failed"] | _CloseFrame:
        """Write `item` and what is queued behind it, up to the close frame if there is one."""
        batch: list[str] = []
        size = 0
        outbox = self.outbox
        # Take only as much as one write sends: what stays queued still counts against the
        # queue's bound, which is how a browser that stopped reading is noticed.
        while not isinstance(item, _CloseFrame):
            batch.append(item)
            size += len(item)
            if size >= _WRITE_BATCH_CHARS or not outbox:
                break
            item = outbox.get_nowait()
        if batch and not self._write(batch):
            return "failed"
        return item if isinstance(item, _CloseFrame) else "sent"

    def _write(self, texts: list[str]) -> bool:
        """Write `texts` as text frames in one go; False if the socket can take no more.

        aiohttp's `send_str` makes one system call per frame, which was the largest single cost
        of a relayed message (a burst of 8 signals queued for one browser took 8 calls; now 1).
        Frames are written as aiohttp's writer would write them: unmasked, uncompressed (the
        hub does not offer compression). aiohttp's own control frames (pings, close) are whole
        writes too, so they can only fall between these frames, never inside one.
        """
        transport = self.transport
        if self.ws.closed or transport is None or transport.is_closing():
            self.closing = True
            return False
        try:
            transport.write(_text_frames(texts))
        except (ConnectionError, RuntimeError):
            self.closing = True
            return False
        return True


def _text_frames(texts: list[str]) -> bytes:
    """`texts` as consecutive unfragmented WebSocket text frames from a server (RFC 6455 5.2)."""
    parts: list[bytes] = []
    for text in texts:
        payload = text.encode()
        length = len(payload)
        if length < 126:
            parts.append(bytes((_TEXT_FIN, length)))
        elif length < 65536:
            parts.append(_pack_length_16(_TEXT_FIN, 126, length))
        else:
            parts.append(_pack_length_64(_TEXT_FIN, 127, length))
        parts.append(payload)
    return b"".join(parts)


class _Refused(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message


@dataclass
class _LocalRoom:
    connections: dict[str, _Connection] = field(default_factory=dict)
    view: RoomView = field(default_factory=RoomView)


class SignallingHub:
    """Rooms of one hub instance; several instances share rooms through the backplane."""

    def __init__(
        self,
        config: HubConfig,
        authenticator: Authenticator,
        *,
        recorder: SessionRecorder | None = None,
        backplane: Backplane | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._config = config
        self._authenticator = authenticator
        self._recorder: SessionRecorder = recorder or NullRecorder()
        self._backplane: Backplane = backplane or MemoryBackplane()
        self._clock: Clock = clock or SystemClock()
        self._rooms: dict[str, _LocalRoom] = {}
        self._rooms_lock = asyncio.Lock()
        self._handlers: set[asyncio.Task[object]] = set()
        self._started = False
        self._closed = False

    @property
    def backplane(self) -> Backplane:
        return self._backplane

    async def start(self) -> None:
        if not self._started:
            self._started = True
            await self._backplane.start(self._on_event)

    async def close(self) -> None:
        """Close every socket with 1001 (clients reconnect elsewhere), then the backplane."""
        if self._closed:
            return
        self._closed = True
        for room in self._rooms.values():
            for connection in room.connections.values():
                connection.close(WSCloseCode.GOING_AWAY, "server shutting down")
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=5)
        await self._backplane.close()

    # --- the socket ------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        origin = request.headers.get("Origin")
        if origin is None or normalise_origin(origin) not in self._config.allowed_origins:
            raise web.HTTPForbidden(text="origin not allowed")
        if self._closed:
            raise web.HTTPServiceUnavailable(text="shutting down")
        identity = await self._authenticator.authenticate(request)
        if identity.room_id != request.match_info.get("room"):
            raise web.HTTPForbidden(text="not a participant of this room")
        await self.start()

        ws = web.WebSocketResponse(
            heartbeat=self._config.websocket_heartbeat.total_seconds(),
            max_msg_size=self._config.hard_max_frame_bytes,
            # Signals are a few KB per call, not worth a deflate state per socket (over 256 KB
            # with aiohttp's window); and `_Connection._write` writes uncompressed frames.
            compress=False,
        )
        await ws.prepare(request)
        connection = _Connection(
            id=secrets.token_urlsafe(16),
            identity=identity,
            ws=ws,
            transport=request.transport,
            stream=request.writer,
            bucket=TokenBucket(
                self._config.rate_burst,
                self._config.rate_per_second,
                self._clock.timestamp(),
            ),
            outbox=Mailbox(self._config.send_queue_size),
        )
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        writer = asyncio.create_task(connection.write_frames())
        try:
            await self._serve(connection)
        except Exception:
            log.exception("signalling connection failed")
        finally:
            # aiohttp cancels a handler whose client went away; the departure (presence removed,
            # roster announced, event recorded) must still run to its end.
            try:
                await _run_to_end(self._finish(connection, writer))
            finally:
                if task is not None:
                    self._handlers.discard(task)
        return ws

    async def _finish(self, connection: _Connection, writer: asyncio.Task[None]) -> None:
        try:
            await self._depart(connection)
        except Exception:
            log.exception("signalling cleanup failed")
        connection.close(WSCloseCode.OK, "")
        try:
            await asyncio.wait_for(writer, timeout=2)
        except (TimeoutError, ConnectionError, RuntimeError):
            writer.cancel()
        if not connection.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await connection.ws.close()

    async def _serve(self, connection: _Connection) -> None:
        loop = asyncio.get_running_loop()
        join_deadline = loop.time() + self._config.join_timeout.total_seconds()
        ws = connection.ws
        while not connection.closing:
            timeout = None if connection.joined else max(0.0, join_deadline - loop.time())
            try:
                frame = await ws.receive(timeout=timeout)
            except TimeoutError:
                connection.close(CLOSE_JOIN_TIMEOUT, "join timeout")
                return
            kind = frame.type
            if kind is not WSMsgType.TEXT and kind in _SOCKET_ENDS:
                return
            if not connection.bucket.take(self._clock.timestamp()):
                connection.close(CLOSE_FLOOD, "rate limit")
                return
            if kind is not WSMsgType.TEXT:
                self._refuse(connection, Error(code="malformed", message="text frames only"))
                continue
            try:
                message = parse_client_message(frame.data)
            except CodecError as error:
                self._refuse(connection, error.to_frame())
                continue
            try:
                if not self._relay_at_once(connection, message):
                    await self._dispatch(connection, message)
            except _Refused as refusal:
                self._refuse(
                    connection,
                    Error(code=refusal.code, message=refusal.message, ref=message.type),
                )
            except Exception:
                log.exception("signalling message handler failed (%s)", message.type)
                connection.send(Error(code="internal", message="server error", ref=message.type))

    def _refuse(self, connection: _Connection, error: Error) -> None:
        connection.send(error)
        connection.refusals += 1
        if connection.refusals >= self._config.max_refusals:
            connection.close(CLOSE_ABUSE, "too many refused messages")

    # --- messages --------------------------------------------------------------------------

    async def _dispatch(self, connection: _Connection, message: ClientMessage) -> None:
        if isinstance(message, Join):
            if connection.joined:
                raise _Refused("already_joined", "join was already sent on this socket")
            await self._join(connection, message)
            return
        if not connection.joined:
            raise _Refused("not_joined", "send join first")
        match message:
            case Ping():
                connection.send(Pong(nonce=message.nonce))
            case Leave():
                connection.end_reason = "leave"
                connection.close(WSCloseCode.OK, "left")
            case Media():
                await self._change_media(connection, message)
            case Admit():
                await self._admit(connection, [message.participant_id])
            case AdmitAll():
                await self._admit(connection, None)
            case Remove():
                await self._remove(connection, message.participant_id)
            case Offer() | Answer() | Candidate():
                await self._relay(connection, message)

    async def _join(self, connection: _Connection, message: Join) -> None:
        identity = connection.identity
        room_id = connection.room_id
        await self._attach(connection)
        view = await self._backplane.load_room(room_id)
        admitted = admitted_on_join(identity, view.admitted)
        if admitted and identity.participant_id not in view.admitted:
            await self._backplane.admit(room_id, [identity.participant_id])
        now = self._clock.now()
        member = Member.joining(
            identity,
            connection_id=connection.id,
            instance_id=self._backplane.instance_id,
            media=message.media,
            at=now,
        )
        connection.present = True
        await self._backplane.put_member(room_id, member)
        view = await self._backplane.load_room(room_id)
        self._rooms[room_id].view = view
        you = view.participant(identity.participant_id)
        if you is None:  # pragma: no cover - only if the store lost the write just made
            raise _Refused("internal", "could not join")
        connection.joined = True
        connection.told_admitted = view.is_admitted(identity.participant_id)
        ice_servers, ttl = self._ice_servers(identity.participant_id)
        connection.send(
            Joined(
                you=you,
                participants=view.participants(),
                ice_servers=ice_servers,
                ice_servers_ttl=ttl,
            )
        )
        await self._backplane.publish(room_id, RosterChanged())
        await self._record(room_id, identity.participant_id, "join")
        if admitted:
            await self._record(room_id, identity.participant_id, "admit")

    def _ice_servers(self, participant_id: str) -> tuple[list[IceServer], int]:
        config = self._config
        credentials = None
        if config.turn_secret and config.turn_urls:
            credentials = mint_turn_credentials(
                config.turn_secret, participant_id, self._clock.now(), config.turn_ttl
            )
        servers = ice_servers_for(
            stun_urls=config.stun_urls,
            turn_urls=config.turn_urls,
            credentials=credentials,
        )
        ttl = int(config.turn_ttl.total_seconds()) if credentials is not None else 0
        return [IceServer.model_validate(server) for server in servers], ttl

    async def _change_media(self, connection: _Connection, message: Media) -> None:
        view = await self._backplane.load_room(connection.room_id)
        member = view.member(connection.participant_id)
        if member is None or member.connection_id != connection.id:
            raise _Refused("not_joined", "this connection was replaced")
        updated = replace(member, audio=message.audio, video=message.video)
        if await self._backplane.update_member(connection.room_id, updated):
            await self._backplane.publish(connection.room_id, RosterChanged())

    async def _admit(self, connection: _Connection, targets: list[str] | None) -> None:
        room_id = connection.room_id
        view = await self._backplane.load_room(room_id)
        actor = connection.participant_id
        if targets is None:
            refusal = check_admit_all(view, actor, connection.id)
            targets = view.waiting_ids()
        else:
            refusal = next(
                (r for t in targets if (r := check_admit(view, actor, connection.id, t))),
                None,
            )
        if refusal is not None:
            raise _Refused(refusal, "not allowed to admit")
        newly = [t for t in targets if not view.is_admitted(t)]
        if not newly:
            return
        await self._backplane.admit(room_id, newly)
        await self._backplane.publish(room_id, RosterChanged())
        for participant_id in newly:
            await self._record(room_id, participant_id, "admit")

    async def _remove(self, connection: _Connection, target: str) -> None:
        room_id = connection.room_id
        view = await self._backplane.load_room(room_id)
        refusal = check_remove(view, connection.participant_id, connection.id, target)
        member = view.member(target)
        if refusal is not None or member is None:
            raise _Refused(refusal or "unknown_participant", "not allowed to remove")
        await self._backplane.forget_admission(room_id, target)
        await self._backplane.remove_member(room_id, target, member.connection_id)
        await self._backplane.publish(room_id, Removal(target, member.connection_id))
        await self._backplane.publish(room_id, RosterChanged())
        await self._record(room_id, target, "remove")

    def _relay_at_once(self, connection: _Connection, message: ClientMessage) -> bool:
        """The path of nearly every message: an offer, answer or candidate to a socket of this
        instance, allowed by the cached view, handed to the addressee's send queue without
        suspending. False (nothing done) sends the message down the full path instead."""
        if not isinstance(message, _PEER_MESSAGES) or not connection.joined:
            return False
        room = self._rooms[connection.room_id]
        target = relay_target(room.view, connection.participant_id, connection.id, message.to)
        if target is None:
            return False
        addressee = room.connections.get(target.connection_id)
        if addressee is None or not addressee.joined:
            return False
        if not self._backplane.delivers_in_order_now():
            return False
        addressee.send_relayed(relay_frame(message, connection.participant_id, connection.id))
        return True

    async def _relay(self, connection: _Connection, message: Offer | Answer | Candidate) -> None:
        room = self._rooms[connection.room_id]
        sender = connection.participant_id
        refusal = check_relay(room.view, sender, connection.id, message.to)
        if refusal is not None:
            # The cached view may lag a change this client already saw: check the store once.
            room.view = await self._backplane.load_room(connection.room_id)
            refusal = check_relay(room.view, sender, connection.id, message.to)
        target = room.view.member(message.to)
        if refusal is not None or target is None:
            raise _Refused(refusal or "unknown_participant", f"cannot send to {message.to}")
        frame = relay_frame(message, sender, connection.id)
        await self._backplane.publish(connection.room_id, Relay(target.connection_id, frame))

    # --- membership ------------------------------------------------------------------------

    async def _attach(self, connection: _Connection) -> None:
        async with self._rooms_lock:
            room = self._rooms.get(connection.room_id)
            if room is None:
                room = self._rooms[connection.room_id] = _LocalRoom()
                await self._backplane.subscribe(connection.room_id)
            room.connections[connection.id] = connection

    async def _detach(self, connection: _Connection) -> None:
        async with self._rooms_lock:
            room = self._rooms.get(connection.room_id)
            if room is None or room.connections.pop(connection.id, None) is None:
                return
            if not room.connections:
                del self._rooms[connection.room_id]
                await self._backplane.unsubscribe(connection.room_id)

    async def _depart(self, connection: _Connection) -> None:
        try:
            if not connection.present:
                return
            room_id = connection.room_id
            gone = await self._backplane.remove_member(
                room_id, connection.participant_id, connection.id
            )
            if not gone:
                return  # replaced by a newer connection, or removed by a clinician
            await self._backplane.publish(room_id, RosterChanged())
            event: SessionEvent = "leave" if connection.end_reason == "leave" else "disconnect"
            await self._record(room_id, connection.participant_id, event)
        finally:
            await self._detach(connection)

    async def _record(self, room_id: str, participant_id: str, event: SessionEvent) -> None:
        try:
            await self._recorder.record(room_id, participant_id, event, self._clock.now())
        except Exception:
            # Losing one session event must not take the call down.
            log.exception("session recorder failed (%s)", event)

    # --- backplane events ------------------------------------------------------------------

    async def _on_event(self, room_id: str, event: BackplaneEvent) -> None:
        room = self._rooms.get(room_id)
        if room is None:
            return
        match event:
            case RosterChanged():
                await self._push_roster(room_id, room)
            case Relay():
                connection = room.connections.get(event.to_connection)
                if (
                    connection is not None
                    and connection.joined
                    and room.view.is_admitted(connection.participant_id)
                ):
                    connection.send_relayed(event.frame)
            case Removal():
                connection = room.connections.get(event.connection_id)
                if connection is not None:
                    connection.end_reason = "removed"
                    connection.send(Removed())
                    connection.close(CLOSE_REMOVED, "removed")

    async def _push_roster(self, room_id: str, room: _LocalRoom) -> None:
        view = await self._backplane.load_room(room_id)
        room.view = view
        roster = Participants(participants=view.participants())
        for connection in _joined(room.connections.values()):
            member = view.member(connection.participant_id)
            if member is None:
                continue  # removed or leaving: a Removal or the socket's own end follows
            if member.connection_id != connection.id:
                connection.end_reason = "replaced"
                connection.close(CLOSE_REPLACED, "replaced")
                continue
            connection.send(roster)
            if view.is_admitted(connection.participant_id) and not connection.told_admitted:
                connection.told_admitted = True
                connection.send(Admitted())


async def _run_to_end(work: Coroutine[object, object, None]) -> None:
    """Await `work`, letting it finish even if the caller is cancelled meanwhile.

    The cancellation is passed on once the work is done.
    """
    inner = asyncio.ensure_future(work)
    cancelled = False
    while not inner.done():
        try:
            await asyncio.shield(inner)
        except asyncio.CancelledError:
            if inner.cancelled():
                raise
            cancelled = True
    inner.result()
    if cancelled:
        raise asyncio.CancelledError


def _joined(connections: Iterable[_Connection]) -> list[_Connection]:
    return [c for c in connections if c.joined and not c.closing]


def add_routes(app: web.Application, hub: SignallingHub, path: str = "/ws/{room}") -> None:
    """Serve the hub at `path` (which must contain `{room}`) and tie it to the app's life."""
    if "{room}" not in path:
        raise ValueError("path must contain {room}")

    async def start_hub(_: web.Application) -> None:
        await hub.start()

    async def close_hub(_: web.Application) -> None:
        await hub.close()

    app.router.add_get(path, hub.handle)
    app.on_startup.append(start_hub)
    # on_shutdown runs before aiohttp waits for open handlers, so sockets close promptly.
    app.on_shutdown.append(close_hub)
