"""`Result.fetchmany()` on both databases: the old SQLite driver adapter raised AttributeError."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.storage.engine import make_engine, make_read_sessionmaker, make_sessionmaker
from service.storage.models import GpOffice


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


async def test_fetchmany_pages_through_a_result(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as s, s.begin():
        await s.execute(
            insert(GpOffice),
            [{"name": f"Kontor {n}", "municipality_number": "4631"} for n in range(5)],
        )
    async with engine.connect() as conn:
        result = await conn.execute(select(GpOffice.name).order_by(GpOffice.id))
        # Without a size the driver's cursor says how many (its arraysize, 1 by default).
        first = result.fetchmany()
        pages = [result.fetchmany(2), result.fetchmany(2), result.fetchmany(2)]
    assert [row.name for row in first] == ["Kontor 0"]
    assert [[row.name for row in page] for page in pages] == [
        ["Kontor 1", "Kontor 2"],
        ["Kontor 3", "Kontor 4"],
        [],
    ]


async def test_fetchmany_through_a_session(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as s, s.begin():
        await s.execute(
            insert(GpOffice),
            [{"name": f"Kontor {n}", "municipality_number": "4631"} for n in range(3)],
        )
    async with make_read_sessionmaker(engine)() as s:
        result = await s.execute(select(GpOffice.name).order_by(GpOffice.id))
        assert [r.name for r in result.fetchmany(2)] == ["Kontor 0", "Kontor 1"]
        assert [r.name for r in result.fetchmany(2)] == ["Kontor 2"]


async def test_fetchmany_on_a_streamed_result(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as s, s.begin():
        await s.execute(
            insert(GpOffice),
            [{"name": f"Kontor {n}", "municipality_number": "4631"} for n in range(3)],
        )
    async with make_read_sessionmaker(engine)() as s:
        streamed = await s.stream(select(GpOffice.name).order_by(GpOffice.id))
        first = await streamed.fetchmany(2)
        rest = await streamed.fetchmany(2)
    assert [r.name for r in first] == ["Kontor 0", "Kontor 1"]
    assert [r.name for r in rest] == ["Kontor 2"]
