"""Tests for service.domain.invites: parsed back with icalendar and with Mozilla's ical.js under
Node."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Component, Event, vCalAddress, vRecur

from service.domain.errors import InvalidInput
from service.domain.invites import (
    InviteAttendee,
    InviteEvent,
    build_feed,
    build_invite,
    vtimezone_with_rules,
)

OSLO = ZoneInfo("Europe/Oslo")
JS_DIR = Path(__file__).parent / "js"
STAMP = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SERVICE_MAILBOX = "booking@samkons.example"
# Monday after the spring change (CEST, UTC+2) and Monday after the autumn change (CET, UTC+1).
SUMMER_MONDAY = datetime(2026, 3, 30, 9, 0, tzinfo=OSLO)
WINTER_MONDAY = datetime(2026, 10, 26, 9, 0, tzinfo=OSLO)

GP = InviteAttendee("Kari Fastlege", "kari@legekontor.example", "gp", "nn")
SPECIALIST = InviteAttendee("Sven Spesialist", "sven@sjukehus.example", "specialist", "nb")
PATIENT = InviteAttendee("Per Pasientsen", "per@heime.example", "patient", "nn")
RELATIVE = InviteAttendee("Randi Pårørande", "randi@heime.example", "relative", "nn")
INTERPRETER = InviteAttendee("Tariq Tolk", "tariq@tolk.example", "interpreter", "en")
NURSE = InviteAttendee("Heidi Heimesjukepleie", "heidi@kommune.example", "municipal_staff", "nb")
EVERYONE = (GP, SPECIALIST, PATIENT, RELATIVE, INTERPRETER, NURSE)

PATIENT_GROUP_WORDS = (
    "children_youth",
    "mental_health_addiction",
    "frail_elderly",
    "multiple_chronic",
    "barn og unge",
    "psykisk",
    "rus",
    "skrøpeleg",
    "kronisk",
    "purpose",
    "formål",
)


def make_event(
    start: datetime = SUMMER_MONDAY,
    *,
    minutes: int = 45,
    sequence: int = 0,
    cancelled: bool = False,
    uid: str = "c0ffee-1@samkons.example",
    attendees: tuple[InviteAttendee, ...] = EVERYONE,
) -> InviteEvent:
    return InviteEvent(
        uid=uid,
        sequence=sequence,
        start=start,
        end=start + timedelta(minutes=minutes),
        organizer_email=SERVICE_MAILBOX,
        organizer_name=GP.name,
        attendees=attendees,
        cancelled=cancelled,
    )


def join_url_for(attendee: InviteAttendee) -> str:
    return f"https://samkons.example/bli-med/{attendee.email.partition('@')[0]}-token"


def invite(
    event: InviteEvent | None = None,
    *,
    recipient: InviteAttendee = PATIENT,
    method: str = "REQUEST",
) -> bytes:
    return build_invite(
        event or make_event(),
        recipient=recipient,
        join_url=join_url_for(recipient),
        method=method,  # type: ignore[arg-type]  # refusal tests pass bad methods on purpose
        dtstamp=STAMP,
    )


def parse(ics: bytes) -> Calendar:
    return Calendar.from_ical(ics)


def only_event(ics: bytes) -> Event:
    events = parse(ics).walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Event)
    return event


def addresses(component: Component, name: str) -> list[vCalAddress]:
    value = component[name]
    values = value if isinstance(value, list) else [value]
    typed = [v for v in values if isinstance(v, vCalAddress)]
    assert len(typed) == len(values)
    return typed


def rrule(component: Component) -> dict[str, list[object]]:
    value = component["RRULE"]
    assert isinstance(value, vRecur)
    return dict(value)


def unfolded(ics: bytes) -> str:
    return ics.decode().replace("\r\n ", "")


# --- the calendar and its event --------------------------------------------------------------


def test_request_calendar_has_prodid_version_and_method() -> None:
    cal = parse(invite())
    assert str(cal["PRODID"]).startswith("-//Samkons//")
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["METHOD"]) == "REQUEST"


def test_event_carries_uid_sequence_stamp_and_times_in_oslo() -> None:
    event = make_event(sequence=3)
    vevent = only_event(invite(event))
    assert str(vevent["UID"]) == event.uid
    assert vevent["SEQUENCE"] == 3
    assert vevent.decoded("DTSTAMP") == STAMP
    assert vevent["DTSTART"].params["TZID"] == "Europe/Oslo"
    assert vevent["DTEND"].params["TZID"] == "Europe/Oslo"
    assert vevent.decoded("DTSTART") == event.start
    assert vevent.decoded("DTEND") == event.end
    assert str(vevent["STATUS"]) == "CONFIRMED"


@pytest.mark.parametrize(
    ("language", "summary"),
    [
        ("nn", "Samkonsultasjon"),
        ("nb", "Samkonsultasjon"),
        ("en", "Joint consultation"),
    ],
)
def test_summary_is_neutral_in_recipients_language(language: str, summary: str) -> None:
    recipient = InviteAttendee("Ola Nordmann", "ola@heime.example", "relative", language)
    event = make_event(attendees=(GP, SPECIALIST, PATIENT, recipient))
    assert str(only_event(invite(event, recipient=recipient))["SUMMARY"]) == summary


def test_summary_and_description_name_nobody() -> None:
    vevent = only_event(invite())
    shown = str(vevent["SUMMARY"]) + str(vevent["DESCRIPTION"])
    for attendee in EVERYONE:
        assert attendee.name not in shown
        assert attendee.name.split()[0] not in shown


def test_no_patient_group_or_purpose_words_in_the_ics() -> None:
    for recipient in EVERYONE:
        text = unfolded(invite(recipient=recipient)).lower()
        for word in PATIENT_GROUP_WORDS:
            assert word not in text, word


def test_organizer_is_the_service_mailbox_named_after_the_booking_gp() -> None:
    (organizer,) = addresses(only_event(invite()), "ORGANIZER")
    assert str(organizer) == f"mailto:{SERVICE_MAILBOX}"
    assert organizer.params["CN"] == GP.name


def test_one_attendee_line_per_participant_with_name_and_no_reply_asked() -> None:
    attendees = addresses(only_event(invite()), "ATTENDEE")
    assert [str(a) for a in attendees] == [f"mailto:{p.email}" for p in EVERYONE]
    for line, participant in zip(attendees, EVERYONE, strict=True):
        assert line.params["CN"] == participant.name
        assert line.params["PARTSTAT"] == "NEEDS-ACTION"
        assert line.params["RSVP"] == "FALSE"
        assert line.params["CUTYPE"] == "INDIVIDUAL"


@pytest.mark.parametrize(
    ("role", "ical_role"),
    [
        ("gp", "REQ-PARTICIPANT"),
        ("specialist", "REQ-PARTICIPANT"),
        ("patient", "REQ-PARTICIPANT"),
        ("relative", "OPT-PARTICIPANT"),
        ("interpreter", "OPT-PARTICIPANT"),
        ("municipal_staff", "OPT-PARTICIPANT"),
    ],
)
def test_attendee_role_follows_participant_role(role: str, ical_role: str) -> None:
    participant = InviteAttendee("Someone", "someone@example.org", role, "nn")
    event = make_event(attendees=(participant,))
    (line,) = addresses(only_event(invite(event, recipient=participant)), "ATTENDEE")
    assert line.params["ROLE"] == ical_role


def test_unusual_names_survive_as_cn() -> None:
    odd = InviteAttendee('Anne "Nanna" Berg, jr.; Ø', "anne@example.org", "relative", "nn")
    event = make_event(attendees=(GP, SPECIALIST, PATIENT, odd))
    cns = [a.params["CN"] for a in addresses(only_event(invite(event, recipient=odd)), "ATTENDEE")]
    assert odd.name in cns


def test_personal_join_link_in_url_location_and_description() -> None:
    vevent = only_event(invite(recipient=SPECIALIST))
    link = join_url_for(SPECIALIST)
    assert str(vevent["URL"]) == link
    assert str(vevent["LOCATION"]) == link
    assert link in str(vevent["DESCRIPTION"])
    assert "Lenken er personlig" in str(vevent["DESCRIPTION"])  # SPECIALIST reads bokmål


def test_each_recipient_gets_only_their_own_link() -> None:
    for_patient = unfolded(invite(recipient=PATIENT))
    for_gp = unfolded(invite(recipient=GP))
    assert join_url_for(PATIENT) in for_patient and join_url_for(GP) not in for_patient
    assert join_url_for(GP) in for_gp and join_url_for(PATIENT) not in for_gp


def test_display_alarm_fifteen_minutes_before() -> None:
    (alarm,) = only_event(invite()).walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm.decoded("TRIGGER") == timedelta(minutes=-15)
    assert str(alarm["DESCRIPTION"]) == "Samkonsultasjon"


# --- updates and cancellations ---------------------------------------------------------------


def test_cancel_is_method_cancel_with_status_cancelled_and_no_alarm() -> None:
    event = make_event(sequence=2, cancelled=True)
    ics = invite(event, method="CANCEL")
    vevent = only_event(ics)
    assert str(parse(ics)["METHOD"]) == "CANCEL"
    assert str(vevent["STATUS"]) == "CANCELLED"
    assert vevent["SEQUENCE"] == 2
    assert vevent.walk("VALARM") == []


def test_update_keeps_uid_and_carries_new_sequence() -> None:
    first = only_event(invite(make_event(sequence=0)))
    moved = only_event(invite(make_event(WINTER_MONDAY, sequence=1)))
    assert str(first["UID"]) == str(moved["UID"])
    assert (first["SEQUENCE"], moved["SEQUENCE"]) == (0, 1)
    assert moved.decoded("DTSTART") == WINTER_MONDAY


def test_cancelled_consultation_cannot_be_sent_as_request() -> None:
    with pytest.raises(InvalidInput) as caught:
        invite(make_event(cancelled=True), method="REQUEST")
    assert caught.value.field == "method"


def test_unknown_method_is_refused() -> None:
    with pytest.raises(InvalidInput):
        invite(method="PUBLISH")


def test_recipient_must_be_an_attendee() -> None:
    stranger = InviteAttendee("Ukjend", "ukjend@example.org", "relative", "nn")
    with pytest.raises(InvalidInput) as caught:
        invite(recipient=stranger)
    assert caught.value.field == "recipient"


def test_naive_dtstamp_is_refused() -> None:
    with pytest.raises(InvalidInput):
        build_invite(
            make_event(),
            recipient=PATIENT,
            join_url="https://x.example/j",
            method="REQUEST",
            dtstamp=datetime(2026, 3, 2, 12, 0),
        )


# --- value objects refuse bad input ----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"role": "coordinator"}, "role"),
        ({"language": "sv"}, "language"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "a@b.example\r\nBCC:x@y"}, "email"),
        ({"name": "Ola\r\nBcc: x@y.example"}, "name"),
        ({"name": "  "}, "name"),
    ],
)
def test_attendee_refuses_bad_values(changes: dict[str, str], field: str) -> None:
    values = {
        "name": "N",
        "email": "n@example.org",
        "role": "gp",
        "language": "nn",
    } | changes
    with pytest.raises(InvalidInput) as caught:
        InviteAttendee(**values)
    assert caught.value.field == field


def test_event_refuses_naive_times() -> None:
    with pytest.raises(InvalidInput):
        make_event(datetime(2026, 3, 30, 9, 0))


def test_event_refuses_end_not_after_start() -> None:
    with pytest.raises(InvalidInput) as caught:
        make_event(minutes=0)
    assert caught.value.field == "end"


def test_event_refuses_organizer_name_with_line_break() -> None:
    with pytest.raises(InvalidInput) as caught:
        InviteEvent(
            uid="u@x",
            sequence=0,
            start=SUMMER_MONDAY,
            end=SUMMER_MONDAY + timedelta(minutes=30),
            organizer_email=SERVICE_MAILBOX,
            organizer_name="Kari\nFastlege",
            attendees=EVERYONE,
            cancelled=False,
        )
    assert caught.value.field == "organizer_name"


def test_event_refuses_negative_sequence_and_empty_uid() -> None:
    with pytest.raises(InvalidInput):
        make_event(sequence=-1)
    with pytest.raises(InvalidInput):
        make_event(uid=" ")


# --- time zone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "line"),
    [
        (SUMMER_MONDAY, "DTSTART;TZID=Europe/Oslo:20260330T090000"),
        (WINTER_MONDAY, "DTSTART;TZID=Europe/Oslo:20261026T090000"),
        # The database hands over UTC; the invite must still show Oslo wall time.
        (
            datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
            "DTSTART;TZID=Europe/Oslo:20260330T090000",
        ),
        (
            datetime(2026, 10, 26, 8, 0, tzinfo=UTC),
            "DTSTART;TZID=Europe/Oslo:20261026T090000",
        ),
    ],
)
def test_start_is_written_as_oslo_wall_time_on_both_sides_of_dst(
    start: datetime, line: str
) -> None:
    assert line in invite(make_event(start)).decode().splitlines()


def test_vtimezone_uses_yearly_rules_and_no_rdate() -> None:
    ics = invite()
    (vtimezone,) = parse(ics).walk("VTIMEZONE")
    assert str(vtimezone["TZID"]) == "Europe/Oslo"
    assert "RDATE" not in unfolded(ics)
    (daylight,) = vtimezone.walk("DAYLIGHT")
    (standard,) = vtimezone.walk("STANDARD")
    assert rrule(daylight) == {
        "FREQ": ["YEARLY"],
        "BYMONTH": [3],
        "BYDAY": ["-1SU"],
    }
    assert rrule(standard) == {
        "FREQ": ["YEARLY"],
        "BYMONTH": [10],
        "BYDAY": ["-1SU"],
    }
    assert (daylight.decoded("TZOFFSETFROM"), daylight.decoded("TZOFFSETTO")) == (
        timedelta(hours=1),
        timedelta(hours=2),
    )
    assert (standard.decoded("TZOFFSETFROM"), standard.decoded("TZOFFSETTO")) == (
        timedelta(hours=2),
        timedelta(hours=1),
    )
    assert (str(daylight["TZNAME"]), str(standard["TZNAME"])) == ("CEST", "CET")


@pytest.mark.parametrize(
    "tz_name", ["Europe/Oslo", "America/New_York", "Australia/Sydney", "Asia/Tokyo"]
)
def test_vtimezone_rules_agree_with_tzdata(tz_name: str) -> None:
    # lookup_tzid=False makes icalendar build the zone from our rules instead of using tzdata.
    written = vtimezone_with_rules(tz_name, range(2026, 2031)).to_tz(lookup_tzid=False)
    truth = ZoneInfo(tz_name)

    def agree(moment: datetime) -> bool:
        return moment.astimezone(written).utcoffset() == moment.astimezone(truth).utcoffset()

    day = datetime(2026, 1, 1, tzinfo=UTC)
    while day.year < 2031:
        assert agree(day), day
        next_day = day + timedelta(days=1)
        if next_day.astimezone(truth).utcoffset() != day.astimezone(truth).utcoffset():
            # Around a change, every minute counts.
            for minute in range(24 * 60):
                assert agree(day + timedelta(minutes=minute)), day + timedelta(minutes=minute)
        day = next_day


def test_zone_without_daylight_saving_has_one_fixed_observance() -> None:
    vtimezone = vtimezone_with_rules("Asia/Tokyo", [2026])
    assert vtimezone.walk("DAYLIGHT") == []
    (standard,) = vtimezone.walk("STANDARD")
    assert "RRULE" not in standard
    assert standard.decoded("TZOFFSETTO") == timedelta(hours=9)


def test_zone_whose_rules_change_between_years_is_refused() -> None:
    # Morocco suspends summer time around Ramadan, on dates no yearly rule can express.
    with pytest.raises(ValueError, match="changes its rules"):
        vtimezone_with_rules("Africa/Casablanca", range(2024, 2027))


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_invite(
            make_event(),
            recipient=PATIENT,
            join_url="https://x.example/j",
            method="REQUEST",
            dtstamp=STAMP,
            tz_name="Europe/Bergen",
        )
    assert caught.value.field == "tz_name"


# --- feed ------------------------------------------------------------------------------------


def feed_for_specialist(*events: InviteEvent) -> bytes:
    return build_feed(
        [(event, f"https://samkons.example/bli-med/{event.uid}") for event in events],
        name="Samkonsultasjonar – Sven Spesialist",
        dtstamp=STAMP,
    )


def test_feed_has_no_method_and_the_same_vtimezone_as_invites() -> None:
    ics = feed_for_specialist(make_event(uid="a@x"), make_event(WINTER_MONDAY, uid="b@x"))
    cal = parse(ics)
    assert "METHOD" not in cal
    assert str(cal["X-WR-CALNAME"]) == "Samkonsultasjonar – Sven Spesialist"
    assert str(cal["NAME"]) == "Samkonsultasjonar – Sven Spesialist"
    (feed_zone,) = cal.walk("VTIMEZONE")
    (invite_zone,) = parse(invite()).walk("VTIMEZONE")
    assert feed_zone.to_ical() == invite_zone.to_ical()


def test_feed_events_each_carry_their_own_join_url() -> None:
    ics = feed_for_specialist(make_event(uid="a@x"), make_event(WINTER_MONDAY, uid="b@x"))
    for vevent in parse(ics).walk("VEVENT"):
        link = f"https://samkons.example/bli-med/{vevent['UID']}"
        assert str(vevent["URL"]) == link
        assert str(vevent["LOCATION"]) == link
        assert link in str(vevent["DESCRIPTION"])
    assert [str(e["UID"]) for e in parse(ics).walk("VEVENT")] == ["a@x", "b@x"]


def test_feed_names_no_participants() -> None:
    ics = feed_for_specialist(make_event())
    vevent = only_event(ics)
    assert "ATTENDEE" not in vevent and "ORGANIZER" not in vevent
    for attendee in EVERYONE:
        assert attendee.name not in vevent.to_ical().decode()


def test_feed_keeps_cancelled_consultations_marked_and_silent() -> None:
    ics = feed_for_specialist(make_event(uid="live@x"), make_event(uid="off@x", cancelled=True))
    by_uid = {str(e["UID"]): e for e in parse(ics).walk("VEVENT")}
    assert str(by_uid["live@x"]["STATUS"]) == "CONFIRMED"
    assert str(by_uid["off@x"]["STATUS"]) == "CANCELLED"
    assert len(by_uid["live@x"].walk("VALARM")) == 1
    assert by_uid["off@x"].walk("VALARM") == []


def test_feed_across_years_and_empty_feed_are_valid() -> None:
    next_winter = make_event(datetime(2027, 1, 11, 9, 0, tzinfo=OSLO), uid="c@x")
    assert len(parse(feed_for_specialist(make_event(), next_winter)).walk("VEVENT")) == 2
    empty = parse(feed_for_specialist())
    assert empty.walk("VEVENT") == [] and "METHOD" not in empty


def test_feed_language_sets_the_summary() -> None:
    ics = build_feed(
        [(make_event(), "https://x.example/j")],
        name="Feed",
        dtstamp=STAMP,
        language="en",
    )
    assert str(only_event(ics)["SUMMARY"]) == "Joint consultation"


# --- Mozilla ical.js under Node --------------------------------------------------------------


def parse_with_icaljs(ics: bytes, js_dir: Path = JS_DIR) -> dict[str, Any]:
    """What Thunderbird's calendar engine reads from `ics`; fails (not skips) when it cannot run."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed; the ical.js interoperability tests need Node 20+")
    if not (js_dir / "node_modules" / "ical.js").is_dir():
        pytest.fail(f"ical.js is not installed in {js_dir}; run: npm ci --prefix tests/js")
    result = subprocess.run(
        [node, str(js_dir / "parse_ics.mjs")],
        input=ics,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"ical.js could not parse the invite:\n{result.stderr.decode()}")
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_missing_node_modules_fails_with_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"npm ci --prefix tests/js"):
        parse_with_icaljs(invite(), js_dir=tmp_path)


