"""`Actor`: the logged-in account, as the domain needs it (no password hash, no ORM object)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from service.domain.roles import CLINICIANS


class AccountRecord(Protocol):
    """What `Actor.of` reads from a stored account (storage's `User` has these)."""

    @property
    def id(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def gp_office_id(self) -> int | None: ...
    @property
    def department_id(self) -> int | None: ...
    @property
    def email(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    role: str
    name: str
    language: str
    gp_office_id: int | None
    department_id: int | None
    email: str = ""
    # The GP office's municipality: loaded with the account so booking need not look it up.
    municipality_number: str | None = None

    @property
    def is_clinician(self) -> bool:
        return self.role in CLINICIANS

    @classmethod
    def of(cls, user: AccountRecord, municipality_number: str | None = None) -> Actor:
        return cls(
            user_id=user.id,
            role=user.role,
            name=user.name,
            language=user.language,
            gp_office_id=user.gp_office_id,
            department_id=user.department_id,
            email=user.email,
            municipality_number=municipality_number,
        )
