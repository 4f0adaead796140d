"""The SQLite driver under SQLAlchemy's async engine: aiosqlite with one thread hop per statement.

aiosqlite runs each sqlite3 call on the connection's own thread, and SQLAlchemy's adapter makes
a separate call for every step of a statement: create a cursor, execute, fetch the rows, close
the cursor. Each call is a round trip between the event loop and that thread (a queue put, a
thread wake-up, a `call_soon_threadsafe` back), and on a busy machine those round trips cost
more than the SQL. This adapter runs the whole statement (execute, fetch all rows, read the
row count and last row id, close) as one call on the same thread, so a statement is one round
trip. Everything else (connecting, closing, server-side cursors) is SQLAlchemy's aiosqlite
adapter unchanged.

A whole transaction can go further: `run_on_connection_thread` runs plain synchronous
SQLAlchemy code on the connection's thread, and there a statement, COMMIT or ROLLBACK calls
sqlite3 directly, with no round trip at all (`service.storage.engine.run_transaction`).

It builds on SQLAlchemy's aiosqlite adapter classes and aiosqlite's per-connection work queue
(`Connection._execute`); pyproject pins both libraries to the minor versions this was written
against, and every SQLite test runs through it.
"""

from __future__ import annotations

import collections
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, ParamSpec, TypeVar, cast

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

# What one statement leaves behind: description, rows, rowcount, lastrowid.
_Outcome = tuple[Any, Sequence[Any], int, int | None]

P = ParamSpec("P")
T = TypeVar("T")


def _on_own_thread(driver: aiosqlite.Connection) -> bool:
    """True while running on the connection's thread (inside `run_on_connection_thread`)."""
    thread: threading.Thread = driver._thread
    return thread.ident == threading.get_ident()


async def run_on_connection_thread(
    dbapi_connection: Any, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run `fn` on the thread of `dbapi_connection` (a `OneHopConnection`) in one round trip.

    While `fn` runs, SQLAlchemy work on that connection calls sqlite3 directly. `fn` must not
    await and must not touch another connection; the event loop is free meanwhile.
    """
    driver = cast(aiosqlite.Connection, dbapi_connection._connection)
    submit = cast(Callable[..., Awaitable[T]], driver._execute)
    return await submit(fn, *args, **kwargs)


def _run_statement(
    conn: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> _Outcome:
    """Runs on the connection's thread: the whole statement in one go."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose execute is one round trip to the connection's thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # Deliberately not the parent's __init__: that opens an aiosqlite cursor (a round trip).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid or 0

    def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        driver = cast(aiosqlite.Connection, self._connection)
        # aiosqlite's own queue of work for the connection's thread (untyped in aiosqlite).
        submit = cast(Callable[..., Awaitable[_Outcome]], driver._execute)
        try:
            if _on_own_thread(driver):
                outcome = _run_statement(driver._conn, operation, parameters, many)
            else:
                outcome = await_(submit(_run_statement, driver._conn, operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._run(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._run(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed on the thread."""

    def close(self) -> None:
        self._rows.clear()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor

    def commit(self) -> None:
        if not self._directly("commit"):
            super().commit()

    def rollback(self) -> None:
        driver = cast(aiosqlite.Connection, self._connection)
        if driver._connection is not None and not driver._connection.in_transaction:
            # The pool resets every connection handed back with a ROLLBACK; when no
            # transaction is open (the usual case) that would be a round trip for nothing.
            # `run_transaction` hands a connection back only once its work is done, so
            # nothing on the connection's thread can be about to open one.
            return
        if not self._directly("rollback"):
            super().rollback()

    def _directly(self, method: Literal["commit", "rollback"]) -> bool:
        """Call sqlite3's `method` at once when on the connection's own thread; else False."""
        driver = cast(aiosqlite.Connection, self._connection)
        if driver._connection is None or not _on_own_thread(driver):
            return False
        try:
            getattr(driver._conn, method)()
        except Exception as error:
            self._handle_exception(error)
        return True


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """Pass as `module=` to `create_async_engine` for a `sqlite+aiosqlite` URL."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)