@pytest.mark.parametrize(
    ("start", "utc"),
    [(SUMMER_MONDAY, "2026-03-30T07:00:00Z"), (WINTER_MONDAY, "2026-10-26T08:00:00Z")],
)
def test_icaljs_converts_oslo_wall_time_to_utc_through_our_vtimezone(
    start: datetime, utc: str
) -> None:
    parsed = parse_with_icaljs(invite(make_event(start)))
    assert parsed["timezones"] == ["Europe/Oslo"]
    (event,) = parsed["events"]
    assert event["start"]["tzid"] == "Europe/Oslo"
    assert event["start"]["zone"] == "Europe/Oslo"
    assert event["start"]["local"] == start.strftime("%Y-%m-%dT09:00:00")
    assert event["start"]["utc"] == utc


def test_icaljs_without_the_vtimezone_cannot_place_the_time() -> None:
    # Control for the test above: ical.js has no zone database, so the right UTC comes from ours.
    stripped = re.sub(rb"BEGIN:VTIMEZONE.*?END:VTIMEZONE\r\n", b"", invite(), flags=re.DOTALL)
    (event,) = parse_with_icaljs(stripped)["events"]
    assert event["start"]["zone"] != "Europe/Oslo"
    assert event["start"]["utc"] != "2026-03-30T07:00:00Z"


