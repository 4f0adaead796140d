"""The state and events that hub instances share: room membership, admissions, relayed signals.

Two implementations of one `Backplane` protocol:

- `MemoryBackplane`: one process. Several hubs in one process can share a `MemoryBroker`.
- `RedisBackplane`: several processes. Membership lives in a Redis hash per room, admissions in a
  set per room, liveness in one heartbeat key per instance, and events go over one pub/sub channel
  per room. docs/signalling.md ("Several server instances") describes the keys.

Events are delivered to the hub's handler one at a time, in the order they were published by
one instance, so one sender's offer, answer and candidates reach the peer in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Literal, Protocol, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from service.domain.clock import Clock, SystemClock
from signalling.codec import EndedReason, RelayedFrame, parse_relayed_frame
from signalling.mailbox import Mailbox
from signalling.rooms import Member, RoomView

log = logging.getLogger(__name__)

ROOM_TTL = timedelta(hours=12)
_SWEEP_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class RosterChanged:
    """Someone joined, left, was admitted or removed, or changed media: re-read the room."""


@dataclass(frozen=True, slots=True)
class Relay:
    """An offer, answer or candidate for the socket `to_connection`, as the frame it receives."""

    to_connection: str
    frame: RelayedFrame


@dataclass(frozen=True, slots=True)
class Removal:
    """A clinician removed this participant: close its socket."""

    participant_id: str
    connection_id: str


@dataclass(frozen=True, slots=True)
class RoomEnded:
    """The call is over for everyone (the consultation was cancelled, or its room closed)."""

    reason: EndedReason


BackplaneEvent: TypeAlias = RosterChanged | Relay | Removal | RoomEnded
EventHandler: TypeAlias = Callable[[str, BackplaneEvent], Awaitable[None]]


class Backplane(Protocol):
    @property
    def instance_id(self) -> str: ...

    async def start(self, on_event: EventHandler) -> None:
        """Begin delivering events of subscribed rooms to `on_event(room_id, event)`."""
        ...

    async def close(self) -> None: ...

    async def subscribe(self, room_id: str) -> None: ...

    async def unsubscribe(self, room_id: str) -> None: ...

    async def load_room(self, room_id: str) -> RoomView:
        """Who is present (live instances only) and who has been admitted this session."""
        ...

    async def put_member(self, room_id: str, member: Member) -> None:
        """Add or replace the participant's presence (a newer connection wins)."""
        ...

    async def update_member(self, room_id: str, member: Member) -> bool:
        """Replace the record only if it still names `member.connection_id`."""
        ...

    async def remove_member(self, room_id: str, participant_id: str, connection_id: str) -> bool:
        """Remove the presence only if it still names `connection_id`; True if removed."""
        ...

    async def admit(self, room_id: str, participant_ids: Sequence[str]) -> None: ...

    async def forget_admission(self, room_id: str, participant_id: str) -> None: ...

    async def publish(self, room_id: str, event: BackplaneEvent) -> None: ...

    def delivers_in_order_now(self) -> bool:
        """True if no event is waiting for, or being handled by, this instance's handler, and
        no event can be on its way from elsewhere: then a relay this instance hands to one of
        its own sockets directly arrives in the same order as through `publish`."""
        ...


# --- in memory -------------------------------------------------------------------------------


@dataclass
class _MemoryRoom:
    members: dict[str, Member] = field(default_factory=dict)
    admitted: set[str] = field(default_factory=set)
    touched_at: float = 0.0


