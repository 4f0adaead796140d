"""SQL for consultations, their participants, patients, bookings (held times) and history.

Every function takes the `AsyncSession` of the use case's transaction
(`service.storage.engine.run_transaction`) and runs its statements in it; none commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload, selectinload

from service.domain.errors import SlotTaken
from service.storage.models import (
    AvailabilityException,
    Booking,
    Consultation,
    ConsultationEvent,
    Department,
    Hospital,
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


# The booking path's statements, built once: building a statement is much of what a short
# query costs in SQLAlchemy, and a prebuilt one also keeps its cache key.
_INSERT_CONSULTATION = insert(CONSULTATIONS)
_INSERT_PARTICIPANTS = insert(PARTICIPANTS)
_INSERT_BOOKINGS = insert(BOOKINGS)
_INSERT_EVENT = insert(EVENTS)
_BUSY = select(Booking.resource, Booking.starts_at, Booking.ends_at).where(
    Booking.resource.in_(bindparam("resources", expanding=True)),
    Booking.active.is_(True),
    Booking.starts_at < bindparam("end"),
    Booking.ends_at > bindparam("start"),
)
_BUSY_EXCLUDING = _BUSY.where(Booking.consultation_id != bindparam("excluding"))
_WEEKLY_HOURS = select(
    WorkingHours.user_id, WorkingHours.weekday, WorkingHours.start_time, WorkingHours.end_time
).where(WorkingHours.user_id.in_(bindparam("user_ids", expanding=True)))
_EXCEPTIONS = select(
    AvailabilityException.user_id, AvailabilityException.starts_at, AvailabilityException.ends_at
).where(
    AvailabilityException.user_id.in_(bindparam("user_ids", expanding=True)),
    AvailabilityException.starts_at < bindparam("end"),
    AvailabilityException.ends_at > bindparam("start"),
)


async def hold(
    db: AsyncSession,
    consultation_id: str,
    resources: Sequence[str],
    starts_at: datetime,
    ends_at: datetime,
) -> None:
    """Hold the time for each resource; the database refuses any overlap (IntegrityError).

    The rows go in ordered by resource, as `move_bookings` moves them: two transactions that
    want some of the same resources then meet at the first shared one, and one waits for the
    other instead of each holding a row the other needs (a deadlock on PostgreSQL).
    """
    await db.execute(
        _INSERT_BOOKINGS,
        [
            {
                "consultation_id": consultation_id,
                "resource": r,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "active": True,
            }
            for r in sorted(resources)
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
    await db.execute(_INSERT_CONSULTATION, [dict(consultation)])
    if participants:
        await db.execute(_INSERT_PARTICIPANTS, [dict(p) for p in participants])
    starts_at, ends_at = consultation["starts_at"], consultation["ends_at"]
    await hold(db, consultation["id"], resources, starts_at, ends_at)
    await db.execute(_INSERT_EVENT, [dict(first_event)])


async def busy_intervals(
    db: AsyncSession,
    resources: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    excluding_consultation: str | None = None,
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each resource's held times that overlap [start, end)."""
    params: dict[str, Any] = {"resources": list(resources), "start": start, "end": end}
    stmt = _BUSY
    if excluding_consultation is not None:
        stmt, params["excluding"] = _BUSY_EXCLUDING, excluding_consultation
    result: dict[str, list[tuple[datetime, datetime]]] = {r: [] for r in resources}
    for resource, s, e in await db.execute(stmt, params):
        result[resource].append((s, e))
    return result


async def weekly_hours(
    db: AsyncSession, user_ids: Sequence[int]
) -> dict[int, list[tuple[int, time, time]]]:
    """Each clinician's working hours as (weekday, start, end)."""
    result: dict[int, list[tuple[int, time, time]]] = {u: [] for u in user_ids}
    for user_id, weekday, start, end in await db.execute(
        _WEEKLY_HOURS, {"user_ids": list(user_ids)}
    ):
        result[user_id].append((weekday, start, end))
    return result


