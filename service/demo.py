"""Believable demo data: Nordhordland GP offices, Helse Bergen departments, clinicians with
working hours, patients, a year of past consultations and some coming ones.

The past year tells the pilot's story for the statistics page: use grows month by month and
spreads from Alver and Austrheim across the region; consultations carry travel inputs, and about
two in three participants answered the survey.

Idempotent: a database that already holds the demo accounts is left as it is. All names are
invented; the patients are fictional.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.clock import Clock, SystemClock
from service.domain.errors import DomainError
from service.domain.passwords import Passwords
from service.domain.schemas import BookingInput, PersonInput
from service.domain.tokens import hash_token, new_id, new_room_id, new_token
from service.domain.travel.calculation import Mode, PatientLocation
from service.domain.travel.keys import TravelFacts, Traveller, encode_travel_key, local_site_for
from service.domain.travel.reference import ReferenceData, load_reference_data
from service.settings import Settings
from service.storage import directory
from service.storage.engine import make_engine, make_sessionmaker
from service.storage.models import (
    Consultation,
    ConsultationEvent,
    Department,
    GpOffice,
    Hospital,
    Participant,
    Patient,
    Survey,
    User,
    WorkingHours,
)
from service.usecases.booking import book

DEMO_PASSWORD = "demo-samkons-2026"  # noqa: S105 - printed for demo logins on purpose

# (office name, municipality number, a postal code there)
OFFICES = [
    ("Knarvik legekontor", "4631", "5914"),
    ("Lindås legekontor", "4631", "5955"),
    ("Austrheim legekontor", "4632", "5943"),
    ("Fedje legekontor", "4633", "5947"),
    ("Masfjorden legekontor", "4634", "5981"),
    ("Gulen legekontor", "4635", "5966"),
    ("Modalen legekontor", "4629", "5729"),
    ("Osterøy legekontor", "4630", "5282"),
    ("Vaksdal legekontor", "4628", "5721"),
]
DEPARTMENTS = [
    ("haukeland", "Geriatrisk seksjon"),
    ("haukeland", "Barne- og ungdomsklinikken"),
    ("haukeland", "Psykiatrisk klinikk"),
    ("haukeland", "Hjarteavdelinga"),
    ("haraldsplass", "Geriatrisk avdeling"),
    ("haraldsplass", "Medisinsk poliklinikk"),
]
GROUP_BY_DEPARTMENT = {
    "Geriatrisk seksjon": "frail_elderly",
    "Barne- og ungdomsklinikken": "children_youth",
    "Psykiatrisk klinikk": "mental_health_addiction",
    "Hjarteavdelinga": "multiple_chronic",
    "Geriatrisk avdeling": "frail_elderly",
    "Medisinsk poliklinikk": "multiple_chronic",
}
FIRST = [
    "Astrid",
    "Bjørg",
    "Olav",
    "Ingrid",
    "Nils",
    "Solveig",
    "Magnus",
    "Sigrid",
    "Arne",
    "Liv",
    "Knut",
    "Ragnhild",
    "Eirik",
    "Marit",
    "Torstein",
    "Gunnhild",
    "Jon",
    "Ane",
]
LAST = [
    "Eikanger",
    "Haugland",
    "Lygre",
    "Fosse",
    "Mjelde",
    "Hope",
    "Brakstad",
    "Tveit",
    "Bakke",
    "Sandvik",
    "Nordhus",
    "Instefjord",
    "Lie",
    "Kvingedal",
    "Solheim",
    "Vik",
]


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str


def _postal_codes_by_municipality(reference: ReferenceData) -> dict[str, list[str]]:
    """Street-address postal codes (category G) by municipality: nobody lives in a PO box."""
    codes: dict[str, list[str]] = {}
    for code, place in sorted(reference.postal_codes.items()):
        if place.category == "G":
            codes.setdefault(place.municipality_number, []).append(code)
    return codes


async def seed_demo(
    settings: Settings, *, clock: Clock | None = None
) -> list[tuple[str, str, str]]:
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    try:
        sessionmaker = make_sessionmaker(engine)
        logins = [
            ("gp", "fastlege@demo.samkons.no"),
            ("specialist", "spesialist@demo.samkons.no"),
            ("coordinator", "koordinator@demo.samkons.no"),
            ("evaluator", "evaluator@demo.samkons.no"),
            ("admin", "admin@demo.samkons.no"),
        ]
        async with sessionmaker() as db:
            seeded = await directory.user_by_email(db, logins[0][1]) is not None
        if not seeded:
            await _seed(sessionmaker, settings, clock)
        return [(role, email, DEMO_PASSWORD) for role, email in logins]
    finally:
        await engine.dispose()


async def _seed(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock
) -> None:
    rng = random.Random(2026)  # noqa: S311 - repeatable demo data, not a secret
    now = clock.now()
    reference = load_reference_data()
    password_hash = Passwords(settings.password_hash_cost).hash(DEMO_PASSWORD)
    async with sessionmaker() as db, db.begin():
        hospitals = {
            "haukeland": Hospital(code="haukeland", name="Haukeland universitetssjukehus"),
            "haraldsplass": Hospital(code="haraldsplass", name="Haraldsplass diakonale sykehus"),
        }
        db.add_all(hospitals.values())
        await db.flush()
        departments = [Department(hospital_id=hospitals[h].id, name=n) for h, n in DEPARTMENTS]
        offices = [GpOffice(name=n, municipality_number=m) for n, m, _ in OFFICES]
        db.add_all([*departments, *offices])
        await db.flush()

        def user(email: str, name: str, role: str, **kw: int) -> User:
            return User(
                email=email,
                name=name,
                role=role,
                password_hash=password_hash,
                language="nn",
                active=True,
                created_at=now,
                **kw,
            )

        gps = [user("fastlege@demo.samkons.no", "Kari Nordhus", "gp", gp_office_id=offices[0].id)]
        gps += [
            user(
                f"fastlege{i}@demo.samkons.no",
                f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                "gp",
                gp_office_id=o.id,
            )
            for i, o in enumerate(offices[1:], start=2)
        ]
        specialists = [
            user(
                "spesialist@demo.samkons.no",
                "Erik Haugland",
                "specialist",
                department_id=departments[0].id,
            )
        ]
        specialists += [
            user(
                f"spesialist{i}@demo.samkons.no",
                f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                "specialist",
                department_id=d.id,
            )
            for i, d in enumerate(departments, start=2)
        ]
        others = [
            user(
                "koordinator@demo.samkons.no",
                "Hilde Koordinator",
                "coordinator",
                department_id=departments[0].id,
            ),
            user("evaluator@demo.samkons.no", "Tone Evaluator", "evaluator"),
            user("admin@demo.samkons.no", "Anders Admin", "admin"),
        ]
        db.add_all([*gps, *specialists, *others])
        await db.flush()
        for clinician in [*gps, *specialists]:
            db.add_all(
                WorkingHours(
                    user_id=clinician.id, weekday=d, start_time=time(8, 0), end_time=time(15, 30)
                )
                for d in range(5)
            )
        patients: list[Patient] = []
        codes_in = _postal_codes_by_municipality(reference)
        for office, (_, municipality, office_code) in zip(offices, OFFICES, strict=True):
            # Patients live around the municipality, not all at the office's address.
            codes = codes_in.get(municipality) or [office_code]
            for _ in range(6):
                patients.append(
                    Patient(
                        gp_office_id=office.id,
                        name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                        email=None,
                        postal_code=rng.choice(codes),
                        language="nn",
                        created_at=now,
                    )
                )
        db.add_all(patients)
        await db.flush()
        surveys = _past_year(
            db, rng, now, settings.tz, gps, specialists, departments, offices, patients
        )
        await db.flush()  # surveys point at participants; no ORM relationship orders the inserts
        db.add_all(surveys)

    await _coming(
        sessionmaker, settings, clock, reference, gps[0], specialists, departments, patients
    )


# The pilot's roll-out: Alver and Austrheim first, the rest of the region joining month by month.
ROLLOUT_MONTH = {
    "4631": 0,
    "4632": 0,
    "4633": 2,
    "4634": 3,
    "4635": 5,
    "4629": 6,
    "4630": 7,
    "4628": 8,
}
# How people usually get to Bergen from each municipality (weights for car, bus, boat, taxi).
USUAL_MODES = {
    "4631": (6, 3, 0, 2),
    "4632": (5, 2, 0, 3),
    "4633": (3, 1, 2, 3),
    "4634": (4, 1, 0, 3),
    "4635": (4, 1, 1, 4),
    "4629": (4, 1, 0, 3),
    "4630": (6, 3, 0, 2),
    "4628": (5, 3, 0, 2),
}
MODE_NAMES: tuple[Mode, ...] = ("car", "bus", "boat", "taxi_pasientreiser")
LOCATIONS: tuple[PatientLocation, ...] = ("home", "home", "home", "gp_office", "institution")
FREE_TEXTS = [
    "Slapp å ta fri ein heil dag for å køyre til Bergen.",
    "Godt at fastlegen var med, då slapp eg å forklare alt to gonger.",
    "Lyden var litt dårleg i starten.",
    "Mor vart mindre sliten enn når vi må reise inn.",
    "Fint, men eg hadde helst møtt legen fysisk neste gong.",
]


def _month_start(now: datetime, tz: ZoneInfo, months_ago: int) -> datetime:
    local = now.astimezone(tz)
    index = local.year * 12 + local.month - 1 - months_ago
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=tz)


def _past_year(
    db: AsyncSession,
    rng: random.Random,
    now: datetime,
    tz: ZoneInfo,
    gps: list[User],
    specialists: list[User],
    departments: list[Department],
    offices: list[GpOffice],
    patients: list[Patient],
) -> list[Survey]:
    """A year of finished consultations telling the pilot's story: more each month, spreading
    from Alver and Austrheim to the whole region, with travel inputs and survey answers."""
    by_office = {o.id: [p for p in patients if p.gp_office_id == o.id] for o in offices}
    office_of = {o.id: o for o in offices}
    hospital_code = {
        d.id: ("haukeland" if i < 4 else "haraldsplass") for i, d in enumerate(departments)
    }
    hospital_of = {d.id: d.hospital_id for d in departments}
    used: set[tuple[int, datetime]] = set()
    surveys: list[Survey] = []
    for months_ago in range(12, 0, -1):
        month = 12 - months_ago
        first = _month_start(now, tz, months_ago)
        days = (_month_start(now, tz, months_ago - 1) - first).days
        active = [
            gp
            for gp in gps
            if gp.gp_office_id is not None
            and ROLLOUT_MONTH[office_of[gp.gp_office_id].municipality_number] <= month
        ]
        for _ in range(12 + month * 6):
            gp = rng.choice(active)
            specialist = rng.choice(specialists)
            department_id = specialist.department_id
            assert department_id is not None and gp.gp_office_id is not None
            day = (first + timedelta(days=rng.randint(0, days - 1))).date()
            while day.weekday() > 4:
                day -= timedelta(days=1)
            start = datetime.combine(
                day, time(8 + rng.randint(0, 6), rng.choice([0, 30])), tz
            ).astimezone(UTC)
            if start >= now or (gp.id, start) in used or (specialist.id, start) in used:
                continue
            used.update({(gp.id, start), (specialist.id, start)})
            surveys += _one_past(
                db,
                rng,
                start,
                gp,
                specialist,
                department_id,
                hospital_of[department_id],
                hospital_code[department_id],
                office_of[gp.gp_office_id].municipality_number,
                rng.choice(by_office[gp.gp_office_id]),
                GROUP_BY_DEPARTMENT[_department_name(departments, department_id)],
                month,
            )
    return surveys


def _one_past(
    db: AsyncSession,
    rng: random.Random,
    start: datetime,
    gp: User,
    specialist: User,
    department_id: int,
    hospital_id: int,
    hospital: str,
    office_municipality: str,
    patient: Patient,
    group: str,
    month: int,
) -> list[Survey]:
    roll = rng.random()
    # No-shows and cancellations fall as the service settles in.
    no_show_rate = 0.08 - 0.004 * month
    status = (
        "no_show"
        if roll < no_show_rate
        else "cancelled"
        if roll < no_show_rate + 0.1
        else "completed"
    )
    kind = "joint" if rng.random() < 0.85 else "guidance"
    minutes = rng.choice([30, 30, 45, 60])
    home = office_municipality
    location: PatientLocation = rng.choice(LOCATIONS)
    if group == "frail_elderly" and rng.random() < 0.4:
        location = "institution"
    mode = rng.choices(MODE_NAMES, weights=USUAL_MODES[home])[0]
    if group == "frail_elderly" and rng.random() < 0.05:
        mode = "ambulance"
    would_travel = rng.random() < 0.9
    escort = group == "frail_elderly" and location != "institution" and rng.random() < 0.35
    works = group in ("mental_health_addiction", "multiple_chronic") and rng.random() < 0.3
    relatives: list[Traveller] = []
    if kind == "joint":
        count = 1 if rng.random() < (0.7 if group == "children_youth" else 0.35) else 0
        if group == "children_youth" and rng.random() < 0.4:
            count += 1
        relatives = [
            Traveller(
                role="relative",
                municipality=home,
                mode=mode if mode != "ambulance" else "car",
                would_travel=rng.random() < 0.6,
                escort=False,
                works=rng.random() < 0.5,
            )
            for _ in range(count)
        ]
    staff = 1 if location == "institution" and rng.random() < 0.5 else 0
    interpreter = 1 if rng.random() < 0.05 else 0
    travel_key = None
    if kind == "joint":
        travel_key = encode_travel_key(
            TravelFacts(
                hospital=hospital,
                patient_location=location,
                local_site_municipality=local_site_for(location, home),
                patient=Traveller("patient", home, mode, would_travel, escort, works),
                relatives=tuple(relatives),
            )
        )
    completed = status == "completed"
    created = start - timedelta(days=14)
    c = Consultation(
        id=new_id(),
        room_id=new_room_id(),
        kind=kind,
        status=status,
        awaiting=None,
        revision=2,
        gp_id=gp.id,
        specialist_id=specialist.id,
        department_id=department_id,
        booked_by_id=gp.id,
        patient_id=patient.id,
        patient_present=kind == "joint",
        patient_group=group,
        patient_location=location,
        purpose=None,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        municipality_number=home,
        hospital_id=hospital_id,
        travel_key=travel_key,
        relatives_count=len(relatives),
        interpreters_count=interpreter,
        municipal_staff_count=staff,
        actual_started_at=start + timedelta(minutes=rng.randint(0, 4)) if completed else None,
        actual_ended_at=start + timedelta(minutes=minutes - rng.randint(0, 10))
        if completed
        else None,
        created_at=created,
        updated_at=start,
    )
    db.add(c)

    def participant(role: str, name: str, **kw: object) -> Participant:
        p = Participant(
            id=new_id(),
            consultation_id=c.id,
            role=role,
            name=name,
            language="nn",
            created_at=created,
            **kw,
        )
        db.add(p)
        return p

    # The specialist takes part through `specialist_id`, as in a real booking: no participant row.
    people = [participant("gp", gp.name, user_id=gp.id, email=gp.email)]
    if kind == "joint":
        people.append(
            participant(
                "patient",
                patient.name,
                email=f"pasient.{patient.id}@demo.samkons.no",
                postal_code=patient.postal_code,
                would_travel=would_travel,
                travel_mode=mode,
                escort=escort,
                works=works,
            )
        )
        for r in relatives:
            people.append(
                participant(
                    "relative",
                    f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    postal_code=patient.postal_code,
                    would_travel=r.would_travel,
                    travel_mode=r.mode,
                    works=r.works,
                )
            )
    if staff:
        participant("municipal_staff", "Heimesjukepleien")
    if interpreter:
        participant("interpreter", "Tolk")
    for revision, (action, st) in enumerate(
        [("book", "requested"), ("accept", "confirmed"), (_final_action(status), status)]
    ):
        db.add(
            ConsultationEvent(
                consultation_id=c.id,
                at=created + timedelta(days=revision),
                actor_id=None,
                action=action,
                status=st,
                starts_at=c.starts_at,
                ends_at=c.ends_at,
                revision=revision,
            )
        )
    if not completed:
        return []
    surveys, c.patient_travel_confirmed = _surveys(rng, c, people, specialist.id, would_travel)
    return surveys


def _surveys(
    rng: random.Random,
    c: Consultation,
    people: list[Participant],
    specialist_id: int,
    assumed: bool,
) -> tuple[list[Survey], bool | None]:
    """Survey invitations (the links themselves are thrown away) and answers, with the
    patient's answer about travelling, which corrects the booking's assumption."""
    confirmed: bool | None = None
    surveys = []
    asked: list[tuple[str | None, int | None, str]] = [(p.id, None, p.role) for p in people]
    asked.append((None, specialist_id, "specialist"))
    for participant_id, user_id, role in asked:
        answered = rng.random() < 0.65
        # Most confirm the GP's assumption; some say they would have stayed home anyway.
        would_travel = assumed if rng.random() < 0.85 else not assumed
        text = rng.choice(FREE_TEXTS) if answered and rng.random() < 0.2 else None
        surveys.append(
            Survey(
                consultation_id=c.id,
                participant_id=participant_id,
                user_id=user_id,
                role=role,
                language="nn",
                token_hash=hash_token(new_token()),
                created_at=c.ends_at + timedelta(hours=1),
                answered_at=c.ends_at + timedelta(hours=rng.randint(2, 72)) if answered else None,
                satisfaction=rng.choices([2, 3, 4, 5], weights=[1, 3, 8, 10])[0]
                if answered
                else None,
                would_travel=would_travel if answered else None,
                physical_visit_needed=(rng.random() < 0.15) if answered else None,
                free_text=text,
                has_free_text=text is not None,
            )
        )
        if answered and role == "patient":
            confirmed = would_travel
    return surveys, confirmed


def _final_action(status: str) -> str:
    return {"completed": "complete", "no_show": "mark_no_show", "cancelled": "cancel"}[status]


def _department_name(departments: list[Department], department_id: int) -> str:
    return next(d.name for d in departments if d.id == department_id)


async def _coming(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: Clock,
    reference: ReferenceData,
    gp: User,
    specialists: list[User],
    departments: list[Department],
    patients: list[Patient],
) -> None:
    """Coming consultations for the demo GP, booked through the real booking path."""
    actor = Actor.of(gp)
    own = [p for p in patients if p.gp_office_id == gp.gp_office_id]
    tz = settings.tz
    today = clock.now().astimezone(tz).date()
    plans = [
        (2, time(10, 0), 0, "frail_elderly"),
        (3, time(13, 30), 0, "multiple_chronic"),
        (6, time(9, 0), 1, "children_youth"),
        (9, time(11, 0), 0, "frail_elderly"),
    ]
    for i, (days, at, spec_index, group) in enumerate(plans):
        day = today + timedelta(days=days)
        while day.weekday() > 4:
            day += timedelta(days=1)
        specialist = specialists[0] if spec_index == 0 else specialists[2]
        assert specialist.department_id is not None
        data = BookingInput(
            department_id=specialist.department_id,
            specialist_id=specialist.id,
            patient_id=own[i % len(own)].id,
            relatives=[PersonInput(name="Gunnhild Lygre")] if i % 2 == 0 else [],
            patient_group=group,
            purpose="Oppfølging",
            starts_at=datetime.combine(day, at, tz),
            duration_minutes=30,
        )
        try:
            await book(sessionmaker, actor, clock, settings, data, reference=reference)
        except DomainError:
            continue  # a demo seeded on a holiday-heavy week simply gets fewer bookings


# --- a call to try at once ---------------------------------------------------------------------

DEMO_CALL_ID = "democall" + "0" * 24
_DEMO_CALL_GUESTS = (
    ("patient", "democallpatient" + "0" * 17),
    ("relative", "democallrelative" + "0" * 16),
)
_DEMO_CALL_GP = "democallgp" + "0" * 22


@dataclass(frozen=True)
class DemoCall:
    """Where to try the demo call: the clinicians' call page and each guest's join link."""

    clinician_page: str
    guest_links: dict[str, str]


async def open_demo_call(settings: Settings, *, clock: Clock | None = None) -> DemoCall:
    """A consultation of the demo GP and specialist that is open for joining now, whatever the
    hour: it starts now and lasts an hour, moved to the present each time this runs (its room
    is open until an hour after that). Guests get fresh join links each time, since only the
    links' hashes are stored. Call after `seed_demo`."""
    clock = clock or SystemClock()
    now = clock.now().replace(second=0, microsecond=0)
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            c = await db.get(Consultation, DEMO_CALL_ID)
            if c is None:
                c = await _new_demo_call(db, now)
            c.status = "confirmed"
            c.awaiting = None
            c.starts_at, c.ends_at = now, now + timedelta(hours=1)
            c.actual_started_at = c.actual_ended_at = None
            c.updated_at = now
            links: dict[str, str] = {}
            for role, participant_id in _DEMO_CALL_GUESTS:
                guest = await db.get(Participant, participant_id)
                if guest is not None:
                    token = new_token()
                    guest.token_hash = hash_token(token)
                    links[role] = f"{settings.base_url}/bli-med/{token}"
            page = f"{settings.base_url}/samkonsultasjonar/{c.id}/video"
        return DemoCall(clinician_page=page, guest_links=links)
    finally:
        await engine.dispose()


