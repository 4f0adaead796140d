"""Invites, updates and cancellations end to end: booked through the API, written to the outbox
in the booking's transaction, delivered over real SMTP (aiosmtpd on 127.0.0.1), read back with
`icalendar` and Mozilla's ical.js. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler.jobs import Jobs
from scheduler.outbox import LEASE, DeliveryReport, transport_for
from service.domain.clock import FakeClock
from service.domain.errors import NotFound
from service.domain.join import JoinNotOpen
from service.settings import Settings
from service.storage import outbox as outbox_store
from service.storage.engine import make_engine, make_sessionmaker
from service.usecases.join_links import resolve_join_token
from tests.factories import Client, build_world
from tests.mail_support import (
    EVERYONE_WITH_MAIL,
    SmtpSink,
    act,
    attachment,
    book,
    book_confirmed,
    calendar_part,
    decoded_text,
    deliver,
    join_url_of,
    outbox_rows,
    smtp_settings,
)
from tests.test_invites import parse_with_icaljs

OSLO = ZoneInfo("Europe/Oslo")
# Wednesday 7 January 2026, 10:00 in Oslo; the clock stands at Monday 5 January 09:00 Oslo.
SLOT = "2026-01-07T10:00:00+01:00"
SLOT_START = datetime(2026, 1, 7, 10, 0, tzinfo=OSLO)
PURPOSE = "Oppfølging etter innlegging"
HEALTH_WORDS = (PURPOSE, "frail_elderly", "skrøpeleg", "skrøpelig", "frail", "innlegging")
REQUIRED = {"gp@test.no", "spes@test.no", "p1@test.no"}

Db = async_sessionmaker[AsyncSession]


async def link_refused(db: Db, clock: FakeClock, link: str, refusal: type[Exception]) -> None:
    """At the consultation's time (8 January, 11:00), `link` does not let anyone in."""
    clock.set(datetime(2026, 1, 8, 11, tzinfo=OSLO))
    async with db() as s:
        with pytest.raises(refusal):
            await resolve_join_token(s, link.rsplit("/", 1)[1], clock.now())


async def one_mail_each(
    db: Db, clock: FakeClock, settings: Settings, smtp: SmtpSink
) -> list[EmailMessage]:
    """Deliver what is due, which must be exactly one mail to each participant with an address."""
    assert (await deliver(db, clock, settings, smtp)).sent == len(EVERYONE_WITH_MAIL)
    messages = []
    for address in EVERYONE_WITH_MAIL:
        (message,) = smtp.to(address)
        messages.append(message)
    return messages


def only_event(ics: bytes) -> tuple[Calendar, dict[str, object]]:
    cal = Calendar.from_ical(ics)
    (event,) = cal.walk("VEVENT")
    return cal, event


def mailto(value: object) -> str:
    return str(value).removeprefix("mailto:").lower()


