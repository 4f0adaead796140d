"""Booking through the JSON API, on SQLite and PostgreSQL: the happy path, who sees what,
state changes with history, and refusal of every kind of bad input with nothing written."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.storage.models import AuditRecord, Booking, Consultation, Participant, Patient
from tests.factories import Client, booking_body, build_world, login

# Wednesday 7 January 2026, 10:00 in Oslo (UTC+1); the clock stands at Monday 5 January.
SLOT = "2026-01-07T10:00:00+01:00"


async def count(db: async_sessionmaker[AsyncSession], model: type) -> int:
    async with db() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_gp_books_and_specialist_sees_it(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    resp = await client.post(
        "/api/v1/consultations",
        json=booking_body(
            world,
            SLOT,
            relatives=[{"name": "Dotter Ein", "email": "d@test.no"}],
            interpreter={"name": "Tolk Tolkesen", "language": "nb"},
        ),
        headers=gp,
    )
    assert resp.status == 201, await resp.text()
    booked = await resp.json()
    assert booked["status"] == "requested"
    assert booked["awaiting"] == "hospital_side"
    assert booked["starts_at"] == "2026-01-07T10:00:00+01:00"
    assert booked["ends_at"] == "2026-01-07T10:30:00+01:00"
    roles = sorted(p["role"] for p in booked["participants"])
    assert roles == ["gp", "interpreter", "patient", "relative"]
    assert resp.headers["Location"] == f"/api/v1/consultations/{booked['id']}"

    await client.delete("/api/v1/session", headers=gp)
    await login(client, "specialist")
    listed = await (await client.get("/api/v1/consultations")).json()
    assert [c["id"] for c in listed] == [booked["id"]]


async def test_guidance_holds_no_patient_time(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    resp = await client.post(
        "/api/v1/consultations", json=booking_body(world, SLOT, kind="guidance"), headers=gp
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert [p["role"] for p in body["participants"]] == ["gp"]
    async with db() as s:
        resources = set((await s.scalars(select(Booking.resource))).all())
    assert resources == {f"user:{world.gp}", f"user:{world.specialist}"}


async def test_visibility_by_role(client: Client, db: async_sessionmaker[AsyncSession]) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    resp = await client.post("/api/v1/consultations", json=booking_body(world, SLOT), headers=gp)
    cid = (await resp.json())["id"]

    async def as_(who: str) -> tuple[list[str], int]:
        headers = await login(client, who)
        listed = await client.get("/api/v1/consultations")
        one = await client.get(f"/api/v1/consultations/{cid}")
        await client.delete("/api/v1/session", headers=headers)
        ids = [c["id"] for c in await listed.json()] if listed.status == 200 else []
        return ids, one.status

    assert await as_("gp") == ([cid], 200)
    assert await as_("specialist2") == ([cid], 200)  # same department
    assert await as_("coordinator") == ([cid], 200)
    assert await as_("gp2") == ([], 404)  # another GP: as if it did not exist
    assert await as_("psychiatrist") == ([], 404)  # another department
    for role in ("evaluator", "admin"):
        headers = await login(client, role)
        assert (await client.get("/api/v1/consultations")).status == 403
        assert (await client.get(f"/api/v1/consultations/{cid}")).status == 403
        assert (await client.get(f"/api/v1/consultations/{cid}/history")).status == 403
        await client.delete("/api/v1/session", headers=headers)


async def test_every_read_and_change_is_audited(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    cid = (
        await (
            await client.post("/api/v1/consultations", json=booking_body(world, SLOT), headers=gp)
        ).json()
    )["id"]
    await client.get(f"/api/v1/consultations/{cid}")
    await client.get("/api/v1/consultations")
    await client.post(f"/api/v1/consultations/{cid}/cancel", json={}, headers=gp)
    async with db() as s:
        rows = (
            await s.execute(
                select(
                    AuditRecord.action,
                    AuditRecord.actor_id,
                    AuditRecord.actor_role,
                    AuditRecord.consultation_id,
                ).order_by(AuditRecord.id)
            )
        ).all()
    assert [r.action for r in rows] == ["create", "read", "list", "cancel"]
    assert {(r.actor_id, r.actor_role, r.consultation_id) for r in rows} == {(world.gp, "gp", cid)}


async def test_accept_propose_reschedule_cancel_with_history(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    c = await (
        await client.post("/api/v1/consultations", json=booking_body(world, SLOT), headers=gp)
    ).json()
    cid = c["id"]
    # The GP cannot accept their own request: the hospital side is awaited.
    assert (
        await client.post(f"/api/v1/consultations/{cid}/accept", json={}, headers=gp)
    ).status == 403
    await client.delete("/api/v1/session", headers=gp)

    spec = await login(client, "specialist")
    resp = await client.post(
        f"/api/v1/consultations/{cid}/propose",
        json={"starts_at": "2026-01-08T13:00:00+01:00"},
        headers=spec,
    )
    assert resp.status == 200, await resp.text()
    proposed = await resp.json()
    assert (proposed["status"], proposed["awaiting"], proposed["revision"]) == (
        "requested",
        "gp_side",
        1,
    )
    assert proposed["starts_at"] == "2026-01-08T13:00:00+01:00"
    await client.delete("/api/v1/session", headers=spec)

    gp = await login(client, "gp")
    accepted = await (
        await client.post(f"/api/v1/consultations/{cid}/accept", json={}, headers=gp)
    ).json()
    assert (accepted["status"], accepted["revision"]) == ("confirmed", 2)
    moved = await (
        await client.post(
            f"/api/v1/consultations/{cid}/reschedule",
            json={"starts_at": "2026-01-09T09:00:00+01:00", "duration_minutes": 45},
            headers=gp,
        )
    ).json()
    assert (moved["status"], moved["awaiting"], moved["revision"]) == (
        "requested",
        "hospital_side",
        3,
    )
    assert moved["ends_at"] == "2026-01-09T09:45:00+01:00"
    cancelled = await (
        await client.post(
            f"/api/v1/consultations/{cid}/cancel",
            json={"reason": "Pasienten er innlagd"},
            headers=gp,
        )
    ).json()
    assert (cancelled["status"], cancelled["revision"]) == ("cancelled", 4)
    history = await (await client.get(f"/api/v1/consultations/{cid}/history")).json()
    assert [(h["action"], h["revision"]) for h in history] == [
        ("book", 0),
        ("propose_time", 1),
        ("accept", 2),
        ("reschedule", 3),
        ("cancel", 4),
    ]
    # Cancelling frees the time: the same slot can be booked again.
    again = await client.post(
        "/api/v1/consultations", json=booking_body(world, "2026-01-09T09:00:00+01:00"), headers=gp
    )
    assert again.status == 201


async def test_department_request_is_accepted_by_a_specialist(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    body = booking_body(world, SLOT)
    del body["specialist_id"]
    c = await (await client.post("/api/v1/consultations", json=body, headers=gp)).json()
    assert c["specialist_id"] is None
    await client.delete("/api/v1/session", headers=gp)
    coord = await login(client, "coordinator")
    missing = await client.post(f"/api/v1/consultations/{c['id']}/accept", json={}, headers=coord)
    assert missing.status == 422
    assert (await missing.json())["field"] == "specialist_id"
    ok = await client.post(
        f"/api/v1/consultations/{c['id']}/accept",
        json={"specialist_id": world.specialist2},
        headers=coord,
    )
    assert ok.status == 200, await ok.text()
    accepted = await ok.json()
    assert (accepted["status"], accepted["specialist_id"]) == ("confirmed", world.specialist2)


async def test_back_to_back_is_allowed_overlap_is_not(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    first = await client.post("/api/v1/consultations", json=booking_body(world, SLOT), headers=gp)
    assert first.status == 201
    after = await client.post(
        "/api/v1/consultations",
        json=booking_body(world, "2026-01-07T10:30:00+01:00", patient_id=world.patient2),
        headers=gp,
    )
    assert after.status == 201
    overlap = await client.post(
        "/api/v1/consultations",
        json=booking_body(world, "2026-01-07T10:15:00+01:00", patient_id=world.patient2),
        headers=gp,
    )
    assert overlap.status == 409
    problem = await overlap.json()
    assert problem["field"] == "starts_at"
    assert overlap.content_type == "application/problem+json"


async def test_the_database_itself_refuses_overlaps(db: async_sessionmaker[AsyncSession]) -> None:
    """Bypassing the application: the exclusion constraint / trigger still says no."""
    from sqlalchemy.exc import IntegrityError

    from service.storage.models import Consultation as C
    from tests.factories import CREATED

    world = await build_world(db)
    start = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
    async with db() as s, s.begin():
        for cid in ("a" * 32, "b" * 32):
            s.add(
                C(
                    id=cid,
                    room_id=cid,
                    kind="joint",
                    status="confirmed",
                    revision=0,
                    gp_id=world.gp,
                    department_id=world.geriatrics,
                    booked_by_id=world.gp,
                    patient_group="other",
                    patient_location="home",
                    starts_at=start,
                    ends_at=start + timedelta(minutes=30),
                    hospital_id=world.haukeland,
                    created_at=CREATED,
                    updated_at=CREATED,
                )
            )
        await s.flush()
        s.add(
            Booking(
                consultation_id="a" * 32,
                resource="user:1",
                starts_at=start,
                ends_at=start + timedelta(minutes=30),
                active=True,
            )
        )
    with pytest.raises(IntegrityError, match="bookings_no_overlap"):
        async with db() as s, s.begin():
            s.add(
                Booking(
                    consultation_id="b" * 32,
                    resource="user:1",
                    starts_at=start + timedelta(minutes=29),
                    ends_at=start + timedelta(minutes=59),
                    active=True,
                )
            )
    async with db() as s, s.begin():
        # Inactive (cancelled) and back-to-back bookings are fine.
        s.add(
            Booking(
                consultation_id="b" * 32,
                resource="user:1",
                starts_at=start,
                ends_at=start + timedelta(minutes=30),
                active=False,
            )
        )
        s.add(
            Booking(
                consultation_id="b" * 32,
                resource="user:1",
                starts_at=start + timedelta(minutes=30),
                ends_at=start + timedelta(minutes=60),
                active=True,
            )
        )


BAD_INPUTS = [
    pytest.param({"starts_at": "2026-01-07T10:00:00"}, 422, "starts_at", id="naive-time"),
    pytest.param({"starts_at": "not a time"}, 422, "starts_at", id="wrong-type-time"),
    pytest.param({"department_id": "geriatri"}, 422, "department_id", id="wrong-type-id"),
    pytest.param({"department_id": 9999}, 404, "department_id", id="unknown-department"),
    pytest.param({"specialist_id": 9999}, 404, "specialist_id", id="unknown-specialist"),
    pytest.param({"patient_id": 9999}, 404, "patient_id", id="unknown-patient"),
    pytest.param({"starts_at": "2026-01-02T10:00:00+01:00"}, 422, "starts_at", id="in-the-past"),
    pytest.param({"starts_at": "2026-01-07T19:00:00+01:00"}, 422, "starts_at", id="after-hours"),
    pytest.param({"starts_at": "2026-01-10T10:00:00+01:00"}, 422, "starts_at", id="saturday"),
    pytest.param({"duration_minutes": -30}, 422, "duration_minutes", id="end-before-start"),
    pytest.param({"patient_group": "vip"}, 422, "patient_group", id="unknown-group"),
    pytest.param({"unexpected": 1}, 422, "unexpected", id="unknown-field"),
    pytest.param(
        {
            "patient_id": None,
            "patient": {"name": "Ny Pasient", "postal_code": "5914", "fnr": "01010112345"},
        },
        422,
        "patient.fnr",
        id="invalid-fnr",
    ),
    pytest.param(
        {"patient_id": None, "patient": {"name": "Ny Pasient", "postal_code": "59"}},
        422,
        "patient.postal_code",
        id="bad-postal-code",
    ),
    pytest.param({"patient_id": None}, 422, "patient", id="no-patient"),
]


@pytest.mark.parametrize(("change", "status", "field"), BAD_INPUTS)
async def test_bad_booking_input_is_refused_and_nothing_written(
    client: Client,
    db: async_sessionmaker[AsyncSession],
    change: dict[str, object],
    status: int,
    field: str,
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    patients_before = await count(db, Patient)
    resp = await client.post(
        "/api/v1/consultations", json={**booking_body(world, SLOT), **change}, headers=gp
    )
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    problem = await resp.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert problem["status"] == status
    assert problem["field"] == field
    assert await count(db, Consultation) == 0
    assert await count(db, Participant) == 0
    assert await count(db, Booking) == 0
    assert await count(db, Patient) == patients_before


async def test_malformed_json_and_oversized_body(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    gp = await login(client, "gp")
    headers = {**gp, "Content-Type": "application/json"}
    bad = await client.post("/api/v1/consultations", data=b'{"kind": "joint",', headers=headers)
    assert bad.status == 400
    assert (await bad.json())["title"] == "Malformed JSON"
    not_object = await client.post("/api/v1/consultations", data=b"[1, 2]", headers=headers)
    assert not_object.status == 422
    assert (await not_object.json())["detail"] == "The body must be a JSON object."
    for broken in (b"[" * 100_000 + b"]" * 100_000, b'{"purpose": "\xff"}', b""):
        resp = await client.post("/api/v1/consultations", data=broken, headers=headers)
        assert resp.status in (400, 422), await resp.text()
        assert (await resp.json())["field"] == "body"
    huge = io.BytesIO(json.dumps({"purpose": "x" * (1024 * 1024 + 10)}).encode())
    too_big = await client.post("/api/v1/consultations", data=huge, headers=headers)
    assert too_big.status == 413
    assert too_big.content_type == "application/problem+json"
    form = await client.post(
        "/api/v1/consultations", data="a=b", headers={**gp, "Content-Type": "text/plain"}
    )
    assert form.status == 415
    assert await count(db, Consultation) == 0


async def test_lookups_and_flags_answer_clearly(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    """An unknown department is a 404 wherever it is named; a flag is true or false; a missing
    patient is named as such; aiohttp's own 404 and 405 say something useful."""
    world = await build_world(db)
    gp = await login(client, "gp")
    resp = await client.get("/api/v1/departments/999/specialists")
    assert resp.status == 404 and (await resp.json())["field"] == "department_id"
    assert (await client.get(f"/api/v1/departments/{world.geriatrics}/specialists")).status == 200
    resp = await client.get("/api/v1/consultations", params={"upcoming": "maybe"})
    assert resp.status == 422 and (await resp.json())["field"] == "upcoming"
    assert (await client.get("/api/v1/consultations", params={"upcoming": "true"})).status == 200
    body = booking_body(world, SLOT)
    del body["patient_id"]
    resp = await client.post("/api/v1/consultations", json=body, headers=gp)
    assert resp.status == 422
    assert (await resp.json())["field"] == "patient"
    assert "not both" not in (await resp.json())["detail"]
    missing = await client.get("/api/v1/nowhere")
    assert missing.status == 404 and "openapi.json" in (await missing.json())["detail"]
    wrong = await client.delete("/api/v1/departments", headers=gp)
    assert wrong.status == 405 and "method" in (await wrong.json())["detail"]