async def exceptions_between(
    db: AsyncSession, user_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Each clinician's absences that overlap [start, end)."""
    result: dict[int, list[tuple[datetime, datetime]]] = {u: [] for u in user_ids}
    params = {"user_ids": list(user_ids), "start": start, "end": end}
    for user_id, s, e in await db.execute(_EXCEPTIONS, params):
        result[user_id].append((s, e))
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


async def user(db: AsyncSession, user_id: int) -> User | None:
    return await db.get(User, user_id)


@dataclass(frozen=True, slots=True)
class DepartmentRef:
    id: int
    hospital_id: int
    hospital_code: str


@dataclass(frozen=True, slots=True)
class SpecialistRef:
    id: int
    role: str
    department_id: int | None
    active: bool


@dataclass(frozen=True, slots=True)
class PatientRef:
    """What booking needs of a patient: who they belong to and how to invite them."""

    id: int
    gp_office_id: int
    name: str
    email: str | None
    phone: str | None
    postal_code: str | None
    language: str


@dataclass(frozen=True, slots=True)
class Parties:
    """What a booking or slot search names, each None when there is no such row."""

    department: DepartmentRef | None
    specialist: SpecialistRef | None
    patient: PatientRef | None


_SPECIALIST = aliased(User)
_PARTIES = (
    select(
        Department.id,
        Department.hospital_id,
        Hospital.code,
        _SPECIALIST.id,
        _SPECIALIST.role,
        _SPECIALIST.department_id,
        _SPECIALIST.active,
        Patient.id,
        Patient.gp_office_id,
        Patient.name,
        Patient.email,
        Patient.phone,
        Patient.postal_code,
        Patient.language,
    )
    .join(Hospital, Hospital.id == Department.hospital_id)
    # A NULL id joins nothing: the row then says "no such specialist / patient".
    .outerjoin(_SPECIALIST, _SPECIALIST.id == bindparam("specialist_id"))
    .outerjoin(Patient, Patient.id == bindparam("patient_id"))
    .where(Department.id == bindparam("department_id"))
)


async def parties(
    db: AsyncSession, department_id: int, specialist_id: int | None, patient_id: int | None
) -> Parties:
    """The department (with its hospital's code), the specialist and the patient, in one query.

    A missing specialist or patient comes back as None; so do all three when the department is
    missing, which is the first thing checked anyway.
    """
    params = {
        "department_id": department_id,
        "specialist_id": specialist_id,
        "patient_id": patient_id,
    }
    row = (await db.execute(_PARTIES, params)).first()
    if row is None:
        return Parties(None, None, None)
    department = DepartmentRef(row[0], row[1], row[2])
    specialist = SpecialistRef(row[3], row[4], row[5], row[6]) if row[3] is not None else None
    patient = (
        PatientRef(row[7], row[8], row[9], row[10], row[11], row[12], row[13])
        if row[7] is not None
        else None
    )
    return Parties(department, specialist, patient)


async def patient_by_id(db: AsyncSession, patient_id: int) -> Patient | None:
    return await db.get(Patient, patient_id)


async def patient_by_fnr_hash(db: AsyncSession, fnr_hash: str) -> Patient | None:
    return await db.scalar(select(Patient).where(Patient.fnr_hash == fnr_hash))


async def add_patient(db: AsyncSession, patient: Patient) -> Patient | None:
    """Write a new patient (its id is set when this returns), or None when a patient with the
    same fødselsnummer was written meanwhile: a concurrent booking of the same new patient won.

    The insert runs in a savepoint, so losing that race leaves the caller's transaction usable
    for reading the winner's row (on PostgreSQL the unique check waits for it to commit).
    """
    try:
        async with db.begin_nested():
            db.add(patient)
            await db.flush()
    except IntegrityError as exc:
        refusal = str(exc.orig)
        # PostgreSQL names the constraint, SQLite the column.
        if "uq_patients_fnr_hash" not in refusal and "patients.fnr_hash" not in refusal:
            raise
        return None
    return patient


def patient_ref(patient: Patient) -> PatientRef:
    return PatientRef(
        patient.id,
        patient.gp_office_id,
        patient.name,
        patient.email,
        patient.phone,
        patient.postal_code,
        patient.language,
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
    """Move the consultation's held times, one resource at a time in resource order.

    One UPDATE for all of them would move the rows in whatever order the table is scanned;
    in the same order as `hold` writes them, two transactions that need some of the same
    resources wait for each other at the first shared one instead of deadlocking.
    """
    resources = await db.scalars(
        select(Booking.resource)
        .where(Booking.consultation_id == consultation_id, Booking.active.is_(True))
        .order_by(Booking.resource)
    )
    for resource in list(resources):
        await db.execute(
            update(Booking)
            .where(
                Booking.consultation_id == consultation_id,
                Booking.resource == resource,
                Booking.active.is_(True),
            )
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
