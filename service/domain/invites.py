"""iCalendar (RFC 5545/5546) messages for a joint consultation: invites, cancellations and feeds.

Owns the calendar side of a consultation as pure functions over plain values: the VCALENDAR a
participant gets by e-mail (iTIP REQUEST or CANCEL) and the subscribable feed a clinician's
calendar polls. Nothing here knows about the database or SMTP.

What goes into a calendar leaves our control (mail servers, phones, cloud calendars), so the
events carry only what a participant needs to join: a neutral title, the time and their personal
link. Never the purpose, the patient group or the patient's name in the title.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import (
    Alarm,
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
)

from service.domain.errors import InvalidInput
from service.domain.i18n import load_translations
from service.domain.schemas import is_printable_name

PARTICIPANT_ROLES = frozenset(
    {"gp", "specialist", "patient", "relative", "interpreter", "municipal_staff"}
)
# Without these three the consultation cannot take place; the others are welcome but optional.
REQUIRED_ROLES = frozenset({"gp", "specialist", "patient"})
LANGUAGES = ("nn", "nb", "en")
DEFAULT_LANGUAGE = "nn"

PRODID = "-//Samkons//Samkonsultasjon//NO"
ALARM_BEFORE = timedelta(minutes=15)


def summary_in(language: str) -> str:
    """What a calendar shows as the entry's title."""
    return load_translations(language).gettext("Joint consultation")


def _description(language: str, join_url: str) -> str:
    _ = load_translations(language).gettext
    text = _(
        "Joint video consultation.\n\nJoin: %(url)s\n\nThis link is personal. Do not share it."
    )
    return text % {"url": join_url}


_ICAL_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Conventional onset year for yearly rules (as Mozilla's and tzurl's zones use): every invite gets
# byte-identical VTIMEZONE, so clients that cache zones by content see one zone, not many.
_RULE_ONSET_YEAR = 1970


@dataclass(frozen=True, slots=True)
class InviteAttendee:
    name: str
    email: str
    role: str
    language: str

    def __post_init__(self) -> None:
        if self.role not in PARTICIPANT_ROLES:
            raise InvalidInput(f"unknown participant role {self.role!r}", field="role")
        if self.language not in LANGUAGES:
            raise InvalidInput(f"unknown language {self.language!r}", field="language")
        _check_name(self.name, "name")
        _check_email(self.email, "email")


@dataclass(frozen=True, slots=True)
class InviteEvent:
    uid: str
    sequence: int
    start: datetime
    end: datetime
    organizer_email: str
    organizer_name: str
    attendees: tuple[InviteAttendee, ...]
    cancelled: bool
    # Moved to a time the hospital has not confirmed yet: in calendars, but as tentative.
    tentative: bool = False

    def __post_init__(self) -> None:
        if not self.uid.strip():
            raise InvalidInput("an invite needs a UID", field="uid")
        if self.sequence < 0:
            raise InvalidInput("SEQUENCE cannot be negative", field="sequence")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidInput("start and end must be timezone-aware", field="start")
        if self.end <= self.start:
            raise InvalidInput("end must be after start", field="end")
        _check_name(self.organizer_name, "organizer_name")
        _check_email(self.organizer_email, "organizer_email")


def build_invite(
    event: InviteEvent,
    *,
    recipient: InviteAttendee,
    join_url: str,
    method: Literal["REQUEST", "CANCEL"],
    dtstamp: datetime,
    tz_name: str = "Europe/Oslo",
) -> bytes:
    """The iTIP message (RFC 5546) one participant receives, with their own join link in it.

    `event.sequence` must be raised by the caller for every change, a cancellation included;
    clients ignore a message whose SEQUENCE is not newer than the one they hold. To take one
    person off a consultation that goes ahead, send them a CANCEL built from an event whose
    attendees are only that person (RFC 5546 3.2.5).
    """
    if method not in ("REQUEST", "CANCEL"):
        raise InvalidInput(f"unsupported iTIP method {method!r}", field="method")
    if event.cancelled and method == "REQUEST":
        raise InvalidInput("a cancelled consultation can only be sent as CANCEL", field="method")
    if recipient not in event.attendees:
        raise InvalidInput(
            "the recipient is not an attendee of this consultation", field="recipient"
        )
    zone = _zone(tz_name)
    cal = _calendar()
    cal.add("method", method)
    cal.add_component(vtimezone_with_rules(tz_name, _years([event], zone)))
    vevent = _vevent(
        event,
        zone=zone,
        join_url=join_url,
        language=recipient.language,
        dtstamp=dtstamp,
        cancelled=method == "CANCEL",
    )
    vevent.add("organizer", _organizer(event))
    for attendee in event.attendees:
        vevent.add("attendee", _attendee(attendee))
    cal.add_component(vevent)
    return _serialise(cal)


