"""Migration 0002 (outbox, calendar feed secret): the migrated schema matches the models on
SQLite and PostgreSQL, and it downgrades and upgrades cleanly."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from service.storage.engine import make_engine
from service.storage.migrate import alembic_config
from service.storage.models import Base


async def _differences(url: str) -> list[object]:
    engine = make_engine(url)

    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


async def _tables_and_user_columns(url: str) -> tuple[set[str], set[str]]:
    engine = make_engine(url)

    def read(connection: Connection) -> tuple[set[str], set[str]]:
        found = inspect(connection)
        return set(found.get_table_names()), {c["name"] for c in found.get_columns("users")}

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def test_the_migrated_schema_matches_the_models(db_url: str) -> None:
    assert await _differences(db_url) == []


async def test_downgrade_and_upgrade(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}"
    config = alembic_config(url)
    await asyncio.to_thread(command.upgrade, config, "head")
    tables, columns = await _tables_and_user_columns(url)
    assert "outbox" in tables and "calendar_token_hash" in columns
    await asyncio.to_thread(command.downgrade, config, "0001")
    tables, columns = await _tables_and_user_columns(url)
    assert "outbox" not in tables and "calendar_token_hash" not in columns
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _differences(url) == []
