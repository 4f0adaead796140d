"""The engine's session kinds and the transaction runner: what reads and writes lock, and how."""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import QueuePool

from service.storage.engine import (
    ATTEMPTS,
    TryAgain,
    make_database,
    make_engine,
    make_read_sessionmaker,
    make_sessionmaker,
    run_transaction,
)
from service.storage.models import GpOffice


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[AsyncEngine]:
    """For what only SQLite has: its database lock."""
    path = tmp_path / "engine.sqlite3"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    yield engine
    await engine.dispose()


@pytest.fixture
async def pg_engine(pg_database: str | None) -> AsyncIterator[AsyncEngine]:
    """For what only PostgreSQL has: READ ONLY transactions."""
    if pg_database is None:
        pytest.skip("PostgreSQL not reachable (outside CI)")
    engine = make_engine(pg_database)
    yield engine
    async with engine.begin() as conn:  # the next test starts from an empty table again
        await conn.execute(text("TRUNCATE gp_offices RESTART IDENTITY CASCADE"))
    await engine.dispose()


def _office(n: int) -> dict[str, Any]:
    return {"name": f"Kontor {n}", "municipality_number": "4631"}


async def test_a_read_does_not_wait_for_a_writer(engine: AsyncEngine) -> None:
    write, read = make_sessionmaker(engine), make_read_sessionmaker(engine)
    async with write() as w, w.begin():
        await w.execute(insert(GpOffice), [_office(1)])
        # The writer holds its lock (on SQLite: the database's write lock) until the end of
        # this block; a read that wanted the lock would wait for busy_timeout (30 s).
        async with read() as r, r.begin():
            seen = await asyncio.wait_for(r.scalar(select(func.count(GpOffice.id))), timeout=5)
    assert seen == 0  # the reader's snapshot is from before the uncommitted insert
    async with read() as r:
        assert await r.scalar(select(func.count(GpOffice.id))) == 1


async def test_sqlite_writers_still_queue_for_the_lock(sqlite_engine: AsyncEngine) -> None:
    write = make_sessionmaker(sqlite_engine)
    second_began = asyncio.Event()

    async def second_writer() -> None:
        async with write() as s, s.begin():
            await s.execute(text("SELECT 1"))  # BEGIN IMMEDIATE runs before this
            second_began.set()

    async with write() as first, first.begin():
        await first.execute(insert(GpOffice), [_office(1)])
        task = asyncio.create_task(second_writer())
        await asyncio.sleep(0.3)
        assert not second_began.is_set()
    await asyncio.wait_for(task, timeout=10)
    assert second_began.is_set()


async def test_a_write_in_a_read_session_fails_on_postgresql(pg_engine: AsyncEngine) -> None:
    read = make_read_sessionmaker(pg_engine)
    with pytest.raises(DBAPIError, match="read-only"):
        async with read() as r, r.begin():
            await r.execute(insert(GpOffice), [_office(1)])


async def test_sqlite_reports_rows_ids_and_errors(sqlite_engine: AsyncEngine) -> None:
    async with make_sessionmaker(sqlite_engine)() as s, s.begin():
        office = GpOffice(**_office(1))
        s.add(office)
        await s.flush()  # the new row's id comes back from the driver
        assert office.id is not None
        found = await s.get(GpOffice, office.id)
        assert found is office
        assert (await s.execute(text("SELECT 1 WHERE 0"))).all() == []
    with pytest.raises(IntegrityError):
        async with make_sessionmaker(sqlite_engine)() as s, s.begin():
            await s.execute(insert(GpOffice), [{"name": None, "municipality_number": "4631"}])


async def test_the_apps_sqlite_writes_queue_for_one_connection(db_url: str) -> None:
    database = make_database(db_url)
    try:
        if db_url.startswith("sqlite"):
            assert isinstance(database.writes.pool, QueuePool)
            assert (database.writes.pool.size(), database.writes.pool._max_overflow) == (1, 0)
            assert database.reads.pool is not database.writes.pool
        else:
            assert database.reads is database.writes
        write, read = make_sessionmaker(database.writes), make_read_sessionmaker(database.reads)
        events: list[tuple[str, int]] = []

        async def writer(n: int) -> None:
            async with write() as s, s.begin():
                await s.execute(insert(GpOffice), [_office(n)])
                events.append(("in", n))
                await asyncio.sleep(0.02)
                events.append(("out", n))

        async def reader() -> int:
            async with read() as r:
                return int(await r.scalar(select(func.count(GpOffice.id))) or 0)

        *_, seen = await asyncio.wait_for(
            asyncio.gather(*(writer(n) for n in range(5)), reader()), timeout=20
        )
        assert seen is not None and 0 <= seen <= 5
        if db_url.startswith("sqlite"):  # one write transaction at a time, in arrival order
            assert events == [(kind, n) for n in range(5) for kind in ("in", "out")]
        assert await reader() == 5
    finally:
        await database.dispose()


async def _add_offices(session: AsyncSession, *numbers: int) -> list[str]:
    await session.execute(insert(GpOffice), [_office(n) for n in numbers])
    session.add(GpOffice(**_office(100)))  # the ORM's unit of work takes part too
    return list(await session.scalars(select(GpOffice.name).order_by(GpOffice.id)))


class Refused(Exception):
    pass


async def _add_then_refuse(session: AsyncSession) -> None:
    await session.execute(insert(GpOffice), [_office(1)])
    await session.flush()
    raise Refused


async def _add_invalid(session: AsyncSession) -> None:
    await session.execute(insert(GpOffice), [_office(1), {"name": None}])


