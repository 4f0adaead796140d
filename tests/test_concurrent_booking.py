"""Concurrent attempts at one time: exactly one wins, the rest get 409, on both databases."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from service.storage.models import (
    AuditRecord,
    Booking,
    Consultation,
    ConsultationEvent,
    GpOffice,
    Participant,
    Patient,
    User,
    WorkingHours,
)
from tests.factories import _HASH, CREATED, PASSWORD, WORKDAY, Client, booking_body, build_world

N = 20


async def _extra_gps(
    db: async_sessionmaker[AsyncSession], office_id: int, n: int
) -> list[tuple[str, int]]:
    """n GPs at one office, each with a patient of their own, so only the specialist is shared."""
    result = []
    async with db() as s, s.begin():
        for i in range(n):
            user = User(
                email=f"gp{i}@conc.no",
                name=f"Fastlege {i}",
                role="gp",
                password_hash=_HASH,
                gp_office_id=office_id,
                language="nn",
                active=True,
                created_at=CREATED,
            )
            patient = Patient(
                gp_office_id=office_id,
                name=f"Pasient {i}",
                postal_code="5914",
                language="nn",
                created_at=CREATED,
            )
            s.add_all([user, patient])
            await s.flush()
            s.add_all(
                WorkingHours(user_id=user.id, weekday=d, start_time=WORKDAY[0], end_time=WORKDAY[1])
                for d in range(5)
            )
            result.append((user.email, patient.id))
    return result


async def _session_for(
    aiohttp_client: object, app_factory: object, email: str
) -> tuple[Client, dict[str, str]]:
    client: Client = await aiohttp_client(app_factory)  # type: ignore[operator]
    resp = await client.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert resp.status == 200
    return client, {"X-CSRF-Token": (await resp.json())["csrf_token"]}


async def test_twenty_gps_race_for_one_specialist(
    aiohttp_client: object, client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gps = await _extra_gps(db, world.knarvik, N)
    server = client.server
    sessions = []
    for email, patient_id in gps:
        c: Client = await aiohttp_client(server)  # type: ignore[operator]
        resp = await c.post("/api/v1/session", json={"email": email, "password": PASSWORD})
        sessions.append((c, {"X-CSRF-Token": (await resp.json())["csrf_token"]}, patient_id))
    # Overlapping but different start times, so the application's pre-check cannot tell them
    # apart from a legitimate booking until one of them has committed.
    starts = [f"2026-01-07T10:{m:02d}:00+01:00" for m in (0, 5, 10, 15, 20) * 4]
    results = await asyncio.gather(
        *(
            c.post(
                "/api/v1/consultations", json=booking_body(world, start, patient_id=pid), headers=h
            )
            for (c, h, pid), start in zip(sessions, starts, strict=True)
        )
    )
    statuses = sorted(r.status for r in results)
    assert statuses == [201] + [409] * (N - 1)
    async with db() as s:
        held = await s.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.resource == f"user:{world.specialist}", Booking.active.is_(True))
        )
        # The refused bookings left nothing behind: one consultation, with its own rows only.
        rows = [
            await s.scalar(select(func.count()).select_from(model))
            for model in (Consultation, Participant, Booking, ConsultationEvent, AuditRecord)
        ]
    assert held == 1
    assert rows == [1, 2, 3, 1, 1]  # gp + patient; gp, patient and specialist held; book; create


async def test_one_patient_with_two_specialists_races(
    aiohttp_client: object, client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gps = await _extra_gps(db, world.knarvik, N)
    sessions = []
    for email, _ in gps:
        c: Client = await aiohttp_client(client.server)  # type: ignore[operator]
        resp = await c.post("/api/v1/session", json={"email": email, "password": PASSWORD})
        sessions.append((c, {"X-CSRF-Token": (await resp.json())["csrf_token"]}))
    # Each GP books the same patient, alternating between two specialists: only the patient
    # is common to every pair of requests.
    results = await asyncio.gather(
        *(
            c.post(
                "/api/v1/consultations",
                json=booking_body(
                    world,
                    f"2026-01-07T10:{(i % 4) * 5:02d}:00+01:00",
                    patient_id=world.patient,
                    specialist_id=world.specialist if i % 2 else world.specialist2,
                ),
                headers=h,
            )
            for i, (c, h) in enumerate(sessions)
        )
    )
    assert sorted(r.status for r in results) == [201] + [409] * (N - 1)
    async with db() as s:
        held = await s.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.resource == f"patient:{world.patient}", Booking.active.is_(True))
        )
    assert held == 1
    office = await _office(db, world.knarvik)
    assert office.municipality_number == "4631"


async def _office(db: async_sessionmaker[AsyncSession], office_id: int) -> GpOffice:
    async with db() as s:
        office = await s.get(GpOffice, office_id)
    assert office is not None
    return office


def _half_hours(count: int) -> list[str]:
    """`count` half-hour starts in working hours from Tuesday 6 January 2026 on (Oslo)."""
    days = ["2026-01-06", "2026-01-07", "2026-01-08", "2026-01-09", "2026-01-12"]
    starts = [f"{d}T{8 + n // 2:02d}:{30 * (n % 2):02d}:00+01:00" for d in days for n in range(16)]
    return starts[:count]


async def test_fifty_bookings_of_one_new_patient_at_once(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    """The same new patient (one fødselsnummer) in 50 bookings at once: one writes the patient,
    the others find that row; no request fails (before, PostgreSQL answered most with 500)."""
    world = await build_world(db)
    resp = await client.post("/api/v1/session", json={"email": "gp@test.no", "password": PASSWORD})
    headers = {"X-CSRF-Token": (await resp.json())["csrf_token"]}
    new_patient = {"name": "Ny Pasient", "postal_code": "5914", "fnr": "31129956715"}
    results = await asyncio.gather(
        *(
            client.post(
                "/api/v1/consultations",
                json=booking_body(world, start, patient_id=None, patient=new_patient),
                headers=headers,
            )
            for start in _half_hours(50)
        )
    )
    statuses = [r.status for r in results]
    assert statuses.count(201) == 50, sorted(statuses)
    patient_ids = {(await r.json())["patient_id"] for r in results}
    assert len(patient_ids) == 1
    async with db() as s:
        patients = await s.scalar(
            select(func.count()).select_from(Patient).where(Patient.fnr_hash.is_not(None))
        )
        consultations = await s.scalar(select(func.count()).select_from(Consultation))
    assert (patients, consultations) == (1, 50)


async def _overlaps(db: async_sessionmaker[AsyncSession]) -> int:
    """Pairs of active held times of one resource that overlap (the guard allows none)."""
    other = aliased(Booking)
    async with db() as s:
        found = await s.scalar(
            select(func.count())
            .select_from(Booking)
            .join(
                other,
                (other.resource == Booking.resource)
                & (other.id > Booking.id)
                & other.active.is_(True)
                & (other.starts_at < Booking.ends_at)
                & (other.ends_at > Booking.starts_at),
            )
            .where(Booking.active.is_(True))
        )
    return int(found or 0)


async def test_accepts_reschedules_and_bookings_race_for_one_specialist(
    aiohttp_client: object, client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    """The coordinator assigns one specialist to six requests while four of that specialist's
    confirmed consultations are moved onto the same morning and ten GPs book it: every answer
    is a success or a 409 (before, PostgreSQL answered some with 500 for deadlocks)."""
    world = await build_world(db)
    gps = await _extra_gps(db, world.knarvik, 20)
    sessions = []
    for email, patient_id in gps:
        c, h = await _session_for(aiohttp_client, client.server, email)
        sessions.append((c, h, patient_id))
    coordinator, coordinator_h = await _session_for(aiohttp_client, client.server, "koord@test.no")
    specialist, specialist_h = await _session_for(aiohttp_client, client.server, "spes@test.no")

    async def book(i: int, start: str, specialist_id: int | None) -> str:
        c, h, pid = sessions[i]
        body = booking_body(world, start, patient_id=pid, specialist_id=specialist_id)
        resp = await c.post("/api/v1/consultations", json=body, headers=h)
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["id"])

    wednesday = [f"2026-01-07T{10 + m // 60:02d}:{m % 60:02d}:00+01:00" for m in range(0, 120, 20)]
    requests = [await book(i, start, None) for i, start in enumerate(wednesday)]
    confirmed = []
    for i in range(4):
        cid = await book(6 + i, f"2026-01-08T{10 + i}:00:00+01:00", world.specialist)
        resp = await specialist.post(
            f"/api/v1/consultations/{cid}/accept", json={}, headers=specialist_h
        )
        assert resp.status == 200, await resp.text()
        confirmed.append(cid)
    moves = [f"2026-01-07T{10 + m // 60:02d}:{m % 60:02d}:00+01:00" for m in (10, 30, 50, 70)]
    races = [
        *(
            coordinator.post(
                f"/api/v1/consultations/{cid}/accept",
                json={"specialist_id": world.specialist},
                headers=coordinator_h,
            )
            for cid in requests
        ),
        *(
            sessions[6 + i][0].post(
                f"/api/v1/consultations/{cid}/reschedule",
                json={"starts_at": start},
                headers=sessions[6 + i][1],
            )
            for i, (cid, start) in enumerate(zip(confirmed, moves, strict=True))
        ),
        *(
            sessions[10 + i][0].post(
                "/api/v1/consultations",
                json=booking_body(
                    world,
                    f"2026-01-07T10:{5 * i:02d}:00+01:00",
                    patient_id=sessions[10 + i][2],
                ),
                headers=sessions[10 + i][1],
            )
            for i in range(10)
        ),
    ]
    results = await asyncio.gather(*races)
    statuses = [r.status for r in results]
    assert all(s in (200, 201, 409) for s in statuses), sorted(statuses)
    for r in results:
        if r.status == 409:
            assert (await r.json())["status"] == 409
    assert any(s in (200, 201) for s in statuses)
    assert await _overlaps(db) == 0
