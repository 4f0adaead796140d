"""No personal data in any log line, and tracebacks an operator can act on.

The scrubbing formatter (`service.http.logs`) redacts SQL parameters, PostgreSQL's key and row
details, e-mail addresses, fødselsnummer and phone numbers, and keeps frames and exception
types; `samkons` installs it. Fault injection: the database connection killed in the middle of
a booking's and of a job's transaction (PostgreSQL's `pg_terminate_backend` from another
connection), SMTP down, a job raising with data in its message. Each run's whole log, as the
formatter writes it and as pytest captures it, is searched for every name, e-mail address, phone
number and fødselsnummer the test used.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler.jobs import Jobs
from scheduler.outbox import transport_for
from scheduler.runner import JobRunner
from service.domain.clock import FakeClock
from service.http import appkeys
from service.http.logs import ScrubbingFormatter, configure_logging, scrub
from service.settings import Settings
from tests.factories import Client, booking_body, build_world, login
from tests.mail_support import act, free_port

Db = async_sessionmaker[AsyncSession]
SLOT = "2026-01-07T10:00:00+01:00"

NAME = "Ragnhild Fjellstad"
EMAIL = "ragnhild.fjellstad@eksempel.no"
PHONE = "+47 912 34 567"
FNR = "31129956715"
RELATIVE_NAME = "Torstein Fjellstad"
RELATIVE_EMAIL = "torstein@fjellstad.no"
RELATIVE_PHONE = "98765432"
PERSONAL = (
    NAME,
    EMAIL,
    PHONE,
    PHONE.replace(" ", ""),
    "91234567",
    FNR,
    RELATIVE_NAME,
    RELATIVE_EMAIL,
    RELATIVE_PHONE,
    "Fjellstad",
)
SQL_LINE = "[SQL: INSERT INTO patients (name, email) VALUES ($1, $2)]"
TRACEBACK_FRAME = re.compile(r'File "[^"]+\.py", line \d+, in \w+')


# --- the scrubbing itself --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        (
            "\n".join(
                [
                    SQL_LINE,
                    f"[parameters: (1, '{NAME}', '{EMAIL}', '5914', 'abc123')]",
                    "(Background on this error at: https://sqlalche.me/e/20/dbapi)",
                ]
            ),
            [SQL_LINE, "sqlalche.me/e/20"],
            [NAME, EMAIL, "5914", "abc123"],
        ),
        (
            f"DETAIL:  Key (fnr_hash)=(deadbeef{FNR}) already exists.",
            ["Key (fnr_hash)="],
            ["deadbeef", FNR],
        ),
        (
            f'DETAIL:  Failing row contains (7, {NAME}, "x").',
            ["Failing row contains"],
            [NAME],
        ),
        (
            "to bjørn@eksempel.no, mailto:bj%C3%B8rn@eksempel.no and <a.b+c@sub.example.org>",
            ["to ", "mailto:"],
            ["bjørn@", "bj%C3%B8rn@", "a.b+c@", "eksempel.no", "sub.example.org"],
        ),
        (
            f"fnr {FNR}, 311299 56715; phone {PHONE}, 91234567, 0047 91234567, +4791234567",
            ["fnr ", "phone "],
            [FNR, "311299 56715", PHONE, "91234567", "0047 9123", "+4791234567"],
        ),
        (
            "2026-12-04 19:00:00,123 ERROR scheduler.runner job deliver_outbox failed\n"
            '  File "/srv/samkons/scheduler/runner.py", line 52, in run\n'
            "    @web.middleware\n"
            "sqlalchemy.exc.DBAPIError: <object at 0x7f3a12345678> port 5432 took 12345 ms",
            [
                "2026-12-04 19:00:00,123",
                'File "/srv/samkons/scheduler/runner.py", line 52, in run',
                "@web.middleware",
                "sqlalchemy.exc.DBAPIError",
                "0x7f3a12345678",
                "5432",
                "12345 ms",
            ],
            [],
        ),
    ],
    ids=["sql-parameters", "key-detail", "failing-row", "e-mail", "fnr-and-phone", "kept-as-is"],
)
def test_scrub(text: str, kept: list[str], gone: list[str]) -> None:
    scrubbed = scrub(text)
    for part in kept:
        assert part in scrubbed
    for part in gone:
        assert part not in scrubbed, (part, scrubbed)


def _raise_with_data() -> None:
    detail = f"could not reach {EMAIL} ({PHONE}, {FNR})\n[parameters: ('{NAME}',)]"
    raise RuntimeError(detail)


def test_the_formatter_scrubs_message_traceback_and_stack() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ScrubbingFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.scrubbing")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            _raise_with_data()
        except RuntimeError:
            logger.exception("failed for %s", EMAIL, stack_info=True)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    written = stream.getvalue()
    for value in PERSONAL:
        assert value not in written
    assert "ERROR failed for [e-mail]" in written
    assert "RuntimeError: could not reach [e-mail] ([phone], [fnr])" in written
    assert "in _raise_with_data" in written
    assert "Stack (most recent call last)" in written


def test_samkons_installs_the_scrubbing_formatter(monkeypatch: pytest.MonkeyPatch) -> None:
    from service import cli

    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    served: list[Settings] = []
    monkeypatch.setattr(cli, "_serve", served.append)
    try:
        assert cli.main(["serve"]) == 0
        assert served
        (handler,) = root.handlers
        assert isinstance(handler.formatter, ScrubbingFormatter)
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])


# --- fault injection ---------------------------------------------------------------------------


@pytest.fixture
def written_log() -> Iterator[io.StringIO]:
    """Everything logged during the test, as `configure_logging` writes it."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    stream = io.StringIO()
    handler = configure_logging(logging.INFO, stream)
    # pytest's capture (caplog) stays too: its own formatter must see nothing either.
    for old in before[0]:
        root.addHandler(old)
    yield stream
    root.removeHandler(handler)
    root.handlers[:] = before[0]
    root.setLevel(before[1])


