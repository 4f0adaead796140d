"""MIME e-mail (RFC 6047 iMIP) around a consultation invite, in the recipient's language.

Owns the messages a participant receives: subject and body (plain and HTML) in nynorsk, bokmål
or English, the iTIP calendar part that mail clients turn into an "accept/decline" invite, and
the same .ics as an attachment for clients that ignore the inline part; and, after a completed
consultation, the mail with the personal survey link (`build_survey_email`). Pure: building a
message sends nothing.

The wording is in `mail_texts`, translated with the same gettext catalogs as the pages
(`service.domain.i18n`), so a translator works in one place. Plain Python rather than Jinja2
templates
because the body is a handful of fixed sentences rendered twice (plain and HTML) from the same
blocks. HTML is escaped in one place.

Addresses may be internationalised (RFC 6531/6532): a non-ASCII domain is written as its
A-label wherever the local part is ASCII, so such a mail still travels as plain ASCII; only a
non-ASCII local part makes a message that needs SMTPUTF8 (`needs_smtputf8`, `message_bytes`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from email_validator import EmailNotValidError, validate_email
from icalendar import Calendar

from service.domain.errors import InvalidInput
from service.domain.i18n import load_translations
from service.domain.invites import InviteAttendee, InviteEvent
from service.domain.roles import ACCOUNT_PARTICIPANTS

MailKind = Literal["invite", "update", "cancel", "reminder"]

EQUIPMENT_TEST_PATH = "/test-utstyr"
ICS_FILENAME = "invite.ics"
_METHOD_FOR_KIND: dict[str, str] = {
    "invite": "REQUEST",
    "update": "REQUEST",
    "cancel": "CANCEL",
}


@dataclass(frozen=True, slots=True)
class MailTexts:
    """Every sentence of a consultation e-mail in one language; `%(when)s` etc. are filled in."""

    subject: dict[str, str]
    lead: dict[str, str]
    lead_unconfirmed: str
    greeting: str
    when_label: str
    join_label: str
    personal_link: str
    equipment_test: str
    automatic: str
    local_time_note: str
    date_pattern: str
    time_pattern: str
    at: str
    survey_subject: str
    survey_lead: str
    survey_label: str


@cache
def mail_texts(language: str) -> MailTexts:
    """The e-mails' sentences in `language`, from the gettext catalogs (English is the msgids)."""
    _ = load_translations(language).gettext
    return MailTexts(
        subject={
            "invite": _("Invitation: joint consultation %(when)s"),
            "update": _("Changed: joint consultation %(when)s"),
            "cancel": _("Cancelled: joint consultation %(when)s"),
            "reminder": _("Reminder: joint consultation %(when)s"),
        },
        lead={
            "invite": _("You are invited to a joint video consultation."),
            "update": _("The joint consultation has changed. Here are the updated time and link."),
            "cancel": _("The joint consultation has been cancelled."),
            "reminder": _("This is a reminder of your joint consultation."),
        },
        lead_unconfirmed=_(
            "The joint consultation has been moved to a new time that is not confirmed yet. "
            "You will get a new message with your link when it is confirmed."
        ),
        greeting=_("Hello %(name)s,"),
        when_label=_("Time"),
        join_label=_("Join the consultation:"),
        personal_link=_("This link is personal. Do not share it with anyone."),
        equipment_test=_("Test your sound and camera beforehand:"),
        automatic=_("This e-mail was sent automatically."),
        local_time_note=_("Norwegian time"),
        # A Babel (CLDR) date pattern: the weekday, day, month and year of the consultation.
        date_pattern=_("EEEE d MMMM y"),
        # A Babel (CLDR) time pattern: hours and minutes on the 24-hour clock.
        time_pattern=_("HH:mm"),
        # Between the day and the time: «monday 30 March 2026 at 09:00».
        at=_("at"),
        survey_subject=_("How did the joint consultation on %(date)s go?"),
        survey_lead=_(
            "Thank you for taking part in the joint consultation on %(date)s. Would you answer "
            "a few short questions? It takes less than a minute, and your answers help us "
            "improve the service."
        ),
        survey_label=_("Answer the survey:"),
    )


@dataclass(frozen=True, slots=True)
class _Block:
    """One paragraph of the body: a sentence, optionally followed by a link on its own line."""

    text: str
    link: str | None = None
    label: str | None = None