def build_feed(
    events: Sequence[tuple[InviteEvent, str]],
    *,
    name: str,
    dtstamp: datetime,
    language: str = DEFAULT_LANGUAGE,
    tz_name: str = "Europe/Oslo",
) -> bytes:
    """A clinician's subscribable calendar: each (event, that clinician's join URL) as a VEVENT.

    A feed is fetched and kept by outside calendar services, so it carries no ORGANIZER or
    ATTENDEE (no patient names leave through it, and clients do not offer to answer a published
    event). Cancelled consultations stay in with STATUS:CANCELLED so a subscriber sees why the
    slot is free.
    """
    if language not in LANGUAGES:
        raise InvalidInput(f"unknown language {language!r}", field="language")
    zone = _zone(tz_name)
    cal = _calendar()
    cal.add("name", name)
    # Apple and Google calendars predate RFC 7986 NAME and only read the X-WR- form.
    cal.add("x-wr-calname", name)
    if events:
        cal.add_component(vtimezone_with_rules(tz_name, _years([e for e, _ in events], zone)))
    for event, join_url in events:
        cal.add_component(
            _vevent(
                event,
                zone=zone,
                join_url=join_url,
                language=language,
                dtstamp=dtstamp,
                cancelled=event.cancelled,
            )
        )
    return _serialise(cal)


def vtimezone_with_rules(tz_name: str, years: Iterable[int]) -> Timezone:
    """A VTIMEZONE whose STANDARD/DAYLIGHT parts use yearly RRULEs, checked against tzdata.

    icalendar's own `Timezone.from_tzid` lists every change as an RDATE, which Outlook misreads;
    a yearly rule is what Outlook, Google and ical.js all read the same way. The rule is taken
    from tzdata and must hold for every year in `years`; a zone that changes its rules in that
    span cannot be written this way and raises.
    """
    zone = _zone(tz_name)
    checked = sorted(set(years))
    if not checked:
        raise ValueError("need at least one year to derive the zone's rules for")
    rules = _yearly_rules(zone, checked[0])
    for year in checked[1:]:
        if _yearly_rules(zone, year) != rules:
            raise ValueError(f"{tz_name} changes its rules within {checked[0]}–{year}")
    vtimezone = Timezone()
    vtimezone.add("tzid", tz_name)
    if not rules:
        vtimezone.add_component(_fixed_offset_observance(zone, checked[0]))
    for rule in rules:
        vtimezone.add_component(rule.to_component())
    return vtimezone


@dataclass(frozen=True, slots=True)
class _YearlyRule:
    """One change of UTC offset that happens every year on the nth (or last) weekday of a month."""

    month: int
    ordinal: int  # 1..5, or -1 for the last such weekday of the month
    weekday: int  # Monday is 0, as in `datetime.weekday()`
    wall_time: time  # local time of the change, in the offset before it (RFC 5545 3.6.5)
    offset_from: timedelta
    offset_to: timedelta
    tzname: str
    is_daylight: bool

    def to_component(self) -> TimezoneStandard | TimezoneDaylight:
        part = TimezoneDaylight() if self.is_daylight else TimezoneStandard()
        onset = _nth_weekday(_RULE_ONSET_YEAR, self.month, self.weekday, self.ordinal)
        part.add("dtstart", datetime.combine(onset, self.wall_time))
        part.add(
            "rrule",
            {
                "freq": "yearly",
                "bymonth": self.month,
                "byday": f"{self.ordinal}{_ICAL_WEEKDAYS[self.weekday]}",
            },
        )
        part.add("tzoffsetfrom", self.offset_from)
        part.add("tzoffsetto", self.offset_to)
        part.add("tzname", self.tzname)
        return part


def _yearly_rules(zone: ZoneInfo, year: int) -> tuple[_YearlyRule, ...]:
    return tuple(_rule_for(zone, instant) for instant in _offset_changes(zone, year))


def _rule_for(zone: ZoneInfo, changed_at: datetime) -> _YearlyRule:
    before = _offset(zone, changed_at - timedelta(seconds=1))
    after = _offset(zone, changed_at)
    wall = (changed_at + before).replace(tzinfo=None)
    last_day = calendar.monthrange(wall.year, wall.month)[1]
    ordinal = -1 if wall.day + 7 > last_day else (wall.day - 1) // 7 + 1
    local = changed_at.astimezone(zone)
    return _YearlyRule(
        month=wall.month,
        ordinal=ordinal,
        weekday=wall.weekday(),
        wall_time=wall.time(),
        offset_from=before,
        offset_to=after,
        tzname=local.tzname() or "",
        is_daylight=bool(local.dst()),
    )


def _offset_changes(zone: ZoneInfo, year: int) -> list[datetime]:
    """UTC instants in `year` where the zone's offset changes (first instant of the new one)."""
    changes: list[datetime] = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:
        next_day = day + timedelta(days=1)
        if _offset(zone, day) != _offset(zone, next_day):
            changes.append(_first_instant_with_new_offset(zone, day, next_day))
        day = next_day
    return changes


