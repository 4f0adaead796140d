"""Shared fixtures: settings, a fake clock, and apps on SQLite and PostgreSQL.

Every test that asks for `db_url` runs twice, once per database. PostgreSQL gets one fresh
database per test run (tables emptied between tests); SQLite gets a copy of a migrated file.
When CI=true, an unreachable PostgreSQL fails the run instead of skipping. Passwords hash at
argon2's cheapest cost (production's is checked in test_passwords.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.http.app import create_app
from service.settings import Settings
from service.storage.engine import make_engine, make_sessionmaker
from service.storage.migrate import upgrade_to_head
from service.storage.models import Base
from tests.factories import TEST_HASH_COST

PG_ADMIN_DSN = os.environ.get("SAMKONS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI") == "true"
KEPT_TABLES = {"statistics_calendar"}


async def _pg_reachable() -> bool:
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """A fresh, migrated PostgreSQL database for this test run, dropped at the end."""
    if not asyncio.run(_pg_reachable()):
        if IN_CI:
            pytest.fail(f"PostgreSQL is unreachable at {PG_ADMIN_DSN}; CI needs it", pytrace=False)
        yield None
        return
    name = f"samkons_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    upgrade_to_head(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "samkons.sqlite3"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("pg_database")
    if url is None:
        pytest.skip("PostgreSQL not reachable (outside CI)")
    yield url
    asyncio.run(_truncate_all(url))


async def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            # The statistics calendar is reference data the migration writes, like
            # alembic_version: without it the summary triggers would count nothing.
            names = ", ".join(
                f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name not in KEPT_TABLES
            )
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    # Monday 5 January 2026, 08:00 UTC (09:00 in Oslo).
    return FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        mode="test",
        database_url=db_url,
        base_url="http://127.0.0.1:8080",
        outbox_dir=tmp_path / "outbox",
        scheduler_enabled=False,
        login_attempts_per_account=5,
        login_attempts_per_address=50,
        # Tests move the fake clock hours ahead between requests; the session timeouts have
        # their own tests (tests/test_sessions.py), with the shipped values.
        session_idle_minutes=365 * 24 * 60,
        session_absolute_hours=2 * 365 * 24,
        password_hash_cost=TEST_HASH_COST,
    )


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> web.Application:
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(
    aiohttp_client: object, app: web.Application
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    c = await aiohttp_client(app)  # type: ignore[operator]
    yield c


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on the test database, for arranging data and checking what was written."""
    engine = make_engine(settings.database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()
