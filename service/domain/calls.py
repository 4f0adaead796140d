"""The rules of a consultation's video call: when its room opens, who is in the call, and when
the call started and ended.

When a call starts: the first moment two participants are admitted in the room at once. A
clinician waiting alone has not started anything, so a consultation nobody else joins can still
become `no_show`. The call ends when the last admitted participant leaves; if people come back,
the end is cleared and set again when the room is empty. A consultation whose room empties after
its planned end is completed at once; otherwise the scheduler completes it after the grace time.

Pure: the use cases in `service/usecases/video.py` read the facts and store the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from service.domain import join
from service.domain.actor import Actor
from service.domain.roles import ACCOUNT_PARTICIPANTS
from service.domain.states import ConsultationStatus

ROOM_OPEN_STATUSES: Final = frozenset(
    {ConsultationStatus.CONFIRMED, ConsultationStatus.IN_PROGRESS, ConsultationStatus.COMPLETED}
)
# Participant roles whose powers in the room (admitting, removing) come only from a login: a join
# token never makes anyone a clinician. Those are exactly the roles that get no join link.
LOGIN_ONLY_ROLES: Final = ACCOUNT_PARTICIPANTS
USER_PARTICIPANT_PREFIX: Final = "user-"
DEPARTURES: Final = frozenset({"leave", "disconnect", "remove"})

RoomRefusal = Literal["closed", "too_early", "too_late"]


def join_window(starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
    """When a consultation's room can be entered: the join links' window, as a pair."""
    window = join.join_window(starts_at, ends_at)
    return window.opens_at, window.closes_at


def room_refusal(
    status: str, starts_at: datetime, ends_at: datetime, now: datetime
) -> RoomRefusal | None:
    """Why the room of a consultation cannot be entered now, or None if it can."""
    if status not in ROOM_OPEN_STATUSES:
        return "closed"
    opens, closes = join_window(starts_at, ends_at)
    if now < opens:
        return "too_early"
    if now >= closes:
        return "too_late"
    return None


def clinician_participant_id(user_id: int, participant_id: str | None) -> str:
    """A clinician's id in the room: their participant row's, or one derived from the account."""
    if participant_id is not None:
        return participant_id
    return f"{USER_PARTICIPANT_PREFIX}{user_id}"


def user_id_of(participant_id: str) -> int | None:
    """The account behind a `user-<id>` room id, or None for a participant row's id."""
    if not participant_id.startswith(USER_PARTICIPANT_PREFIX):
        return None
    number = participant_id.removeprefix(USER_PARTICIPANT_PREFIX)
    return int(number) if number.isdigit() else None


def clinician_role(actor: Actor, gp_id: int | None) -> str:
    """The role a clinician account plays in the room of a consultation whose GP is `gp_id`."""
    if actor.user_id == gp_id:
        return "gp"
    return actor.role


def admitted_present(events: Iterable[tuple[str, str]]) -> frozenset[str]:
    """Participants in the call now, from `(participant_id, event)` in the order they happened.

    Each connection records `join` and then `admit` once admitted, and a replaced connection
    records nothing, so a participant is in the call exactly when its latest event is `admit`.
    """
    latest: dict[str, str] = {}
    for participant_id, event in events:
        latest[participant_id] = event
    return frozenset(p for p, event in latest.items() if event == "admit")


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What the session events say about the consultation, after one more event."""

    started_at: datetime | None
    ended_at: datetime | None
    start: bool  # move confirmed → in_progress now
    complete: bool  # move in_progress → completed now


def account_session(
    *,
    status: str,
    started_at: datetime | None,
    ended_at: datetime | None,
    planned_end: datetime,
    event: str,
    at: datetime,
    in_call: int,
) -> SessionFacts:
    """The consultation's actual start and end, and state changes, after `event` at `at`.

    `in_call` counts the participants admitted and present once the event is applied.
    """
    if in_call >= 2:
        first_start = started_at is None
        return SessionFacts(
            started_at=at if first_start else started_at,
            ended_at=None,
            start=first_start and status == ConsultationStatus.CONFIRMED,
            complete=False,
        )
    if in_call == 0 and event in DEPARTURES and started_at is not None:
        return SessionFacts(
            started_at=started_at,
            ended_at=at,
            start=False,
            complete=status == ConsultationStatus.IN_PROGRESS and at >= planned_end,
        )
    return SessionFacts(started_at=started_at, ended_at=ended_at, start=False, complete=False)