def build_invite_email(
    *,
    sender: str,
    recipient: InviteAttendee,
    event: InviteEvent,
    ics: bytes | None,
    method: str | None,
    join_url: str,
    kind: MailKind,
    base_url: str,
    sent_at: datetime | None = None,
    tz_name: str = "Europe/Oslo",
) -> EmailMessage:
    """The e-mail one participant gets about a consultation.

    invite/update/cancel: multipart/mixed of multipart/alternative (plain, HTML, the iTIP
    text/calendar part) and the same .ics as an `invite.ics` attachment. reminder: plain and HTML
    only; `ics` and `method` are not used for it and may be None.
    """
    wants_calendar = kind != "reminder"
    if wants_calendar:
        if ics is None or method is None:
            raise InvalidInput(f"a {kind} e-mail needs the .ics and its method", field="ics")
        _check_method(ics, method, kind)
    texts = mail_texts(recipient.language)
    when = describe_when(event, recipient.language, tz_name)
    subject = texts.subject[kind] % {"when": when}
    blocks = _body_blocks(
        texts, kind, recipient, when, join_url, base_url, tentative=event.tentative
    )

    message = _plain_and_html(sender, recipient, subject, blocks, sent_at)
    if wants_calendar:
        assert ics is not None and method is not None
        # base64 keeps the .ics byte-exact: iCalendar needs CRLF line ends, which text transfer
        # encodings and relaying servers may rewrite.
        message.add_alternative(
            ics,
            maintype="text",
            subtype="calendar",
            params={"method": method, "charset": "UTF-8"},
        )
        message.add_attachment(ics, maintype="application", subtype="ics", filename=ICS_FILENAME)
    # Set last: set_content() and the multipart conversions move Content-* headers into parts.
    message["Content-Language"] = recipient.language
    return message


def build_survey_email(
    *,
    sender: str,
    recipient: InviteAttendee,
    consultation_start: datetime,
    survey_url: str,
    sent_at: datetime,
    tz_name: str = "Europe/Oslo",
) -> EmailMessage:
    """The mail with one participant's personal survey link, after the consultation.

    Names the day only: the purpose or anything else about the consultation stays out of mail.
    """
    texts = mail_texts(recipient.language)
    day = format_date(
        consultation_start.astimezone(ZoneInfo(tz_name)).date(),
        texts.date_pattern,
        locale=recipient.language,
    )
    subject = texts.survey_subject % {"date": day}
    blocks = [
        _Block(texts.greeting % {"name": recipient.name}),
        _Block(texts.survey_lead % {"date": day}),
        _Block(texts.survey_label, link=survey_url),
        _Block(texts.personal_link),
        _Block(texts.automatic),
    ]
    message = _plain_and_html(sender, recipient, subject, blocks, sent_at)
    message["Content-Language"] = recipient.language
    return message


