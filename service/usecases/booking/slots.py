"""Slot search and time checks: who is free when, from working hours, absences and held times.

Also what booking and the transitions share about the people named: the department, the
specialist, the patient's office, and the database's overlap refusal as `SlotTaken`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.availability import (
    ClinicianCalendar,
    Interval,
    WeeklyHours,
    check_bookable,
    check_horizon,
    find_common_slots,
)
from service.domain.clock import Clock
from service.domain.closed_days import closed_days
from service.domain.errors import InvalidInput, NotAllowed, NotFound, SlotTaken
from service.settings import Settings
from service.storage import consultations as store
from service.storage.engine import run_transaction
from service.storage.models import User


@dataclass(frozen=True, slots=True)
class SlotQuery:
    department_id: int
    specialist_id: int | None
    patient_id: int | None
    window_start: datetime
    window_end: datetime
    duration: timedelta
    # When moving a consultation, its own held times do not block the new ones.
    excluding_consultation: str | None = None


async def calendars_of(
    db: AsyncSession,
    user_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    excluding: str | None = None,
    patient_id: int | None = None,
) -> tuple[dict[int, ClinicianCalendar], list[Interval]]:
    """Each clinician's calendar and the patient's busy times, in three queries."""
    hours = await store.weekly_hours(db, user_ids)
    exceptions = await store.exceptions_between(db, user_ids, start, end)
    patient = store.patient_resource(patient_id) if patient_id is not None else None
    resources = [store.user_resource(u) for u in user_ids] + ([patient] if patient else [])
    busy = await store.busy_intervals(db, resources, start, end, excluding_consultation=excluding)
    calendars = {
        u: ClinicianCalendar(
            weekly=[WeeklyHours(*h) for h in hours[u]],
            exceptions=[Interval(*x) for x in exceptions[u]],
            busy=[Interval(s, e) for s, e in busy[store.user_resource(u)]],
        )
        for u in user_ids
    }
    patient_busy = [Interval(s, e) for s, e in busy[patient]] if patient else []
    return calendars, patient_busy


async def find_slots(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    settings: Settings,
    query: SlotQuery,
) -> list[Interval]:
    """Free slots where the GP, the specialist (or any specialist of the department) and the
    patient are all free. Only reads: pass the read-only session factory (no write lock)."""
    if actor.role != "gp":
        raise NotAllowed("Only GPs search for slots to book.")
    specialist_ids, calendars, patient_busy = await run_transaction(
        sessionmaker, _slot_search_inputs, actor, query
    )

    closed = local_closed_days(query.window_start, query.window_end, settings)

    def slots_with(specialist_id: int) -> list[Interval]:
        return find_common_slots(
            [calendars[actor.user_id], calendars[specialist_id]],
            patient_busy,
            window_start=query.window_start,
            window_end=query.window_end,
            duration=query.duration,
            step=timedelta(minutes=settings.slot_step_minutes),
            tz=settings.tz,
            not_before=clock.now(),
            closed_days=closed,
        )

    if len(specialist_ids) == 1:
        return slots_with(specialist_ids[0])  # sorted by start, each start once
    starts: dict[datetime, Interval] = {}
    for specialist_id in specialist_ids:
        for slot in slots_with(specialist_id):
            starts.setdefault(slot.start, slot)
    return [starts[k] for k in sorted(starts)]


async def _slot_search_inputs(
    db: AsyncSession, actor: Actor, query: SlotQuery
) -> tuple[list[int], dict[int, ClinicianCalendar], list[Interval]]:
    """The specialists a slot search covers, everyone's calendar and the patient's busy times."""
    named = await store.parties(db, query.department_id, query.specialist_id, query.patient_id)
    department = department_of(named)
    if query.specialist_id is not None:
        specialist_ids = [specialist_in(named.specialist, department.id)]
    else:
        specialist_ids = await specialists_for(db, department.id, None)
    if query.patient_id is not None:
        own_patient(actor, named.patient)
    calendars, patient_busy = await calendars_of(
        db,
        [actor.user_id, *specialist_ids],
        query.window_start,
        query.window_end,
        excluding=query.excluding_consultation,
        patient_id=query.patient_id,
    )
    return specialist_ids, calendars, patient_busy


def department_of(named: store.Parties) -> store.DepartmentRef:
    if named.department is None:
        raise NotFound("No such department.", field="department_id")
    return named.department


def specialist_in(specialist: User | store.SpecialistRef | None, department_id: int) -> int:
    if (
        specialist is None
        or specialist.role != "specialist"
        or specialist.department_id != department_id
        or not specialist.active
    ):
        raise NotFound("No such specialist in that department.", field="specialist_id")
    return specialist.id


def own_patient(actor: Actor, patient: store.PatientRef | None) -> store.PatientRef:
    if patient is None or patient.gp_office_id != actor.gp_office_id:
        raise NotFound("No such patient at your GP office.", field="patient_id")
    return patient


async def specialists_for(
    db: AsyncSession, department_id: int, specialist_id: int | None
) -> list[int]:
    if specialist_id is not None:
        return [specialist_in(await store.user(db, specialist_id), department_id)]
    specialists = await store.department_specialists(db, department_id)
    if not specialists:
        raise InvalidInput("The department has no specialists to book.", field="department_id")
    return [s.id for s in specialists]


def span(
    now: datetime, settings: Settings, starts_at: datetime, duration: timedelta
) -> tuple[datetime, datetime]:
    """The consultation's start and end, if it starts between now and the booking horizon."""
    check_horizon(starts_at, now, timedelta(days=settings.booking_horizon_days))
    return starts_at, starts_at + duration


async def check_time(
    db: AsyncSession,
    now: datetime,
    settings: Settings,
    *,
    user_ids: Sequence[int],
    patient_id: int | None,
    starts_at: datetime,
    ends_at: datetime,
    excluding: str | None = None,
) -> None:
    if ends_at <= starts_at:
        raise InvalidInput("The end must be after the start.", field="ends_at")
    margin = timedelta(days=1)
    calendars, patient_busy = await calendars_of(
        db,
        user_ids,
        starts_at - margin,
        ends_at + margin,
        excluding=excluding,
        patient_id=patient_id,
    )
    check_bookable(
        [calendars[u] for u in user_ids],
        patient_busy,
        Interval(starts_at, ends_at),
        settings.tz,
        now,
        closed_days=local_closed_days(starts_at, ends_at, settings),
    )


def local_closed_days(start: datetime, end: datetime, settings: Settings) -> frozenset[date]:
    """The public holidays (and other closed days) on the local dates from `start` to `end`."""
    return closed_days(start.astimezone(settings.tz).date(), end.astimezone(settings.tz).date())


def as_domain_error(exc: IntegrityError) -> Exception:
    if store.is_overlap_violation(exc):
        return SlotTaken(
            "Someone taking part already has a consultation at that time.", field="starts_at"
        )
    return exc
