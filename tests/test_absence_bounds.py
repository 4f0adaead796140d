"""Absences have bounded dates: from at most a year ago to at most a year past the booking
horizon (year 0214 or 4689 is a typing mistake, refused with 422 at the field), and the OpenAPI
document says so. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.settings import Settings
from service.storage.models import AvailabilityException
from tests.factories import Client, build_world, login

Db = async_sessionmaker[AsyncSession]


async def absences(db: Db) -> int:
    async with db() as s:
        return int(await s.scalar(select(func.count()).select_from(AvailabilityException)) or 0)


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "field"),
    [
        ("0214-05-01T00:00:00+00:00", "2026-01-09T00:00:00+01:00", "starts_at"),
        ("2026-01-06T00:00:00+01:00", "4689-12-31T00:00:00+01:00", "ends_at"),
        ("0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00", "starts_at"),
    ],
)
async def test_absences_far_in_the_past_or_future_are_refused(
    client: Client, db: Db, starts_at: str, ends_at: str, field: str
) -> None:
    await build_world(db)
    spec = await login(client, "specialist")
    resp = await client.post(
        "/api/v1/me/exceptions", json={"starts_at": starts_at, "ends_at": ends_at}, headers=spec
    )
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["field"] == field
    assert await absences(db) == 0


async def test_absences_up_to_the_bounds_are_taken(
    client: Client, db: Db, clock: FakeClock, settings: Settings
) -> None:
    await build_world(db)
    spec = await login(client, "specialist")
    now = clock.now()
    latest_end = now + timedelta(days=settings.booking_horizon_days + 365)
    cases = [
        (now - timedelta(days=365), now + timedelta(days=1), 201),
        (now - timedelta(days=365, seconds=1), now + timedelta(days=1), 422),
        (now, latest_end, 201),
        (now, latest_end + timedelta(seconds=1), 422),
    ]
    for start, end, status in cases:
        resp = await client.post(
            "/api/v1/me/exceptions",
            json={"starts_at": start.isoformat(), "ends_at": end.isoformat()},
            headers=spec,
        )
        assert resp.status == status, (start, end, await resp.text())
    assert await absences(db) == 2


async def test_the_openapi_document_states_the_bounds(client: Client) -> None:
    document = await (await client.get("/api/openapi.json")).json()
    fields = document["components"]["schemas"]["ExceptionInput"]["properties"]
    assert "365 days ago" in fields["starts_at"]["description"]
    assert "365 days past the booking horizon" in fields["ends_at"]["description"]