def _plain_and_html(
    sender: str,
    recipient: InviteAttendee,
    subject: str,
    blocks: list[_Block],
    sent_at: datetime | None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mailbox(recipient.name, recipient.email)
    message["Subject"] = subject
    message["Date"] = format_datetime((sent_at or datetime.now(UTC)).astimezone(UTC))
    # make_msgid() would otherwise put this machine's host name into every message.
    message["Message-ID"] = make_msgid(domain=_domain_of(sender))
    # RFC 3834: stops out-of-office replies from bouncing back to the service mailbox.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_plain_body(blocks))
    message.add_alternative(_html_body(blocks, subject, recipient.language), subtype="html")
    return message


def mailbox(display_name: str, address: str) -> Address:
    """The header form of `address`; the standard library's parser refuses (raises on) a
    non-ASCII local part, which RFC 6532 allows, so the address is split here instead."""
    local, at, domain = address.rpartition("@")
    if not (local and at and domain):
        raise InvalidInput("not an e-mail address", field="email")
    return Address(display_name=display_name, username=local, domain=_domain_for(local, domain))


def envelope_address(address: str) -> str:
    """`address` as given to SMTP: ASCII (the domain as an A-label) unless the local part is
    not, in which case only an SMTPUTF8 server can take it."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{_domain_for(local, domain)}"


def needs_smtputf8(address: str) -> bool:
    """Whether a mail to `address` can travel only over SMTPUTF8 (RFC 6531)."""
    return not envelope_address(address).isascii()


def message_bytes(message: EmailMessage) -> bytes:
    """The message as sent: plain ASCII headers (RFC 2047 words) unless an address in them has
    a non-ASCII local part, which no encoded word may stand for; then UTF-8 headers (RFC 6532)."""
    addresses = [a for name in ("From", "To") for a in getattr(message[name], "addresses", ())]
    wide = any(not a.username.isascii() for a in addresses)
    return message.as_bytes(policy=policy.SMTPUTF8 if wide else policy.SMTP)


def _domain_for(local: str, domain: str) -> str:
    if not local.isascii() or domain.isascii():
        # An SMTPUTF8 message may carry the U-label as it is (RFC 6532 section 3.2).
        return domain
    try:
        # The same IDNA 2008 (UTS 46) mapping that validated the address at booking.
        ascii_domain = validate_email(f"a@{domain}", check_deliverability=False).ascii_domain
    except EmailNotValidError:
        # Never a dead end for an address already stored: send the U-label over SMTPUTF8.
        return domain
    return str(ascii_domain) if ascii_domain else domain


def describe_when(event: InviteEvent, language: str, tz_name: str = "Europe/Oslo") -> str:
    """The time as people write it: «måndag 30. mars 2026 kl. 09.00–09.45 (norsk tid)»."""
    texts = mail_texts(language)
    zone = ZoneInfo(tz_name)
    start = event.start.astimezone(zone)
    end = event.end.astimezone(zone)

    def day(moment: datetime) -> str:
        return format_date(moment.date(), texts.date_pattern, locale=language)

    def clock(moment: datetime) -> str:
        return format_time(moment, texts.time_pattern, tzinfo=zone, locale=language)

    if start.date() == end.date():
        span = f"{day(start)} {texts.at} {clock(start)}–{clock(end)}"
    else:
        span = f"{day(start)} {texts.at} {clock(start)} – {day(end)} {texts.at} {clock(end)}"
    return f"{span} ({texts.local_time_note})"


def _body_blocks(
    texts: MailTexts,
    kind: MailKind,
    recipient: InviteAttendee,
    when: str,
    join_url: str,
    base_url: str,
    *,
    tentative: bool = False,
) -> list[_Block]:
    unconfirmed = tentative and kind in ("invite", "update")
    blocks = [
        _Block(texts.greeting % {"name": recipient.name}),
        _Block(texts.lead_unconfirmed if unconfirmed else texts.lead[kind]),
        _Block(when, label=texts.when_label),
    ]
    # A cancelled consultation has no meeting to join or prepare for, and an unconfirmed time
    # not yet: its link comes with the confirmation.
    if kind != "cancel" and not unconfirmed:
        blocks.append(_Block(texts.join_label, link=join_url))
        # A clinician's link is the consultation's page behind their login: nothing to guard.
        if recipient.role not in ACCOUNT_PARTICIPANTS:
            blocks.append(_Block(texts.personal_link))
        blocks += [
            _Block(
                texts.equipment_test,
                link=f"{base_url.rstrip('/')}{EQUIPMENT_TEST_PATH}?lang={recipient.language}",
            ),
        ]
    blocks.append(_Block(texts.automatic))
    return blocks


def _plain_body(blocks: list[_Block]) -> str:
    paragraphs = []
    for block in blocks:
        text = f"{block.label}: {block.text}" if block.label else block.text
        paragraphs.append(f"{text}\n{block.link}" if block.link else text)
    return "\n\n".join(paragraphs) + "\n"


def _html_body(blocks: list[_Block], title: str, language: str) -> str:
    paragraphs = []
    for block in blocks:
        text = html.escape(block.text)
        if block.label:
            text = f"<strong>{html.escape(block.label)}:</strong> {text}"
        if block.link:
            link = html.escape(block.link, quote=True)
            text = f'{text}<br>\n<a href="{link}">{link}</a>'
        paragraphs.append(f"<p>{text}</p>")
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
        + "\n".join(paragraphs)
        + "\n</body>\n</html>\n"
    )


def _check_method(ics: bytes, method: str, kind: MailKind) -> None:
    # Outlook and Gmail act on the Content-Type method; if it disagrees with METHOD inside the
    # .ics, clients differ on whether a meeting is booked or cancelled.
    inside = str(Calendar.from_ical(ics).get("METHOD", ""))
    if inside != method:
        raise InvalidInput(
            f"method {method!r} differs from METHOD:{inside} in the .ics",
            field="method",
        )
    if _METHOD_FOR_KIND[kind] != method:
        raise InvalidInput(f"a {kind} e-mail cannot carry METHOD:{method}", field="method")


def _domain_of(sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2]
    if not domain:
        raise InvalidInput("sender has no e-mail domain", field="sender")
    return domain
