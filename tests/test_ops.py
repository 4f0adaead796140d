"""Operators' endpoints: `/healthz` answers while the process is up; `/readyz` fails while the
database is unreachable or behind the migrations, and recovers when it is back; `/metrics` shows
request latency by canonical route, server errors, job runs and failures, and the outbox backlog
growing while SMTP is down and draining after; and it answers only the loopback interface, or
the configured bearer token. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler.runner import JobRunner
from service.domain.clock import FakeClock
from service.http import appkeys
from service.http.app import create_app
from service.http.ops import METRICS
from service.settings import Settings
from service.storage.migrate import upgrade_to_head_async
from tests.conftest import PG_ADMIN_DSN
from tests.factories import Client, build_world
from tests.mail_support import SmtpSink, act, book, free_port, mail_jobs
from tests.signalling_support import eventually, receive_type
from tests.video_support import ORIGIN, make_call

Db = async_sessionmaker[AsyncSession]
SLOT = "2026-01-07T10:00:00+01:00"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text answer, by name and labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await client.get("/metrics")
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/plain"
    return samples(await resp.text())


def backlog(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> tuple[float, float]:
    return (
        metrics[("samkons_outbox_backlog", ())],
        metrics[("samkons_outbox_oldest_undelivered_age_seconds", ())],
    )


async def test_healthz(client: Client) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert (await resp.json())["status"] == "ok"


async def test_readyz_when_all_is_well(client: Client) -> None:
    resp = await client.get("/readyz")
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"status": "ready", "checks": {"database": "ok"}}


# --- readiness while the database is away ----------------------------------------------------


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def away_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A database URL whose database does not exist yet (the test creates it)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path}/not-yet/samkons.sqlite3"
        return
    name = f"samkons_away_{uuid.uuid4().hex[:8]}"
    yield db_url.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def away_client(
    aiohttp_client: object, settings: Settings, clock: FakeClock, away_url: str
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = create_app(settings.model_copy(update={"database_url": away_url}), clock=clock)
    yield await aiohttp_client(app)  # type: ignore[operator]


async def test_readyz_fails_while_the_database_is_unreachable_and_recovers(
    away_client: Client, away_url: str
) -> None:
    resp = await away_client.get("/readyz")
    assert resp.status == 503
    assert await resp.json() == {"status": "not ready", "checks": {"database": "unreachable"}}
    assert (await away_client.get("/healthz")).status == 200  # the process itself is fine

    # The database appears, but empty: reachable, not migrated.
    if away_url.startswith("sqlite"):
        Path(away_url.removeprefix("sqlite+aiosqlite:///")).parent.mkdir()
    else:
        await _pg_admin(f'CREATE DATABASE "{away_url.rsplit("/", 1)[1]}"')
    resp = await away_client.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["checks"] == {"database": "migrations not at head"}

    await upgrade_to_head_async(away_url)
    resp = await away_client.get("/readyz")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["checks"] == {"database": "ok"}


class TcpProxy:
    """Forwards a local port to Redis; stopped, it drops every connection and refuses new ones."""

    def __init__(self, target_port: int = 6379) -> None:
        self.port = free_port()
        self._target = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        self._writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_readyz_fails_while_redis_is_unreachable_and_recovers(
    aiohttp_client: object, settings: Settings, clock: FakeClock
) -> None:
    proxy = TcpProxy()
    await proxy.start()
    redis_url = f"redis://127.0.0.1:{proxy.port}/0"
    app = create_app(settings.model_copy(update={"redis_url": redis_url}), clock=clock)
    client = await aiohttp_client(app)  # type: ignore[operator]
    resp = await client.get("/readyz")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["checks"] == {"database": "ok", "redis": "ok"}

    await proxy.stop()
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["checks"] == {"database": "ok", "redis": "unreachable"}

    await proxy.start()
    for _ in range(50):  # the client reconnects on its next command
        resp = await client.get("/readyz")
        if resp.status == 200:
            break
        await asyncio.sleep(0.1)
    assert (await resp.json())["checks"] == {"database": "ok", "redis": "ok"}
    await client.close()
    await proxy.stop()


# --- metrics ---------------------------------------------------------------------------------


@pytest.fixture
def smtp() -> SmtpSink:
    return SmtpSink()  # not started: SMTP is down until the test starts it


async def test_the_outbox_backlog_grows_while_smtp_is_down_and_drains_after(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    assert backlog(await scrape(client)) == (0, 0)
    jobs = mail_jobs(db, clock, settings, smtp)

    first = await book(client, world, SLOT)
    await act(client, "specialist", first, "accept")
    await jobs.deliver_outbox()  # SMTP down: the five mails wait
    clock.advance(timedelta(minutes=10))
    due, age = backlog(await scrape(client))
    assert due == 5
    assert age == pytest.approx(600)

    second = await book(client, world, "2026-01-07T11:00:00+01:00")
    await act(client, "specialist", second, "accept")
    await jobs.deliver_outbox()
    due, age = backlog(await scrape(client))
    assert due == 10
    assert age == pytest.approx(600)  # the first five have been due since their confirmation

    smtp.start()
    try:
        clock.advance(timedelta(minutes=5))  # past the first retry's delay
        report = await jobs.deliver_outbox()
    finally:
        smtp.stop()
    assert report.sent == 10
    assert backlog(await scrape(client)) == (0, 0)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_request_latency_by_route_and_server_errors(
    aiohttp_client: object, settings: Settings, clock: FakeClock
) -> None:
    app = create_app(settings, clock=clock)

    async def broken(_: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    app.router.add_get("/api/v1/broken/{secret}", broken)
    client = await aiohttp_client(app)  # type: ignore[operator]
    token = "a-join-token-that-must-not-be-a-label"
    assert (await client.get(f"/bli-med/{token}")).status in (200, 404, 410)
    assert (await client.get(f"/api/v1/broken/{token}")).status == 500
    assert (await client.get("/no/such/path")).status == 404

    resp = await client.get("/metrics")
    text = await resp.text()
    assert token not in text
    metrics = samples(text)
    count = "samkons_http_request_duration_seconds_count"
    assert metrics[(count, (("method", "GET"), ("route", "/bli-med/{token}")))] == 1
    assert metrics[(count, (("method", "GET"), ("route", "/api/v1/broken/{secret}")))] == 1
    assert metrics[(count, (("method", "GET"), ("route", "(unmatched)")))] == 1
    errors = "samkons_http_server_errors_total"
    assert metrics[(errors, (("method", "GET"), ("route", "/api/v1/broken/{secret}")))] == 1
    assert not [k for k in metrics if k[0] == errors and "bli-med" in str(k)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_job_runs_and_failures_are_counted(client: Client) -> None:
    app: web.Application = client.app
    runner = JobRunner(app[METRICS])

    async def fine() -> None:
        return None

    async def broken() -> None:
        raise RuntimeError("a bug")

    await runner.guarded("close_finished", fine)()
    await runner.guarded("send_surveys", broken)()
    await runner.guarded("send_surveys", broken)()
    metrics = await scrape(client)
    assert metrics[("samkons_job_runs_total", (("job", "close_finished"),))] == 1
    assert metrics[("samkons_job_runs_total", (("job", "send_surveys"),))] == 2
    assert metrics[("samkons_job_failures_total", (("job", "send_surveys"),))] == 2
    assert ("samkons_job_failures_total", (("job", "close_finished"),)) not in metrics


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_metrics_are_not_served_through_a_proxy(client: Client) -> None:
    for header in ("X-Forwarded-For", "Forwarded"):
        resp = await client.get("/metrics", headers={header: "203.0.113.9"})
        assert resp.status == 403
        assert resp.content_type == "application/problem+json"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_with_a_token_metrics_need_it(
    aiohttp_client: object, settings: Settings, clock: FakeClock
) -> None:
    configured = settings.model_copy(update={"metrics_token": SecretStr("s3cret-metrics-token")})
    client = await aiohttp_client(create_app(configured, clock=clock))  # type: ignore[operator]
    assert (await client.get("/metrics")).status == 403  # loopback alone is not enough then
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert wrong.status == 403
    right = await client.get(
        "/metrics",
        headers={"Authorization": "Bearer s3cret-metrics-token", "X-Forwarded-For": "203.0.113.9"},
    )
    assert right.status == 200


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_open_call_rooms_and_sockets_are_counted(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    world = await build_world(db)
    call = await make_call(db, world, clock.now())
    gauges = ("samkons_call_rooms_open", "samkons_call_sockets_open")
    metrics = await scrape(client)
    assert [metrics[(g, ())] for g in gauges] == [0, 0]
    sockets = []
    for role in ("patient", "relative"):
        ws = await client.ws_connect(call.ws_path(role), headers={"Origin": ORIGIN})
        await ws.send_json({"type": "join", "protocol": 1})
        await receive_type(ws, "joined")
        sockets.append(ws)
    metrics = await scrape(client)
    assert [metrics[(g, ())] for g in gauges] == [1, 2]
    for ws in sockets:
        await ws.close()
    await eventually(lambda: client.app[appkeys.SIGNALLING_HUB].open_sockets() == 0)
    metrics = await scrape(client)
    assert [metrics[(g, ())] for g in gauges] == [0, 0]
