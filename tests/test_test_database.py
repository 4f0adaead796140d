"""The test fixtures' PostgreSQL cleanup: every table emptied and its ids restarted between tests,
the reference data the migration wrote kept."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.storage.engine import make_engine, make_sessionmaker
from service.storage.models import Base, GpOffice
from tests.conftest import KEPT_TABLES, _truncate_all
from tests.factories import Client, build_world
from tests.mail_support import book_confirmed


# Only PostgreSQL is emptied between tests: SQLite gets a fresh copy of the migrated file.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_emptying_leaves_no_rows_and_restarts_the_ids(
    client: Client, db: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    world = await build_world(db)
    await book_confirmed(client, world, "2026-01-07T10:00:00+01:00")
    await _truncate_all(db_url)
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            for table in Base.metadata.sorted_tables:
                rows = await s.scalar(select(func.count()).select_from(table))
                if table.name in KEPT_TABLES:
                    assert rows, f"{table.name} is reference data and must be kept"
                else:
                    assert rows == 0, f"{table.name} was not emptied"
            office = GpOffice(name="Ny", municipality_number="4631")
            s.add(office)
            await s.flush()
            assert office.id == 1
    finally:
        await engine.dispose()