async def _office_names(engine: AsyncEngine) -> list[str]:
    async with make_read_sessionmaker(engine)() as s:
        return list((await s.scalars(select(GpOffice.name).order_by(GpOffice.id))).all())


async def test_run_transaction_commits_what_the_work_wrote(engine: AsyncEngine) -> None:
    seen = await run_transaction(make_sessionmaker(engine), _add_offices, 1, 2)
    assert seen == ["Kontor 1", "Kontor 2", "Kontor 100"]
    assert await _office_names(engine) == ["Kontor 1", "Kontor 2", "Kontor 100"]


async def test_run_transaction_writes_nothing_when_the_work_fails(engine: AsyncEngine) -> None:
    with pytest.raises(Refused):
        await run_transaction(make_sessionmaker(engine), _add_then_refuse)
    with pytest.raises(IntegrityError):
        await run_transaction(make_sessionmaker(engine), _add_invalid)
    assert await _office_names(engine) == []
    # The connection went back clean: the next transaction works as usual.
    await run_transaction(make_sessionmaker(engine), _add_offices, 3)
    assert await _office_names(engine) == ["Kontor 3", "Kontor 100"]


async def _run_sql(session: AsyncSession, sql: str) -> None:
    await session.execute(text(sql))


async def test_sqlite_run_transaction_cancelled_hands_the_connection_back_idle(
    tmp_path: Path,
) -> None:
    """Cancelled while BEGIN waits for another process's write lock: the connection goes back
    to the pool idle (not mid-transaction, holding the write lock for good), and the next
    transaction on the single write connection works."""
    path = tmp_path / "cancel.sqlite3"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE t (x INTEGER)")
    engine = make_engine(f"sqlite+aiosqlite:///{path}", single_writer=True)
    write = make_sessionmaker(engine)
    try:
        await run_transaction(write, _run_sql, "SELECT 1")
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        task = asyncio.create_task(run_transaction(write, _run_sql, "INSERT INTO t VALUES (1)"))
        await asyncio.sleep(0.2)
        task.cancel()
        asyncio.get_running_loop().call_later(0.2, other.execute, "COMMIT")
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(run_transaction(write, _run_sql, "INSERT INTO t VALUES (2)"), 10)
        other.execute("BEGIN IMMEDIATE")  # the lock is free again at once
        other.execute("COMMIT")
    finally:
        await engine.dispose()
        other.close()
    rows = sqlite3.connect(path).execute("SELECT x FROM t ORDER BY x").fetchall()
    assert (2,) in rows


async def test_sql_parameters_stay_out_of_errors_and_logs(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed statement's text carries no parameter values (they may be patient data)."""
    secret = "Kari Nordmann 12345678901"
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    with pytest.raises(IntegrityError) as failed:
        async with make_sessionmaker(engine)() as s, s.begin():
            await s.execute(insert(GpOffice), [{"name": secret, "municipality_number": None}])
    assert secret not in str(failed.value)
    assert "hidden due to hide_parameters" in str(failed.value)
    assert secret not in caplog.text


async def test_a_deadlock_is_run_again_on_postgresql(pg_engine: AsyncEngine) -> None:
    """Two transactions lock two rows in opposite orders: PostgreSQL aborts one as deadlocked,
    and the runner runs it again, so both commit (before, the loser was a 500)."""
    write = make_sessionmaker(pg_engine)
    async with write() as s, s.begin():
        await s.execute(insert(GpOffice), [_office(1), _office(2)])
        ids = list(await s.scalars(select(GpOffice.id).order_by(GpOffice.id)))
    both_hold_one = asyncio.Barrier(2)
    runs: list[int] = []

    async def rename(db: AsyncSession, first: int, second: int) -> None:
        runs.append(first)
        await db.execute(update(GpOffice).where(GpOffice.id == first).values(name=f"A{first}"))
        if len(runs) <= 2:  # the first run of each meets the other's lock
            await both_hold_one.wait()
        await db.execute(update(GpOffice).where(GpOffice.id == second).values(name=f"B{first}"))

    await asyncio.wait_for(
        asyncio.gather(
            run_transaction(write, rename, ids[0], ids[1]),
            run_transaction(write, rename, ids[1], ids[0]),
        ),
        timeout=30,
    )
    # Both committed (gather raised nothing); at least one ran again. A retry can meet the
    # other's lock once more before that one commits, and then runs a third time.
    assert 3 <= len(runs) <= 2 * ATTEMPTS


async def _refused_for_serialization(db: AsyncSession, runs: list[int], failures: int) -> str:
    runs.append(1)
    await db.execute(insert(GpOffice), [_office(len(runs))])
    if len(runs) <= failures:
        # What PostgreSQL raises when a concurrent transaction won (SQLSTATE 40001).
        await db.execute(
            text("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'serialization_failure'; END $$")
        )
    return "done"


async def test_a_serialization_failure_is_run_again_on_postgresql(pg_engine: AsyncEngine) -> None:
    runs: list[int] = []
    done = await run_transaction(make_sessionmaker(pg_engine), _refused_for_serialization, runs, 2)
    assert (done, len(runs)) == ("done", 3)
    assert await _office_names(pg_engine) == ["Kontor 3"]  # the failed runs left nothing


async def test_endless_serialization_failures_end_in_try_again(pg_engine: AsyncEngine) -> None:
    runs: list[int] = []
    with pytest.raises(TryAgain, match="try again") as refused:
        await run_transaction(
            make_sessionmaker(pg_engine), _refused_for_serialization, runs, ATTEMPTS
        )
    assert refused.value.status == 409
    assert len(runs) == ATTEMPTS
    assert await _office_names(pg_engine) == []
