"""Tests for service.domain.states: every allowed and every refused consultation transition."""

from __future__ import annotations

import itertools

import pytest

from service.domain.errors import InvalidTransition, NotAllowed
from service.domain.states import (
    ACTIVE_STATUSES,
    Action,
    ConsultationStatus,
    Side,
    Transition,
    apply,
    book,
)

REQUESTED = ConsultationStatus.REQUESTED
CONFIRMED = ConsultationStatus.CONFIRMED
IN_PROGRESS = ConsultationStatus.IN_PROGRESS
COMPLETED = ConsultationStatus.COMPLETED
CANCELLED = ConsultationStatus.CANCELLED
NO_SHOW = ConsultationStatus.NO_SHOW
GP, HOSPITAL, SYSTEM = Side.GP, Side.HOSPITAL, None

# Every state a consultation can be in: a request awaits exactly one side, nothing else does.
STATES: list[tuple[ConsultationStatus, Side | None]] = [
    (REQUESTED, HOSPITAL),
    (REQUESTED, GP),
    (CONFIRMED, None),
    (IN_PROGRESS, None),
    (COMPLETED, None),
    (CANCELLED, None),
    (NO_SHOW, None),
]
ACTORS: list[Side | None] = [GP, HOSPITAL, SYSTEM]

CONFIRM = Transition(CONFIRMED, None, changes_time=False, bumps_revision=True)
NEW_TIME_FOR_GP = Transition(REQUESTED, GP, changes_time=True, bumps_revision=True)
NEW_TIME_FOR_HOSPITAL = Transition(REQUESTED, HOSPITAL, changes_time=True, bumps_revision=True)
CANCEL = Transition(CANCELLED, None, changes_time=False, bumps_revision=True)
START = Transition(IN_PROGRESS, None, changes_time=False, bumps_revision=False)
COMPLETE = Transition(COMPLETED, None, changes_time=False, bumps_revision=False)
NO_SHOW_ = Transition(NO_SHOW, None, changes_time=False, bumps_revision=False)

# (status, awaiting, action, actor) → where it leads. Anything not listed is refused.
ALLOWED: dict[tuple[ConsultationStatus, Side | None, Action, Side | None], Transition] = {
    # The hospital side answers the GP's request.
    (REQUESTED, HOSPITAL, Action.ACCEPT, HOSPITAL): CONFIRM,
    (REQUESTED, HOSPITAL, Action.PROPOSE_TIME, HOSPITAL): NEW_TIME_FOR_GP,
    # The GP answers the hospital's proposal.
    (REQUESTED, GP, Action.ACCEPT, GP): CONFIRM,
    (REQUESTED, GP, Action.RESCHEDULE, GP): NEW_TIME_FOR_HOSPITAL,
    # Each side may change its own outstanding proposal.
    (REQUESTED, HOSPITAL, Action.RESCHEDULE, GP): NEW_TIME_FOR_HOSPITAL,
    (REQUESTED, GP, Action.PROPOSE_TIME, HOSPITAL): NEW_TIME_FOR_GP,
    # The GP moves a confirmed consultation: it goes back to the hospital side.
    (CONFIRMED, None, Action.RESCHEDULE, GP): NEW_TIME_FOR_HOSPITAL,
    # The hospital side cannot keep a confirmed time (e.g. the specialist is ill): it proposes
    # another, which the GP must accept.
    (CONFIRMED, None, Action.PROPOSE_TIME, HOSPITAL): NEW_TIME_FOR_GP,
    # Either side cancels anything not yet started.
    (REQUESTED, HOSPITAL, Action.CANCEL, GP): CANCEL,
    (REQUESTED, HOSPITAL, Action.CANCEL, HOSPITAL): CANCEL,
    (REQUESTED, GP, Action.CANCEL, GP): CANCEL,
    (REQUESTED, GP, Action.CANCEL, HOSPITAL): CANCEL,
    (CONFIRMED, None, Action.CANCEL, GP): CANCEL,
    (CONFIRMED, None, Action.CANCEL, HOSPITAL): CANCEL,
    # Joining starts it, whoever joins; anyone may end it.
    (CONFIRMED, None, Action.START, GP): START,
    (CONFIRMED, None, Action.START, HOSPITAL): START,
    (CONFIRMED, None, Action.START, SYSTEM): START,
    (IN_PROGRESS, None, Action.COMPLETE, GP): COMPLETE,
    (IN_PROGRESS, None, Action.COMPLETE, HOSPITAL): COMPLETE,
    (IN_PROGRESS, None, Action.COMPLETE, SYSTEM): COMPLETE,
    # Only the system decides that nobody came.
    (CONFIRMED, None, Action.MARK_NO_SHOW, SYSTEM): NO_SHOW_,
    # A request still unanswered at its start time lapses.
    (REQUESTED, HOSPITAL, Action.EXPIRE, SYSTEM): CANCEL,
    (REQUESTED, GP, Action.EXPIRE, SYSTEM): CANCEL,
}

