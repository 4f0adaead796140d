"""Reading the organisation for the pages and the API: departments, specialists, patients, names.

Each function is one read-only transaction: pass the read session factory (no write lock on
SQLite). Who may see what is checked by the caller's role guard (`require_actor`); a GP only
ever gets the patients of their own office.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.errors import NotFound
from service.storage import consultations, directory
from service.storage.engine import run_transaction
from service.storage.models import Department, Patient, User


async def departments(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Department]:
    """Every department with its hospital, by hospital and name."""
    return await run_transaction(sessionmaker, directory.departments)


async def specialists_of(
    sessionmaker: async_sessionmaker[AsyncSession], department_id: int
) -> list[User]:
    """The department's active specialists by name; a missing department is a 404."""

    async def work(db: AsyncSession) -> list[User]:
        if await directory.department(db, department_id) is None:
            raise NotFound("No such department.", field="department_id")
        return await consultations.department_specialists(db, department_id)

    return await run_transaction(sessionmaker, work)


async def patients_of(
    sessionmaker: async_sessionmaker[AsyncSession], actor: Actor
) -> list[Patient]:
    """The patients of the actor's GP office by name (none for an actor without one)."""
    return await run_transaction(
        sessionmaker, directory.patients_of_office, actor.gp_office_id or -1
    )


@dataclass(frozen=True, slots=True)
class BookingChoices:
    """What the booking form offers: departments, their specialists and the GP's patients."""

    departments: list[Department]
    specialists: list[User]
    patients: list[Patient]


async def booking_choices(
    sessionmaker: async_sessionmaker[AsyncSession], actor: Actor
) -> BookingChoices:
    async def work(db: AsyncSession) -> BookingChoices:
        return BookingChoices(
            await directory.departments(db),
            await directory.specialists(db),
            await directory.patients_of_office(db, actor.gp_office_id or -1),
        )

    return await run_transaction(sessionmaker, work)


@dataclass(frozen=True, slots=True)
class Names:
    """The rows behind ids that a page shows by name."""

    users: dict[int, User]
    patients: dict[int, Patient]
    departments: dict[int, Department]


async def names(
    sessionmaker: async_sessionmaker[AsyncSession],
    user_ids: Collection[int],
    patient_ids: Collection[int],
) -> Names:
    async def work(db: AsyncSession) -> Names:
        return Names(
            await directory.users_by_id(db, user_ids),
            await directory.patients_by_id(db, patient_ids),
            {d.id: d for d in await directory.departments(db)},
        )

    return await run_transaction(sessionmaker, work)
