"""Shared fixtures: settings, a fake clock, and apps on SQLite and PostgreSQL.

Every test that asks for `db_url` runs twice, once per database. PostgreSQL gets one fresh
database per test run (tables emptied between tests); SQLite gets a copy of a migrated file.
When CI=true, an unreachable PostgreSQL fails the run instead of skipping.

Kept cheap on purpose, since every test pays for it: passwords hash at argon2's cheapest cost
(production's is checked in test_passwords.py), PostgreSQL's test database commits without
waiting for the disk, and emptying it deletes rows instead of truncating (a TRUNCATE of twenty
small tables costs half a second, a DELETE of their few rows a tenth of that).
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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.http.app import create_app
from service.settings import Settings
from service.storage.engine import make_engine, make_sessionmaker
from service.storage.migrate import upgrade_to_head
from service.storage.models import Base
from tests.factories import TEST_HASH_COST
from tests.mail_support import smtp  # noqa: F401 - the fixture, found by its name

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
    # A throwaway database need not wait for the disk at each commit (the tests commit often).
    asyncio.run(admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
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


_EMPTYING: dict[str, str] = {}


async def _truncate_all(url: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        script = _EMPTYING.get(url)
        if script is None:
            script = _EMPTYING[url] = await _emptying_script(conn)
        await conn.execute(script)
    finally:
        await conn.close()


async def _emptying_script(conn: asyncpg.Connection) -> str:
    """One round trip that empties every table as TRUNCATE ... RESTART IDENTITY would."""
    # The statistics calendar is reference data the migration writes, like alembic_version:
    # without it the summary triggers would count nothing. Children go before their parents;
    # the statistics summary comes last, after consultations and surveys, whose delete triggers
    # write to it.
    tables = sorted(
        (t.name for t in reversed(Base.metadata.sorted_tables) if t.name not in KEPT_TABLES),
        key=lambda name: name.startswith("statistics_"),
    )
    sequences = await conn.fetch(
        """
        SELECT quote_ident(ns.nspname) || '.' || quote_ident(seq.relname) AS name
        FROM pg_class seq
        JOIN pg_namespace ns ON ns.oid = seq.relnamespace
        JOIN pg_depend dep ON dep.objid = seq.oid AND dep.deptype IN ('a', 'i')
        JOIN pg_class tab ON tab.oid = dep.refobjid
        WHERE seq.relkind = 'S' AND tab.relname = ANY($1::text[])
        """,
        tables,
    )
    return "".join(
        [
            "BEGIN;",
            # Names from the project's own metadata, not from input.
            *(f'DELETE FROM "{name}";' for name in tables),  # noqa: S608
            *(f"ALTER SEQUENCE {row['name']} RESTART;" for row in sequences),
            "COMMIT;",
        ]
    )


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
