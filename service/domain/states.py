"""The consultation state machine: which action may move a consultation where, and who may ask.

Pure data and functions, no I/O. A consultation request goes back and forth between the GP
side (the fastlege) and the hospital side (specialist or coordinator) until one side accepts the
other's time; while it is ``requested`` exactly one side is *awaited* to answer.

::

    GP books ──► requested (awaiting hospital side)
      accept           by the awaited side        ─► confirmed
      propose_time     by the hospital side       ─► requested, awaiting GP side, new time
      reschedule       by the GP side             ─► requested, awaiting hospital side, new time
      cancel           by either side             ─► cancelled
    confirmed
      reschedule       by the GP side             ─► requested, awaiting hospital side, new time
      cancel           by either side             ─► cancelled
      start            by anyone (someone joined) ─► in_progress
      mark_no_show     by the system              ─► no_show
    in_progress
      complete         by anyone                  ─► completed

The hospital side may propose again while the GP side is awaited (it corrects its own proposal),
and the GP side may reschedule while it is awaited (a counter-proposal). ``actor_side=None``
means the system (the scheduler, or a patient joining the call), not a person on either side.

``bumps_revision`` says the change must reach participants' calendars as a new version of the
invitation (iCalendar ``SEQUENCE``, RFC 5545 §3.8.7.4): new times, confirmation and
cancellation. Starting, completing and no-show change nothing in anyone's calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.domain.errors import InvalidTransition, NotAllowed


class ConsultationStatus(StrEnum):
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class Action(StrEnum):
    ACCEPT = "accept"
    PROPOSE_TIME = "propose_time"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    START = "start"
    COMPLETE = "complete"
    MARK_NO_SHOW = "mark_no_show"
    EXPIRE = "expire"


class Side(StrEnum):
    GP = "gp_side"
    HOSPITAL = "hospital_side"


# The states in which a consultation holds its time slot for clinicians and patient.
ACTIVE_STATUSES: frozenset[ConsultationStatus] = frozenset(
    {
        ConsultationStatus.REQUESTED,
        ConsultationStatus.CONFIRMED,
        ConsultationStatus.IN_PROGRESS,
    }
)


@dataclass(frozen=True, slots=True)
class Transition:
    """Where an action leads, and what the caller must do besides storing it."""

    status: ConsultationStatus
    awaiting: Side | None
    changes_time: bool
    bumps_revision: bool


@dataclass(frozen=True, slots=True)
class _Rule:
    from_statuses: frozenset[ConsultationStatus]
    actors: frozenset[Side | None]
    leads_to: Transition
    awaited_side_only: bool = False


_S = ConsultationStatus
_EVERYONE: frozenset[Side | None] = frozenset({Side.GP, Side.HOSPITAL, None})
_EITHER_SIDE: frozenset[Side | None] = frozenset({Side.GP, Side.HOSPITAL})

_RULES: dict[Action, _Rule] = {
    Action.ACCEPT: _Rule(
        frozenset({_S.REQUESTED}),
        _EITHER_SIDE,
        Transition(_S.CONFIRMED, None, changes_time=False, bumps_revision=True),
        awaited_side_only=True,
    ),
    Action.PROPOSE_TIME: _Rule(
        # From confirmed too: the hospital side may have to give up a confirmed time.
        frozenset({_S.REQUESTED, _S.CONFIRMED}),
        frozenset({Side.HOSPITAL}),
        Transition(_S.REQUESTED, Side.GP, changes_time=True, bumps_revision=True),
    ),
    Action.RESCHEDULE: _Rule(
        frozenset({_S.REQUESTED, _S.CONFIRMED}),
        frozenset({Side.GP}),
        Transition(_S.REQUESTED, Side.HOSPITAL, changes_time=True, bumps_revision=True),
    ),
    Action.CANCEL: _Rule(
        frozenset({_S.REQUESTED, _S.CONFIRMED}),
        _EITHER_SIDE,
        Transition(_S.CANCELLED, None, changes_time=False, bumps_revision=True),
    ),
    Action.START: _Rule(
        frozenset({_S.CONFIRMED}),
        _EVERYONE,
        Transition(_S.IN_PROGRESS, None, changes_time=False, bumps_revision=False),
    ),
    Action.COMPLETE: _Rule(
        frozenset({_S.IN_PROGRESS}),
        _EVERYONE,
        Transition(_S.COMPLETED, None, changes_time=False, bumps_revision=False),
    ),
    # A request nobody agreed to before its start time can no longer happen.
    Action.EXPIRE: _Rule(
        frozenset({_S.REQUESTED}),
        frozenset({None}),
        Transition(_S.CANCELLED, None, changes_time=False, bumps_revision=True),
    ),
    Action.MARK_NO_SHOW: _Rule(
        frozenset({_S.CONFIRMED}),
        frozenset({None}),
        Transition(_S.NO_SHOW, None, changes_time=False, bumps_revision=False),
    ),
}

_BOOKED = Transition(_S.REQUESTED, Side.HOSPITAL, changes_time=True, bumps_revision=False)

_SIDE_NAMES: dict[Side | None, str] = {
    Side.GP: "the GP side",
    Side.HOSPITAL: "the hospital side",
    None: "the system",
}


def book(actor_side: Side | None) -> Transition:
    """The state of a new request. Only the GP side books; the hospital side answers."""
    if actor_side != Side.GP:
        raise NotAllowed("Only the GP side may book a consultation.")
    return _BOOKED


def apply(
    status: ConsultationStatus,
    awaiting: Side | None,
    action: Action,
    actor_side: Side | None,
) -> Transition:
    """Where ``action`` by ``actor_side`` takes a consultation in ``status``.

    Raises ``InvalidTransition`` when the action is not possible in this state for anyone, and
    ``NotAllowed`` when it is possible but not for this actor (wrong side, or not their turn).
    ``ValueError`` means the stored state itself is inconsistent.
    """
    _check_consistent(status, awaiting)
    rule = _RULES[action]
    if status not in rule.from_statuses:
        raise InvalidTransition(
            f"'{action}' is not possible when the consultation is {_words(status)}."
        )
    if actor_side not in rule.actors:
        raise NotAllowed(f"Only {_who(rule.actors)} may {_words(action)}.")
    if rule.awaited_side_only and actor_side != awaiting:
        raise NotAllowed(f"The consultation is waiting for an answer from {_SIDE_NAMES[awaiting]}.")
    return rule.leads_to


def _check_consistent(status: ConsultationStatus, awaiting: Side | None) -> None:
    if status == ConsultationStatus.REQUESTED and awaiting is None:
        raise ValueError("A requested consultation must be awaiting one side.")
    if status != ConsultationStatus.REQUESTED and awaiting is not None:
        raise ValueError(f"A {status} consultation awaits no one.")


def _who(actors: frozenset[Side | None]) -> str:
    if actors == _EITHER_SIDE:
        return "the GP or hospital side"
    return " or ".join(_SIDE_NAMES[actor] for actor in sorted(actors, key=str))


def _words(value: StrEnum) -> str:
    return value.value.replace("_", " ")