async def test_confirming_sends_one_invite_to_each_participant(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cid = await book(client, world, SLOT)
    # A request under negotiation is between the two clinicians: nobody is mailed yet.
    assert (await deliver(db, clock, settings, smtp)).sent == 0
    await act(client, "specialist", cid, "accept")

    report = await deliver(db, clock, settings, smtp)

    assert report.sent == len(EVERYONE_WITH_MAIL)
    delivered = Counter(r for received in smtp.received for r in received.recipients)
    assert delivered == Counter(EVERYONE_WITH_MAIL)
    links = {}
    for address in EVERYONE_WITH_MAIL:
        (message,) = smtp.to(address)
        ics = calendar_part(message)
        assert attachment(message) == ics
        assert message.get_body(("plain",)) is not None
        cal, event = only_event(ics)
        assert cal["METHOD"] == "REQUEST"
        assert event["UID"] == f"{cid}@samkons"
        assert event["SEQUENCE"] == 1  # booking is revision 0, confirmation 1
        assert event["STATUS"] == "CONFIRMED"
        assert event.decoded("DTSTART") == SLOT_START  # type: ignore[attr-defined]
        assert event["DTSTART"].params["TZID"] == "Europe/Oslo"  # type: ignore[attr-defined]
        assert "DTSTAMP" in event
        assert event["ORGANIZER"].params["CN"] == "Kari Fastlege"  # type: ignore[attr-defined]
        attendees = {mailto(a): a.params for a in event["ATTENDEE"]}  # type: ignore[attr-defined]
        assert set(attendees) == set(EVERYONE_WITH_MAIL)
        for who, params in attendees.items():
            expected = "REQ-PARTICIPANT" if who in REQUIRED else "OPT-PARTICIPANT"
            assert params["ROLE"] == expected
            assert params["PARTSTAT"] == "NEEDS-ACTION"
            assert params["RSVP"] == "FALSE"
        link = join_url_of(message)
        assert str(event["URL"]) == link == str(event["LOCATION"])
        links[address] = link

        thunderbird = parse_with_icaljs(attachment(message))
        assert thunderbird["method"] == "REQUEST"
        (seen,) = thunderbird["events"]
        assert seen["uid"] == f"{cid}@samkons"
        assert seen["sequence"] == 1
        assert seen["start"]["local"] == "2026-01-07T10:00:00"
        assert seen["start"]["utc"] == "2026-01-07T09:00:00Z"
        assert seen["url"] == link
        assert len(seen["alarms"]) == 1

    page = f"{settings.base_url}/samkonsultasjonar/{cid}"
    assert links["gp@test.no"] == links["spes@test.no"] == page
    guests = [links[a] for a in ("p1@test.no", "dotter@test.no", "tolk@test.no")]
    assert all(link.startswith(f"{settings.base_url}/bli-med/") for link in guests)
    assert len(set(guests)) == 3

    # The patient's link opens the consultation at its time, and belongs to the patient.
    clock.set(SLOT_START)
    async with db() as s:
        participant, consultation = await resolve_join_token(
            s, links["p1@test.no"].rsplit("/", 1)[1], clock.now()
        )
    assert (participant.role, consultation.id) == ("patient", cid)


async def test_no_health_details_in_any_mail(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    await deliver(db, clock, settings, smtp)
    await act(client, "gp", cid, "reschedule", {"starts_at": "2026-01-08T11:00:00+01:00"})
    await deliver(db, clock, settings, smtp)
    await act(client, "gp", cid, "cancel")
    await deliver(db, clock, settings, smtp)
    assert len(smtp.received) == 3 * len(EVERYONE_WITH_MAIL)  # invites, updates, cancels
    for received in smtp.received:
        text = decoded_text(received.message).lower()
        for word in HEALTH_WORDS:
            assert word.lower() not in text


async def test_reschedule_keeps_the_uid_and_raises_the_sequence_then_cancel(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    await deliver(db, clock, settings, smtp)
    first_link = join_url_of(smtp.to("p1@test.no")[0])
    smtp.received.clear()

    await act(client, "gp", cid, "reschedule", {"starts_at": "2026-01-08T11:00:00+01:00"})
    # Back to a request: everyone hears of the new time, marked as not confirmed yet, with no
    # link, no alarm and no reminders; their old links still say "not confirmed".
    for message in await one_mail_each(db, clock, settings, smtp):
        cal, event = only_event(calendar_part(message))
        assert cal["METHOD"] == "REQUEST"
        assert event["UID"] == f"{cid}@samkons"
        assert event["SEQUENCE"] == 2
        assert event["STATUS"] == "TENTATIVE"
        assert b"BEGIN:VALARM" not in calendar_part(message)
        assert event.decoded("DTSTART") == datetime(2026, 1, 8, 11, tzinfo=OSLO)  # type: ignore[attr-defined]
        assert "/bli-med/" not in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert str(smtp.to("p1@test.no")[0]["Subject"]).startswith("Endra")  # nynorsk
    assert str(smtp.to("dotter@test.no")[0]["Subject"]).startswith("Endret")  # bokmål
    assert str(smtp.to("tolk@test.no")[0]["Subject"]).startswith("Changed")
    assert "ikkje er stadfesta enno" in smtp.to("p1@test.no")[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    async with db() as s:  # no reminders for an unconfirmed time
        assert not [m for m in await outbox_store.mails_of(s, cid) if m.status == "pending"]
    await link_refused(db, clock, first_link, JoinNotOpen)
    smtp.received.clear()

    # Confirmed again: the update carries a new link; the old one no longer opens anything.
    clock.set(datetime(2026, 1, 5, 12, tzinfo=OSLO))
    await act(client, "specialist", cid, "accept")
    for message in await one_mail_each(db, clock, settings, smtp):
        _, event = only_event(calendar_part(message))
        assert (event["SEQUENCE"], event["STATUS"]) == (3, "CONFIRMED")
    new_link = join_url_of(smtp.to("p1@test.no")[0])
    assert new_link != first_link
    await link_refused(db, clock, first_link, NotFound)
    smtp.received.clear()

    clock.set(datetime(2026, 1, 6, 9, tzinfo=OSLO))
    await act(client, "gp", cid, "cancel")
    for message in await one_mail_each(db, clock, settings, smtp):
        calendar = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        assert calendar.get_param("method") == "CANCEL"
        cal, event = only_event(calendar_part(message))
        assert cal["METHOD"] == "CANCEL"
        assert event["UID"] == f"{cid}@samkons"
        assert event["SEQUENCE"] == 4
        assert event["STATUS"] == "CANCELLED"
        seen = parse_with_icaljs(attachment(message))
        assert seen["method"] == "CANCEL"
        assert seen["events"][0]["status"] == "CANCELLED"
        assert seen["events"][0]["uid"] == f"{cid}@samkons"
    await link_refused(db, clock, new_link, NotFound)


async def test_cancelling_a_request_never_confirmed_tells_only_the_clinicians(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cid = await book(client, world, SLOT)
    await act(client, "gp", cid, "cancel")
    await deliver(db, clock, settings, smtp)
    assert sorted(r for m in smtp.received for r in m.recipients) == ["gp@test.no", "spes@test.no"]
    for received in smtp.received:
        cal, _ = only_event(calendar_part(received.message))
        assert cal["METHOD"] == "CANCEL"


async def test_a_proposal_before_confirmation_mails_no_one(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cid = await book(client, world, SLOT)
    await act(client, "specialist", cid, "propose", {"starts_at": "2026-01-08T11:00:00+01:00"})
    assert (await deliver(db, clock, settings, smtp)).sent == 0
    await act(client, "gp", cid, "accept")
    await deliver(db, clock, settings, smtp)
    (message,) = smtp.to("p1@test.no")
    assert str(message["Subject"]).startswith("Invitasjon")
    _, event = only_event(calendar_part(message))
    assert event["SEQUENCE"] == 2


async def test_booking_works_while_smtp_is_down_and_every_mail_arrives_once_later(
    client: Client, db: Db, settings: Settings, clock: FakeClock
) -> None:
    sink = SmtpSink()  # not started: its port refuses connections
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)

    down = await deliver(db, clock, settings, sink)
    assert (down.sent, down.retried) == (0, len(EVERYONE_WITH_MAIL))
    rows = [r for r in await outbox_rows(db, cid) if r.kind == "invite"]
    assert {(r.status, r.attempts) for r in rows} == {("pending", 1)}
    assert {r.last_error for r in rows} <= {"SMTPConnectError", "ConnectionRefusedError"}

    sink.start()
    try:
        assert (await deliver(db, clock, settings, sink)).sent == 0  # waits for its backoff
        clock.advance(timedelta(minutes=1))
        assert (await deliver(db, clock, settings, sink)).sent == len(EVERYONE_WITH_MAIL)
        clock.advance(timedelta(minutes=30))
        assert (await deliver(db, clock, settings, sink)).sent == 0
    finally:
        sink.stop()
    delivered = Counter(r for received in sink.received for r in received.recipients)
    assert delivered == Counter(EVERYONE_WITH_MAIL)
    sent = [r for r in await outbox_rows(db, cid) if r.kind == "invite"]
    assert {(r.status, r.message) for r in sent} == {("sent", None)}


async def test_mails_held_by_a_crashed_sender_go_out_once_after_its_lease(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    await book_confirmed(client, world, SLOT)
    async with db() as s, s.begin():
        held = await outbox_store.claim_due(
            s, now=clock.now(), lease_until=clock.now() + LEASE, claim="dead", limit=100
        )
    assert len(held) == len(EVERYONE_WITH_MAIL)

    assert (await deliver(db, clock, settings, smtp)).sent == 0
    clock.advance(LEASE)
    assert (await deliver(db, clock, settings, smtp)).sent == len(EVERYONE_WITH_MAIL)
    assert (await deliver(db, clock, settings, smtp)).sent == 0
    delivered = Counter(r for received in smtp.received for r in received.recipients)
    assert delivered == Counter(EVERYONE_WITH_MAIL)


async def test_two_senders_on_one_database_send_each_mail_exactly_once(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    for start in (
        "2026-01-08T10:00:00+01:00",
        "2026-01-08T11:00:00+01:00",
        "2026-01-08T13:00:00+01:00",
    ):
        await book_confirmed(client, world, start)
    # Every 24-hour reminder is due, and every consultation still ahead.
    clock.set(datetime(2026, 1, 7, 13, 30, tzinfo=OSLO))
    configured = smtp_settings(settings, smtp)
    engines = [make_engine(settings.database_url) for _ in range(2)]
    try:
        senders = [
            Jobs(make_sessionmaker(e), clock, configured, transport_for(configured))
            for e in engines
        ]
        reports = await asyncio.gather(
            *(
                # Small batches, so the two senders take turns claiming.
                _deliver_in_batches(sender, batch_size=2)
                for sender in senders
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()

    expected = 3 * len(EVERYONE_WITH_MAIL) * 2  # three consultations: invites and reminders
    assert sum(r.sent for r in reports) == expected
    assert all(r.sent > 0 for r in reports)
    ids = Counter(str(r.message["Message-ID"]) for r in smtp.received)
    assert len(ids) == expected
    assert set(ids.values()) == {1}
    reminders = [r for r in smtp.received if "Påminning" in str(r.message["Subject"])]
    assert len(reminders) == 3 * 3  # nynorsk readers: GP, specialist and patient, each time


async def _deliver_in_batches(jobs: Jobs, *, batch_size: int) -> DeliveryReport:
    from scheduler.outbox import deliver_due

    return await deliver_due(
        jobs.sessionmaker, jobs.clock, jobs.settings, jobs.transport, batch_size=batch_size
    )


async def test_nine_oslo_on_the_monday_after_the_clock_change_reads_nine(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    # Summer time began on Sunday 29 March 2026; the clock stands ten days before.
    clock.set(datetime(2026, 3, 20, 9, 0, tzinfo=UTC))
    world = await build_world(db)
    await book_confirmed(client, world, "2026-03-30T09:00:00+02:00")
    await deliver(db, clock, settings, smtp)
    (message,) = smtp.to("p1@test.no")
    ics = attachment(message)
    assert b"DTSTART;TZID=Europe/Oslo:20260330T090000" in ics
    _, event = only_event(ics)
    assert event.decoded("DTSTART") == datetime(2026, 3, 30, 9, 0, tzinfo=OSLO)  # type: ignore[attr-defined]
    (seen,) = parse_with_icaljs(ics)["events"]
    assert seen["start"]["local"] == "2026-03-30T09:00:00"
    assert seen["start"]["utc"] == "2026-03-30T07:00:00Z"
    plain = message.get_body(("plain",))
    assert plain is not None
    assert "kl. 09.00" in plain.get_content()


async def test_an_update_written_before_the_invite_left_replaces_it(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    await act(client, "gp", cid, "reschedule", {"starts_at": "2026-01-08T11:00:00+01:00"})
    await deliver(db, clock, settings, smtp)
    # One mail each: the newest version, as an invitation (they never had the old one).
    assert Counter(r for m in smtp.received for r in m.recipients) == Counter(EVERYONE_WITH_MAIL)
    (message,) = smtp.to("p1@test.no")
    assert str(message["Subject"]).startswith("Invitasjon")
    _, event = only_event(calendar_part(message))
    assert event["SEQUENCE"] == 2
    rows = Counter((r.kind, r.status) for r in await outbox_rows(db, cid) if r.kind != "reminder")
    assert rows == Counter({("invite", "superseded"): 5, ("invite", "sent"): 5})
