"""`samkons migrate` as replicas run it: several at once on one fresh PostgreSQL database all
succeed and leave the schema at head once (the advisory lock in the Alembic environment)."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic.script import ScriptDirectory

from service.storage.engine import make_engine
from service.storage.migrate import alembic_config
from tests.conftest import PG_ADMIN_DSN


@pytest.fixture
async def empty_pg_database(pg_database: str | None) -> AsyncIterator[str]:
    if pg_database is None:
        pytest.skip("PostgreSQL not reachable (outside CI)")
    name = f"samkons_migrate_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield pg_database.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _migrate_command(url: str) -> tuple[int, str]:
    """`samkons migrate` in its own process, as each replica's start command runs it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from service.cli import main; sys.exit(main(['migrate']))",
        env={**os.environ, "SAMKONS_DATABASE_URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=90)
    return process.returncode or 0, output.decode()


async def test_concurrent_migrations_on_postgresql_all_succeed(empty_pg_database: str) -> None:
    results = await asyncio.gather(*(_migrate_command(empty_pg_database) for _ in range(3)))
    for returncode, output in results:
        assert returncode == 0, output
        assert "Database is up to date." in output

    head = ScriptDirectory.from_config(alembic_config(empty_pg_database)).get_current_head()
    engine = make_engine(empty_pg_database)
    try:
        async with engine.connect() as connection:
            versions = (
                await connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            ).all()
    finally:
        await engine.dispose()
    assert versions == [(head,)]