class MemoryBroker:
    """Room state and pub/sub for hubs in one process."""

    def __init__(self, *, clock: Clock | None = None, room_ttl: timedelta = ROOM_TTL) -> None:
        self._clock = clock or SystemClock()
        self._room_ttl = room_ttl
        self._rooms: dict[str, _MemoryRoom] = {}
        self._subscribers: dict[str, set[MemoryBackplane]] = {}
        self._swept_at = float("-inf")

    def room(self, room_id: str) -> _MemoryRoom:
        self._forget_idle_rooms()
        room = self._rooms.setdefault(room_id, _MemoryRoom())
        room.touched_at = self._clock.now().timestamp()
        return room

    def peek(self, room_id: str) -> _MemoryRoom | None:
        self._forget_idle_rooms()
        return self._rooms.get(room_id)

    def _forget_idle_rooms(self) -> None:
        # Like the Redis key expiry: an empty room's admissions are forgotten after the ttl.
        # The sweep looks at every room, so it runs at most once a minute, not on every read.
        now = self._clock.now().timestamp()
        if now - self._swept_at < _SWEEP_SECONDS:
            return
        self._swept_at = now
        horizon = now - self._room_ttl.total_seconds()
        idle = [rid for rid, r in self._rooms.items() if not r.members and r.touched_at < horizon]
        for room_id in idle:
            del self._rooms[room_id]

    def add_subscriber(self, room_id: str, backplane: MemoryBackplane) -> None:
        self._subscribers.setdefault(room_id, set()).add(backplane)

    def drop_subscriber(self, room_id: str, backplane: MemoryBackplane) -> None:
        subscribers = self._subscribers.get(room_id)
        if subscribers is not None:
            subscribers.discard(backplane)
            if not subscribers:
                del self._subscribers[room_id]

    def publish(self, room_id: str, event: BackplaneEvent) -> None:
        for backplane in tuple(self._subscribers.get(room_id, ())):
            backplane.deliver(room_id, event)


class MemoryBackplane:
    """One hub's attachment to a `MemoryBroker` (its own, unless one is shared)."""

    def __init__(self, broker: MemoryBroker | None = None) -> None:
        self._broker = broker or MemoryBroker()
        self._instance_id = uuid.uuid4().hex
        self._queue: Mailbox[tuple[str, BackplaneEvent]] = Mailbox()
        self._handling = False
        self._pump: asyncio.Task[None] | None = None
        self._rooms: set[str] = set()

    @property
    def instance_id(self) -> str:
        return self._instance_id

    async def start(self, on_event: EventHandler) -> None:
        if self._pump is None:
            self._pump = asyncio.create_task(self._pump_events(on_event))

    async def close(self) -> None:
        for room_id in tuple(self._rooms):
            await self.unsubscribe(room_id)
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None

    def deliver(self, room_id: str, event: BackplaneEvent) -> None:
        self._queue.put((room_id, event))

    def delivers_in_order_now(self) -> bool:
        # Every event for this instance, from any hub on the broker, goes through this queue.
        return not self._handling and not self._queue

    async def _pump_events(self, on_event: EventHandler) -> None:
        while True:
            room_id, event = await self._queue.get()
            self._handling = True
            try:
                await _deliver_safely(on_event, room_id, event)
            finally:
                self._handling = False

    async def subscribe(self, room_id: str) -> None:
        self._rooms.add(room_id)
        self._broker.add_subscriber(room_id, self)

    async def unsubscribe(self, room_id: str) -> None:
        self._rooms.discard(room_id)
        self._broker.drop_subscriber(room_id, self)

    async def load_room(self, room_id: str) -> RoomView:
        room = self._broker.peek(room_id)
        if room is None:
            return RoomView()
        return RoomView(members=dict(room.members), admitted=frozenset(room.admitted))

    async def put_member(self, room_id: str, member: Member) -> None:
        self._broker.room(room_id).members[member.participant_id] = member

    async def update_member(self, room_id: str, member: Member) -> bool:
        room = self._broker.room(room_id)
        current = room.members.get(member.participant_id)
        if current is None or current.connection_id != member.connection_id:
            return False
        room.members[member.participant_id] = member
        return True

    async def remove_member(self, room_id: str, participant_id: str, connection_id: str) -> bool:
        room = self._broker.room(room_id)
        current = room.members.get(participant_id)
        if current is None or current.connection_id != connection_id:
            return False
        del room.members[participant_id]
        return True

    async def admit(self, room_id: str, participant_ids: Sequence[str]) -> None:
        self._broker.room(room_id).admitted.update(participant_ids)

    async def forget_admission(self, room_id: str, participant_id: str) -> None:
        self._broker.room(room_id).admitted.discard(participant_id)

    async def publish(self, room_id: str, event: BackplaneEvent) -> None:
        self._broker.publish(room_id, event)


async def _deliver_safely(on_event: EventHandler, room_id: str, event: BackplaneEvent) -> None:
    # One bad event must not stop delivery of the rest.
    try:
        await on_event(room_id, event)
    except Exception:
        log.exception("signalling event handler failed (%s)", type(event).__name__)


# --- Redis -----------------------------------------------------------------------------------


