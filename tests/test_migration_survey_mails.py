"""Migrations 0005 (survey mails) and 0006 (specialist surveys), on SQLite and PostgreSQL: the
outbox accepts the kind `survey` after the upgrade and not before it, and a downgrade removes
survey mails and keeps the others; a survey can point at the specialist's account once per
consultation, and a downgrade keeps those answers."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from sqlalchemy import Connection, inspect

from service.storage.migrate import alembic_config
from tests.conftest import PG_ADMIN_DSN, _pg_reachable
from tests.test_migration_outbox import _differences

PARENTS = (
    "INSERT INTO hospitals (id, code, name) VALUES (1, 'h', 'H')",
    "INSERT INTO departments (id, hospital_id, name) VALUES (1, 1, 'D')",
    "INSERT INTO users (id, email, name, role, password_hash, language, active, created_at) "
    "VALUES (1, 'gp@test.no', 'GP', 'gp', 'x', 'nn', TRUE, '2026-01-05 08:00:00')",
    "INSERT INTO consultations (id, room_id, kind, status, revision, gp_id, department_id, "
    "booked_by_id, patient_present, patient_group, patient_location, starts_at, ends_at, "
    "hospital_id, created_at, updated_at) VALUES ('c1', 'r1', 'joint', 'completed', 0, 1, 1, "
    "1, TRUE, 'other', 'home', '2026-01-05 08:00:00', '2026-01-05 08:30:00', 1, "
    "'2026-01-05 08:00:00', '2026-01-05 08:00:00')",
)
ROW = (
    "INSERT INTO outbox (consultation_id, recipient_role, recipient, kind, revision, status, "
    "not_before, attempts, created_at) VALUES ('c1', 'patient', 'p@test.no', '{kind}', 0, "
    "'sent', '2026-01-05 08:00:00', 1, '2026-01-05 08:00:00')"
)


class Database:
    """A fresh database of its own, so downgrading it disturbs no other test."""

    def __init__(self, url: str, dsn: str | None) -> None:
        self.url = url
        self.dsn = dsn  # asyncpg's DSN on PostgreSQL, None on SQLite

    async def migrate(self, target: str, *, down: bool = False) -> None:
        step = command.downgrade if down else command.upgrade
        await asyncio.to_thread(step, alembic_config(self.url), target)

    async def execute(self, *statements: str) -> None:
        if self.dsn is None:
            with sqlite3.connect(self.url.removeprefix("sqlite+aiosqlite:///")) as conn:
                for sql in statements:
                    conn.execute(sql)
            return
        conn = await asyncpg.connect(self.dsn)
        try:
            for sql in statements:
                await conn.execute(sql)
        finally:
            await conn.close()

    async def insert_mail(self, kind: str) -> None:
        await self.execute(ROW.format(kind=kind))

    async def kinds(self) -> list[str]:
        if self.dsn is None:
            with sqlite3.connect(self.url.removeprefix("sqlite+aiosqlite:///")) as conn:
                return [k for (k,) in conn.execute("SELECT kind FROM outbox ORDER BY id")]
        conn = await asyncpg.connect(self.dsn)
        try:
            return [r["kind"] for r in await conn.fetch("SELECT kind FROM outbox ORDER BY id")]
        finally:
            await conn.close()

    async def survey_roles(self) -> list[str]:
        if self.dsn is None:
            with sqlite3.connect(self.url.removeprefix("sqlite+aiosqlite:///")) as conn:
                return [r for (r,) in conn.execute("SELECT role FROM surveys ORDER BY id")]
        conn = await asyncpg.connect(self.dsn)
        try:
            return [r["role"] for r in await conn.fetch("SELECT role FROM surveys ORDER BY id")]
        finally:
            await conn.close()

    async def kind_check(self) -> str:
        from service.storage.engine import make_engine

        engine = make_engine(self.url)

        def read(connection: Connection) -> str:
            checks = inspect(connection).get_check_constraints("outbox")
            return next(str(c["sqltext"]) for c in checks if c["name"] == "ck_outbox_kind")

        try:
            async with engine.connect() as connection:
                return await connection.run_sync(read)
        finally:
            await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        yield Database(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}", None)
        return
    if not await _pg_reachable():
        pytest.skip("PostgreSQL not reachable (outside CI)")
    name = f"samkons_migration_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield Database(
            f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}", f"{base}/{name}"
        )
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def test_survey_mails_are_allowed_from_0005_and_downgrade_removes_them(
    fresh: Database,
) -> None:
    await fresh.migrate("0004")
    await fresh.execute(*PARENTS)  # the consultation the mails belong to
    with pytest.raises((sqlite3.IntegrityError, asyncpg.CheckViolationError)):
        await fresh.insert_mail("survey")

    await fresh.migrate("0005")
    assert "'survey'" in await fresh.kind_check()
    await fresh.insert_mail("reminder")
    await fresh.insert_mail("survey")
    with pytest.raises((sqlite3.IntegrityError, asyncpg.CheckViolationError)):
        await fresh.insert_mail("bogus")
    assert await fresh.kinds() == ["reminder", "survey"]

    await fresh.migrate("0004", down=True)
    assert "'survey'" not in await fresh.kind_check()
    assert await fresh.kinds() == ["reminder"]  # the other mails stay
    with pytest.raises((sqlite3.IntegrityError, asyncpg.CheckViolationError)):
        await fresh.insert_mail("survey")

    await fresh.migrate("head")
    assert await _differences(fresh.url) == []
    await fresh.insert_mail("survey")


SURVEY = (
    "INSERT INTO surveys (consultation_id, role, language, token_hash, created_at{columns}) "
    "VALUES ('c1', '{role}', 'nn', '{token_hash}', '2026-01-05 09:00:00'{values})"
)


async def test_specialist_surveys_from_0006_once_per_consultation_and_kept_on_downgrade(
    fresh: Database,
) -> None:
    await fresh.migrate("0005")
    await fresh.execute(
        *PARENTS,
        SURVEY.format(role="gp", token_hash="a" * 64, columns="", values=""),
    )
    await fresh.migrate("0006")
    specialist = SURVEY.format(
        role="specialist", token_hash="b" * 64, columns=", user_id", values=", 1"
    )
    await fresh.execute(specialist)
    with pytest.raises((sqlite3.IntegrityError, asyncpg.UniqueViolationError)):
        await fresh.execute(specialist.replace("b" * 64, "c" * 64))

    await fresh.migrate("0005", down=True)
    # The answers stay, as anonymous facts.
    assert await fresh.survey_roles() == ["gp", "specialist"]
    await fresh.migrate("head")
    assert await _differences(fresh.url) == []
