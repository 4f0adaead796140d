"""The end-of-consultation sweep: after the end plus the grace period, a confirmed consultation
nobody joined becomes no_show, one in progress becomes completed; others are left alone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler.jobs import Jobs
from scheduler.outbox import EmlTransport
from service.domain.clock import FakeClock
from service.settings import Settings
from service.storage.models import AuditRecord, Booking, Consultation, ConsultationEvent
from service.usecases.lifecycle import ClosedCounts
from tests.factories import Client, build_world
from tests.mail_support import act, book, book_confirmed

OSLO = ZoneInfo("Europe/Oslo")
Db = async_sessionmaker[AsyncSession]


async def sweep(db: Db, clock: FakeClock, settings: Settings) -> ClosedCounts:
    return await Jobs(db, clock, settings, EmlTransport(settings.outbox_dir)).close_finished()


async def status_of(db: Db, cid: str) -> str:
    async with db() as s:
        status = await s.scalar(select(Consultation.status).where(Consultation.id == cid))
    assert status is not None
    return status


async def test_unjoined_becomes_no_show_and_running_becomes_completed_after_the_grace(
    client: Client, db: Db, settings: Settings, clock: FakeClock
) -> None:
    world = await build_world(db)
    nobody_came = await book_confirmed(client, world, "2026-01-07T10:00:00+01:00")
    took_place = await book_confirmed(client, world, "2026-01-07T11:00:00+01:00")
    still_requested = await book(client, world, "2026-01-07T12:00:00+01:00")
    cancelled = await book(client, world, "2026-01-07T13:00:00+01:00")
    await act(client, "gp", cancelled, "cancel")
    async with db() as s, s.begin():
        # Someone joined (the video side records this when the call starts).
        await s.execute(
            update(Consultation).where(Consultation.id == took_place).values(status="in_progress")
        )

    last_end = datetime(2026, 1, 7, 13, 30, tzinfo=OSLO)
    clock.set(datetime(2026, 1, 7, 11, 59, tzinfo=OSLO))  # 11:30 end + 29 minutes
    assert await sweep(db, clock, settings) == ClosedCounts(no_show=1, completed=0)
    clock.set(datetime(2026, 1, 7, 12, 0, tzinfo=OSLO))
    # 12:00 is also the start of the request nobody answered: it lapses.
    assert await sweep(db, clock, settings) == ClosedCounts(no_show=0, completed=1, expired=1)
    clock.set(last_end + timedelta(days=1))
    assert await sweep(db, clock, settings) == ClosedCounts()

    assert await status_of(db, nobody_came) == "no_show"
    assert await status_of(db, took_place) == "completed"
    assert await status_of(db, still_requested) == "cancelled"
    assert await status_of(db, cancelled) == "cancelled"
    async with db() as s:
        events = (
            await s.execute(
                select(ConsultationEvent.consultation_id, ConsultationEvent.action)
                .where(ConsultationEvent.actor_id.is_(None))
                .order_by(ConsultationEvent.id)
            )
        ).all()
        audits = (
            await s.execute(
                select(AuditRecord.consultation_id, AuditRecord.action).where(
                    AuditRecord.actor_role == "system"
                )
            )
        ).all()
    assert [tuple(e) for e in events] == [
        (nobody_came, "mark_no_show"),
        (took_place, "complete"),
        (still_requested, "expire"),
    ]
    assert sorted(tuple(a) for a in audits) == sorted(
        [(nobody_came, "mark_no_show"), (took_place, "complete"), (still_requested, "expire")]
    )
    async with db() as s:
        held = (
            await s.scalars(
                select(Booking.active).where(Booking.consultation_id == still_requested)
            )
        ).all()
    assert held and not any(held)  # the lapsed request no longer holds anyone's time


async def test_the_grace_period_is_a_setting(
    client: Client, db: Db, settings: Settings, clock: FakeClock
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, "2026-01-07T10:00:00+01:00")
    clock.set(datetime(2026, 1, 7, 10, 35, tzinfo=OSLO))
    short_grace = settings.model_copy(update={"sweep_grace_minutes": 5})
    assert await sweep(db, clock, settings) == ClosedCounts()
    assert await sweep(db, clock, short_grace) == ClosedCounts(no_show=1)
    assert await status_of(db, cid) == "no_show"
