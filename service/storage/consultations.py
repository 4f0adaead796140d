"""SQL for consultations, their participants, bookings (held times) and history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, false, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from service.errors import SlotTaken
from service.models import (
    AvailabilityException,
    Booking,
    Consultation,
    ConsultationEvent,
    Department,
    Participant,
    Patient,
    User,
    WorkingHours,
)

# The tables behind the models, for plain INSERTs on the booking path (no unit of work).
CONSULTATIONS = cast(Table, Consultation.__table__)
PARTICIPANTS = cast(Table, Participant.__table__)
BOOKINGS = cast(Table, Booking.__table__)
EVENTS = cast(Table, ConsultationEvent.__table__)


def user_resource(user_id: int) -> str:
    return f"user:{user_id}"


def patient_resource(patient_id: int) -> str:
    return f"patient:{patient_id}"


def is_overlap_violation(exc: IntegrityError) -> bool:
    return "bookings_no_overlap" in str(exc.orig)


async def flush_bookings(db: AsyncSession) -> None:
    """Flush pending writes, turning the database's overlap refusal into `SlotTaken`."""
    try:
        await db.flush()
    except IntegrityError as exc:
        if is_overlap_violation(exc):
            raise SlotTaken(
                "Someone taking part already has a consultation at that time.", field="starts_at"
            ) from exc
        raise


async def participant_for_token(db: AsyncSession, token_hash: str) -> Participant | None:
    """The participant whose join token hashes to `token_hash`, with its consultation loaded."""
    return await db.scalar(
        select(Participant)
        .options(joinedload(Participant.consultation))
        .where(Participant.token_hash == token_hash)
    )


async def hold(
    db: AsyncSession,
    consultation_id: str,
    resources: Sequence[str],
    starts_at: datetime,
    ends_at: datetime,
) -> None:
    """Hold the time for each resource; the database refuses any overlap (IntegrityError)."""
    await db.execute(
        insert(BOOKINGS),
        [
            {
                "consultation_id": consultation_id,
                "resource": r,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "active": True,
            }
            for r in resources
        ],
    )


async def insert_consultation(
    db: AsyncSession,
    consultation: Mapping[str, Any],
    participants: Sequence[Mapping[str, Any]],
    resources: Sequence[str],
    first_event: Mapping[str, Any],
) -> None:
    """Write a new consultation, its participants, held times and first history entry.

    Plain INSERTs (one per table, no ORM unit of work): booking is the hot path. Every
    participant row carries the same keys. The held times go in after the consultation they
    point to; the database refuses an overlap (IntegrityError).
    """
    await db.execute(insert(CONSULTATIONS), [dict(consultation)])
    if participants:
        await db.execute(insert(PARTICIPANTS), [dict(p) for p in participants])
    starts_at, ends_at = consultation["starts_at"], consultation["ends_at"]
    await hold(db, consultation["id"], resources, starts_at, ends_at)
    await db.execute(insert(EVENTS), [dict(first_event)])


async def busy_intervals(
    db: AsyncSession,
    resources: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    excluding_consultation: str | None = None,
) -> dict[str, list[tuple[datetime, datetime]]]:
    stmt = select(Booking.resource, Booking.starts_at, Booking.ends_at).where(
        Booking.resource.in_(resources),
        Booking.active.is_(True),
        Booking.starts_at < end,
        Booking.ends_at > start,
    )
    if excluding_consultation is not None:
        stmt = stmt.where(Booking.consultation_id != excluding_consultation)
    result: dict[str, list[tuple[datetime, datetime]]] = {r: [] for r in resources}
    for resource, s, e in (await db.execute(stmt)).all():
        result[resource].append((s, e))
    return result


async def weekly_hours(db: AsyncSession, user_ids: Sequence[int]) -> dict[int, list[WorkingHours]]:
    rows = (await db.scalars(select(WorkingHours).where(WorkingHours.user_id.in_(user_ids)))).all()
    result: dict[int, list[WorkingHours]] = {u: [] for u in user_ids}
    for row in rows:
        result[row.user_id].append(row)
    return result


async def exceptions_between(
    db: AsyncSession, user_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, list[AvailabilityException]]:
    rows = (
        await db.scalars(
            select(AvailabilityException).where(
                AvailabilityException.user_id.in_(user_ids),
                AvailabilityException.starts_at < end,
                AvailabilityException.ends_at > start,
            )
        )
    ).all()
    result: dict[int, list[AvailabilityException]] = {u: [] for u in user_ids}
    for row in rows:
        result[row.user_id].append(row)
    return result