async def test_the_api_takes_json_types_as_they_are(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    """`true` is not department 1 and `"11"` is not specialist 11: no coercion of JSON types."""
    world = await build_world(db)
    gp = await login(client, "gp")
    for field, value in [
        ("department_id", True),
        ("specialist_id", str(world.specialist)),
        ("duration_minutes", "30"),
        ("duration_minutes", 30.5),
        ("purpose", "Oppfølging\x00"),  # PostgreSQL text cannot hold NUL
    ]:
        body = {**booking_body(world, SLOT), field: value}
        resp = await client.post("/api/v1/consultations", json=body, headers=gp)
        assert resp.status == 422, (field, value, await resp.text())
        assert (await resp.json())["field"] == field
    assert await count(db, Consultation) == 0


async def test_rescheduling_to_a_taken_time_changes_nothing(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    a = await (
        await client.post("/api/v1/consultations", json=booking_body(world, SLOT), headers=gp)
    ).json()
    await client.post(
        "/api/v1/consultations",
        json=booking_body(world, "2026-01-07T11:00:00+01:00", patient_id=world.patient2),
        headers=gp,
    )
    clash = await client.post(
        f"/api/v1/consultations/{a['id']}/reschedule",
        json={"starts_at": "2026-01-07T11:00:00+01:00"},
        headers=gp,
    )
    assert clash.status == 409
    after = await (await client.get(f"/api/v1/consultations/{a['id']}")).json()
    assert (after["starts_at"], after["revision"]) == (a["starts_at"], 0)


async def test_absence_blocks_booking(client: Client, db: async_sessionmaker[AsyncSession]) -> None:
    world = await build_world(db)
    spec = await login(client, "specialist")
    wrong = await client.post(
        "/api/v1/me/exceptions",
        json={"starts_at": "2026-01-07T12:00:00+01:00", "ends_at": "2026-01-07T08:00:00+01:00"},
        headers=spec,
    )
    assert wrong.status == 422
    assert (await wrong.json())["field"] == "ends_at"
    ok = await client.post(
        "/api/v1/me/exceptions",
        json={
            "starts_at": "2026-01-07T00:00:00+01:00",
            "ends_at": "2026-01-08T00:00:00+01:00",
            "reason": "holiday",
        },
        headers=spec,
    )
    assert ok.status == 201
    await client.delete("/api/v1/session", headers=spec)
    gp = await login(client, "gp")
    resp = await client.post("/api/v1/consultations", json=booking_body(world, SLOT), headers=gp)
    assert resp.status == 422
    assert (await resp.json())["field"] == "starts_at"


async def test_working_hours_round_trip(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db, hours=False)
    spec = await login(client, "specialist")
    week = {
        "hours": [
            {"weekday": 0, "start": "08:00", "end": "11:30"},
            {"weekday": 0, "start": "12:00", "end": "15:00"},
        ]
    }
    assert (await client.put("/api/v1/me/working-hours", json=week, headers=spec)).status == 200
    got = await (await client.get("/api/v1/me/working-hours")).json()
    assert got == [
        {"weekday": 0, "start": "08:00", "end": "11:30"},
        {"weekday": 0, "start": "12:00", "end": "15:00"},
    ]
    overlapping = {
        "hours": [
            {"weekday": 1, "start": "08:00", "end": "12:00"},
            {"weekday": 1, "start": "11:00", "end": "15:00"},
        ]
    }
    assert (
        await client.put("/api/v1/me/working-hours", json=overlapping, headers=spec)
    ).status == 422
    assert len(await (await client.get("/api/v1/me/working-hours")).json()) == 2
    for end in ("24:30", "25:00", "24:01"):  # past the end of the day
        bad = {"hours": [{"weekday": 2, "start": "08:00", "end": end}]}
        resp = await client.put("/api/v1/me/working-hours", json=bad, headers=spec)
        assert resp.status == 422, (end, await resp.text())
    assert len(await (await client.get("/api/v1/me/working-hours")).json()) == 2
    whole_day = {"hours": [{"weekday": 2, "start": "00:00", "end": "24:00"}]}
    resp = await client.put("/api/v1/me/working-hours", json=whole_day, headers=spec)
    assert resp.status == 200


async def test_clock_moves_do_not_change_what_was_booked(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    await client.post("/api/v1/consultations", json=booking_body(world, SLOT), headers=gp)
    clock.advance(timedelta(days=3))  # the slot is now in the past
    listed = await (await client.get("/api/v1/consultations?upcoming=true")).json()
    assert listed == []
    everything = await (await client.get("/api/v1/consultations")).json()
    assert len(everything) == 1


async def test_hospital_side_proposes_a_new_time_for_a_confirmed_consultation(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    cid = (
        await (
            await client.post("/api/v1/consultations", json=booking_body(world, SLOT), headers=gp)
        ).json()
    )["id"]
    await client.delete("/api/v1/session", headers=gp)
    spec = await login(client, "specialist")
    await client.post(f"/api/v1/consultations/{cid}/accept", json={}, headers=spec)
    resp = await client.post(
        f"/api/v1/consultations/{cid}/propose",
        json={"starts_at": "2026-01-09T13:00:00+01:00"},
        headers=spec,
    )
    assert resp.status == 200, await resp.text()
    moved = await resp.json()
    assert (moved["status"], moved["awaiting"], moved["revision"]) == ("requested", "gp_side", 2)


async def test_the_list_keeps_coming_consultations_however_many_are_past(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    """A year of history must not push the coming consultations out of a limited list."""
    world = await build_world(db)
    gp = await login(client, "gp")
    first = await client.post("/api/v1/consultations", json=booking_body(world, SLOT), headers=gp)
    assert first.status == 201
    clock.advance(timedelta(days=7))  # now Monday 12 January
    later = await client.post(
        "/api/v1/consultations",
        json=booking_body(world, "2026-01-14T10:00:00+01:00"),
        headers=gp,
    )
    assert later.status == 201
    upcoming = await (await client.get("/api/v1/consultations?upcoming=true")).json()
    assert [c["starts_at"] for c in upcoming] == ["2026-01-14T10:00:00+01:00"]
    everything = await (await client.get("/api/v1/consultations")).json()
    assert [c["starts_at"] for c in everything] == [
        "2026-01-14T10:00:00+01:00",
        "2026-01-07T10:00:00+01:00",
    ]


async def test_a_new_patient_is_recognised_by_fodselsnummer(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    """Booked as new twice, by the same GP office: one patient. Other details than those stored
    are refused (409 naming the stored patient) until the booking says to update them; the
    number itself is not stored. Another office's GP cannot book (or change) them."""
    world = await build_world(db)
    before = await count(db, Patient)
    gp = await login(client, "gp")

    def body(starts_at: str, email: str, **more: object) -> dict[str, object]:
        new = {"name": "Ny Pasient", "postal_code": "5914", "fnr": "31129956715", "email": email}
        return booking_body(world, starts_at, patient_id=None, patient=new, **more)

    first = await client.post("/api/v1/consultations", json=body(SLOT, "forst@test.no"), headers=gp)
    assert first.status == 201, await first.text()
    stored_id = (await first.json())["patient_id"]
    same = await client.post(
        "/api/v1/consultations", json=body("2026-01-12T10:00:00+01:00", "forst@test.no"), headers=gp
    )
    assert same.status == 201, await same.text()  # nothing would change: no question
    refused = await client.post(
        "/api/v1/consultations", json=body("2026-01-08T10:00:00+01:00", "sidan@test.no"), headers=gp
    )
    assert refused.status == 409, await refused.text()
    problem = await refused.json()
    assert problem["patient_id"] == stored_id
    assert problem["type"].endswith("/patient-exists") and problem["field"] == "patient.fnr"
    async with db() as s:
        unchanged = await s.get(Patient, stored_id)
    assert unchanged is not None and unchanged.email == "forst@test.no"
    again = await client.post(
        "/api/v1/consultations",
        json=body("2026-01-08T10:00:00+01:00", "sidan@test.no", update_existing_patient=True),
        headers=gp,
    )
    assert again.status == 201, await again.text()
    assert (await first.json())["patient_id"] == (await again.json())["patient_id"]
    assert await count(db, Patient) == before + 1
    async with db() as s:
        patient = await s.get(Patient, stored_id)
    assert patient is not None and patient.email == "sidan@test.no"  # updated, and committed
    assert patient.fnr_hash and "31129956715" not in patient.fnr_hash

    await client.delete("/api/v1/session", headers=gp)
    other = await login(client, "gp2")
    body2 = body("2026-01-09T10:00:00+01:00", "x@test.no")
    resp = await client.post("/api/v1/consultations", json=body2, headers=other)
    assert resp.status == 403 and (await resp.json())["field"] == "patient"
    async with db() as s:
        unchanged = await s.get(Patient, patient.id)
    assert unchanged is not None and unchanged.email == "sidan@test.no"
    assert await count(db, Consultation) == 3


async def test_a_registered_patient_gets_an_email_and_mobile_while_booking(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    contact = {"email": "ny.adresse@test.no", "phone": "+4791234567"}
    resp = await client.post(
        "/api/v1/consultations",
        json=booking_body(world, SLOT, patient_contact=contact),
        headers=gp,
    )
    assert resp.status == 201, await resp.text()
    async with db() as s:
        patient = await s.get(Patient, world.patient)
    assert patient is not None
    assert (patient.email, patient.phone) == ("ny.adresse@test.no", "+4791234567")
    booked = await resp.json()
    (row,) = [p for p in booked["participants"] if p["role"] == "patient"]
    assert row["email"] == "ny.adresse@test.no"

    new = {"name": "Ny Pasient", "postal_code": "5914"}
    resp = await client.post(
        "/api/v1/consultations",
        json=booking_body(
            world,
            "2026-01-08T10:00:00+01:00",
            patient_id=None,
            patient=new,
            patient_contact=contact,
        ),
        headers=gp,
    )
    assert resp.status == 422 and (await resp.json())["field"] == "patient_contact"
