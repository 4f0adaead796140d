"""Input at the edges, found by trying the product as a newcomer: numbers too large to name a
row, a multipart body that breaks while it is read, and years outside the statistics' calendar
get a clear 4xx (problem details or a readable page), never a 500; the equipment test page
follows the language cookie like every other page. SQLite and PostgreSQL."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.schemas import MAX_ROW_ID
from service.storage.models import Consultation
from tests.factories import Client, booking_body, build_world, login
from tests.test_pages import SLOT, booking_form, csrf_of, page_login, text_of

HUGE = "9" * 23  # past 64 bits: sqlite3 cannot even bind it
JUST_PAST = str(MAX_ROW_ID + 1)  # past PostgreSQL's integer


async def consultations(db: async_sessionmaker[AsyncSession]) -> int:
    async with db() as s:
        return int(await s.scalar(select(func.count()).select_from(Consultation)) or 0)


# Each also passes `str.isdigit` or `int`, but names no row.
ODD_NUMBERS = ["\u00b2", "\u0661\u0662", "+5", "1_0", "0", " 7"]


@pytest.mark.parametrize("number", [HUGE, JUST_PAST, *ODD_NUMBERS])
async def test_ids_that_cannot_name_a_row_are_refused_by_the_api(
    client: Client, db: async_sessionmaker[AsyncSession], number: str
) -> None:
    world = await build_world(db)
    headers = await login(client, "gp")
    for path in (
        f"/api/v1/departments/{quote(number)}/specialists",
        f"/api/v1/slots?department_id={quote(number)}",
    ):
        resp = await client.get(path, headers=headers)
        assert resp.status == 422, (path, await resp.text())
        assert (await resp.json())["field"] == "department_id"
    if number in (HUGE, JUST_PAST):
        body = booking_body(world, SLOT, department_id=int(number))
        resp = await client.post("/api/v1/consultations", json=body, headers=headers)
        assert resp.status == 422, await resp.text()
        assert await consultations(db) == 0

    await client.delete("/api/v1/session", headers=headers)
    await login(client, "evaluator")
    resp = await client.get("/api/v1/statistics", params={"department_id": number})
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["field"] == "department_id"


@pytest.mark.parametrize("number", [HUGE, "\u00b2"])
async def test_ids_that_cannot_name_a_row_on_the_booking_page(
    client: Client, db: async_sessionmaker[AsyncSession], number: str
) -> None:
    world = await build_world(db)
    csrf = await page_login(client, "gp")
    page = await client.get("/bestill", params={"department_id": number, "patient_id": number})
    assert page.status == 200  # as if nothing was chosen yet
    assert 'name="starts_at"' not in await page.text()
    resp = await client.post("/bestill", data=booking_form(world, csrf, department_id=number))
    assert resp.status == 422
    # Told at the field, as for any other choice that is not one of the alternatives.
    assert "Avdeling på sjukehuset Feil: Vel eitt av alternativa." in text_of(await resp.text())
    assert await consultations(db) == 0


async def test_a_multipart_body_that_breaks_while_read_is_a_400(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    await page_login(client, "gp")
    broken = b"--zzz\r\nbroken"
    headers = {"Content-Type": "multipart/form-data; boundary=zzz"}
    page = await client.post("/bestill", data=broken, headers=headers)
    assert page.status == 400
    assert "<html" in await page.text()


@pytest.mark.parametrize(("first", "last"), [("0001-01", "0001-12"), ("9999-01", "9999-12")])
async def test_statistics_years_outside_the_calendar_are_refused(
    client: Client, db: async_sessionmaker[AsyncSession], first: str, last: str
) -> None:
    await build_world(db)
    await login(client, "evaluator")
    resp = await client.get("/api/v1/statistics", params={"from": first, "to": last})
    assert resp.status == 422, await resp.text()
    assert "years" in (await resp.json())["detail"]
    page = await client.get("/statistikk", params={"from": first, "to": last})
    assert page.status == 422


async def test_the_equipment_test_follows_and_keeps_the_language_choice(
    client: Client,
) -> None:
    chosen = await client.get("/test-utstyr", params={"lang": "en"})
    assert '<html lang="en">' in await chosen.text()
    assert chosen.cookies["samkons_lang"].value == "en"
    # The next visit without ?lang= keeps English, as every other page does.
    again = await client.get("/test-utstyr")
    assert '<html lang="en">' in await again.text()
    login_page = await client.get("/logg-inn")
    assert '<html lang="en">' in await login_page.text()
    csrf_of(await login_page.text())


@pytest.mark.parametrize(
    "starts_at",
    ["9999-12-31T23:59:00+01:00", "2099-12-01T09:00:00+01:00", "0001-01-01T00:00:00+01:00"],
)
async def test_times_outside_the_booking_horizon_are_refused(
    client: Client, db: async_sessionmaker[AsyncSession], starts_at: str
) -> None:
    """Booked, proposed or searched: a time past the horizon (or in the past) is a 422 at
    `starts_at`/`from`, never a 500 from date arithmetic, and nothing is written."""
    world = await build_world(db)
    gp = await login(client, "gp")
    resp = await client.post(
        "/api/v1/consultations", json=booking_body(world, starts_at), headers=gp
    )
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["field"] == "starts_at"
    assert await consultations(db) == 0
    resp = await client.get(
        "/api/v1/slots", params={"department_id": world.geriatrics, "from": starts_at}
    )
    if starts_at.startswith("0001"):
        assert resp.status == 200  # searched from now
        assert (await resp.json())[0]["starts_at"] == "2026-01-05T09:00:00+01:00"
    else:
        assert resp.status == 422, await resp.text()
        assert (await resp.json())["field"] == "from"
    booked = await client.post("/api/v1/consultations", json=booking_body(world, SLOT), headers=gp)
    assert booked.status == 201
    cid = (await booked.json())["id"]
    moved = await client.post(
        f"/api/v1/consultations/{cid}/reschedule", json={"starts_at": starts_at}, headers=gp
    )
    assert moved.status == 422, await moved.text()
    assert (await moved.json())["field"] == "starts_at"


async def test_bookings_up_to_the_horizon_are_taken(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    """The test clock is Monday 5 January 2026; the horizon is 56 days: Friday 27 February is
    inside it, Monday 2 March is past it."""
    world = await build_world(db)
    gp = await login(client, "gp")
    inside = await client.post(
        "/api/v1/consultations", json=booking_body(world, "2026-02-27T10:00:00+01:00"), headers=gp
    )
    assert inside.status == 201, await inside.text()
    past = await client.post(
        "/api/v1/consultations", json=booking_body(world, "2026-03-02T10:00:00+01:00"), headers=gp
    )
    assert past.status == 422
    assert "56 days" in (await past.json())["detail"]
