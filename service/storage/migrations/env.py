"""Alembic environment: runs migrations over the async engine for the configured URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from service.storage.engine import make_engine
from service.storage.models import Base

config = context.config
target_metadata = Base.metadata

# Several replicas may start at once and each run `samkons migrate`. On PostgreSQL they queue on
# this transaction-scoped advisory lock, and each reads the schema version only once it holds
# the lock, so the first migrates and the others find nothing left to do. SQLite needs no lock:
# every transaction there begins IMMEDIATE (service/storage/engine.py) and so runs alone.
MIGRATION_LOCK_KEY = 0x53414D4B  # "SAMK"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async(url))


run_migrations_online()
