"""The timed work of samkons, as plain async functions over injected dependencies.

Each job reads "now" from the injected clock, so tests advance a `FakeClock` and call a job
directly instead of waiting for the scheduler. `scheduler.runner` only decides when they run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler.outbox import DeliveryReport, Transport, deliver_due
from service.domain.clock import Clock
from service.settings import Settings
from service.usecases.lifecycle import ClosedCounts, close_finished
from service.usecases.retention import ErasedCounts, erase_expired
from service.usecases.survey import invite_finished

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Jobs:
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    settings: Settings
    transport: Transport

    async def deliver_outbox(self) -> DeliveryReport:
        """Send the mails that are due: new invites, updates, cancellations, reminders, retries."""
        report = await deliver_due(self.sessionmaker, self.clock, self.settings, self.transport)
        if report.sent or report.retried or report.failed:
            log.info(
                "outbox: %d sent, %d to retry, %d given up",
                report.sent,
                report.retried,
                report.failed,
            )
        return report

    async def close_finished(self) -> ClosedCounts:
        """Mark consultations past their end as no-show or completed."""
        counts = await close_finished(self.sessionmaker, self.clock, self.settings)
        if counts.no_show or counts.completed:
            log.info("closed: %d no-show, %d completed", counts.no_show, counts.completed)
        return counts

    async def send_surveys(self) -> int:
        """Queue the survey link for everyone in consultations that ended a while ago."""
        invited = await invite_finished(self.sessionmaker, self.clock, self.settings)
        if invited:
            log.info("survey: %d invited", invited)
        return invited

    async def erase_expired(self) -> ErasedCounts:
        """Erase personal data past the retention period."""
        counts = await erase_expired(self.sessionmaker, self.clock, self.settings)
        if counts.consultations or counts.patients:
            log.info(
                "retention: erased %d consultations, deleted %d patients",
                counts.consultations,
                counts.patients,
            )
        return counts
