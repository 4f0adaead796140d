"""Builders for test data: a small world of offices, departments, clinicians and patients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.passwords import HashCost, Passwords
from service.storage.models import Department, GpOffice, Hospital, Patient, User, WorkingHours

PASSWORD = "correct horse battery"
# argon2 at production cost takes a quarter of a second per login on the test machine; the
# tests' settings and users hash at the cheapest cost argon2 allows (test_passwords.py checks
# that production's cost is strong and that such hashes are recognised as weak).
TEST_HASH_COST = HashCost(time_cost=1, memory_kib=8, parallelism=1)
_HASH = Passwords(TEST_HASH_COST).hash(PASSWORD)
CREATED = datetime(2025, 1, 1, tzinfo=UTC)
WORKDAY = (time(8, 0), time(16, 0))

Client = TestClient[web.Request, web.Application]


@dataclass
class World:
    haukeland: int
    haraldsplass: int
    geriatrics: int  # department at Haukeland
    psychiatry: int  # department at Haraldsplass
    knarvik: int  # GP office, Alver
    fedje: int  # GP office, Fedje
    gp: int
    gp2: int  # another GP at another office
    specialist: int
    specialist2: int  # same department as `specialist`
    psychiatrist: int  # another department
    coordinator: int
    evaluator: int
    admin: int
    patient: int
    patient2: int
    other_office_patient: int


def _user(email: str, name: str, role: str, **kw: Any) -> User:
    return User(
        email=email,
        name=name,
        role=role,
        password_hash=_HASH,
        language="nn",
        active=True,
        created_at=CREATED,
        **kw,
    )


async def build_world(db: async_sessionmaker[AsyncSession], *, hours: bool = True) -> World:
    async with db() as s, s.begin():
        hk = Hospital(code="haukeland", name="Haukeland universitetssjukehus")
        hp = Hospital(code="haraldsplass", name="Haraldsplass diakonale sykehus")
        s.add_all([hk, hp])
        await s.flush()
        geri = Department(hospital_id=hk.id, name="Geriatrisk seksjon")
        psych = Department(hospital_id=hp.id, name="Psykiatrisk poliklinikk")
        knarvik = GpOffice(name="Knarvik legekontor", municipality_number="4631")
        fedje = GpOffice(name="Fedje legekontor", municipality_number="4633")
        s.add_all([geri, psych, knarvik, fedje])
        await s.flush()
        users = {
            "gp": _user("gp@test.no", "Kari Fastlege", "gp", gp_office_id=knarvik.id),
            "gp2": _user("gp2@test.no", "Ola Fastlege", "gp", gp_office_id=fedje.id),
            "specialist": _user(
                "spes@test.no", "Siri Spesialist", "specialist", department_id=geri.id
            ),
            "specialist2": _user(
                "spes2@test.no", "Per Spesialist", "specialist", department_id=geri.id
            ),
            "psychiatrist": _user(
                "psyk@test.no", "Pia Psykiater", "specialist", department_id=psych.id
            ),
            "coordinator": _user(
                "koord@test.no", "Kim Koordinator", "coordinator", department_id=geri.id
            ),
            "evaluator": _user("eval@test.no", "Eva Evaluator", "evaluator"),
            "admin": _user("admin@test.no", "Adam Admin", "admin"),
        }
        s.add_all(users.values())
        await s.flush()
        if hours:
            for key in ("gp", "gp2", "specialist", "specialist2", "psychiatrist"):
                s.add_all(
                    WorkingHours(
                        user_id=users[key].id, weekday=d, start_time=WORKDAY[0], end_time=WORKDAY[1]
                    )
                    for d in range(5)
                )
        patients = [
            Patient(
                gp_office_id=knarvik.id,
                name="Pasient Ein",
                email="p1@test.no",
                postal_code="5914",
                language="nn",
                created_at=CREATED,
            ),
            Patient(
                gp_office_id=knarvik.id,
                name="Pasient To",
                email="p2@test.no",
                postal_code="5915",
                language="nb",
                created_at=CREATED,
            ),
            Patient(
                gp_office_id=fedje.id,
                name="Pasient Tre",
                postal_code="5947",
                language="nn",
                created_at=CREATED,
            ),
        ]
        s.add_all(patients)
        await s.flush()
        return World(
            haukeland=hk.id,
            haraldsplass=hp.id,
            geriatrics=geri.id,
            psychiatry=psych.id,
            knarvik=knarvik.id,
            fedje=fedje.id,
            gp=users["gp"].id,
            gp2=users["gp2"].id,
            specialist=users["specialist"].id,
            specialist2=users["specialist2"].id,
            psychiatrist=users["psychiatrist"].id,
            coordinator=users["coordinator"].id,
            evaluator=users["evaluator"].id,
            admin=users["admin"].id,
            patient=patients[0].id,
            patient2=patients[1].id,
            other_office_patient=patients[2].id,
        )


EMAILS = {
    "gp": "gp@test.no",
    "gp2": "gp2@test.no",
    "specialist": "spes@test.no",
    "specialist2": "spes2@test.no",
    "psychiatrist": "psyk@test.no",
    "coordinator": "koord@test.no",
    "evaluator": "eval@test.no",
    "admin": "admin@test.no",
}


async def login(client: Client, who: str) -> dict[str, str]:
    """Log in through the API; returns headers carrying the CSRF token for later requests."""
    resp = await client.post("/api/v1/session", json={"email": EMAILS[who], "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    return {"X-CSRF-Token": body["csrf_token"]}


def booking_body(world: World, starts_at: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "department_id": world.geriatrics,
        "specialist_id": world.specialist,
        "patient_id": world.patient,
        "patient_group": "frail_elderly",
        "purpose": "Oppfølging etter innlegging",
        "starts_at": starts_at,
        "duration_minutes": 30,
    }
    body.update(overrides)
    return body
