"""Common free slots through the API, including across the clock changes of 2026."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.storage.models import User
from tests.factories import Client, booking_body, build_world, login


async def _slots(client: Client, world_department: int, **params: object) -> list[dict[str, str]]:
    query = "&".join(f"{k}={v}" for k, v in {"department_id": world_department, **params}.items())
    resp = await client.get(f"/api/v1/slots?{query}")
    assert resp.status == 200, await resp.text()
    return list(await resp.json())


async def test_slots_skip_busy_times_and_respect_hours(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    await client.post(
        "/api/v1/consultations", json=booking_body(world, "2026-01-07T10:00:00+01:00"), headers=gp
    )
    slots = await _slots(
        client, world.geriatrics, specialist_id=world.specialist, patient_id=world.patient2, days=7
    )
    starts = [s["starts_at"] for s in slots]
    # Monday: the clock stands at 09:00 Oslo, so the first free start is 09:00.
    assert starts[0] == "2026-01-05T09:00:00+01:00"
    wednesday = [s for s in starts if s.startswith("2026-01-07")]
    assert "2026-01-07T09:30:00+01:00" in wednesday
    assert "2026-01-07T09:45:00+01:00" not in wednesday  # would run into the 10:00 booking
    assert "2026-01-07T10:15:00+01:00" not in wednesday
    assert "2026-01-07T10:30:00+01:00" in wednesday  # back-to-back
    assert wednesday[-1] == "2026-01-07T15:30:00+01:00"  # last 30 minutes before 16:00
    assert not [s for s in starts if s.startswith(("2026-01-10", "2026-01-11"))]  # weekend


async def test_slots_around_the_march_and_october_clock_changes(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    world = await build_world(db)
    await login(client, "gp")
    clock.set(datetime(2026, 3, 26, 12, 0, tzinfo=UTC))
    spring = await _slots(
        client,
        world.geriatrics,
        specialist_id=world.specialist,
        **{"from": "2026-03-27T00:00:00%2B01:00", "days": 4},
    )
    friday = [s["starts_at"] for s in spring if s["starts_at"].startswith("2026-03-27")]
    monday = [s["starts_at"] for s in spring if s["starts_at"].startswith("2026-03-30")]
    assert friday[0] == "2026-03-27T08:00:00+01:00"
    assert monday[0] == "2026-03-30T08:00:00+02:00"  # still 08:00 on the wall clock
    assert monday[-1] == "2026-03-30T15:30:00+02:00"
    assert len(friday) == len(monday) == 31

    clock.set(datetime(2026, 10, 22, 12, 0, tzinfo=UTC))
    autumn = await _slots(
        client,
        world.geriatrics,
        specialist_id=world.specialist,
        **{"from": "2026-10-23T00:00:00%2B02:00", "days": 4},
    )
    friday = [s["starts_at"] for s in autumn if s["starts_at"].startswith("2026-10-23")]
    monday = [s["starts_at"] for s in autumn if s["starts_at"].startswith("2026-10-26")]
    assert friday[0] == "2026-10-23T08:00:00+02:00"
    assert monday[0] == "2026-10-26T08:00:00+01:00"
    assert len(friday) == len(monday) == 31


async def test_slots_are_as_long_as_asked(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    await login(client, "gp")

    async def monday(**params: object) -> list[dict[str, str]]:
        found = await _slots(
            client, world.geriatrics, specialist_id=world.specialist, days=1, **params
        )
        return [s for s in found if s["starts_at"].startswith("2026-01-05")]

    hour, default = await monday(duration_minutes=60), await monday()
    assert hour[0] == {
        "starts_at": "2026-01-05T09:00:00+01:00",
        "ends_at": "2026-01-05T10:00:00+01:00",
    }
    assert hour[-1]["ends_at"] == "2026-01-05T16:00:00+01:00"
    assert default[0]["ends_at"] == "2026-01-05T09:30:00+01:00"  # 30 minutes unless asked
    assert len(default) == len(hour) + 2  # two more 15-minute steps fit before 16:00


async def test_department_slots_union_of_its_specialists(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    # Specialist 1 busy at 10:00; the department still offers 10:00 through specialist 2.
    await client.post(
        "/api/v1/consultations", json=booking_body(world, "2026-01-07T10:00:00+01:00"), headers=gp
    )
    named = await _slots(
        client, world.geriatrics, specialist_id=world.specialist, days=3, patient_id=world.patient2
    )
    department = await _slots(client, world.geriatrics, days=3, patient_id=world.patient2)
    assert "2026-01-07T10:00:00+01:00" not in [s["starts_at"] for s in named]
    # ...except that the GP is busy at 10:00 too, so it is not offered at all.
    assert "2026-01-07T10:00:00+01:00" not in [s["starts_at"] for s in department]
    assert len(department) >= len(named)


async def test_slot_query_errors(client: Client, db: async_sessionmaker[AsyncSession]) -> None:
    world = await build_world(db)
    await login(client, "gp")
    for query, field in [
        ("", "department_id"),
        ("department_id=x", "department_id"),
        (f"department_id={world.geriatrics}&days=0", "days"),
        (f"department_id={world.geriatrics}&duration_minutes=9", "duration_minutes"),
        (f"department_id={world.geriatrics}&duration_minutes=181", "duration_minutes"),
        (f"department_id={world.geriatrics}&duration_minutes=half", "duration_minutes"),
        (f"department_id={world.geriatrics}&duration=60", "duration"),  # not silently 30
        (f"department_id={world.geriatrics}&from=yesterday", "from"),
        (f"department_id={world.geriatrics}&patient_id={world.other_office_patient}", "patient_id"),
        # The department, specialist and patient are looked up together: each still answers.
        ("department_id=9999&specialist_id=9999&patient_id=9999", "department_id"),
        (f"department_id={world.geriatrics}&specialist_id=9999", "specialist_id"),
        (f"department_id={world.geriatrics}&specialist_id={world.psychiatrist}", "specialist_id"),
        (f"department_id={world.geriatrics}&specialist_id={world.gp}", "specialist_id"),
        (f"department_id={world.geriatrics}&patient_id=9999", "patient_id"),
        (
            f"department_id={world.geriatrics}&specialist_id=9999&patient_id=9999",
            "specialist_id",
        ),
        (f"department_id={world.geriatrics}&days=x", "days"),
        (f"department_id={world.geriatrics}&days=-1", "days"),
        (f"department_id={world.geriatrics}&days=57", "days"),
    ]:
        resp = await client.get(f"/api/v1/slots?{query}")
        assert resp.status in (404, 422), query
        problem = await resp.json()
        assert problem["field"] == field
        if field == "days":  # the bounds that hold, not those of an id
            assert problem["detail"] == "days must be a whole number from 1 to 56."


async def test_slot_search_does_not_wait_for_a_writer(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    await login(client, "gp")
    async with db() as writer, writer.begin():
        # A booking in progress elsewhere: it holds the write lock (SQLite) until this block ends.
        await writer.execute(update(User).where(User.id == world.gp).values(language="nb"))
        slots = await asyncio.wait_for(
            _slots(client, world.geriatrics, specialist_id=world.specialist, days=7), timeout=10
        )
    assert slots


async def test_public_holidays_are_closed_around_easter_and_17_may(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    world = await build_world(db)

    async def days_offered(start: str, days: int) -> set[str]:
        slots = await _slots(
            client,
            world.geriatrics,
            specialist_id=world.specialist,
            **{"from": f"{start}T00:00:00%2B01:00", "days": days},
        )
        return {s["starts_at"][:10] for s in slots}

    async def book_at(starts_at: str) -> int:
        body = booking_body(world, starts_at)
        resp = await client.post("/api/v1/consultations", json=body, headers=gp)
        return resp.status

    # Sessions run out over the jumps of the clock: log in anew after each.

    # Easter 2027: Maundy Thursday 25 March to Easter Monday 29 March.
    clock.set(datetime(2027, 3, 15, 8, 0, tzinfo=UTC))
    gp = await login(client, "gp")
    offered = await days_offered("2027-03-24", 7)
    assert offered == {"2027-03-24", "2027-03-30"}
    assert await book_at("2027-03-25T10:00:00+01:00") == 422
    assert await book_at("2027-03-29T10:00:00+02:00") == 422
    assert await book_at("2027-03-24T10:00:00+01:00") == 201
    assert await book_at("2027-03-30T10:00:00+02:00") == 201

    # 17 May 2027 is a Monday (and Whit Monday too); Friday before and Tuesday after are open.
    clock.set(datetime(2027, 5, 3, 8, 0, tzinfo=UTC))
    gp = await login(client, "gp")
    offered = await days_offered("2027-05-14", 5)
    assert offered == {"2027-05-14", "2027-05-18"}
    resp = await client.post(
        "/api/v1/consultations",
        json=booking_body(world, "2027-05-17T10:00:00+02:00"),
        headers=gp,
    )
    assert resp.status == 422
    assert (await resp.json())["field"] == "starts_at"
    assert await book_at("2027-05-14T10:00:00+02:00") == 201
    assert await book_at("2027-05-18T10:00:00+02:00") == 201

    # Christmas Eve and Christmas Day 2026 offer nothing.
    clock.set(datetime(2026, 12, 14, 8, 0, tzinfo=UTC))
    gp = await login(client, "gp")
    assert await days_offered("2026-12-23", 6) == {"2026-12-23", "2026-12-28"}


async def test_no_proposal_or_move_lands_on_a_public_holiday(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    world = await build_world(db)
    clock.set(datetime(2027, 3, 15, 8, 0, tzinfo=UTC))
    gp = await login(client, "gp")
    resp = await client.post(
        "/api/v1/consultations", json=booking_body(world, "2027-03-24T10:00:00+01:00"), headers=gp
    )
    assert resp.status == 201, await resp.text()
    cid = (await resp.json())["id"]
    spec = await login(client, "specialist")
    resp = await client.post(
        f"/api/v1/consultations/{cid}/propose",
        json={"starts_at": "2027-03-26T10:00:00+01:00"},
        headers=spec,
    )
    assert resp.status == 422, await resp.text()
    gp = await login(client, "gp")
    resp = await client.post(
        f"/api/v1/consultations/{cid}/reschedule",
        json={"starts_at": "2027-03-29T10:00:00+02:00"},
        headers=gp,
    )
    assert resp.status == 422, await resp.text()
