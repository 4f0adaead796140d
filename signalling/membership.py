"""Who is in the rooms of this hub instance: joining, media, admitting, removing and leaving.

`Membership` keeps the rooms that have a socket on this instance (`LocalRoom`: its connections
and the last view loaded from the backplane), writes presence and admissions to the backplane,
announces every change of the roster, records the session events, and pushes each new roster
to the room's sockets. What is allowed comes from `signalling.rooms`; the hub calls in here
from its dispatch of incoming frames and of backplane events.

A participant admitted earlier is admitted again on join if the backplane remembers it or, if
the backplane forgot (a restart of the memory backplane), if the `AdmissionLedger` (the stored
session events) says so. A connection that replaces the participant's previous one records no
session event: the participant never left, and a link reconnecting in a loop must not turn
into one database write per attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from service.domain.clock import Clock
from signalling.backplane import Backplane, Removal, RoomEnded, RosterChanged
from signalling.codec import (
    Admitted,
    Ended,
    EndedReason,
    ErrorCode,
    IceServer,
    Join,
    Joined,
    Media,
    Participants,
    Removed,
)
from signalling.config import HubConfig
from signalling.connection import CLOSE_ENDED, CLOSE_REMOVED, CLOSE_REPLACED, Connection
from signalling.identity import AdmissionLedger, SessionEvent, SessionRecorder
from signalling.rooms import (
    Member,
    RoomView,
    admitted_on_join,
    check_admit,
    check_admit_all,
    check_remove,
)
from signalling.turn import ice_servers_for, mint_turn_credentials

log = logging.getLogger(__name__)


class Refused(Exception):
    """A message the rules do not allow: the sender gets an error frame with `code`."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message


@dataclass
class LocalRoom:
    """A room with at least one socket on this instance."""

    connections: dict[str, Connection] = field(default_factory=dict)
    view: RoomView = field(default_factory=RoomView)


