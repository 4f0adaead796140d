"""SQL for the organisation: hospitals, departments, GP offices, accounts and patients."""

from __future__ import annotations

from collections.abc import Collection
from datetime import time

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from service.storage.models import (
    AvailabilityException,
    Department,
    GpOffice,
    Patient,
    User,
    WorkingHours,
)


async def departments(db: AsyncSession) -> list[Department]:
    return list(
        (
            await db.scalars(
                select(Department)
                .options(selectinload(Department.hospital))
                .order_by(Department.hospital_id, Department.name)
            )
        ).all()
    )


async def department(db: AsyncSession, department_id: int) -> Department | None:
    return await db.get(Department, department_id)


async def specialists(db: AsyncSession) -> list[User]:
    """Active specialists of every department, for choosing one when booking."""
    return list(
        (
            await db.scalars(
                select(User)
                .where(User.role == "specialist", User.active.is_(True))
                .order_by(User.department_id, User.name)
            )
        ).all()
    )


async def users_by_id(db: AsyncSession, user_ids: Collection[int]) -> dict[int, User]:
    if not user_ids:
        return {}
    rows = await db.scalars(select(User).where(User.id.in_(set(user_ids))))
    return {u.id: u for u in rows}


async def patients_by_id(db: AsyncSession, patient_ids: Collection[int]) -> dict[int, Patient]:
    if not patient_ids:
        return {}
    rows = await db.scalars(select(Patient).where(Patient.id.in_(set(patient_ids))))
    return {p.id: p for p in rows}


async def account(db: AsyncSession, user_id: int) -> tuple[User, str | None] | None:
    """The account and its GP office's municipality number (None without an office)."""
    row = (
        await db.execute(
            select(User, GpOffice.municipality_number)
            .outerjoin(GpOffice, GpOffice.id == User.gp_office_id)
            .where(User.id == user_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def user_by_email(db: AsyncSession, email: str) -> User | None:
    return await db.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


async def patients_of_office(db: AsyncSession, gp_office_id: int) -> list[Patient]:
    return list(
        (
            await db.scalars(
                select(Patient).where(Patient.gp_office_id == gp_office_id).order_by(Patient.name)
            )
        ).all()
    )


async def working_hours_of(db: AsyncSession, user_id: int) -> list[WorkingHours]:
    return list(
        (
            await db.scalars(
                select(WorkingHours)
                .where(WorkingHours.user_id == user_id)
                .order_by(WorkingHours.weekday, WorkingHours.start_time)
            )
        ).all()
    )


async def replace_working_hours(
    db: AsyncSession, user_id: int, hours: list[tuple[int, time, time]]
) -> None:
    await db.execute(delete(WorkingHours).where(WorkingHours.user_id == user_id))
    db.add_all(
        WorkingHours(user_id=user_id, weekday=d, start_time=s, end_time=e) for d, s, e in hours
    )


async def add_exception(db: AsyncSession, row: AvailabilityException) -> AvailabilityException:
    db.add(row)
    await db.flush()
    return row


async def exceptions_of(db: AsyncSession, user_id: int) -> list[AvailabilityException]:
    return list(
        (
            await db.scalars(
                select(AvailabilityException)
                .where(AvailabilityException.user_id == user_id)
                .order_by(AvailabilityException.starts_at)
            )
        ).all()
    )


async def delete_exception(db: AsyncSession, user_id: int, exception_id: int) -> bool:
    result = await db.execute(
        delete(AvailabilityException).where(
            AvailabilityException.id == exception_id, AvailabilityException.user_id == user_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
