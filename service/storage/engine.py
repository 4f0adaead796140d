"""Engine and session factories for SQLite (embedded default) and PostgreSQL (production), and
the one way to run a transaction.

Two kinds of session: `make_sessionmaker` for work that writes, and `make_read_sessionmaker`
for work that only reads (slot search, the logged-in account, statistics). On SQLite a writing
transaction takes the write lock at BEGIN; a reading one does not, so reads run beside a writer
instead of queueing behind it. On PostgreSQL the reading kind is a READ ONLY transaction, so a
write slipped into it fails instead of going unnoticed. `make_database` gives the application
an engine for each kind (one shared pool on PostgreSQL).

`run_transaction` runs a use case's async work on an `AsyncSession` as one transaction: it
commits when the work returns and rolls back when it raises. Every use case goes through it.
Everything here is SQLAlchemy's and aiosqlite's public API: the SQLite locking is the event
recipe of SQLAlchemy's SQLite dialect documentation. The engines hide SQL parameters, so no
patient's data reaches a log line or an exception's text through a failed statement.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from service.domain.errors import Conflict

P = ParamSpec("P")
T = TypeVar("T")

_log = logging.getLogger(__name__)

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
            url, echo=echo, hide_parameters=True, connect_args={"timeout": 30}, **pool
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
    )


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


def reading(sessionmaker: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """Read-only sessions on the database of `sessionmaker` (see `make_read_sessionmaker`)."""
    engine: AsyncEngine = sessionmaker.kw["bind"]
    return make_read_sessionmaker(engine)


class TryAgain(Conflict):
    """The database kept refusing the transaction for a concurrent one (PostgreSQL)."""

    title = "Busy, try again"
    type_slug = "try-again"


# How often a transaction runs before a concurrency failure is the caller's to retry.
ATTEMPTS = 5
_RETRY_BASE_SECONDS = 0.02
# SQLSTATEs of PostgreSQL's concurrency failures: serialization_failure, deadlock_detected.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def is_concurrency_failure(exc: BaseException) -> bool:
    """A serialization failure or deadlock: the transaction was rolled back and may run again."""
    if not isinstance(exc, DBAPIError):
        return False
    cause = exc.orig.__cause__ if exc.orig is not None else None
    if isinstance(cause, asyncpg.SerializationError | asyncpg.DeadlockDetectedError):
        return True
    return getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES


async def run_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
    work: Callable[Concatenate[AsyncSession, P], Awaitable[T]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run `await work(db, *args, **kwargs)` as one transaction of `sessionmaker`'s database.

    The work's changes are flushed and committed when it returns, and rolled back when it
    raises. On SQLite a writing session's BEGIN is IMMEDIATE: the write lock is held from the
    first statement to COMMIT, so the work should not wait for anything but its statements
    (render mails before, not inside).

    On PostgreSQL a transaction refused for a concurrent one (a serialization failure or a
    deadlock) runs again, in a fresh session, up to `ATTEMPTS` times in all, after a growing
    random pause (so the two that collided do not collide again in step); then `TryAgain`
    (409) tells the client to repeat the request. `work` must therefore be safe to run again:
    everything it does is in the transaction, or decided before it.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with sessionmaker() as db, db.begin():
                return await work(db, *args, **kwargs)
        except DBAPIError as exc:
            if not is_concurrency_failure(exc):
                raise
            if attempt == ATTEMPTS:
                raise TryAgain(
                    "Other changes to the same consultations or calendars got in the way; "
                    "try again."
                ) from exc
            _log.info("transaction retried after a concurrency failure (attempt %d)", attempt)
            await asyncio.sleep(random.uniform(0, _RETRY_BASE_SECONDS * 2**attempt))  # noqa: S311
    raise AssertionError("unreachable")
