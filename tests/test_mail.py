"""Tests for service.domain.mail: MIME structure, iMIP method agreement, languages and what stays
out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage, MIMEPart
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from service.domain.errors import InvalidInput
from service.domain.invites import InviteAttendee, InviteEvent, build_invite
from service.domain.mail import MailKind, build_invite_email, describe_when

OSLO = ZoneInfo("Europe/Oslo")
SENDER = "Samkonsultasjon <noreply@samkons.example>"
BASE_URL = "https://samkons.example"
SENT_AT = datetime(2026, 3, 20, 10, 15, tzinfo=UTC)
SUMMER_MONDAY = datetime(2026, 3, 30, 9, 0, tzinfo=OSLO)

GP = InviteAttendee("Kari Fastlege", "kari@legekontor.example", "gp", "nn")
SPECIALIST = InviteAttendee("Sven Spesialist", "sven@sjukehus.example", "specialist", "nb")
PATIENT = InviteAttendee("Pål Pasientsen", "pal@heime.example", "patient", "nn")
INTERPRETER = InviteAttendee("Tariq Tolk", "tariq@tolk.example", "interpreter", "en")
EVERYONE = (GP, SPECIALIST, PATIENT, INTERPRETER)

PATIENT_GROUP_WORDS = (
    "children_youth",
    "mental_health_addiction",
    "frail_elderly",
    "multiple_chronic",
    "barn og unge",
    "psykisk",
    "skrøpeleg",
    "kronisk",
    "purpose",
    "formål",
    "diagnos",
)


def make_event(
    start: datetime = SUMMER_MONDAY, *, sequence: int = 0, cancelled: bool = False
) -> InviteEvent:
    return InviteEvent(
        uid="c0ffee-2@samkons.example",
        sequence=sequence,
        start=start,
        end=start + timedelta(minutes=45),
        organizer_email="booking@samkons.example",
        organizer_name=GP.name,
        attendees=EVERYONE,
        cancelled=cancelled,
    )


def join_url_for(attendee: InviteAttendee) -> str:
    return f"{BASE_URL}/bli-med/{attendee.email.partition('@')[0]}-token"


def ics_for(event: InviteEvent, recipient: InviteAttendee, method: str) -> bytes:
    return build_invite(
        event,
        recipient=recipient,
        join_url=join_url_for(recipient),
        method=method,  # type: ignore[arg-type]  # tests only pass REQUEST or CANCEL
        dtstamp=SENT_AT,
    )


def mail(
    kind: MailKind = "invite",
    *,
    recipient: InviteAttendee = PATIENT,
    event: InviteEvent | None = None,
) -> tuple[EmailMessage, bytes]:
    method = "CANCEL" if kind == "cancel" else "REQUEST"
    event = event or make_event(sequence=1, cancelled=kind == "cancel")
    ics = ics_for(event, recipient, method)
    message = build_invite_email(
        sender=SENDER,
        recipient=recipient,
        event=event,
        ics=ics,
        method=method,
        join_url=join_url_for(recipient),
        kind=kind,
        base_url=BASE_URL,
        sent_at=SENT_AT,
    )
    return message, ics


def roundtrip(message: EmailMessage) -> EmailMessage:
    """The message as a receiving mail server parses it off the wire."""
    parsed = message_from_bytes(message.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def text_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def payload_bytes(part: MIMEPart) -> bytes:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def everything_readable(message: EmailMessage) -> str:
    return "\n".join([str(message["Subject"]), text_of(message, "plain"), text_of(message, "html")])


# --- MIME structure --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "method"),
    [("invite", "REQUEST"), ("update", "REQUEST"), ("cancel", "CANCEL")],
)
def test_calendar_mail_structure(kind: MailKind, method: str) -> None:
    sent, ics = mail(kind)
    message = roundtrip(sent)
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert isinstance(alternative, EmailMessage) and isinstance(attachment, EmailMessage)
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    calendar_part = list(alternative.iter_parts())[2]
    assert calendar_part.get_param("method") == method
    assert str(calendar_part.get_param("charset")).upper() == "UTF-8"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content() == ics
    assert payload_bytes(calendar_part) == ics


@pytest.mark.parametrize("kind", ["invite", "update", "cancel"])
def test_content_type_method_equals_method_inside_the_ics(kind: MailKind) -> None:
    message = roundtrip(mail(kind)[0])
    (calendar_part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    inside = Calendar.from_ical(payload_bytes(calendar_part))
    assert calendar_part.get_param("method") == str(inside["METHOD"])


def test_reminder_is_plain_and_html_only() -> None:
    message = build_invite_email(
        sender=SENDER,
        recipient=PATIENT,
        event=make_event(),
        ics=None,
        method=None,
        join_url=join_url_for(PATIENT),
        kind="reminder",
        base_url=BASE_URL,
        sent_at=SENT_AT,
    )
    parsed = roundtrip(message)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert "Påminning" in str(parsed["Subject"])
    assert join_url_for(PATIENT) in text_of(parsed, "plain")


def test_headers_identify_the_message() -> None:
    message = roundtrip(mail()[0])
    assert str(message["From"]) == SENDER
    assert message["To"].addresses[0].addr_spec == PATIENT.email
    assert message["To"].addresses[0].display_name == PATIENT.name
    assert parsedate_to_datetime(str(message["Date"])) == SENT_AT
    message_id = str(message["Message-ID"])
    assert message_id.startswith("<") and message_id.endswith("@samkons.example>")
    assert str(message["Auto-Submitted"]) == "auto-generated"
    assert str(message["Content-Language"]) == "nn"


def test_every_message_gets_its_own_message_id() -> None:
    assert mail()[0]["Message-ID"] != mail()[0]["Message-ID"]


# --- refusals --------------------------------------------------------------------------------


def test_method_that_differs_from_the_ics_is_refused() -> None:
    ics = ics_for(make_event(), PATIENT, "REQUEST")
    with pytest.raises(InvalidInput) as caught:
        build_invite_email(
            sender=SENDER,
            recipient=PATIENT,
            event=make_event(),
            ics=ics,
            method="CANCEL",
            join_url=join_url_for(PATIENT),
            kind="cancel",
            base_url=BASE_URL,
        )
    assert caught.value.field == "method"


def test_cancel_mail_cannot_carry_a_request() -> None:
    ics = ics_for(make_event(), PATIENT, "REQUEST")
    with pytest.raises(InvalidInput, match="cancel"):
        build_invite_email(
            sender=SENDER,
            recipient=PATIENT,
            event=make_event(),
            ics=ics,
            method="REQUEST",
            join_url=join_url_for(PATIENT),
            kind="cancel",
            base_url=BASE_URL,
        )


def test_invite_without_ics_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_invite_email(
            sender=SENDER,
            recipient=PATIENT,
            event=make_event(),
            ics=None,
            method=None,
            join_url=join_url_for(PATIENT),
            kind="invite",
            base_url=BASE_URL,
        )
    assert caught.value.field == "ics"


# --- languages and wording -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "subject", "when", "personal"),
    [
        (
            "nn",
            "Invitasjon til samkonsultasjon",
            "måndag 30. mars 2026 kl. 09.00–09.45 (norsk tid)",
            "Lenkja er personleg. Ikkje del ho med andre.",
        ),
        (
            "nb",
            "Invitasjon til samkonsultasjon",
            "mandag 30. mars 2026 kl. 09.00–09.45 (norsk tid)",
            "Lenken er personlig. Ikke del den med andre.",
        ),
        (
            "en",
            "Invitation: joint consultation",
            "Monday 30 March 2026 at 09:00–09:45 (Norwegian time)",
            "This link is personal. Do not share it with anyone.",
        ),
    ],
)
def test_invite_in_recipients_language(
    language: str, subject: str, when: str, personal: str
) -> None:
    recipient = InviteAttendee("Ola Nordmann", "ola@heime.example", "relative", language)
    event = InviteEvent(
        uid="lang@samkons.example",
        sequence=0,
        start=SUMMER_MONDAY,
        end=SUMMER_MONDAY + timedelta(minutes=45),
        organizer_email="booking@samkons.example",
        organizer_name=GP.name,
        attendees=(*EVERYONE, recipient),
        cancelled=False,
    )
    message = roundtrip(mail(recipient=recipient, event=event)[0])
    assert str(message["Subject"]) == f"{subject} {when}"
    plain = text_of(message, "plain")
    html = text_of(message, "html")
    assert when in plain
    assert personal in plain and personal in html
    assert f'<html lang="{language}">' in html
    assert str(message["Content-Language"]) == language


def test_join_link_and_equipment_test_link_in_both_bodies() -> None:
    message = roundtrip(mail(recipient=SPECIALIST)[0])
    plain = text_of(message, "plain")
    html = text_of(message, "html")
    link = join_url_for(SPECIALIST)
    assert link in plain and f'href="{link}"' in html
    # The equipment test opens in the recipient's language (Sven reads bokmål).
    assert f"{BASE_URL}/test-utstyr?lang=nb" in plain
    # His link opens only behind his login: no warning to keep it to himself.
    assert "personlig" not in plain
    assert f'href="{BASE_URL}/test-utstyr?lang=nb"' in html


def test_equipment_link_has_no_double_slash_when_base_url_ends_in_slash() -> None:
    event = make_event()
    message = build_invite_email(
        sender=SENDER,
        recipient=PATIENT,
        event=event,
        ics=None,
        method=None,
        join_url=join_url_for(PATIENT),
        kind="reminder",
        base_url=BASE_URL + "/",
    )
    assert f"{BASE_URL}/test-utstyr?lang=nn\n" in text_of(message, "plain")


@pytest.mark.parametrize(
    ("kind", "subject_start"),
    [
        ("invite", "Invitasjon"),
        ("update", "Endra"),
        ("cancel", "Avlyst"),
        ("reminder", "Påminning"),
    ],
)
def test_subject_says_what_happened(kind: MailKind, subject_start: str) -> None:
    if kind == "reminder":
        message = build_invite_email(
            sender=SENDER,
            recipient=PATIENT,
            event=make_event(),
            ics=None,
            method=None,
            join_url=join_url_for(PATIENT),
            kind="reminder",
            base_url=BASE_URL,
        )
    else:
        message = mail(kind)[0]
    assert str(message["Subject"]).startswith(subject_start)


def test_cancellation_gives_no_link_to_join_or_test() -> None:
    message = roundtrip(mail("cancel")[0])
    readable = everything_readable(message)
    assert "avlyst" in readable
    assert join_url_for(PATIENT) not in readable
    assert "/test-utstyr" not in readable


def test_winter_time_is_shown_in_oslo_time() -> None:
    # The database hands over UTC: 08:00Z on 26 October 2026 is 09:00 in Oslo (CET).
    start = datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    message = mail(event=make_event(start))[0]
    assert "måndag 26. oktober 2026 kl. 09.00–09.45" in str(message["Subject"])


def test_consultation_over_midnight_names_both_days() -> None:
    start = datetime(2026, 3, 30, 23, 30, tzinfo=OSLO)
    event = InviteEvent(
        uid="late@x",
        sequence=0,
        start=start,
        end=start + timedelta(hours=1),
        organizer_email="booking@samkons.example",
        organizer_name=GP.name,
        attendees=EVERYONE,
        cancelled=False,
    )
    assert describe_when(event, "nn") == (
        "måndag 30. mars 2026 kl. 23.30 – tysdag 31. mars 2026 kl. 00.30 (norsk tid)"
    )


# --- what stays out --------------------------------------------------------------------------


def test_mail_names_only_its_recipient() -> None:
    for recipient in EVERYONE:
        readable = everything_readable(roundtrip(mail(recipient=recipient)[0]))
        assert recipient.name in readable
        for other in EVERYONE:
            if other != recipient:
                assert other.name not in readable


def test_no_patient_group_or_purpose_words_anywhere() -> None:
    kinds: tuple[MailKind, ...] = ("invite", "update", "cancel")
    for kind in kinds:
        sent, ics = mail(kind)
        readable = everything_readable(roundtrip(sent)).lower()
        calendar_text = ics.decode().lower()  # the calendar parts carry these bytes (see above)
        for word in PATIENT_GROUP_WORDS:
            assert word not in readable, word
            assert word not in calendar_text, word


def test_html_escapes_names() -> None:
    recipient = InviteAttendee("<b>Ola</b> & co", "ola@heime.example", "relative", "nn")
    event = InviteEvent(
        uid="esc@x",
        sequence=0,
        start=SUMMER_MONDAY,
        end=SUMMER_MONDAY + timedelta(minutes=30),
        organizer_email="booking@samkons.example",
        organizer_name=GP.name,
        attendees=(*EVERYONE, recipient),
        cancelled=False,
    )
    html = text_of(mail(recipient=recipient, event=event)[0], "html")
    assert "<b>Ola</b>" not in html
    assert "&lt;b&gt;Ola&lt;/b&gt; &amp; co" in html