async def _new_demo_call(db: AsyncSession, now: datetime) -> Consultation:
    gp = await directory.user_by_email(db, "fastlege@demo.samkons.no")
    specialist = await directory.user_by_email(db, "spesialist@demo.samkons.no")
    if gp is None or specialist is None or gp.gp_office_id is None:
        raise RuntimeError("seed the demo first (samkons seed-demo)")
    assert specialist.department_id is not None
    department = await db.get(Department, specialist.department_id)
    office = await db.get(GpOffice, gp.gp_office_id)
    patient = (await directory.patients_of_office(db, gp.gp_office_id))[0]
    assert department is not None and office is not None
    c = Consultation(
        id=DEMO_CALL_ID,
        room_id=new_room_id(),
        kind="joint",
        status="confirmed",
        revision=1,
        gp_id=gp.id,
        specialist_id=specialist.id,
        department_id=department.id,
        booked_by_id=gp.id,
        patient_id=patient.id,
        patient_group="frail_elderly",
        purpose="Prøv videosamtalen",
        starts_at=now,
        ends_at=now + timedelta(hours=1),
        municipality_number=office.municipality_number,
        hospital_id=department.hospital_id,
        relatives_count=1,
        created_at=now,
        updated_at=now,
    )
    db.add(c)
    people = [
        (_DEMO_CALL_GP, "gp", gp.name, gp.id),
        (_DEMO_CALL_GUESTS[0][1], "patient", patient.name, None),
        (_DEMO_CALL_GUESTS[1][1], "relative", "Gunnhild Lygre", None),
    ]
    for participant_id, role, name, user_id in people:
        db.add(
            Participant(
                id=participant_id,
                consultation_id=c.id,
                role=role,
                name=name,
                user_id=user_id,
                language="nn",
                created_at=now,
            )
        )
    await db.flush()
    return c