def assert_no_personal_data(*logs: str) -> None:
    for text in logs:
        for value in PERSONAL:
            assert value not in text, (value, text)
            assert value.lower() not in text.lower(), (value, text)


def assert_actionable(text: str, exception_type: str) -> None:
    assert exception_type in text, text
    assert TRACEBACK_FRAME.search(text), text


def new_patient_booking(world: Any) -> dict[str, Any]:
    return booking_body(
        world,
        SLOT,
        patient_id=None,
        patient={"name": NAME, "email": EMAIL, "phone": PHONE, "postal_code": "5003", "fnr": FNR},
        relatives=[{"name": RELATIVE_NAME, "email": RELATIVE_EMAIL, "phone": RELATIVE_PHONE}],
    )


def terminate_backend_on(engine: AsyncEngine, dsn: str, statement_start: str) -> None:
    """Whenever `engine` is about to run a statement starting with `statement_start`, its
    server process is terminated from another connection: the statement meets a dead
    connection in the middle of its transaction."""

    async def terminate(pid: int) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await conn.close()

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _kill(
        conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        if not statement.lstrip().upper().startswith(statement_start):
            return
        pid = conn.connection.driver_connection.get_server_pid()
        # Its own event loop on another thread: this one is inside the statement's call.
        killer = threading.Thread(target=lambda: asyncio.run(terminate(pid)))
        killer.start()
        killer.join()


def admin_dsn(settings: Settings) -> str:
    return settings.database_url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_booking_whose_connection_dies_logs_no_personal_data(
    client: Client,
    db: Db,
    settings: Settings,
    written_log: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    app: web.Application = client.app
    terminate_backend_on(app[appkeys.ENGINE], admin_dsn(settings), "INSERT INTO PATIENTS")

    resp = await client.post("/api/v1/consultations", json=new_patient_booking(world), headers=gp)

    assert resp.status >= 500, await resp.text()
    assert_no_personal_data(written_log.getvalue(), caplog.text, await resp.text())
    assert_actionable(written_log.getvalue(), "sqlalchemy.exc.")
    assert "unhandled error on POST /api/v1/consultations" in written_log.getvalue()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_job_whose_connection_dies_logs_its_traceback(
    client: Client,
    db: Db,
    settings: Settings,
    clock: FakeClock,
    written_log: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    resp = await client.post("/api/v1/consultations", json=new_patient_booking(world), headers=gp)
    assert resp.status == 201, await resp.text()
    await act(client, "specialist", (await resp.json())["id"], "accept")
    app: web.Application = client.app
    terminate_backend_on(app[appkeys.ENGINE], admin_dsn(settings), "UPDATE OUTBOX")
    jobs = Jobs(app[appkeys.DB], clock, settings, transport_for(settings))

    await JobRunner().guarded("deliver_outbox", jobs.deliver_outbox)()

    assert "job deliver_outbox failed" in written_log.getvalue()
    assert_actionable(written_log.getvalue(), "sqlalchemy.exc.")
    assert "scheduler/outbox.py" in written_log.getvalue()
    assert_no_personal_data(written_log.getvalue(), caplog.text)


async def test_smtp_down_logs_no_personal_data(
    client: Client,
    db: Db,
    settings: Settings,
    clock: FakeClock,
    written_log: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    resp = await client.post("/api/v1/consultations", json=new_patient_booking(world), headers=gp)
    assert resp.status == 201, await resp.text()
    await act(client, "specialist", (await resp.json())["id"], "accept")
    nobody_listens = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_starttls": False}
    )
    jobs = Jobs(db, clock, nobody_listens, transport_for(nobody_listens))

    await JobRunner().guarded("deliver_outbox", jobs.deliver_outbox)()

    assert "mail delivery failed for 4 mails: SMTPConnectError" in written_log.getvalue()
    assert_no_personal_data(written_log.getvalue(), caplog.text)


async def test_a_job_raising_with_data_in_its_message_logs_it_scrubbed(
    written_log: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> None:
        _raise_with_data()

    await JobRunner().guarded("erase_expired", broken)()

    assert "job erase_expired failed: RuntimeError" in caplog.text
    assert_actionable(written_log.getvalue(), "RuntimeError: could not reach [e-mail]")
    assert "in _raise_with_data" in caplog.text  # safe under pytest's own formatter too
    assert_no_personal_data(written_log.getvalue(), caplog.text)