class Membership:
    """The rooms of one hub instance and every change of who is in them."""

    def __init__(
        self,
        config: HubConfig,
        backplane: Backplane,
        recorder: SessionRecorder,
        ledger: AdmissionLedger,
        clock: Clock,
    ) -> None:
        self._config = config
        self._backplane = backplane
        self._recorder = recorder
        self._ledger = ledger
        self._clock = clock
        # Read directly on the relay path, which must not suspend.
        self.rooms: dict[str, LocalRoom] = {}
        self._rooms_lock = asyncio.Lock()

    def connections(self) -> Iterator[Connection]:
        """Every socket of this instance, in every room."""
        for room in self.rooms.values():
            yield from room.connections.values()

    async def join(self, connection: Connection, message: Join) -> None:
        identity = connection.identity
        room_id = connection.room_id
        await self._attach(connection)
        view = await self._backplane.load_room(room_id)
        participant_id = identity.participant_id
        replacing = view.is_present(participant_id)
        in_call_before = view.is_admitted(participant_id)
        admitted = admitted_on_join(identity, view.admitted) or (
            not replacing and await self._ledger_admits(room_id, participant_id)
        )
        if admitted and participant_id not in view.admitted:
            await self._backplane.admit(room_id, [participant_id])
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
        self.rooms[room_id].view = view
        you = view.participant(identity.participant_id)
        if you is None:  # pragma: no cover - only if the store lost the write just made
            raise Refused("internal", "could not join")
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
        if not replacing:
            await self.record(room_id, participant_id, "join")
        if admitted and not in_call_before:
            await self.record(room_id, participant_id, "admit")

    async def _ledger_admits(self, room_id: str, participant_id: str) -> bool:
        try:
            return await self._ledger.was_admitted(room_id, participant_id)
        except Exception:
            # Without the record the participant waits for a clinician, as before a restart.
            log.exception("admission ledger failed")
            return False

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

    async def change_media(self, connection: Connection, message: Media) -> None:
        view = await self._backplane.load_room(connection.room_id)
        member = view.member(connection.participant_id)
        if member is None or member.connection_id != connection.id:
            raise Refused("not_joined", "this connection was replaced")
        updated = replace(member, audio=message.audio, video=message.video)
        if await self._backplane.update_member(connection.room_id, updated):
            await self._backplane.publish(connection.room_id, RosterChanged())

    async def admit(self, connection: Connection, targets: list[str] | None) -> None:
        """Admit `targets` from the waiting room, or everyone waiting if None."""
        room_id = connection.room_id
        view = await self._backplane.load_room(room_id)
        if connection.closing:
            raise Refused("ended", "this connection is closing")
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
            raise Refused(refusal, "not allowed to admit")
        newly = [t for t in targets if not view.is_admitted(t)]
        if not newly:
            return
        await self._backplane.admit(room_id, newly)
        await self._backplane.publish(room_id, RosterChanged())
        for participant_id in newly:
            await self.record(room_id, participant_id, "admit")

    async def remove(self, connection: Connection, target: str) -> None:
        room_id = connection.room_id
        view = await self._backplane.load_room(room_id)
        refusal = check_remove(view, connection.participant_id, connection.id, target)
        member = view.member(target)
        if refusal is not None or member is None:
            raise Refused(refusal or "unknown_participant", "not allowed to remove")
        await self._backplane.forget_admission(room_id, target)
        await self._backplane.remove_member(room_id, target, member.connection_id)
        await self._backplane.publish(room_id, Removal(target, member.connection_id))
        await self._backplane.publish(room_id, RosterChanged())
        await self.record(room_id, target, "remove")

    async def depart(self, connection: Connection) -> None:
        """Take a socket that ended out of its room, and tell the room if it was present."""
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
            await self.record(room_id, connection.participant_id, event)
        finally:
            await self._detach(connection)

    async def record(self, room_id: str, participant_id: str, event: SessionEvent) -> None:
        try:
            await self._recorder.record(room_id, participant_id, event, self._clock.now())
        except Exception:
            # Losing one session event must not take the call down.
            log.exception("session recorder failed (%s)", event)

    async def push_roster(self, room_id: str, room: LocalRoom) -> None:
        """Send the room's new roster to its sockets here; close those that were replaced."""
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
            connection.send_roster(roster)
            if view.is_admitted(connection.participant_id) and not connection.told_admitted:
                connection.told_admitted = True
                connection.send(Admitted())

    @staticmethod
    def removed(room: LocalRoom, removal: Removal) -> None:
        """Tell a socket here that a clinician removed it, and close it."""
        connection = room.connections.get(removal.connection_id)
        if connection is not None:
            connection.end_reason = "removed"
            connection.send(Removed())
            connection.close(CLOSE_REMOVED, "removed")

    async def end_room(self, room_id: str, reason: EndedReason) -> None:
        """End the call for everyone in the room, on every instance."""
        await self._backplane.publish(room_id, RoomEnded(reason))

    @staticmethod
    def ended(room: LocalRoom, event: RoomEnded) -> None:
        """Tell every socket of the room here that the call is over, and close it."""
        for connection in list(room.connections.values()):
            end_connection(connection, event.reason)

    async def _attach(self, connection: Connection) -> None:
        async with self._rooms_lock:
            room = self.rooms.get(connection.room_id)
            if room is None:
                room = self.rooms[connection.room_id] = LocalRoom()
                await self._backplane.subscribe(connection.room_id)
            room.connections[connection.id] = connection

    async def _detach(self, connection: Connection) -> None:
        async with self._rooms_lock:
            room = self.rooms.get(connection.room_id)
            if room is None or room.connections.pop(connection.id, None) is None:
                return
            if not room.connections:
                del self.rooms[connection.room_id]
                await self._backplane.unsubscribe(connection.room_id)


def _joined(connections: Iterable[Connection]) -> list[Connection]:
    return [c for c in connections if c.joined and not c.closing]


def end_connection(connection: Connection, reason: EndedReason) -> None:
    """Tell one socket that the call is over (4005: clients do not reconnect), and close it."""
    if connection.closing:
        return
    connection.end_reason = "ended"
    connection.send(Ended(reason=reason))
    connection.close(CLOSE_ENDED, f"call ended ({reason})")
