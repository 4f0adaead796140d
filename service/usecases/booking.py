"""Booking joint consultations: create, accept, propose a time, reschedule, cancel, read.

Each function here owns one change and its transaction: it reads what it needs, asks the pure
domain (`availability`, `states`) for a decision, writes the result with its history entry,
audit record and the participants' mails (`notifications`), and commits. The database's overlap
guard has the last word on double booking.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
from service.domain.errors import Conflict, InvalidInput, NotAllowed, NotFound, SlotTaken
from service.domain.permissions import (
    can_see,
    require_consultation_reader,
    side_of,
    visible_scope,
)
from service.domain.schemas import (
    AcceptInput,
    BookingInput,
    CancelInput,
    PatientInput,
    PersonInput,
    TimeInput,
)
from service.domain.states import (
    ACTIVE_STATUSES,
    Action,
    ConsultationStatus,
    Side,
    Transition,
    apply,
)
from service.domain.tokens import keyed_hash, new_id, new_room_id
from service.domain.travel import ReferenceData, municipality_for_postal_code
from service.domain.travel_inputs import TravelFacts, Traveller, encode_travel_key, local_site_for
from service.settings import Settings
from service.storage import consultations as store
from service.storage.engine import reading, run_transaction
from service.storage.models import (
    Consultation,
    ConsultationEvent,
    Participant,
    Patient,
    User,
)
from service.usecases import notifications
from service.usecases.audit import audit


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


def _transition(c: Consultation, action: Action, actor: Actor) -> Transition:
    awaiting = Side(c.awaiting) if c.awaiting else None
    return apply(ConsultationStatus(c.status), awaiting, action, side_of(actor))


def _store_transition(c: Consultation, t: Transition, now: datetime) -> None:
    c.status = str(t.status)
    c.awaiting = str(t.awaiting) if t.awaiting else None
    if t.bumps_revision:
        c.revision += 1
    c.updated_at = now


# --- reading ---------------------------------------------------------------------------------


async def list_for(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    *,
    upcoming_only: bool = False,
    limit: int = 200,
) -> list[Consultation]:
    """Upcoming consultations soonest first, or (by default) all, newest first."""
    require_consultation_reader(actor)
    now = clock.now()
    gp_id, department_id = visible_scope(actor)

    async def work(db: AsyncSession) -> list[Consultation]:
        if upcoming_only:
            rows = await store.list_consultations(
                db, gp_id=gp_id, department_id=department_id, ending_after=now, limit=limit
            )
        else:
            rows = await store.list_consultations(
                db, gp_id=gp_id, department_id=department_id, newest_first=True, limit=limit
            )
        audit(db, at=now, actor=actor, action="list", consultation_ids=[c.id for c in rows])
        return rows

    return await run_transaction(sessionmaker, work)


@dataclass(frozen=True, slots=True)
class Overview:
    """What a clinician's list page shows: everything not yet over, and the latest earlier."""

    coming: list[Consultation]
    earlier: list[Consultation]
    more_earlier: bool


async def overview(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    *,
    earlier_limit: int,
) -> Overview:
    require_consultation_reader(actor)
    now = clock.now()
    gp_id, department_id = visible_scope(actor)

    async def work(db: AsyncSession) -> Overview:
        coming = await store.list_consultations(
            db, gp_id=gp_id, department_id=department_id, ending_after=now, limit=1000
        )
        earlier = await store.list_consultations(
            db,
            gp_id=gp_id,
            department_id=department_id,
            ending_before=now,
            newest_first=True,
            limit=earlier_limit + 1,
        )
        shown = coming + earlier[:earlier_limit]
        audit(db, at=now, actor=actor, action="list", consultation_ids=[c.id for c in shown])
        return Overview(coming, earlier[:earlier_limit], len(earlier) > earlier_limit)

    return await run_transaction(sessionmaker, work)


async def read(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    consultation_id: str,
) -> Consultation:
    require_consultation_reader(actor)

    async def work(db: AsyncSession) -> Consultation:
        consultation = await _visible(db, actor, consultation_id)
        audit(db, at=clock.now(), actor=actor, action="read", consultation_ids=[consultation.id])
        return consultation

    return await run_transaction(sessionmaker, work)


async def read_history(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    consultation_id: str,
) -> list[ConsultationEvent]:
    require_consultation_reader(actor)

    async def work(db: AsyncSession) -> list[ConsultationEvent]:
        consultation = await _visible(db, actor, consultation_id)
        events = await store.history(db, consultation.id)
        audit(
            db,
            at=clock.now(),
            actor=actor,
            action="read_history",
            consultation_ids=[consultation.id],
        )
        return events

    return await run_transaction(sessionmaker, work)