def test_icaljs_reads_the_request() -> None:
    event = make_event(sequence=4)
    parsed = parse_with_icaljs(invite(event, recipient=INTERPRETER))
    assert parsed["method"] == "REQUEST"
    (read,) = parsed["events"]
    assert (read["uid"], read["sequence"], read["status"]) == (
        event.uid,
        4,
        "CONFIRMED",
    )
    assert read["summary"] == "Joint consultation"
    assert read["url"] == read["location"] == join_url_for(INTERPRETER)
    assert read["organizer"] == {
        "value": f"mailto:{SERVICE_MAILBOX}",
        "params": {"cn": GP.name},
    }
    assert read["alarms"] == [{"action": "DISPLAY", "trigger": "-PT15M"}]
    expected_roles = {"gp": "REQ", "specialist": "REQ", "patient": "REQ"}
    assert read["attendees"] == [
        {
            "value": f"mailto:{p.email}",
            "params": {
                "cn": p.name,
                "cutype": "INDIVIDUAL",
                "partstat": "NEEDS-ACTION",
                "role": f"{expected_roles.get(p.role, 'OPT')}-PARTICIPANT",
                "rsvp": "FALSE",
            },
        }
        for p in EVERYONE
    ]


def test_icaljs_reads_the_cancellation() -> None:
    parsed = parse_with_icaljs(invite(make_event(sequence=5, cancelled=True), method="CANCEL"))
    assert parsed["method"] == "CANCEL"
    (read,) = parsed["events"]
    assert (read["sequence"], read["status"], read["alarms"]) == (5, "CANCELLED", [])


def test_icaljs_reads_the_feed() -> None:
    parsed = parse_with_icaljs(
        feed_for_specialist(make_event(uid="a@x"), make_event(WINTER_MONDAY, uid="b@x"))
    )
    assert parsed["method"] is None
    assert [e["start"]["utc"] for e in parsed["events"]] == [
        "2026-03-30T07:00:00Z",
        "2026-10-26T08:00:00Z",
    ]
    assert [e["url"] for e in parsed["events"]] == [
        "https://samkons.example/bli-med/a@x",
        "https://samkons.example/bli-med/b@x",
    ]


def test_cancel_for_one_removed_attendee_names_only_them() -> None:
    removed = make_event(sequence=3, attendees=(RELATIVE,))
    vevent = only_event(invite(removed, recipient=RELATIVE, method="CANCEL"))
    assert str(vevent["STATUS"]) == "CANCELLED"
    assert [str(a) for a in addresses(vevent, "ATTENDEE")] == [f"mailto:{RELATIVE.email}"]