class _RosterEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["roster"] = "roster"


class _RelayEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["relay"] = "relay"
    to_connection: str
    frame: str


class _RemovalEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["removal"] = "removal"
    participant_id: str
    connection_id: str


class _EndedEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["ended"] = "ended"
    reason: EndedReason


_Envelope: TypeAlias = Annotated[
    _RosterEnvelope | _RelayEnvelope | _RemovalEnvelope | _EndedEnvelope,
    Field(discriminator="kind"),
]
_envelope_adapter: TypeAdapter[_Envelope] = TypeAdapter(_Envelope)
_member_adapter: TypeAdapter[Member] = TypeAdapter(Member)


def encode_event(event: BackplaneEvent) -> bytes:
    envelope: _Envelope
    if isinstance(event, RosterChanged):
        envelope = _RosterEnvelope()
    elif isinstance(event, Relay):
        envelope = _RelayEnvelope(to_connection=event.to_connection, frame=event.frame)
    elif isinstance(event, RoomEnded):
        envelope = _EndedEnvelope(reason=event.reason)
    else:
        envelope = _RemovalEnvelope(
            participant_id=event.participant_id, connection_id=event.connection_id
        )
    return _envelope_adapter.dump_json(envelope)


def decode_event(data: bytes | str) -> BackplaneEvent:
    envelope = _envelope_adapter.validate_json(data)
    if isinstance(envelope, _RosterEnvelope):
        return RosterChanged()
    if isinstance(envelope, _RelayEnvelope):
        return Relay(envelope.to_connection, parse_relayed_frame(envelope.frame))
    if isinstance(envelope, _EndedEnvelope):
        return RoomEnded(envelope.reason)
    return Removal(envelope.participant_id, envelope.connection_id)


