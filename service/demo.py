"""Believable demo data: Nordhordland GP offices, Helse Bergen departments, clinicians with
working hours, patients, a year of past consultations and some coming ones.

Idempotent: a database that already holds the demo accounts is left as it is. All names are
invented; the patients are fictional.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth import Actor
from service.booking import book
from service.clock import Clock, SystemClock
from service.errors import DomainError
from service.models import (
    Consultation,
    ConsultationEvent,
    Department,
    GpOffice,
    Hospital,
    Participant,
    Patient,
    User,
    WorkingHours,
)
from service.passwords import hash_password
from service.schemas import BookingInput, PersonInput
from service.settings import Settings
from service.storage import directory
from service.storage.engine import make_engine, make_sessionmaker
from service.tokens import new_id, new_room_id

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
    password_hash = hash_password(DEMO_PASSWORD)
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
        for office, (_, _, postal_code) in zip(offices, OFFICES, strict=True):
            for _ in range(6):
                patients.append(
                    Patient(
                        gp_office_id=office.id,
                        name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                        email=None,
                        postal_code=postal_code,
                        language="nn",
                        created_at=now,
                    )
                )
        db.add_all(patients)
        await db.flush()
        _past_year(db, rng, now, settings.tz, gps, specialists, departments, offices, patients)

    await _coming(sessionmaker, settings, clock, gps[0], specialists, departments, patients)


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
) -> None:
    """A year of finished consultations, growing month by month as a pilot would."""
    by_office = {o.id: [p for p in patients if p.gp_office_id == o.id] for o in offices}
    hospital_of = {d.id: d.hospital_id for d in departments}
    used: set[tuple[int, datetime]] = set()
    for months_ago in range(12, 0, -1):
        for _ in range(6 + (12 - months_ago) * 2):
            gp = rng.choice(gps)
            specialist = rng.choice(specialists)
            department_id = specialist.department_id
            assert department_id is not None and gp.gp_office_id is not None
            day = (now - timedelta(days=30 * months_ago - rng.randint(0, 27))).astimezone(tz).date()
            while day.weekday() > 4:
                day -= timedelta(days=1)
            start = datetime.combine(
                day, time(8 + rng.randint(0, 6), rng.choice([0, 30])), tz
            ).astimezone(UTC)
            if (gp.id, start) in used or (specialist.id, start) in used:
                continue
            used.update({(gp.id, start), (specialist.id, start)})
            patient = rng.choice(by_office[gp.gp_office_id])
            roll = rng.random()
            status = "completed" if roll < 0.82 else "no_show" if roll < 0.87 else "cancelled"
            minutes = rng.choice([30, 30, 45, 60])
            c = Consultation(
                id=new_id(),
                room_id=new_room_id(),
                kind="joint" if rng.random() < 0.85 else "guidance",
                status=status,
                awaiting=None,
                revision=2,
                gp_id=gp.id,
                specialist_id=specialist.id,
                department_id=department_id,
                booked_by_id=gp.id,
                patient_id=patient.id,
                patient_present=True,
                patient_group=GROUP_BY_DEPARTMENT[_department_name(departments, department_id)],
                patient_location=rng.choice(["home", "home", "gp_office", "institution"]),
                purpose=None,
                starts_at=start,
                ends_at=start + timedelta(minutes=minutes),
                municipality_number=next(
                    o.municipality_number for o in offices if o.id == gp.gp_office_id
                ),
                hospital_id=hospital_of[department_id],
                actual_started_at=start + timedelta(minutes=rng.randint(0, 4))
                if status == "completed"
                else None,
                actual_ended_at=start + timedelta(minutes=minutes - rng.randint(0, 10))
                if status == "completed"
                else None,
                created_at=start - timedelta(days=14),
                updated_at=start,
            )
            db.add(c)
            db.add(
                Participant(
                    id=new_id(),
                    consultation_id=c.id,
                    role="gp",
                    user_id=gp.id,
                    name=gp.name,
                    email=gp.email,
                    language="nn",
                    created_at=c.created_at,
                )
            )
            db.add(
                Participant(
                    id=new_id(),
                    consultation_id=c.id,
                    role="specialist",
                    user_id=specialist.id,
                    name=specialist.name,
                    email=specialist.email,
                    language="nn",
                    created_at=c.created_at,
                )
            )
            if c.kind == "joint":
                db.add(
                    Participant(
                        id=new_id(),
                        consultation_id=c.id,
                        role="patient",
                        name=patient.name,
                        language="nn",
                        postal_code=patient.postal_code,
                        created_at=c.created_at,
                    )
                )
                if rng.random() < 0.4:
                    db.add(
                        Participant(
                            id=new_id(),
                            consultation_id=c.id,
                            role="relative",
                            name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                            language="nn",
                            postal_code=patient.postal_code,
                            created_at=c.created_at,
                        )
                    )
            for revision, (action, st) in enumerate(
                [("book", "requested"), ("accept", "confirmed"), (_final_action(status), status)]
            ):
                db.add(
                    ConsultationEvent(
                        consultation_id=c.id,
                        at=c.created_at + timedelta(days=revision),
                        actor_id=None,
                        action=action,
                        status=st,
                        starts_at=c.starts_at,
                        ends_at=c.ends_at,
                        revision=revision,
                    )
                )


def _final_action(status: str) -> str:
    return {"completed": "complete", "no_show": "mark_no_show", "cancelled": "cancel"}[status]


def _department_name(departments: list[Department], department_id: int) -> str:
    return next(d.name for d in departments if d.id == department_id)


async def _coming(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: Clock,
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
            await book(sessionmaker, actor, clock, settings, data)
        except DomainError:
            continue  # a demo seeded on a holiday-heavy week simply gets fewer bookings
