"""Engine and session factories for SQLite (embedded default) and PostgreSQL (production).

Two kinds of session: `make_sessionmaker` for work that writes, and `make_read_sessionmaker`
for work that only reads (slot search, the logged-in account, statistics). On SQLite a writing
transaction takes the write lock at BEGIN; a reading one does not, so reads run beside a writer
instead of queueing behind it. On PostgreSQL the reading kind is a READ ONLY transaction, so a
write slipped into it fails instead of going unnoticed. `make_database` gives the application
an engine for each kind (one shared pool on PostgreSQL).

`run_transaction` runs a piece of plain synchronous SQLAlchemy work as one transaction; on
SQLite all of it happens on the database connection's own thread in one round trip, so a
transaction holds SQLite's write lock only while its statements run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

from service.storage.sqlite_driver import OneHopDBAPI, run_on_connection_thread

P = ParamSpec("P")
T = TypeVar("T")

# Execution option that marks a connection's transaction as read-only.
READ_ONLY = "samkons_read_only"


def make_engine(url: str, *, echo: bool = False, single_writer: bool = False) -> AsyncEngine:
    """The engine for `url`.

    `single_writer` (SQLite only): one pooled connection, so this process's write transactions
    queue for it in order and start the moment the previous one ends, instead of each waiting
    on its own connection for SQLite's lock, which busy_timeout polls in sleeps of up to 100 ms.
    SQLite admits one writer at a time anyway. Reads go to another engine (`make_database`).
    """
    if url.startswith("sqlite"):
        pool: dict[str, Any] = {"pool_size": 1, "max_overflow": 0} if single_writer else {}
        engine = create_async_engine(
            url, echo=echo, module=OneHopDBAPI(), connect_args={"timeout": 30}, **pool
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Make SQLite behave as one serialised writer with real foreign keys.

    pysqlite's own transaction handling starts transactions lazily and as DEFERRED, so two
    writers can both read, then one fails to upgrade its lock. Taking the write lock at BEGIN
    (IMMEDIATE) queues writers instead; busy_timeout makes them wait rather than fail. Reading
    sessions begin DEFERRED: in WAL mode they read a snapshot and never wait for a writer.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@dataclass(frozen=True, slots=True)
class Database:
    """The application's engines: one for work that writes, one for work that only reads.

    On PostgreSQL both are one pool. On SQLite writes have a single connection (see
    `make_engine`) and reads a pool of their own, so a read never waits behind the writers.
    """

    writes: AsyncEngine
    reads: AsyncEngine

    async def dispose(self) -> None:
        if self.reads is not self.writes:
            await self.reads.dispose()
        await self.writes.dispose()


def make_database(url: str) -> Database:
    writes = make_engine(url, single_writer=True)
    reads = make_engine(url) if writes.dialect.name == "sqlite" else writes
    return Database(writes, reads)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for work that only reads: no write lock on SQLite, READ ONLY on PostgreSQL."""
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return async_sessionmaker(engine.execution_options(**options), expire_on_commit=False)


async def run_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
    fn: Callable[Concatenate[Session, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run `fn(session, *args, **kwargs)` as one transaction of `sessionmaker`'s database.

    `fn` is plain synchronous SQLAlchemy work on a `Session`; its changes are flushed and
    committed when it returns and rolled back when it raises. On SQLite BEGIN, `fn` and COMMIT
    run on the connection's thread in one round trip: nothing waits for the event loop while
    the write lock is held, and a statement costs no thread hop. There `fn` must not stream
    results (`yield_per`, `stream_results`): that would need the event loop. Once submitted,
    the work runs to its end even if the caller is cancelled (which may then not learn that it
    committed), and the connection goes back to the pool only after that. On PostgreSQL `fn`
    runs through the async engine as usual (`AsyncConnection.run_sync`).
    """
    engine: AsyncEngine = sessionmaker.kw["bind"]
    async with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            return await conn.run_sync(_unit, fn, args, kwargs)
        raw = await conn.get_raw_connection()
        work = asyncio.ensure_future(
            run_on_connection_thread(
                raw.dbapi_connection, _unit, conn.sync_connection, fn, args, kwargs
            )
        )
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            # The thread carries on with the transaction whatever the caller does. Handing the
            # connection back before it is done would leave it in the pool mid-transaction
            # (holding SQLite's write lock) and let two threads use it at once: wait first.
            await _outlast_cancellation(work)
            raise


async def _outlast_cancellation(work: asyncio.Future[Any]) -> None:
    """Wait until `work` is done, even if the waiting itself is cancelled again."""
    while not work.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait([work])
    if not work.cancelled():
        work.exception()  # retrieved: its outcome is the transaction's, not the caller's


def _unit(
    conn: Connection | None,
    fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> T:
    assert conn is not None
    with conn.begin(), Session(bind=conn, expire_on_commit=False) as session:
        result = fn(session, *args, **kwargs)
        session.flush()
        return result
