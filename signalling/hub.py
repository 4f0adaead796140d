"""The signalling hub: the WebSocket endpoint that runs rooms on top of a backplane.

`SignallingHub.handle` serves one socket: it checks the Origin, the limits of sockets per client
address and per participant (`signalling.limits`) and the caller's identity before upgrading,
then reads messages strictly in order and dispatches each one: membership changes
(join, media, admit, remove) to `signalling.membership`, offers, answers and candidates to their
addressee. Outgoing frames go through each socket's own send queue and writer
(`signalling.connection`). A relay to a socket of this instance goes straight into that queue
when the backplane has nothing pending (`_relay_at_once`), otherwise through the backplane.
Whatever happens while serving, the participant's presence is removed in `finally`.
`end_room` ends a room's call on every instance (the consultation was cancelled), and each
socket is ended when its identity's room closes (`Identity.closes_at`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Coroutine

from aiohttp import WSCloseCode, WSMsgType, web

from service.domain.clock import Clock, SystemClock
from signalling.backplane import (
    Backplane,
    BackplaneEvent,
    MemoryBackplane,
    Relay,
    Removal,
    RoomEnded,
    RosterChanged,
)
from signalling.codec import (
    Admit,
    AdmitAll,
    Answer,
    Candidate,
    ClientMessage,
    CodecError,
    EndedReason,
    Error,
    Join,
    Leave,
    Media,
    Offer,
    Ping,
    Pong,
    Remove,
    parse_client_message,
    relay_frame,
)
from signalling.config import HubConfig, normalise_origin
from signalling.connection import CLOSE_ABUSE, CLOSE_FLOOD, CLOSE_JOIN_TIMEOUT, Connection
from signalling.identity import (
    AdmissionLedger,
    Authenticator,
    Identity,
    NoLedger,
    NullRecorder,
    SessionRecorder,
)
from signalling.limits import UpgradeLimits
from signalling.mailbox import Mailbox
from signalling.membership import Membership, Refused, end_connection
from signalling.ratelimit import TokenBucket
from signalling.rooms import check_relay, relay_target

log = logging.getLogger(__name__)

_SOCKET_ENDS = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR})
_PEER_MESSAGES = (Offer, Answer, Candidate)


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
        ledger: AdmissionLedger | None = None,
    ) -> None:
        self._config = config
        self._authenticator = authenticator
        self._backplane: Backplane = backplane or MemoryBackplane()
        self._clock: Clock = clock or SystemClock()
        self._membership = Membership(
            config,
            self._backplane,
            recorder or NullRecorder(),
            ledger or NoLedger(),
            self._clock,
        )
        self._limits = UpgradeLimits(config)
        self._rooms = self._membership.rooms
        self._handlers: set[asyncio.Task[object]] = set()
        self._started = False
        self._closed = False

    @property
    def backplane(self) -> Backplane:
        return self._backplane

    def open_rooms(self) -> int:
        """Rooms with at least one socket on this instance (for operators' metrics)."""
        return len(self._rooms)

    def open_sockets(self) -> int:
        """Call sockets open on this instance (for operators' metrics)."""
        return sum(len(room.connections) for room in self._rooms.values())

    async def start(self) -> None:
        if not self._started:
            self._started = True
            await self._backplane.start(self._on_event)

    async def close(self) -> None:
        """Close every socket with 1001 (clients reconnect elsewhere), then the backplane."""
        if self._closed:
            return
        self._closed = True
        for connection in self._membership.connections():
            connection.close(WSCloseCode.GOING_AWAY, "server shutting down")
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=5)
        await self._backplane.close()

    async def end_room(self, room_id: str, reason: EndedReason) -> None:
        """End the room's call for everyone, on every instance: each socket gets `ended` and is
        closed with 4005. New sockets are the authenticator's to refuse (a cancelled
        consultation's room is closed)."""
        await self.start()
        await self._membership.end_room(room_id, reason)

    # --- the socket ------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        origin = request.headers.get("Origin")
        if origin is None or normalise_origin(origin) not in self._config.allowed_origins:
            raise web.HTTPForbidden(text="origin not allowed")
        if self._closed:
            raise web.HTTPServiceUnavailable(text="shutting down")
        address = request.remote or "unknown"
        if not self._limits.take_address(address):
            raise _too_many("too many connections from this address")
        try:
            identity = await self._identify(request)
            key = (identity.room_id, identity.participant_id)
            if not self._limits.take_participant(key, self._clock.timestamp()):
                raise _too_many("too many connections for this participant")
            try:
                return await self._upgrade(request, identity)
            finally:
                self._limits.release_participant(key)
        finally:
            self._limits.release_address(address)

    async def _identify(self, request: web.Request) -> Identity:
        try:
            identity = await self._authenticator.authenticate(request)
        except web.HTTPException:
            raise
        except Exception:
            # A database that cannot keep up must not answer 500: the client backs off and
            # tries again.
            log.warning("signalling authentication failed", exc_info=True)
            raise web.HTTPServiceUnavailable(
                text="try again later", headers={"Retry-After": "5"}
            ) from None
        if identity.room_id != request.match_info.get("room"):
            raise web.HTTPForbidden(text="not a participant of this room")
        return identity

    async def _upgrade(self, request: web.Request, identity: Identity) -> web.WebSocketResponse:
        await self.start()

        ws = web.WebSocketResponse(
            heartbeat=self._config.websocket_heartbeat.total_seconds(),
            max_msg_size=self._config.hard_max_frame_bytes,
            # Signals are a few KB per call, not worth a deflate state per socket (over 256 KB
            # with aiohttp's window); and `Connection._write` writes uncompressed frames.
            compress=False,
        )
        await ws.prepare(request)
        connection = Connection(
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
        room_closes = self._end_when_room_closes(connection)
        try:
            await self._serve(connection)
        except Exception:
            log.exception("signalling connection failed")
        finally:
            if room_closes is not None:
                room_closes.cancel()
            # aiohttp cancels a handler whose client went away; the departure (presence removed,
            # roster announced, event recorded) must still run to its end.
            try:
                await _run_to_end(self._finish(connection, writer))
            finally:
                if task is not None:
                    self._handlers.discard(task)
        return ws

    def _end_when_room_closes(self, connection: Connection) -> asyncio.TimerHandle | None:
        closes_at = connection.identity.closes_at
        if closes_at is None:
            return None
        delay = (closes_at - self._clock.now()).total_seconds()
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, delay), end_connection, connection, "over")

    async def _finish(self, connection: Connection, writer: asyncio.Task[None]) -> None:
        try:
            await self._membership.depart(connection)
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

    async def _serve(self, connection: Connection) -> None:
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
            except Refused as refusal:
                self._refuse(
                    connection,
                    Error(code=refusal.code, message=refusal.message, ref=message.type),
                )
            except Exception:
                log.exception("signalling message handler failed (%s)", message.type)
                connection.send(Error(code="internal", message="server error", ref=message.type))

    def _refuse(self, connection: Connection, error: Error) -> None:
        connection.send(error)
        connection.refusals += 1
        if connection.refusals >= self._config.max_refusals:
            connection.close(CLOSE_ABUSE, "too many refused messages")

    # --- messages --------------------------------------------------------------------------

    async def _dispatch(self, connection: Connection, message: ClientMessage) -> None:
        membership = self._membership
        if isinstance(message, Join):
            if connection.joined:
                raise Refused("already_joined", "join was already sent on this socket")
            await membership.join(connection, message)
            return
        if not connection.joined:
            raise Refused("not_joined", "send join first")
        match message:
            case Ping():
                connection.send(Pong(nonce=message.nonce))
            case Leave():
                connection.end_reason = "leave"
                connection.close(WSCloseCode.OK, "left")
            case Media():
                await membership.change_media(connection, message)
            case Admit():
                await membership.admit(connection, [message.participant_id])
            case AdmitAll():
                await membership.admit(connection, None)
            case Remove():
                await membership.remove(connection, message.participant_id)
            case Offer() | Answer() | Candidate():
                await self._relay(connection, message)

    def _relay_at_once(self, connection: Connection, message: ClientMessage) -> bool:
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

    async def _relay(self, connection: Connection, message: Offer | Answer | Candidate) -> None:
        room = self._rooms[connection.room_id]
        sender = connection.participant_id
        refusal = check_relay(room.view, sender, connection.id, message.to)
        if refusal is not None:
            # The cached view may lag a change this client already saw: check the store once.
            room.view = await self._backplane.load_room(connection.room_id)
            refusal = check_relay(room.view, sender, connection.id, message.to)
        target = room.view.member(message.to)
        if refusal is not None or target is None:
            raise Refused(refusal or "unknown_participant", f"cannot send to {message.to}")
        frame = relay_frame(message, sender, connection.id)
        await self._backplane.publish(connection.room_id, Relay(target.connection_id, frame))

    # --- backplane events ------------------------------------------------------------------

    async def _on_event(self, room_id: str, event: BackplaneEvent) -> None:
        room = self._rooms.get(room_id)
        if room is None:
            return
        match event:
            case RosterChanged():
                await self._membership.push_roster(room_id, room)
            case Relay():
                connection = room.connections.get(event.to_connection)
                if (
                    connection is not None
                    and connection.joined
                    and room.view.is_admitted(connection.participant_id)
                ):
                    connection.send_relayed(event.frame)
            case Removal():
                self._membership.removed(room, event)
            case RoomEnded():
                self._membership.ended(room, event)


def _too_many(text: str) -> web.HTTPTooManyRequests:
    return web.HTTPTooManyRequests(text=text, headers={"Retry-After": "5"})


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
