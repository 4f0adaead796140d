"""Who may do what: the one place for the permission rules of samkons.

Every check of a role or of someone's relation to a consultation asks this module: the use
cases before they act, and the pages and API when they decide what to offer. The state machine
(`states.apply`) says which action a *side* may take in a state; this module says which side an
account is on and whether it may see the consultation at all.

- **See** a consultation: the booking GP, and the specialists and coordinators of its department.
- **Accept, propose a time, reschedule, cancel**: whoever may see it, as the state machine allows
  their side (`allowed_actions`).
- **Join** the call: clinicians who may see it, with their login; everyone else with a personal
  link (`domain.join`). **Admit and remove** in the call: clinicians only.
- **Statistics**: evaluators and admins, never a consultation. **Administration**: admins only,
  never a consultation.
"""

from __future__ import annotations

from typing import Final, Protocol

from service.domain.actor import Actor
from service.domain.errors import InvalidTransition, NotAllowed
from service.domain.roles import CLINICIANS, HOSPITAL_SIDE, Role
from service.domain.states import Action, ConsultationStatus, Side, apply

# Accounts that read consultations (lists, pages, the API, the calendar feed).
CONSULTATION_READERS: Final = CLINICIANS
# Accounts that book consultations.
BOOKERS: Final = frozenset({Role.GP})
# Administrators see the statistics too (no personal data there).
STATISTICS_READERS: Final = frozenset({Role.EVALUATOR, Role.ADMIN})
ADMINISTRATORS: Final = frozenset({Role.ADMIN})
# Accounts whose working hours and absences make the free slots.
CALENDAR_KEEPERS: Final = frozenset({Role.GP, Role.SPECIALIST})
# The actions a person can take on a consultation from its page or the API.
PERSONAL_ACTIONS: Final = (Action.ACCEPT, Action.PROPOSE_TIME, Action.RESCHEDULE, Action.CANCEL)


class ConsultationScope(Protocol):
    """What the rules read of a consultation (storage's `Consultation` has these)."""

    @property
    def gp_id(self) -> int: ...
    @property
    def department_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def awaiting(self) -> str | None: ...


def side_of(actor: Actor) -> Side:
    """The side of a booking the account acts for; refused for accounts on neither side."""
    if actor.role == Role.GP:
        return Side.GP
    if actor.role in HOSPITAL_SIDE:
        return Side.HOSPITAL
    raise NotAllowed("Only GPs, specialists and coordinators take part in bookings.")


def require_consultation_reader(actor: Actor) -> None:
    if actor.role not in CONSULTATION_READERS:
        raise NotAllowed("Your role has no access to consultations.")


def can_see(actor: Actor, consultation: ConsultationScope) -> bool:
    if actor.role == Role.GP:
        return consultation.gp_id == actor.user_id
    if actor.role in HOSPITAL_SIDE:
        return consultation.department_id == actor.department_id
    return False


def visible_scope(actor: Actor) -> tuple[int | None, int | None]:
    """The (GP id, department id) filter that lists exactly what `can_see` allows."""
    require_consultation_reader(actor)
    if actor.role == Role.GP:
        return actor.user_id, None
    # An account of the hospital side without a department sees nothing (no id is -1).
    return None, actor.department_id or -1


def allowed_actions(consultation: ConsultationScope, actor: Actor) -> set[Action]:
    """The personal actions the rules allow this account on this consultation now."""
    if not can_see(actor, consultation):
        return set()
    status = ConsultationStatus(consultation.status)
    awaiting = Side(consultation.awaiting) if consultation.awaiting else None
    side = side_of(actor)
    allowed = set()
    for action in PERSONAL_ACTIONS:
        try:
            apply(status, awaiting, action, side)
        except (InvalidTransition, NotAllowed):
            continue
        allowed.add(action)
    return allowed


def require_calendar_keeper(actor: Actor) -> None:
    if actor.role not in CALENDAR_KEEPERS:
        raise NotAllowed("Only GPs and specialists have working hours here.")


def require_booker(actor: Actor) -> None:
    if actor.role not in BOOKERS:
        raise NotAllowed("Only GPs book consultations.")


def may_join_with_login(actor: Actor, consultation: ConsultationScope) -> bool:
    """Clinicians enter a consultation's call with their login when they may see it."""
    return actor.role in CLINICIANS and can_see(actor, consultation)


def may_admit(is_clinician: bool) -> bool:
    """Only a clinician in the call admits from the waiting room or removes someone."""
    return is_clinician
