"""The vocabulary of who is who: account roles, participant roles and the named sets of them.

Accounts (people who log in) have a `Role`; people taking part in one consultation have a
`ParticipantRole`. Both are `StrEnum`s, so they compare equal to the strings the database
stores. Every rule that depends on a role names one of the sets below instead of a literal.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    """What an account is for."""

    GP = "gp"
    SPECIALIST = "specialist"
    COORDINATOR = "coordinator"
    EVALUATOR = "evaluator"
    ADMIN = "admin"


class ParticipantRole(StrEnum):
    """What a person is in one consultation."""

    GP = "gp"
    SPECIALIST = "specialist"
    PATIENT = "patient"
    RELATIVE = "relative"
    INTERPRETER = "interpreter"
    MUNICIPAL_STAFF = "municipal_staff"


# Accounts that take part in consultations: they book, answer and join.
CLINICIANS: Final = frozenset({Role.GP, Role.SPECIALIST, Role.COORDINATOR})
# The hospital's side of a booking: they accept, propose and name the specialist.
HOSPITAL_SIDE: Final = frozenset({Role.SPECIALIST, Role.COORDINATOR})
# Accounts that belong to a department (and so must name one).
DEPARTMENT_ROLES: Final = HOSPITAL_SIDE
# Participants who take part through their account (they log in; their mails link the
# consultation's page); every other participant joins with a personal link.
ACCOUNT_PARTICIPANTS: Final = frozenset({ParticipantRole.GP, ParticipantRole.SPECIALIST})