async def department_specialists(db: AsyncSession, department_id: int) -> list[User]:
    return list(
        (
            await db.scalars(
                select(User)
                .where(
                    User.department_id == department_id,
                    User.role == "specialist",
                    User.active.is_(True),
                )
                .order_by(User.name)
            )
        ).all()
    )


@dataclass(frozen=True, slots=True)
class Parties:
    """What a booking or slot search names, each None when there is no such row."""

    department: Department | None
    specialist: User | None
    patient: Patient | None


async def parties(
    db: AsyncSession, department_id: int, specialist_id: int | None, patient_id: int | None
) -> Parties:
    """The department (with its hospital), the specialist and the patient, in one query.

    A missing specialist or patient comes back as None; so do all three when the department is
    missing, which is the first thing checked anyway.
    """
    row = (
        await db.execute(
            select(Department, User, Patient)
            .join(Department.hospital)
            .options(contains_eager(Department.hospital))
            .outerjoin(User, User.id == specialist_id if specialist_id is not None else false())
            .outerjoin(Patient, Patient.id == patient_id if patient_id is not None else false())
            .where(Department.id == department_id)
        )
    ).first()
    if row is None:
        return Parties(None, None, None)
    return Parties(row[0], row[1], row[2])


async def get_department(db: AsyncSession, department_id: int) -> Department | None:
    return await db.scalar(
        select(Department)
        .where(Department.id == department_id)
        .options(joinedload(Department.hospital))
    )


def _with_participants(stmt: Select[Consultation]) -> Select[Consultation]:
    return stmt.options(selectinload(Consultation.participants))


async def get_consultation(
    db: AsyncSession, consultation_id: str, *, for_update: bool = False
) -> Consultation | None:
    stmt = _with_participants(select(Consultation).where(Consultation.id == consultation_id))
    if for_update:
        stmt = stmt.with_for_update()
    return await db.scalar(stmt)


async def list_consultations(
    db: AsyncSession,
    *,
    gp_id: int | None = None,
    department_id: int | None = None,
    ending_after: datetime | None = None,
    ending_before: datetime | None = None,
    newest_first: bool = False,
    limit: int = 200,
) -> list[Consultation]:
    stmt = select(Consultation)
    if gp_id is not None:
        stmt = stmt.where(Consultation.gp_id == gp_id)
    if department_id is not None:
        stmt = stmt.where(Consultation.department_id == department_id)
    if ending_after is not None:
        stmt = stmt.where(Consultation.ends_at > ending_after)
    if ending_before is not None:
        stmt = stmt.where(Consultation.ends_at <= ending_before)
    order = Consultation.starts_at.desc() if newest_first else Consultation.starts_at
    stmt = _with_participants(stmt.order_by(order, Consultation.id).limit(limit))
    return list((await db.scalars(stmt)).all())


def add_event(
    db: AsyncSession, c: Consultation, *, action: str, actor_id: int | None, at: datetime
) -> None:
    """Keep the consultation's state after a change in its history (written with the change)."""
    db.add(
        ConsultationEvent(
            consultation_id=c.id,
            at=at,
            actor_id=actor_id,
            action=action,
            status=c.status,
            starts_at=c.starts_at,
            ends_at=c.ends_at,
            revision=c.revision,
        )
    )


async def history(db: AsyncSession, consultation_id: str) -> list[ConsultationEvent]:
    return list(
        (
            await db.scalars(
                select(ConsultationEvent)
                .where(ConsultationEvent.consultation_id == consultation_id)
                .order_by(ConsultationEvent.at, ConsultationEvent.id)
            )
        ).all()
    )


async def move_bookings(
    db: AsyncSession, consultation_id: str, starts_at: datetime, ends_at: datetime
) -> None:
    await db.execute(
        update(Booking)
        .where(Booking.consultation_id == consultation_id, Booking.active.is_(True))
        .values(starts_at=starts_at, ends_at=ends_at)
    )


async def release_bookings(db: AsyncSession, consultation_id: str) -> None:
    await db.execute(
        update(Booking).where(Booking.consultation_id == consultation_id).values(active=False)
    )


async def participants_of(db: AsyncSession, consultation_id: str) -> list[Participant]:
    return list(
        (
            await db.scalars(
                select(Participant)
                .where(Participant.consultation_id == consultation_id)
                .order_by(Participant.id)
            )
        ).all()
    )
