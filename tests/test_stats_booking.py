"""Travel inputs at booking (stored per participant and as the consultation's anonymous travel
key), the municipality taken from the patient's postal code, and the evaluator kept out of every
consultation, patient and participant endpoint in the route table."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.travel.keys import decode_travel_key
from service.http.api.routes import route_table
from service.storage.models import Consultation, Participant, Patient
from tests.factories import Client, booking_body, build_world, login

SLOT = "2026-01-07T10:00:00+01:00"


async def book(client: Client, headers: dict[str, str], body: dict[str, Any]) -> Any:
    resp = await client.post("/api/v1/consultations", json=body, headers=headers)
    return resp.status, await resp.json()


async def test_travel_inputs_are_stored_and_keyed_without_postal_codes(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    body = booking_body(
        world,
        SLOT,
        patient_id=None,
        patient={"name": "Ny Pasient", "postal_code": "5947"},  # Fedje, not the GP's Alver
        patient_travel={"mode": "boat", "escort": True, "works": True},
        patient_location="gp_office",
        relatives=[
            {
                "name": "Dotter",
                "postal_code": "5282",  # Osterøy
                "travel": {"would_travel": True, "mode": "car", "works": True},
            },
            {"name": "Son"},
        ],
    )
    status, booked = await book(client, gp, body)
    assert status == 201, booked
    async with db() as s:
        c = await s.get(Consultation, booked["id"])
        people = (
            await s.scalars(select(Participant).where(Participant.consultation_id == booked["id"]))
        ).all()
    assert c is not None
    assert c.municipality_number == "4633"
    assert c.relatives_count == 2
    by_name = {p.name: p for p in people}
    patient = by_name["Ny Pasient"]
    assert (patient.would_travel, patient.travel_mode, patient.escort, patient.works) == (
        True,
        "boat",
        True,
        True,
    )
    daughter, son = by_name["Dotter"], by_name["Son"]
    assert (daughter.would_travel, daughter.travel_mode, daughter.works) == (True, "car", True)
    assert (son.would_travel, son.travel_mode, son.escort) == (False, "car", False)
    assert by_name["Kari Fastlege"].would_travel is None

    assert c.travel_key is not None
    assert not re.search(r"\b(5947|5282)\b", c.travel_key)
    facts = decode_travel_key(c.travel_key)
    assert facts.hospital == "haukeland"
    assert facts.patient_location == "gp_office"
    assert facts.local_site_municipality == "4631"  # the GP office's municipality
    assert (facts.patient.municipality, facts.patient.mode, facts.patient.escort) == (
        "4633",
        "boat",
        True,
    )
    assert sorted((r.municipality, r.would_travel) for r in facts.relatives) == [
        ("4630", True),
        ("4633", False),  # no postal code: taken to live with the patient
    ]


async def test_defaults_keep_old_callers_working(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    status, booked = await book(
        client, gp, booking_body(world, SLOT, relatives=[{"name": "Pårørande"}])
    )
    assert status == 201
    async with db() as s:
        c = await s.get(Consultation, booked["id"])
    assert c is not None and c.travel_key is not None and c.municipality_number == "4631"
    facts = decode_travel_key(c.travel_key)
    assert facts.patient.would_travel is True and facts.patient.mode == "car"
    assert [r.would_travel for r in facts.relatives] == [False]
    assert facts.local_site_municipality is None


async def test_guidance_has_no_travel_key(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    status, booked = await book(client, gp, booking_body(world, SLOT, kind="guidance"))
    assert status == 201
    async with db() as s:
        c = await s.get(Consultation, booked["id"])
    assert c is not None and c.travel_key is None and c.municipality_number == "4631"


async def test_unknown_postal_codes_are_refused_with_the_field(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    status, problem = await book(
        client,
        gp,
        booking_body(world, SLOT, patient_id=None, patient={"name": "Oslo", "postal_code": "0150"}),
    )
    assert (status, problem["field"]) == (422, "patient.postal_code")

    status, problem = await book(
        client,
        gp,
        booking_body(
            world,
            SLOT,
            relatives=[{"name": "R", "postal_code": "0150", "travel": {"would_travel": True}}],
        ),
    )
    assert (status, problem["field"]) == (422, "relatives.0.postal_code")
    # A relative from outside who would not have travelled is fine.
    status, _ = await book(
        client, gp, booking_body(world, SLOT, relatives=[{"name": "R", "postal_code": "0150"}])
    )
    assert status == 201

    async with db() as s, s.begin():
        await s.execute(
            update(Patient).where(Patient.id == world.patient2).values(postal_code=None)
        )
    status, problem = await book(
        client,
        gp,
        booking_body(world, "2026-01-08T10:00:00+01:00", patient_id=world.patient2),
    )
    assert (status, problem["field"]) == (422, "patient_id")

    status, problem = await book(
        client, gp, booking_body(world, SLOT, patient_travel={"mode": "helicopter"})
    )
    assert (status, problem["field"]) == (422, "patient_travel.mode")
    async with db() as s:
        count = len((await s.scalars(select(Consultation.id))).all())
    assert count == 1


PERSONAL = ("/consultations", "/patients", "/participants", "/slots", "/specialists")


async def test_evaluator_is_refused_on_every_consultation_and_participant_route(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    status, booked = await book(client, gp, booking_body(world, SLOT))
    assert status == 201
    await client.delete("/api/v1/session", headers=gp)
    evaluator = await login(client, "evaluator")

    bodies: dict[str, Any] = {
        "/consultations": booking_body(world, "2026-01-08T10:00:00+01:00"),
        "/accept": {},
        "/propose": {"starts_at": "2026-01-09T10:00:00+01:00"},
        "/reschedule": {"starts_at": "2026-01-09T10:00:00+01:00"},
        "/cancel": {"reason": "test"},
    }
    checked = 0
    for route in route_table().routes:
        if not any(part in route.path for part in PERSONAL):
            continue
        path = (
            route.path.replace("{consultation_id}", booked["id"])
            .replace("{department_id}", str(world.geriatrics))
            .replace("{participant_id}", booked["participants"][0]["id"])
        )
        body: dict[str, Any] = next(
            (b for suffix, b in bodies.items() if route.path.endswith(suffix)), {}
        )
        params = {"department_id": str(world.geriatrics)} if route.path.endswith("/slots") else {}
        resp = await client.request(
            route.method,
            path,
            json=body if route.method != "GET" else None,
            params=params,
            headers=evaluator,
        )
        assert resp.status == 403, (route.method, route.path, resp.status, await resp.text())
        text = await resp.text()
        assert "Pasient Ein" not in text and booked["id"] not in text
        checked += 1
    assert checked >= 10
    async with db() as s:
        c = await s.get(Consultation, booked["id"])
        count = len((await s.scalars(select(Consultation.id))).all())
    assert c is not None and c.status == "requested" and c.revision == 0
    assert count == 1