# The states each action can ever start from; outside them the refusal is InvalidTransition,
# inside them a refusal is about who asks (NotAllowed).
POSSIBLE_FROM: dict[Action, set[ConsultationStatus]] = {
    Action.ACCEPT: {REQUESTED},
    Action.PROPOSE_TIME: {REQUESTED, CONFIRMED},
    Action.RESCHEDULE: {REQUESTED, CONFIRMED},
    Action.CANCEL: {REQUESTED, CONFIRMED},
    Action.START: {CONFIRMED},
    Action.COMPLETE: {IN_PROGRESS},
    Action.MARK_NO_SHOW: {CONFIRMED},
    Action.EXPIRE: {REQUESTED},
}

EVERY_CASE = [
    (status, awaiting, action, actor)
    for (status, awaiting), action, actor in itertools.product(STATES, Action, ACTORS)
]
REFUSED = [case for case in EVERY_CASE if case not in ALLOWED]


def case_id(case: tuple[ConsultationStatus, Side | None, Action, Side | None]) -> str:
    status, awaiting, action, actor = case
    return f"{status}/{awaiting or '-'}:{action}-by-{actor or 'system'}"


@pytest.mark.parametrize("case", list(ALLOWED), ids=case_id)
def test_allowed_transition(
    case: tuple[ConsultationStatus, Side | None, Action, Side | None],
) -> None:
    assert apply(*case) == ALLOWED[case]


@pytest.mark.parametrize("case", REFUSED, ids=case_id)
def test_refused_transition(
    case: tuple[ConsultationStatus, Side | None, Action, Side | None],
) -> None:
    status, _, action, _ = case
    expected = InvalidTransition if status not in POSSIBLE_FROM[action] else NotAllowed

    with pytest.raises((InvalidTransition, NotAllowed)) as refused:
        apply(*case)

    assert type(refused.value) is expected
    assert refused.value.detail


def test_the_tables_cover_every_state_action_and_actor() -> None:
    assert len(EVERY_CASE) == 7 * 8 * 3  # (status, awaiting) pairs × actions × actors
    assert len(REFUSED) == len(EVERY_CASE) - len(ALLOWED)


def test_only_the_awaited_side_may_accept_and_is_told_who_is() -> None:
    with pytest.raises(NotAllowed, match="waiting for an answer from the hospital side"):
        apply(REQUESTED, HOSPITAL, Action.ACCEPT, GP)
    with pytest.raises(NotAllowed, match="waiting for an answer from the GP side"):
        apply(REQUESTED, GP, Action.ACCEPT, HOSPITAL)


def test_refusals_name_who_may_act() -> None:
    with pytest.raises(NotAllowed, match="Only the hospital side may propose time"):
        apply(REQUESTED, HOSPITAL, Action.PROPOSE_TIME, GP)
    with pytest.raises(NotAllowed, match="Only the GP side may reschedule"):
        apply(CONFIRMED, None, Action.RESCHEDULE, HOSPITAL)
    with pytest.raises(NotAllowed, match="Only the system may mark no show"):
        apply(CONFIRMED, None, Action.MARK_NO_SHOW, GP)


def test_an_impossible_action_names_the_state() -> None:
    with pytest.raises(InvalidTransition, match=r"'start' is not possible .* cancelled"):
        apply(CANCELLED, None, Action.START, GP)


def test_a_gp_books_a_request_awaiting_the_hospital_side() -> None:
    booked = book(GP)

    assert (booked.status, booked.awaiting) == (REQUESTED, HOSPITAL)
    assert booked.changes_time
    assert apply(booked.status, booked.awaiting, Action.ACCEPT, HOSPITAL).status == CONFIRMED


@pytest.mark.parametrize("actor", [HOSPITAL, SYSTEM])
def test_only_the_gp_side_books(actor: Side | None) -> None:
    with pytest.raises(NotAllowed):
        book(actor)


def test_a_proposal_and_its_acceptance_in_sequence() -> None:
    booked = book(GP)
    proposed = apply(booked.status, booked.awaiting, Action.PROPOSE_TIME, HOSPITAL)
    accepted = apply(proposed.status, proposed.awaiting, Action.ACCEPT, GP)

    assert proposed.awaiting == GP
    assert accepted == CONFIRM


def test_active_statuses_are_those_holding_a_time_slot() -> None:
    assert {REQUESTED, CONFIRMED, IN_PROGRESS} == ACTIVE_STATUSES


def test_values_match_the_stored_and_api_spelling() -> None:
    assert [s.value for s in ConsultationStatus] == [
        "requested",
        "confirmed",
        "in_progress",
        "completed",
        "cancelled",
        "no_show",
    ]
    assert [side.value for side in Side] == ["gp_side", "hospital_side"]
    assert [a.value for a in Action] == [
        "accept",
        "propose_time",
        "reschedule",
        "cancel",
        "start",
        "complete",
        "mark_no_show",
        "expire",
    ]


@pytest.mark.parametrize(
    ("status", "awaiting"),
    [(REQUESTED, None), (CONFIRMED, GP), (CANCELLED, HOSPITAL)],
)
def test_an_inconsistent_stored_state_is_a_bug_not_a_refusal(
    status: ConsultationStatus, awaiting: Side | None
) -> None:
    with pytest.raises(ValueError):
        apply(status, awaiting, Action.CANCEL, GP)
