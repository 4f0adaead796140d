"""Room membership and the waiting room, as pure values and decisions.

A `RoomView` is a snapshot of one room as the backplane holds it: who is present (one `Member`
per participant, naming its current connection) and who has been admitted in this session.
The hub loads a view, asks the functions here what is allowed, and writes the result back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from signalling.codec import ErrorCode, MediaState, Participant
from signalling.identity import Identity


@dataclass(frozen=True, slots=True)
class Member:
    """One participant's presence: which connection on which hub instance holds it."""

    participant_id: str
    connection_id: str
    instance_id: str
    display_name: str
    role: str
    is_clinician: bool
    audio: bool
    video: bool
    joined_at: datetime

    @classmethod
    def joining(
        cls,
        identity: Identity,
        *,
        connection_id: str,
        instance_id: str,
        media: MediaState,
        at: datetime,
    ) -> Member:
        return cls(
            participant_id=identity.participant_id,
            connection_id=connection_id,
            instance_id=instance_id,
            display_name=identity.display_name,
            role=identity.role,
            is_clinician=identity.is_clinician,
            audio=media.audio,
            video=media.video,
            joined_at=at,
        )


@dataclass(frozen=True, slots=True)
class RoomView:
    members: Mapping[str, Member] = field(default_factory=dict)
    admitted: frozenset[str] = frozenset()

    def member(self, participant_id: str) -> Member | None:
        return self.members.get(participant_id)

    def is_present(self, participant_id: str) -> bool:
        return participant_id in self.members

    def is_admitted(self, participant_id: str) -> bool:
        return participant_id in self.members and participant_id in self.admitted

    def is_current(self, participant_id: str, connection_id: str) -> bool:
        member = self.members.get(participant_id)
        return member is not None and member.connection_id == connection_id

    def waiting_ids(self) -> list[str]:
        return sorted(pid for pid in self.members if pid not in self.admitted)

    def participant(self, participant_id: str) -> Participant | None:
        member = self.members.get(participant_id)
        return None if member is None else self._describe(member)

    def participants(self) -> list[Participant]:
        """Everyone present, admitted or waiting, in the order they joined."""
        ordered = sorted(self.members.values(), key=lambda m: (m.joined_at, m.participant_id))
        return [self._describe(member) for member in ordered]

    def _describe(self, member: Member) -> Participant:
        return Participant(
            participant_id=member.participant_id,
            connection=member.connection_id,
            display_name=member.display_name,
            role=member.role,
            is_clinician=member.is_clinician,
            state="admitted" if member.participant_id in self.admitted else "waiting",
            media=MediaState(audio=member.audio, video=member.video),
        )


def admitted_on_join(identity: Identity, admitted_before: frozenset[str]) -> bool:
    """Clinicians are admitted at once; others only if admitted earlier in this session."""
    return identity.is_clinician or identity.participant_id in admitted_before


def _check_clinician(view: RoomView, actor: str, actor_connection: str) -> ErrorCode | None:
    member = view.member(actor)
    if member is None or member.connection_id != actor_connection:
        return "not_joined"
    if not member.is_clinician:
        return "not_clinician"
    return None


def check_admit(view: RoomView, actor: str, actor_connection: str, target: str) -> ErrorCode | None:
    """Why `actor` may not admit `target`, or None if it may (admitting twice is harmless)."""
    refusal = _check_clinician(view, actor, actor_connection)
    if refusal is not None:
        return refusal
    if not view.is_present(target):
        return "unknown_participant"
    return None


def check_admit_all(view: RoomView, actor: str, actor_connection: str) -> ErrorCode | None:
    return _check_clinician(view, actor, actor_connection)


def check_remove(
    view: RoomView, actor: str, actor_connection: str, target: str
) -> ErrorCode | None:
    refusal = _check_clinician(view, actor, actor_connection)
    if refusal is not None:
        return refusal
    if target == actor or not view.is_present(target):
        return "unknown_participant"
    return None


def check_relay(
    view: RoomView, sender: str, sender_connection: str, target: str
) -> ErrorCode | None:
    """Offers, answers and candidates flow only between admitted participants."""
    if not view.is_current(sender, sender_connection) or not view.is_admitted(sender):
        return "not_admitted"
    if target == sender or not view.is_present(target):
        return "unknown_participant"
    if not view.is_admitted(target):
        return "peer_not_admitted"
    return None


def relay_target(view: RoomView, sender: str, sender_connection: str, target: str) -> Member | None:
    """The addressee's record if `check_relay` allows the relay, else None.

    The same decision in one pass over the view: it runs for every relayed message.
    """
    members = view.members
    admitted = view.admitted
    own = members.get(sender)
    if own is None or own.connection_id != sender_connection or sender not in admitted:
        return None
    if target == sender or target not in admitted:
        return None
    return members.get(target)


def offers_to(own_id: str, peer_id: str) -> bool:
    """In each pair the smaller participant id sends the offer, so there is never glare."""
    return own_id < peer_id
