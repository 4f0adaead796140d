"""Reminders: rendered with the invite, sent 24 hours and 1 hour before over real SMTP, moved
with the consultation, dropped when it is cancelled or already started, and still sent by a
service that restarted in between. Time moves by advancing the fake clock."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler.jobs import Jobs
from scheduler.outbox import transport_for
from service.domain.clock import FakeClock
from service.http.app import create_app
from service.settings import Settings
from service.storage.engine import make_engine, make_sessionmaker
from service.usecases.notifications import reminder_times
from tests.factories import Client, build_world
from tests.mail_support import (
    EVERYONE_WITH_MAIL,
    SmtpSink,
    act,
    book_confirmed,
    deliver,
    join_url_of,
    outbox_rows,
    smtp_settings,
)

OSLO = ZoneInfo("Europe/Oslo")
SLOT = "2026-01-07T10:00:00+01:00"  # Wednesday; the clock stands at Monday 09:00 Oslo
DAY_BEFORE = datetime(2026, 1, 6, 10, 0, tzinfo=OSLO)
HOUR_BEFORE = datetime(2026, 1, 7, 9, 0, tzinfo=OSLO)
N = len(EVERYONE_WITH_MAIL)

Db = async_sessionmaker[AsyncSession]


def reminders(sink: SmtpSink) -> list[str]:
    subjects = ("Påminning", "Påminnelse", "Reminder")
    return [
        r
        for received in sink.received
        if str(received.message["Subject"]).startswith(subjects)
        for r in received.recipients
    ]


def test_reminder_times_leave_out_past_and_duplicate_offsets() -> None:
    start = datetime(2026, 1, 7, 10, tzinfo=OSLO)
    now = datetime(2026, 1, 7, 8, tzinfo=OSLO)
    assert reminder_times(start, [24 * 60, 60, 60, 0], now) == [start - timedelta(hours=1)]
    assert reminder_times(start, [24 * 60, 60], start - timedelta(days=3)) == [
        start - timedelta(days=1),
        start - timedelta(hours=1),
    ]


async def test_reminders_go_out_at_their_time_with_each_persons_link(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    await book_confirmed(client, world, SLOT)
    await deliver(db, clock, settings, smtp)
    links = {a: join_url_of(smtp.to(a)[0]) for a in EVERYONE_WITH_MAIL}
    smtp.received.clear()

    clock.set(DAY_BEFORE - timedelta(seconds=1))
    assert (await deliver(db, clock, settings, smtp)).sent == 0
    clock.set(DAY_BEFORE)
    assert (await deliver(db, clock, settings, smtp)).sent == N
    assert Counter(reminders(smtp)) == Counter(EVERYONE_WITH_MAIL)
    for address in EVERYONE_WITH_MAIL:
        (message,) = smtp.to(address)
        assert join_url_of(message) == links[address]
        assert not any(p.get_content_type() == "text/calendar" for p in message.walk())
    clock.set(HOUR_BEFORE)
    assert (await deliver(db, clock, settings, smtp)).sent == N
    assert Counter(reminders(smtp)) == Counter(EVERYONE_WITH_MAIL * 2)


async def test_reminders_move_with_the_consultation(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    await act(client, "gp", cid, "reschedule", {"starts_at": "2026-01-08T11:00:00+01:00"})
    await act(client, "specialist", cid, "accept")
    await deliver(db, clock, settings, smtp)
    smtp.received.clear()

    clock.set(HOUR_BEFORE)  # the old times have passed
    assert (await deliver(db, clock, settings, smtp)).sent == 0
    clock.set(datetime(2026, 1, 7, 11, 0, tzinfo=OSLO))  # 24 hours before the new time
    assert (await deliver(db, clock, settings, smtp)).sent == N
    assert Counter(reminders(smtp)) == Counter(EVERYONE_WITH_MAIL)
    pending = [r for r in await outbox_rows(db, cid) if r.status == "pending"]
    assert [r.not_before for r in pending] == [datetime(2026, 1, 8, 10, 0, tzinfo=OSLO)] * N


async def test_cancelling_drops_the_reminders(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    assert len([r for r in await outbox_rows(db, cid) if r.kind == "reminder"]) == 2 * N
    await act(client, "gp", cid, "cancel")
    assert [r for r in await outbox_rows(db, cid) if r.kind == "reminder"] == []
    clock.set(HOUR_BEFORE)
    await deliver(db, clock, settings, smtp)
    assert reminders(smtp) == []


async def test_reminders_are_sent_by_a_restarted_service(
    aiohttp_client: object,
    client: Client,
    db: Db,
    settings: Settings,
    clock: FakeClock,
    smtp: SmtpSink,
) -> None:
    world = await build_world(db)
    await book_confirmed(client, world, SLOT)
    await deliver(db, clock, settings, smtp)
    await client.close()  # the first service stops
    smtp.received.clear()

    # A new app with its own engine on the same database, and a new sender.
    restarted = await aiohttp_client(create_app(settings, clock=clock))  # type: ignore[operator]
    engine = make_engine(settings.database_url)
    try:
        clock.set(DAY_BEFORE)
        configured = smtp_settings(settings, smtp)
        jobs = Jobs(make_sessionmaker(engine), clock, configured, transport_for(configured))
        assert (await jobs.deliver_outbox()).sent == N
    finally:
        await engine.dispose()
        await restarted.close()
    assert Counter(reminders(smtp)) == Counter(EVERYONE_WITH_MAIL)


async def test_reminders_still_waiting_when_the_consultation_starts_are_dropped(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    clock.set(datetime(2026, 1, 7, 10, 5, tzinfo=OSLO))  # the service was down until now
    report = await deliver(db, clock, settings, smtp)
    assert (report.sent, report.dropped) == (N, 2 * N)  # the invites go, the reminders not
    assert reminders(smtp) == []
    statuses = Counter((r.kind, r.status) for r in await outbox_rows(db, cid))
    assert statuses == Counter({("invite", "sent"): N, ("reminder", "superseded"): 2 * N})