_REMOVE_IF_CURRENT = """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored and cjson.decode(stored)['connection_id'] == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""

_UPDATE_IF_CURRENT = """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored and cjson.decode(stored)['connection_id'] == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return 1
end
return 0
"""


class RedisBackplane:
    """Backplane over Redis; the caller owns (and closes) the `Redis` client.

    Liveness: each instance refreshes `{prefix}instance:{id}` every `heartbeat_interval`; the key
    expires after three intervals. Members held by an instance whose key is gone are dropped by
    whichever instance next loads the room, which then announces the change.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "samkons:signalling:",
        heartbeat_interval: timedelta = timedelta(seconds=5),
        room_ttl: timedelta = ROOM_TTL,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._instance_id = uuid.uuid4().hex
        self._heartbeat_interval = heartbeat_interval
        self._room_ttl_ms = int(room_ttl.total_seconds() * 1000)
        self._pubsub: PubSub | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._rooms: set[str] = set()
        self._remove_if_current = redis.register_script(_REMOVE_IF_CURRENT)
        self._update_if_current = redis.register_script(_UPDATE_IF_CURRENT)

    @property
    def instance_id(self) -> str:
        return self._instance_id

    def _members_key(self, room_id: str) -> str:
        return f"{self._prefix}room:{room_id}:members"

    def _admitted_key(self, room_id: str) -> str:
        return f"{self._prefix}room:{room_id}:admitted"

    def _channel(self, room_id: str) -> str:
        return f"{self._prefix}room:{room_id}"

    def _instance_key(self, instance_id: str) -> str:
        return f"{self._prefix}instance:{instance_id}"

    def _room_of(self, channel: str) -> str:
        return channel.removeprefix(f"{self._prefix}room:")

    async def start(self, on_event: EventHandler) -> None:
        if self._pubsub is not None:
            return
        await self._beat()
        self._pubsub = self._redis.pubsub()
        # A subscription of its own keeps the listener alive while no room is subscribed.
        await self._pubsub.subscribe(self._instance_key(self._instance_id))
        self._tasks = [
            asyncio.create_task(self._listen(self._pubsub, on_event)),
            asyncio.create_task(self._heartbeat(on_event)),
        ]

    async def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=3)
        self._tasks = []
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
            self._pubsub = None
        with contextlib.suppress(Exception):
            await self._redis.delete(self._instance_key(self._instance_id))
        self._rooms.clear()

    async def subscribe(self, room_id: str) -> None:
        if self._pubsub is None:
            raise RuntimeError("RedisBackplane.start() was not called")
        self._rooms.add(room_id)
        await self._pubsub.subscribe(self._channel(room_id))

    async def unsubscribe(self, room_id: str) -> None:
        self._rooms.discard(room_id)
        if self._pubsub is not None:
            await self._pubsub.unsubscribe(self._channel(room_id))

    async def _beat(self) -> None:
        ttl_ms = int(self._heartbeat_interval.total_seconds() * 3000)
        await self._redis.set(self._instance_key(self._instance_id), b"1", px=ttl_ms)

    async def _heartbeat(self, on_event: EventHandler) -> None:
        while not self._closing:
            await asyncio.sleep(self._heartbeat_interval.total_seconds())
            try:
                await self._beat()
                for room_id in tuple(self._rooms):
                    await self.load_room(room_id)  # drops members of dead instances
            except Exception:
                log.warning("signalling heartbeat to Redis failed", exc_info=True)

    async def _listen(self, pubsub: PubSub, on_event: EventHandler) -> None:
        # The flag, not only cancel(): redis-py can swallow a cancellation that lands while
        # its read timeout expires, so the loop checks at least once a second.
        while not self._closing:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._closing:
                    return
                log.warning("signalling pub/sub connection lost; retrying", exc_info=True)
                await asyncio.sleep(0.5)
                # Events may have been lost meanwhile: every room re-reads its roster.
                for room_id in tuple(self._rooms):
                    await _deliver_safely(on_event, room_id, RosterChanged())
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else str(channel)
            try:
                event = decode_event(message["data"])
            except (ValidationError, ValueError):
                log.warning("signalling: ignored a malformed backplane event")
                continue
            await _deliver_safely(on_event, self._room_of(channel), event)

    async def load_room(self, room_id: str) -> RoomView:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._members_key(room_id))
            pipe.smembers(self._admitted_key(room_id))
            raw_members, raw_admitted = await pipe.execute()
        members: dict[str, Member] = {}
        for raw in raw_members.values():
            try:
                member = _member_adapter.validate_json(raw)
            except ValidationError:
                continue
            members[member.participant_id] = member
        dead = await self._dead_instances({m.instance_id for m in members.values()})
        if dead:
            gone = [m for m in members.values() if m.instance_id in dead]
            removed = False
            for member in gone:
                del members[member.participant_id]
                removed |= await self.remove_member(
                    room_id, member.participant_id, member.connection_id
                )
            if removed:
                await self.publish(room_id, RosterChanged())
        admitted = frozenset(a.decode() if isinstance(a, bytes) else str(a) for a in raw_admitted)
        return RoomView(members=members, admitted=admitted)

    async def _dead_instances(self, instance_ids: set[str]) -> set[str]:
        others = sorted(instance_ids - {self._instance_id})
        if not others:
            return set()
        alive = await self._redis.mget([self._instance_key(i) for i in others])
        return {i for i, value in zip(others, alive, strict=True) if value is None}

    async def put_member(self, room_id: str, member: Member) -> None:
        key = self._members_key(room_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, member.participant_id, _member_adapter.dump_json(member))
            pipe.pexpire(key, self._room_ttl_ms)
            await pipe.execute()

    async def update_member(self, room_id: str, member: Member) -> bool:
        updated = await self._update_if_current(
            keys=[self._members_key(room_id)],
            args=[
                member.participant_id,
                member.connection_id,
                _member_adapter.dump_json(member),
                self._room_ttl_ms,
            ],
        )
        return bool(updated)

    async def remove_member(self, room_id: str, participant_id: str, connection_id: str) -> bool:
        removed = await self._remove_if_current(
            keys=[self._members_key(room_id)], args=[participant_id, connection_id]
        )
        return bool(removed)

    async def admit(self, room_id: str, participant_ids: Sequence[str]) -> None:
        if not participant_ids:
            return
        key = self._admitted_key(room_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, *participant_ids)
            pipe.pexpire(key, self._room_ttl_ms)
            await pipe.execute()

    async def forget_admission(self, room_id: str, participant_id: str) -> None:
        await self._redis.srem(self._admitted_key(room_id), participant_id)

    async def publish(self, room_id: str, event: BackplaneEvent) -> None:
        await self._redis.publish(self._channel(room_id), encode_event(event))

    def delivers_in_order_now(self) -> bool:
        # Another instance's event may be in Redis, unseen, and must not be overtaken.
        return False
