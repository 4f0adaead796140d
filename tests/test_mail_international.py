"""Internationalised addresses (RFC 6531/6532): a patient or relative with a non-ASCII local part
or domain books, is confirmed and gets mail; over SMTPUTF8 when the local part needs it, as plain
ASCII (the domain's A-label) otherwise; `mailto:` URIs in the invites are percent-encoded.
End to end on SQLite and PostgreSQL, with aiosmtpd with and without SMTPUTF8."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.domain.invites import InviteAttendee, InviteEvent, build_invite, mailto
from service.domain.mail import (
    build_invite_email,
    envelope_address,
    message_bytes,
    needs_smtputf8,
)
from service.settings import Settings
from tests.factories import Client, booking_body, build_world, login
from tests.mail_support import SmtpSink, act, calendar_part, deliver, outbox_rows

Db = async_sessionmaker[AsyncSession]
OSLO = ZoneInfo("Europe/Oslo")
SLOT = "2026-01-07T10:00:00+01:00"
PATIENT_MAIL = "bjørn@eksempel.no"
RELATIVE_MAIL = "ø@ø.no"
INTERPRETER_MAIL = "tolk@blåbær.no"  # ASCII local part: travels as tolk@xn--blbr-roah.no
INTERPRETER_ASCII = "tolk@xn--blbr-roah.no"


def _event(attendees: tuple[InviteAttendee, ...]) -> InviteEvent:
    start = datetime(2026, 3, 30, 9, tzinfo=OSLO)
    return InviteEvent(
        uid="u@samkons",
        sequence=0,
        start=start,
        end=start + timedelta(minutes=30),
        organizer_email="booking@samkons.example",
        organizer_name="Kari Fastlege",
        attendees=attendees,
        cancelled=False,
    )


def test_a_non_ascii_local_part_makes_a_utf8_message() -> None:
    patient = InviteAttendee("Bjørn Ås", PATIENT_MAIL, "patient", "nn")
    event = _event((patient,))
    ics = build_invite(
        event,
        recipient=patient,
        join_url="https://s.example/bli-med/t",
        method="REQUEST",
        dtstamp=datetime(2026, 3, 20, tzinfo=UTC),
    )
    message = build_invite_email(
        sender="Samkons <noreply@samkons.example>",
        recipient=patient,
        event=event,
        ics=ics,
        method="REQUEST",
        join_url="https://s.example/bli-med/t",
        kind="invite",
        base_url="https://s.example",
        sent_at=datetime(2026, 3, 20, tzinfo=UTC),
    )
    raw = message_bytes(message)
    assert f"<{PATIENT_MAIL}>".encode() in raw  # UTF-8 as it is (RFC 6532), no encoded word
    # The standard library's bytes parser leaves raw UTF-8 in headers undecoded.
    (to,) = message_from_string(raw.decode("utf-8"), policy=policy.default)["To"].addresses
    assert (to.username, to.domain) == ("bjørn", "eksempel.no")
    assert needs_smtputf8(PATIENT_MAIL)


def test_an_ascii_local_part_keeps_the_message_ascii() -> None:
    interpreter = InviteAttendee("Tolk", INTERPRETER_MAIL, "interpreter", "en")
    event = _event((interpreter,))
    message = build_invite_email(
        sender="noreply@samkons.example",
        recipient=interpreter,
        event=event,
        ics=None,
        method=None,
        join_url="https://s.example/bli-med/t",
        kind="reminder",
        base_url="https://s.example",
    )
    raw = message_bytes(message)
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii()
    assert f"<{INTERPRETER_ASCII}>".encode() in headers
    assert not needs_smtputf8(INTERPRETER_MAIL)
    assert envelope_address(INTERPRETER_MAIL) == INTERPRETER_ASCII


def test_mailto_uris_are_percent_encoded() -> None:
    assert mailto(PATIENT_MAIL) == "mailto:bj%C3%B8rn@eksempel.no"
    assert mailto(RELATIVE_MAIL) == "mailto:%C3%B8@%C3%B8.no"
    assert (
        mailto("kari.fastlege+x@legekontor.example") == "mailto:kari.fastlege+x@legekontor.example"
    )
    assert mailto("a%b/c?d#e@x.example") == "mailto:a%25b%2Fc%3Fd%23e@x.example"
    patient = InviteAttendee("Bjørn", PATIENT_MAIL, "patient", "nn")
    ics = build_invite(
        _event((patient,)),
        recipient=patient,
        join_url="https://s.example/bli-med/t",
        method="REQUEST",
        dtstamp=datetime(2026, 3, 20, tzinfo=UTC),
    )
    (vevent,) = Calendar.from_ical(ics).walk("VEVENT")
    assert str(vevent["ATTENDEE"]) == "mailto:bj%C3%B8rn@eksempel.no"
    assert b"bj\xc3\xb8rn@" not in ics


# --- end to end ------------------------------------------------------------------------------


@pytest.fixture(params=[True, False], ids=["smtputf8", "ascii-only"])
def smtp(request: pytest.FixtureRequest) -> Iterator[SmtpSink]:
    sink = SmtpSink(server_options={"enable_SMTPUTF8": request.param})
    sink.start()
    yield sink
    sink.stop()


async def test_international_addresses_book_confirm_and_get_their_mail(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    body = booking_body(
        world,
        SLOT,
        patient_id=None,
        patient={"name": "Bjørn Ås", "email": PATIENT_MAIL, "postal_code": "5003"},
        relatives=[{"name": "Øystein Ås", "email": RELATIVE_MAIL}],
        interpreter={"name": "Tolk Tolkesen", "email": INTERPRETER_MAIL, "language": "en"},
    )
    resp = await client.post("/api/v1/consultations", json=body, headers=gp)
    assert resp.status == 201, await resp.text()
    cid = (await resp.json())["id"]

    confirmed = await act(client, "specialist", cid, "accept")
    assert confirmed["status"] == "confirmed"
    report = await deliver(db, clock, settings, smtp)

    utf8 = smtp.server_options["enable_SMTPUTF8"]
    # Without SMTPUTF8 the two mails that need it are given up at once, the others go.
    assert (report.sent, report.failed, report.retried) == ((5, 0, 0) if utf8 else (3, 2, 0))
    (interpreter_mail,) = smtp.to(INTERPRETER_ASCII)
    assert interpreter_mail["To"].addresses[0].domain == "xn--blbr-roah.no"
    (event,) = Calendar.from_ical(calendar_part(interpreter_mail)).walk("VEVENT")
    attendees = {str(a) for a in event["ATTENDEE"]}  # type: ignore[union-attr]
    assert {"mailto:bj%C3%B8rn@eksempel.no", "mailto:%C3%B8@%C3%B8.no"} <= attendees
    if utf8:
        for address in (PATIENT_MAIL, RELATIVE_MAIL):
            (message,) = smtp.to(address)  # the envelope named it in UTF-8
            to = str(message["To"]).encode("utf-8", "surrogateescape").decode("utf-8")
            assert to.endswith(f"<{address}>")
    else:
        assert smtp.to(PATIENT_MAIL) == smtp.to(RELATIVE_MAIL) == []
        failed = {
            r.recipient: r.last_error for r in await outbox_rows(db, cid) if r.status == "failed"
        }
        assert failed == {
            PATIENT_MAIL: "SmtpUtf8NotOffered",
            RELATIVE_MAIL: "SmtpUtf8NotOffered",
        }

    # The consultation stays workable: moved and cancelled like any other.
    moved = await act(client, "gp", cid, "reschedule", {"starts_at": "2026-01-08T11:00:00+01:00"})
    assert moved["starts_at"].startswith("2026-01-08T11:00")
    cancelled = await act(client, "gp", cid, "cancel")
    assert cancelled["status"] == "cancelled"
