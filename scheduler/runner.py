"""When the jobs run: an APScheduler `AsyncIOScheduler` that lives and dies with the app.

`scheduler_ctx` is an aiohttp cleanup context: it starts the scheduler when
`settings.scheduler_enabled`, and on shutdown stops new runs, lets running jobs finish (up to
`SHUTDOWN_GRACE`) and only then lets the database close. Every job's state is in the database
(outbox rows with their `not_before`, consultation status), so nothing is lost across restarts
and the scheduler keeps no job store of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.jobs import Jobs
from scheduler.outbox import transport_for
from service.http import appkeys
from service.http.logs import scrubbed_traceback
from service.http.ops import METRICS, Metrics
from service.settings import Settings

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 10.0
CLOSE_FINISHED_EVERY_MINUTES = 5
SEND_SURVEYS_EVERY_MINUTES = 5


class JobRunner:
    """Runs jobs so that a failure is logged with its traceback and shutdown can wait for the
    ones in flight.

    The traceback's text may quote data (SQL parameters, addresses): it is logged scrubbed
    (`service.http.logs.scrubbed_traceback`), whatever formatter writes the log.
    """

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.running: set[asyncio.Task[object]] = set()
        self._metrics = metrics

    def guarded(
        self, name: str, job: Callable[[], Awaitable[object]]
    ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            self.running.add(task)
            if self._metrics is not None:
                self._metrics.job_runs.labels(name).inc()
            try:
                await job()
            except Exception as error:
                if self._metrics is not None:
                    self._metrics.job_failures.labels(name).inc()
                log.error(
                    "job %s failed: %s\n%s", name, type(error).__name__, scrubbed_traceback(error)
                )
            finally:
                self.running.discard(task)

        return run

    async def finish(self) -> None:
        """Wait for the jobs in flight, up to `SHUTDOWN_GRACE` seconds."""
        if self.running:
            await asyncio.wait(list(self.running), timeout=SHUTDOWN_GRACE)


def build_scheduler(jobs: Jobs, settings: Settings, runner: JobRunner) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=settings.tz)
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 300}
    scheduler.add_job(
        runner.guarded("deliver_outbox", jobs.deliver_outbox),
        IntervalTrigger(seconds=settings.outbox_poll_seconds),
        id="deliver_outbox",
        name="deliver_outbox",
        next_run_time=datetime.now(UTC),
        **common,
    )
    scheduler.add_job(
        runner.guarded("close_finished", jobs.close_finished),
        IntervalTrigger(minutes=CLOSE_FINISHED_EVERY_MINUTES),
        id="close_finished",
        name="close_finished",
        next_run_time=datetime.now(UTC),
        **common,
    )
    scheduler.add_job(
        runner.guarded("send_surveys", jobs.send_surveys),
        IntervalTrigger(minutes=SEND_SURVEYS_EVERY_MINUTES),
        id="send_surveys",
        name="send_surveys",
        next_run_time=datetime.now(UTC),
        **common,
    )
    # At night, when nobody is waiting for the database.
    scheduler.add_job(
        runner.guarded("erase_expired", jobs.erase_expired),
        CronTrigger(hour=3, minute=17, timezone=settings.tz),
        id="erase_expired",
        name="erase_expired",
        **common,
    )
    return scheduler


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    if not settings.scheduler_enabled:
        yield
        return
    jobs = Jobs(app[appkeys.DB], app[appkeys.CLOCK], settings, transport_for(settings))
    runner = JobRunner(app[METRICS])
    scheduler = build_scheduler(jobs, settings, runner)
    scheduler.start()
    app[appkeys.SCHEDULER] = scheduler
    try:
        yield
    finally:
        scheduler.pause()
        await runner.finish()
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # APScheduler shuts down on the loop's next turn
