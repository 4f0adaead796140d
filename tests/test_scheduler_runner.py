"""The scheduler lives and dies with the app, runs its four jobs, logs failures with their
traceback scrubbed of what their text quotes, and lets running jobs finish before the database
closes."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web

from scheduler.runner import JobRunner
from service.domain.clock import FakeClock
from service.http import appkeys
from service.http.app import create_app
from service.settings import Settings


async def test_scheduler_starts_and_stops_with_the_app(
    aiohttp_client: object, settings: Settings, clock: FakeClock
) -> None:
    app = create_app(settings.model_copy(update={"scheduler_enabled": True}), clock=clock)
    client = await aiohttp_client(app)  # type: ignore[operator]
    scheduler = app[appkeys.SCHEDULER]
    assert scheduler.running
    assert {job.id for job in scheduler.get_jobs()} == {
        "deliver_outbox",
        "close_finished",
        "send_surveys",
        "erase_expired",
    }
    await client.close()
    await asyncio.sleep(0)
    assert not scheduler.running


async def test_no_scheduler_when_disabled(
    aiohttp_client: object, settings: Settings, clock: FakeClock
) -> None:
    app: web.Application = create_app(settings, clock=clock)
    client = await aiohttp_client(app)  # type: ignore[operator]
    assert appkeys.SCHEDULER not in app
    await client.close()


async def test_a_failing_job_is_logged_by_type_without_its_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> None:
        raise ValueError("kari@example.no cannot be reached")

    with caplog.at_level(logging.ERROR, logger="scheduler.runner"):
        await JobRunner().guarded("deliver_outbox", broken)()
    assert "deliver_outbox failed: ValueError" in caplog.text
    assert "kari@example.no" not in caplog.text


async def test_shutdown_waits_for_running_jobs() -> None:
    runner = JobRunner()
    release = asyncio.Event()
    finished: list[str] = []

    async def slow() -> None:
        await release.wait()
        finished.append("done")

    task = asyncio.ensure_future(runner.guarded("slow", slow)())
    await asyncio.sleep(0)
    assert runner.running == {task}
    asyncio.get_running_loop().call_soon(release.set)
    await runner.finish()
    assert finished == ["done"]
    assert runner.running == set()


def test_jobs_carry_their_names_for_the_scheduler_log(settings: Settings) -> None:
    from scheduler.jobs import Jobs
    from scheduler.outbox import EmlTransport
    from scheduler.runner import build_scheduler
    from service.storage.engine import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    jobs = Jobs(make_sessionmaker(engine), FakeClock(), settings, EmlTransport(settings.outbox_dir))
    scheduler = build_scheduler(jobs, settings, JobRunner())
    assert {job.name for job in scheduler.get_jobs()} == {
        "deliver_outbox",
        "close_finished",
        "send_surveys",
        "erase_expired",
    }