def _first_instant_with_new_offset(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    # Offsets change on whole minutes in tzdata since 1970, so minute steps are exact.
    old = _offset(zone, low)
    while high - low > timedelta(minutes=1):
        middle = low + (high - low) / 2
        middle = middle.replace(second=0, microsecond=0)
        if middle <= low:
            middle = low + timedelta(minutes=1)
        if _offset(zone, middle) == old:
            low = middle
        else:
            high = middle
    return high


def _fixed_offset_observance(zone: ZoneInfo, year: int) -> TimezoneStandard:
    moment = datetime(year, 1, 1, tzinfo=UTC).astimezone(zone)
    offset = _offset(zone, moment)
    part = TimezoneStandard()
    part.add("dtstart", datetime(_RULE_ONSET_YEAR, 1, 1))
    part.add("tzoffsetfrom", offset)
    part.add("tzoffsetto", offset)
    part.add("tzname", moment.tzname() or "")
    return part


def _nth_weekday(year: int, month: int, weekday: int, ordinal: int) -> datetime:
    days = [
        day
        for day in calendar.Calendar().itermonthdates(year, month)
        if day.month == month and day.weekday() == weekday
    ]
    chosen = days[-1] if ordinal == -1 else days[ordinal - 1]
    return datetime(chosen.year, chosen.month, chosen.day)


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    offset = moment.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset for an aware moment
    return offset


def _calendar() -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    return cal


def _serialise(cal: Calendar) -> bytes:
    ical: bytes = cal.to_ical()  # icalendar leaves this untyped
    return ical


def _vevent(
    event: InviteEvent,
    *,
    zone: ZoneInfo,
    join_url: str,
    language: str,
    dtstamp: datetime,
    cancelled: bool,
) -> Event:
    if dtstamp.tzinfo is None:
        raise InvalidInput("dtstamp must be timezone-aware", field="dtstamp")
    summary = summary_in(language)
    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", dtstamp.astimezone(UTC))
    vevent.add("dtstart", event.start.astimezone(zone))
    vevent.add("dtend", event.end.astimezone(zone))
    vevent.add("summary", summary)
    vevent.add("location", join_url)
    vevent.add("url", join_url)
    vevent.add("description", _description(language, join_url))
    status = "CANCELLED" if cancelled else "TENTATIVE" if event.tentative else "CONFIRMED"
    vevent.add("status", status)
    vevent.add("transp", "OPAQUE")
    # Only a consultation that will take place as written rings anyone's phone beforehand.
    if status == "CONFIRMED":
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", -ALARM_BEFORE)
        alarm.add("description", summary)
        vevent.add_component(alarm)
    return vevent


def _organizer(event: InviteEvent) -> vCalAddress:
    # The service mailbox receives the replies; the CN shows people which GP booked the meeting.
    organizer = vCalAddress(mailto(event.organizer_email))
    organizer.params["CN"] = event.organizer_name
    return organizer


def _attendee(attendee: InviteAttendee) -> vCalAddress:
    address = vCalAddress(mailto(attendee.email))
    address.params["CUTYPE"] = "INDIVIDUAL"
    address.params["ROLE"] = (
        "REQ-PARTICIPANT" if attendee.role in REQUIRED_ROLES else "OPT-PARTICIPANT"
    )
    address.params["PARTSTAT"] = "NEEDS-ACTION"
    # Nothing reads replies (the organizer's address takes no mail): asking for one would have
    # calendars send answers that go nowhere, and show an Accept button that changes nothing.
    address.params["RSVP"] = "FALSE"
    address.params["CN"] = attendee.name
    return address


_MAILTO_DELIMS = "!$'()*+,;:"


def mailto(address: str) -> str:
    """`address` as a `mailto:` URI (RFC 6068): non-ASCII (RFC 6531) and the characters a URI
    reserves, percent-encoded as UTF-8, local part and domain alike."""
    local, _, domain = address.rpartition("@")
    # RFC 6068's `qchar`: unreserved characters and `some-delims` may stand as they are.
    return f"mailto:{quote(local, safe=_MAILTO_DELIMS)}@{quote(domain, safe='')}"


def _years(events: Iterable[InviteEvent], zone: ZoneInfo) -> range:
    local_years = [
        moment.astimezone(zone).year for event in events for moment in (event.start, event.end)
    ]
    return range(min(local_years), max(local_years) + 1)


def _zone(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(f"unknown time zone {tz_name!r}", field="tz_name") from error


def _check_name(name: str, field: str) -> None:
    # Names end up in mail headers and calendar parameters, where a line break starts a new field.
    if not is_printable_name(name):
        raise InvalidInput("a name must be printable text", field=field)


def _check_email(address: str, field: str) -> None:
    # Enough to keep a broken address (or a line break smuggled into one) out of a mailto: URI.
    local, at, domain = address.partition("@")
    if not (local and at and domain) or any(c.isspace() for c in address):
        raise InvalidInput("not an e-mail address", field=field)