async def _visible(
    db: AsyncSession, actor: Actor, consultation_id: str, *, for_update: bool = False
) -> Consultation:
    consultation = await store.get_consultation(db, consultation_id, for_update=for_update)
    # Someone else's consultation answers exactly like a missing one: its existence is private.
    if consultation is None or not can_see(actor, consultation):
        raise NotFound("No such consultation.")
    return consultation


# --- availability ----------------------------------------------------------------------------


async def _calendars(
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
    department = _department(named)
    if query.specialist_id is not None:
        specialist_ids = [_specialist_in(named.specialist, department.id)]
    else:
        specialist_ids = await _specialists_for(db, department.id, None)
    if query.patient_id is not None:
        _own(actor, named.patient)
    calendars, patient_busy = await _calendars(
        db,
        [actor.user_id, *specialist_ids],
        query.window_start,
        query.window_end,
        excluding=query.excluding_consultation,
        patient_id=query.patient_id,
    )
    return specialist_ids, calendars, patient_busy


def _department(named: store.Parties) -> store.DepartmentRef:
    if named.department is None:
        raise NotFound("No such department.", field="department_id")
    return named.department


def _specialist_in(specialist: User | store.SpecialistRef | None, department_id: int) -> int:
    if (
        specialist is None
        or specialist.role != "specialist"
        or specialist.department_id != department_id
        or not specialist.active
    ):
        raise NotFound("No such specialist in that department.", field="specialist_id")
    return specialist.id


def _own(actor: Actor, patient: store.PatientRef | None) -> store.PatientRef:
    if patient is None or patient.gp_office_id != actor.gp_office_id:
        raise NotFound("No such patient at your GP office.", field="patient_id")
    return patient


async def _specialists_for(
    db: AsyncSession, department_id: int, specialist_id: int | None
) -> list[int]:
    if specialist_id is not None:
        return [_specialist_in(await store.user(db, specialist_id), department_id)]
    specialists = await store.department_specialists(db, department_id)
    if not specialists:
        raise InvalidInput("The department has no specialists to book.", field="department_id")
    return [s.id for s in specialists]


def _span(
    now: datetime, settings: Settings, starts_at: datetime, duration: timedelta
) -> tuple[datetime, datetime]:
    """The consultation's start and end, if it starts between now and the booking horizon."""
    check_horizon(starts_at, now, timedelta(days=settings.booking_horizon_days))
    return starts_at, starts_at + duration


async def _check_time(
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
    calendars, patient_busy = await _calendars(
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
    )


# --- changes ---------------------------------------------------------------------------------


async def book(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    settings: Settings,
    data: BookingInput,
    *,
    reference: ReferenceData,
) -> Consultation:
    """Book a consultation as the GP.

    The consultation's municipality is the patient's, from their postal code; a postal code
    outside the reference data is refused (422), since the consultation could not be counted.
    Pass the app's `reference` data; without it the shipped data is read.
    """
    if actor.role != "gp" or actor.gp_office_id is None:
        raise NotAllowed("Only a GP with a GP office can book a joint consultation.")
    if data.patient_id is not None and data.patient is not None:
        raise InvalidInput("Give either patient_id or patient, not both.", field="patient")
    if data.patient_id is None and data.patient is None:
        raise InvalidInput(
            "Name the patient: patient_id for a known one, patient for a new one.",
            field="patient",
        )
    ref = reference
    if data.patient is not None:
        _municipality_of(ref, data.patient.postal_code, "patient.postal_code")
    for i, relative in enumerate(data.relatives):
        if relative.postal_code is not None and relative.travel.would_travel:
            _municipality_of(ref, relative.postal_code, f"relatives.{i}.postal_code")
    try:
        values, participants = await run_transaction(
            sessionmaker, _book, actor, clock.now(), settings, data, reference
        )
    except IntegrityError as exc:
        raise _as_domain_error(exc) from exc
    # What the caller shows: built from the rows just written, not read back.
    consultation = Consultation(**values)
    consultation.participants = [Participant(**p) for p in participants]
    return consultation


async def _book(
    db: AsyncSession,
    actor: Actor,
    now: datetime,
    settings: Settings,
    data: BookingInput,
    ref: ReferenceData,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`book`'s transaction: the consultation's and its participants' rows, as written."""
    assert actor.gp_office_id is not None
    starts_at, ends_at = _span(
        now, settings, data.starts_at, timedelta(minutes=data.duration_minutes)
    )
    named = await store.parties(db, data.department_id, data.specialist_id, data.patient_id)
    department = _department(named)
    specialist_ids = (
        [_specialist_in(named.specialist, department.id)] if data.specialist_id is not None else []
    )
    if data.patient_id is not None:
        patient = _own(actor, named.patient)
    else:
        assert data.patient is not None
        patient = await _find_or_create_patient(db, settings, actor.gp_office_id, data.patient, now)
    await _check_time(
        db,
        now,
        settings,
        user_ids=[actor.user_id, *specialist_ids],
        patient_id=patient.id if data.kind == "joint" else None,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    home = _municipality_of(ref, patient.postal_code, "patient_id")
    cid = new_id()
    values: dict[str, Any] = {
        "id": cid,
        "room_id": new_room_id(),
        "kind": data.kind,
        "status": "requested",
        "awaiting": "hospital_side",
        "revision": 0,
        "gp_id": actor.user_id,
        "specialist_id": data.specialist_id,
        "department_id": department.id,
        "booked_by_id": actor.user_id,
        "patient_id": patient.id,
        "patient_present": data.kind == "joint",
        "patient_group": data.patient_group,
        "patient_location": data.patient_location,
        "purpose": data.purpose or None,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "municipality_number": home,
        "hospital_id": department.hospital_id,
        "travel_key": _travel_key(
            ref, data, home, department.hospital_code, actor.municipality_number or ""
        ),
        "relatives_count": len(data.relatives) if data.kind == "joint" else 0,
        "interpreters_count": 1 if data.interpreter is not None else 0,
        "municipal_staff_count": len(data.municipal_staff),
        "created_at": now,
        "updated_at": now,
    }
    participants = _participants(cid, actor, patient, data, now)
    resources = [store.user_resource(actor.user_id)]
    if data.kind == "joint":
        resources.append(store.patient_resource(patient.id))
    resources += [store.user_resource(s) for s in specialist_ids]
    first_event = {
        "consultation_id": cid,
        "at": now,
        "actor_id": actor.user_id,
        "action": "book",
        "status": values["status"],
        "starts_at": starts_at,
        "ends_at": ends_at,
        "revision": 0,
    }
    await store.insert_consultation(db, values, participants, resources, first_event)
    audit(db, at=now, actor=actor, action="create", consultation_ids=[cid])
    return values, participants


def _municipality_of(ref: ReferenceData, postal_code: str | None, field: str) -> str:
    if postal_code is None:
        raise InvalidInput("The patient has no postal code; add it first.", field=field)
    try:
        return municipality_for_postal_code(ref, postal_code).number
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, field=field) from exc


def _travel_key(
    ref: ReferenceData, data: BookingInput, home: str, hospital_code: str, office_municipality: str
) -> str | None:
    """The anonymous travel facts of a joint consultation (none when the patient is absent)."""
    if data.kind != "joint":
        return None
    t = data.patient_travel
    relatives = tuple(
        Traveller(
            role="relative",
            municipality=(
                municipality_for_postal_code(ref, r.postal_code).number
                if r.postal_code is not None and r.travel.would_travel
                else home
            ),
            mode=r.travel.mode,
            would_travel=r.travel.would_travel,
            escort=r.travel.escort,
            works=r.travel.works,
        )
        for r in data.relatives
    )
    return encode_travel_key(
        TravelFacts(
            hospital=hospital_code,
            patient_location=data.patient_location,
            local_site_municipality=local_site_for(data.patient_location, office_municipality),
            patient=Traveller(
                role="patient",
                municipality=home,
                mode=t.mode,
                would_travel=t.would_travel,
                escort=t.escort,
                works=t.works,
            ),
            relatives=relatives,
        )
    )


async def _find_or_create_patient(
    db: AsyncSession, settings: Settings, gp_office_id: int, data: PatientInput, now: datetime
) -> store.PatientRef:
    """The patient with this fødselsnummer, their details brought up to date, or a new one.

    Two bookings of the same new patient at once both find nobody; one writes the patient and
    the other, refused by the unique fødselsnummer, takes that row as found.
    """
    fnr_hash = (
        keyed_hash(settings.secret_key.get_secret_value(), f"fnr:{data.fnr}") if data.fnr else None
    )
    existing = await store.patient_by_fnr_hash(db, fnr_hash) if fnr_hash is not None else None
    if existing is None:
        created = await store.add_patient(
            db,
            Patient(
                gp_office_id=gp_office_id,
                name=data.name,
                email=data.email,
                phone=data.phone,
                postal_code=data.postal_code,
                fnr_hash=fnr_hash,
                language=data.language,
                created_at=now,
            ),
        )
        if created is not None:
            return store.patient_ref(created)
        assert fnr_hash is not None  # only the fødselsnummer is unique
        existing = await store.patient_by_fnr_hash(db, fnr_hash)
        assert existing is not None  # the row that refused ours
    if existing.gp_office_id != gp_office_id:
        # The patient is listed at another office; their GP books for them.
        raise NotAllowed("This patient is registered at another GP office.", field="patient")
    existing.name = data.name
    existing.email = data.email
    existing.phone = data.phone
    existing.postal_code = data.postal_code
    existing.language = data.language
    return store.patient_ref(existing)


def _participants(
    consultation_id: str, gp: Actor, patient: store.PatientRef, data: BookingInput, now: datetime
) -> list[dict[str, Any]]:
    """The participants' rows, every one with the same keys (one multi-row INSERT)."""

    def row(role: str, name: str, **values: Any) -> dict[str, Any]:
        return {
            "id": new_id(),
            "consultation_id": consultation_id,
            "role": role,
            "user_id": None,
            "name": name,
            "email": None,
            "phone": None,
            "language": "nn",
            "token_hash": None,
            "postal_code": None,
            "would_travel": None,
            "travel_mode": None,
            "escort": False,
            "works": False,
            "created_at": now,
        } | values

    def person(role: str, p: PersonInput, **travel: Any) -> dict[str, Any]:
        return row(
            role,
            p.name,
            email=p.email,
            phone=p.phone,
            language=p.language,
            postal_code=p.postal_code,
            **travel,
        )

    def relative(p: PersonInput) -> dict[str, Any]:
        t = p.travel
        return person(
            "relative",
            p,
            would_travel=t.would_travel,
            travel_mode=t.mode,
            escort=t.escort,
            works=t.works,
        )

    travel = data.patient_travel
    result = [row("gp", gp.name, user_id=gp.user_id, email=gp.email or None, language=gp.language)]
    if data.kind == "joint":
        result.append(
            row(
                "patient",
                patient.name,
                email=patient.email,
                phone=patient.phone,
                language=patient.language,
                postal_code=patient.postal_code,
                would_travel=travel.would_travel,
                travel_mode=travel.mode,
                escort=travel.escort,
                works=travel.works,
            )
        )
        result += [relative(r) for r in data.relatives]
    if data.interpreter is not None:
        result.append(person("interpreter", data.interpreter))
    result += [person("municipal_staff", s) for s in data.municipal_staff]
    return result


def _as_domain_error(exc: IntegrityError) -> Exception:
    if store.is_overlap_violation(exc):
        return SlotTaken(
            "Someone taking part already has a consultation at that time.", field="starts_at"
        )
    return exc


# A change that mails people runs in two transactions with the rendering between them: the
# draft reads the consultation and plans the mails from it as the change would leave it (no
# lock held while they render), then the write makes the change, plans again and writes the
# rendered mails only if the plan is the same (else the consultation moved meanwhile, and the
# whole change is drafted again, at most DRAFT_ATTEMPTS times).
DRAFT_ATTEMPTS = 3

Plan = Callable[[AsyncSession, Consultation, Settings, datetime], Awaitable[notifications.MailPlan]]


class _Moved(Exception):
    """The consultation changed between the draft and the write: its mails are stale."""


async def _change_with_mails(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime,
    consultation_id: str,
    actor: Actor,
    change: Callable[[AsyncSession, Consultation, bool], Awaitable[None]],
    plan: Plan,
) -> Consultation:
    """Run `change(db, c, writing)` on the consultation, with the mails `plan` makes of it.

    `change` applies the decision to `c`; only with `writing` does it write (held times,
    history, audit); without, it only checks and sets the attributes the mails depend on.
    """

    async def draft(db: AsyncSession) -> notifications.MailPlan:
        c = await _visible(db, actor, consultation_id)
        with db.no_autoflush:
            await change(db, c, False)
            planned = await plan(db, c, settings, now)
        db.expunge_all()  # the draft's changes to `c` are never written
        return planned

    async def write(db: AsyncSession, rendered: notifications.RenderedMails) -> Consultation:
        c = await _visible(db, actor, consultation_id, for_update=True)
        await change(db, c, True)
        await store.flush_bookings(db)
        if (await plan(db, c, settings, now)).key() != rendered.plan.key():
            raise _Moved
        await notifications.write(db, c, rendered)
        return c

    for _ in range(DRAFT_ATTEMPTS):
        planned = await run_transaction(reading(sessionmaker), draft)
        rendered = await notifications.render(planned, settings, now)
        try:
            return await run_transaction(sessionmaker, write, rendered)
        except _Moved:
            continue
        except IntegrityError as exc:
            raise _as_domain_error(exc) from exc
    raise Conflict("The consultation changed while this was being done; try again.")


async def accept(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    settings: Settings,
    consultation_id: str,
    data: AcceptInput,
) -> Consultation:
    """Confirm the consultation (either side), assigning its specialist on the hospital side.

    The confirmation mails (about 15: invites and reminders for everyone) are rendered between
    a draft and the write (`_change_with_mails`), so the write lock is held only for the
    statements.
    """
    side_of(actor)  # roles without a side (evaluator, admin) are refused before any lookup
    now = clock.now()

    async def change(db: AsyncSession, c: Consultation, writing: bool) -> None:
        transition = _transition(c, Action.ACCEPT, actor)
        if side_of(actor) == Side.HOSPITAL:
            await _assign_specialist(db, actor, now, settings, c, data.specialist_id, writing)
        _store_transition(c, transition, now)
        if writing:
            store.add_event(db, c, action="accept", actor_id=actor.user_id, at=now)
            audit(db, at=now, actor=actor, action="accept", consultation_ids=[c.id])

    return await _change_with_mails(
        sessionmaker, settings, now, consultation_id, actor, change, notifications.plan_confirmed
    )


async def _assign_specialist(
    db: AsyncSession,
    actor: Actor,
    now: datetime,
    settings: Settings,
    c: Consultation,
    requested_id: int | None,
    writing: bool,
) -> None:
    if c.specialist_id is not None:
        if requested_id is not None and requested_id != c.specialist_id:
            raise InvalidInput("The consultation already has a specialist.", field="specialist_id")
        return
    specialist_id = actor.user_id if actor.role == "specialist" else requested_id
    if specialist_id is None:
        raise InvalidInput(
            "Name the specialist who takes this consultation.", field="specialist_id"
        )
    await _specialists_for(db, c.department_id, specialist_id)
    if writing:
        await _check_time(
            db,
            now,
            settings,
            user_ids=[specialist_id],
            patient_id=None,
            starts_at=c.starts_at,
            ends_at=c.ends_at,
            excluding=c.id,
        )
        await store.hold(db, c.id, [store.user_resource(specialist_id)], c.starts_at, c.ends_at)
    c.specialist_id = specialist_id


async def change_time(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    settings: Settings,
    consultation_id: str,
    data: TimeInput,
    action: Action,
) -> Consultation:
    """Propose a new time (hospital side) or reschedule (GP side)."""
    side_of(actor)
    now = clock.now()

    async def change(db: AsyncSession, c: Consultation, writing: bool) -> None:
        transition = _transition(c, action, actor)
        duration = (
            timedelta(minutes=data.duration_minutes)
            if data.duration_minutes is not None
            else c.ends_at - c.starts_at
        )
        starts_at, ends_at = _span(now, settings, data.starts_at, duration)
        if writing:
            clinicians = [c.gp_id] + ([c.specialist_id] if c.specialist_id else [])
            await _check_time(
                db,
                now,
                settings,
                user_ids=clinicians,
                patient_id=c.patient_id if c.kind == "joint" else None,
                starts_at=starts_at,
                ends_at=ends_at,
                excluding=c.id,
            )
            await store.move_bookings(db, c.id, starts_at, ends_at)
        c.starts_at, c.ends_at = starts_at, ends_at
        _store_transition(c, transition, now)
        if writing:
            store.add_event(db, c, action=str(action), actor_id=actor.user_id, at=now)
            audit(db, at=now, actor=actor, action=str(action), consultation_ids=[c.id])

    return await _change_with_mails(
        sessionmaker, settings, now, consultation_id, actor, change, notifications.plan_moved
    )


async def cancel(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    settings: Settings,
    consultation_id: str,
    data: CancelInput,
) -> Consultation:
    side_of(actor)
    now = clock.now()

    async def change(db: AsyncSession, c: Consultation, writing: bool) -> None:
        _store_transition(c, _transition(c, Action.CANCEL, actor), now)
        if writing:
            await store.release_bookings(db, c.id)
            store.add_event(db, c, action="cancel", actor_id=actor.user_id, at=now)
            audit(db, at=now, actor=actor, action="cancel", consultation_ids=[c.id])

    return await _change_with_mails(
        sessionmaker, settings, now, consultation_id, actor, change, notifications.plan_cancelled
    )


def is_active(consultation: Consultation) -> bool:
    return ConsultationStatus(consultation.status) in ACTIVE_STATUSES
