"""Tests for service.domain.availability: working hours, exceptions, busy time and common slots."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.domain.availability import (
    ClinicianCalendar,
    Interval,
    WeeklyHours,
    check_bookable,
    find_common_slots,
    working_intervals,
)
from service.domain.closed_days import closed_days
from service.domain.errors import InvalidInput, SlotTaken

OSLO = ZoneInfo("Europe/Oslo")
MONDAY, SATURDAY, SUNDAY = 0, 5, 6
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def oslo(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=OSLO, fold=fold)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def weekdays(start: time, end: time) -> list[WeeklyHours]:
    return [WeeklyHours(day, start, end) for day in range(5)]


def calendar(
    weekly: list[WeeklyHours] | None = None,
    exceptions: list[Interval] | None = None,
    busy: list[Interval] | None = None,
) -> ClinicianCalendar:
    return ClinicianCalendar(
        weekly=weekdays(time(9), time(11)) if weekly is None else weekly,
        exceptions=exceptions or [],
        busy=busy or [],
    )


def slots(
    calendars: list[ClinicianCalendar],
    window_start: datetime,
    window_end: datetime,
    *,
    extra_busy: list[Interval] | None = None,
    duration: timedelta = timedelta(minutes=30),
    step: timedelta = timedelta(minutes=30),
    not_before: datetime = LONG_AGO,
) -> list[Interval]:
    return find_common_slots(
        calendars,
        extra_busy or [],
        window_start=window_start,
        window_end=window_end,
        duration=duration,
        step=step,
        tz=OSLO,
        not_before=not_before,
    )


def local_starts(found: list[Interval]) -> list[str]:
    return [slot.start.astimezone(OSLO).strftime("%Y-%m-%d %H:%M%z") for slot in found]


# --- daylight-saving time ---------------------------------------------------------------------


def test_monday_nine_oclock_is_eight_utc_before_and_seven_utc_after_the_march_change() -> None:
    found = slots([calendar()], oslo(2026, 3, 23), oslo(2026, 3, 31))

    nine_oclocks = [s.start for s in found if s.start.astimezone(OSLO).time() == time(9)]
    assert nine_oclocks[0] == utc(2026, 3, 23, 8)  # Monday before 29 March: CET, UTC+1
    assert utc(2026, 3, 30, 7) in nine_oclocks  # Monday after: CEST, UTC+2
    assert utc(2026, 3, 30, 8) not in nine_oclocks


def test_monday_nine_oclock_is_seven_utc_before_and_eight_utc_after_the_october_change() -> None:
    found = slots([calendar()], oslo(2026, 10, 19), oslo(2026, 10, 27))

    starts = [s.start for s in found]
    assert utc(2026, 10, 19, 7) in starts  # Monday before 25 October: CEST, UTC+2
    assert utc(2026, 10, 26, 8) in starts  # Monday after: CET, UTC+1
    assert utc(2026, 10, 26, 7) not in starts


def test_working_hours_keep_their_local_times_on_the_day_of_the_change() -> None:
    cal = calendar(weekly=[WeeklyHours(SUNDAY, time(9), time(11))])

    march = working_intervals(cal, oslo(2026, 3, 29), oslo(2026, 3, 30), OSLO)
    october = working_intervals(cal, oslo(2026, 10, 25), oslo(2026, 10, 26), OSLO)

    assert march == [Interval(utc(2026, 3, 29, 7), utc(2026, 3, 29, 9))]
    assert october == [Interval(utc(2026, 10, 25, 8), utc(2026, 10, 25, 10))]


def test_results_are_in_utc() -> None:
    found = working_intervals(calendar(), oslo(2026, 3, 23), oslo(2026, 3, 24), OSLO)
    found_slots = slots([calendar()], oslo(2026, 3, 23), oslo(2026, 3, 24))

    assert found and found_slots
    assert all(i.start.tzinfo is UTC and i.end.tzinfo is UTC for i in found + found_slots)


def test_hours_wholly_inside_the_skipped_spring_hour_do_not_happen() -> None:
    cal = calendar(weekly=[WeeklyHours(SUNDAY, time(2, 15), time(2, 45))])

    assert working_intervals(cal, oslo(2026, 3, 29), oslo(2026, 3, 30), OSLO) == []


def test_hours_starting_in_the_skipped_spring_hour_start_when_the_clock_jumps() -> None:
    cal = calendar(weekly=[WeeklyHours(SUNDAY, time(2, 30), time(4))])

    found = working_intervals(cal, oslo(2026, 3, 29), oslo(2026, 3, 30), OSLO)

    # The clock jumps from 02:00 CET to 03:00 CEST at 01:00 UTC.
    assert found == [Interval(utc(2026, 3, 29, 1), utc(2026, 3, 29, 2))]


def test_hours_ending_in_the_skipped_spring_hour_end_when_the_clock_jumps() -> None:
    cal = calendar(weekly=[WeeklyHours(SUNDAY, time(1), time(2, 30))])

    found = working_intervals(cal, oslo(2026, 3, 29), oslo(2026, 3, 30), OSLO)

    assert found == [Interval(utc(2026, 3, 29, 0), utc(2026, 3, 29, 1))]


def test_no_slot_starts_at_a_local_time_that_does_not_exist() -> None:
    cal = calendar(weekly=[WeeklyHours(SUNDAY, time(1, 30), time(4))])

    found = slots([cal], oslo(2026, 3, 29), oslo(2026, 3, 30))

    assert local_starts(found) == [
        "2026-03-29 01:30+0100",
        "2026-03-29 03:00+0200",
        "2026-03-29 03:30+0200",
    ]
    # 01:30 CET to 02:00 UTC is one and a half real hours, whatever the clock says.
    assert found[0].end == utc(2026, 3, 29, 1)


def test_hours_starting_in_the_repeated_autumn_hour_start_at_its_first_occurrence() -> None:
    cal = calendar(weekly=[WeeklyHours(SUNDAY, time(2, 30), time(3, 30))])

    found = working_intervals(cal, oslo(2026, 10, 25), oslo(2026, 10, 26), OSLO)

    # 02:30 CEST is 00:30 UTC; 03:30 CET is 02:30 UTC: two real hours.
    assert found == [Interval(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 2, 30))]


def test_a_repeated_autumn_time_is_offered_at_both_occurrences() -> None:
    cal = calendar(weekly=[WeeklyHours(SUNDAY, time(2, 30), time(3, 30))])

    found = slots([cal], oslo(2026, 10, 25), oslo(2026, 10, 26))

    assert local_starts(found) == [
        "2026-10-25 02:30+0200",
        "2026-10-25 02:00+0100",
        "2026-10-25 02:30+0100",
        "2026-10-25 03:00+0100",
    ]
    assert [s.start for s in found] == sorted(s.start for s in found)


def test_busy_time_given_in_local_time_counts_like_utc() -> None:
    busy = Interval(oslo(2026, 3, 30, 9), oslo(2026, 3, 30, 10))  # Monday, CEST

    found = slots([calendar(busy=[busy])], oslo(2026, 3, 30), oslo(2026, 3, 31))

    assert local_starts(found) == ["2026-03-30 10:00+0200", "2026-03-30 10:30+0200"]


# --- exceptions, busy time, back-to-back ------------------------------------------------------


def test_an_exception_removes_working_time() -> None:
    leave = Interval(oslo(2026, 3, 23, 9, 30), oslo(2026, 3, 23, 10, 30))

    found = working_intervals(
        calendar(exceptions=[leave]), oslo(2026, 3, 23), oslo(2026, 3, 24), OSLO
    )

    assert found == [
        Interval(utc(2026, 3, 23, 8), utc(2026, 3, 23, 8, 30)),
        Interval(utc(2026, 3, 23, 9, 30), utc(2026, 3, 23, 10)),
    ]


def test_a_holiday_removes_every_slot_of_the_day() -> None:
    easter_monday = Interval(oslo(2026, 4, 6), oslo(2026, 4, 7))
    cal = calendar(exceptions=[easter_monday])

    found = slots([cal], oslo(2026, 4, 6), oslo(2026, 4, 8))

    assert found
    assert all(s.start.astimezone(OSLO).date().day == 7 for s in found)


def test_one_clinicians_busy_time_blocks_everyone() -> None:
    busy = Interval(oslo(2026, 3, 23, 9, 30), oslo(2026, 3, 23, 10))

    found = slots([calendar(), calendar(busy=[busy])], oslo(2026, 3, 23), oslo(2026, 3, 24))

    assert local_starts(found) == [
        "2026-03-23 09:00+0100",
        "2026-03-23 10:00+0100",
        "2026-03-23 10:30+0100",
    ]


def test_the_patients_other_bookings_block_slots() -> None:
    patient_busy = Interval(oslo(2026, 3, 23, 10), oslo(2026, 3, 23, 11))

    found = slots([calendar()], oslo(2026, 3, 23), oslo(2026, 3, 24), extra_busy=[patient_busy])

    assert local_starts(found) == ["2026-03-23 09:00+0100", "2026-03-23 09:30+0100"]


def test_back_to_back_with_busy_time_is_allowed() -> None:
    busy = Interval(oslo(2026, 3, 23, 9, 45), oslo(2026, 3, 23, 10, 15))

    found = slots(
        [calendar(busy=[busy])],
        oslo(2026, 3, 23),
        oslo(2026, 3, 24),
        step=timedelta(minutes=15),
    )

    assert local_starts(found) == [
        "2026-03-23 09:00+0100",
        "2026-03-23 09:15+0100",  # ends 09:45 exactly when the busy time starts
        "2026-03-23 10:15+0100",  # starts exactly when it ends
        "2026-03-23 10:30+0100",
    ]


def test_overlapping_and_touching_busy_intervals_are_joined() -> None:
    busy = [
        Interval(oslo(2026, 3, 23, 9), oslo(2026, 3, 23, 9, 45)),
        Interval(oslo(2026, 3, 23, 9, 30), oslo(2026, 3, 23, 10)),
        Interval(oslo(2026, 3, 23, 10), oslo(2026, 3, 23, 10, 30)),
    ]

    found = slots([calendar(busy=busy)], oslo(2026, 3, 23), oslo(2026, 3, 24))

    assert local_starts(found) == ["2026-03-23 10:30+0100"]


def test_adjacent_working_hours_join_so_a_slot_may_span_them() -> None:
    weekly = [
        WeeklyHours(MONDAY, time(9), time(10)),
        WeeklyHours(MONDAY, time(10), time(11)),
    ]

    found = slots(
        [calendar(weekly=weekly)],
        oslo(2026, 3, 23),
        oslo(2026, 3, 24),
        duration=timedelta(hours=2),
    )

    assert found == [Interval(utc(2026, 3, 23, 8), utc(2026, 3, 23, 10))]


# --- grid, duration, not_before, weekends, common hours ---------------------------------------


def test_slots_start_on_the_local_grid_after_an_odd_busy_end() -> None:
    busy = Interval(oslo(2026, 3, 23, 9), oslo(2026, 3, 23, 9, 7))

    found = slots(
        [calendar(busy=[busy])],
        oslo(2026, 3, 23),
        oslo(2026, 3, 24),
        step=timedelta(minutes=15),
    )

    assert local_starts(found)[0] == "2026-03-23 09:15+0100"


@pytest.mark.parametrize("day", [23, 30])  # before and after the March change
def test_the_grid_counts_from_local_midnight(day: int) -> None:
    # 45 minutes does not divide an hour, so a grid counted from UTC midnight would differ.
    found = slots(
        [calendar()],
        oslo(2026, 3, day),
        oslo(2026, 3, day + 1),
        step=timedelta(minutes=45),
    )

    assert [s.start.astimezone(OSLO).strftime("%H:%M") for s in found] == [
        "09:00",
        "09:45",
        "10:30",
    ]


def test_an_exception_starting_with_the_working_day_leaves_the_rest() -> None:
    leave = Interval(oslo(2026, 3, 23, 9), oslo(2026, 3, 23, 10))

    found = working_intervals(
        calendar(exceptions=[leave]), oslo(2026, 3, 23), oslo(2026, 3, 24), OSLO
    )

    assert found == [Interval(utc(2026, 3, 23, 9), utc(2026, 3, 23, 10))]


def test_a_duration_longer_than_the_step_gives_overlapping_alternatives() -> None:
    found = slots(
        [calendar()],
        oslo(2026, 3, 23),
        oslo(2026, 3, 24),
        duration=timedelta(hours=1),
        step=timedelta(minutes=15),
    )

    assert local_starts(found) == [
        "2026-03-23 09:00+0100",
        "2026-03-23 09:15+0100",
        "2026-03-23 09:30+0100",
        "2026-03-23 09:45+0100",
        "2026-03-23 10:00+0100",
    ]
    assert all(s.end - s.start == timedelta(hours=1) for s in found)


def test_a_slot_must_fit_wholly_in_free_time() -> None:
    found = slots([calendar()], oslo(2026, 3, 23), oslo(2026, 3, 24), duration=timedelta(hours=3))

    assert found == []


def test_no_slot_starts_before_not_before() -> None:
    found = slots(
        [calendar()],
        oslo(2026, 3, 23),
        oslo(2026, 3, 24),
        not_before=oslo(2026, 3, 23, 9, 40),
    )

    assert local_starts(found) == ["2026-03-23 10:00+0100", "2026-03-23 10:30+0100"]


def test_no_slots_on_weekends() -> None:
    found = slots([calendar()], oslo(2026, 3, 21), oslo(2026, 3, 23))  # Saturday and Sunday

    assert found == []
    assert working_intervals(calendar(), oslo(2026, 3, 21), oslo(2026, 3, 23), OSLO) == []


def test_weekend_hours_work_when_given() -> None:
    cal = calendar(weekly=[WeeklyHours(SATURDAY, time(10), time(11))])

    found = slots([cal], oslo(2026, 3, 16), oslo(2026, 3, 23))

    assert local_starts(found) == ["2026-03-21 10:00+0100", "2026-03-21 10:30+0100"]


def test_slots_lie_where_all_clinicians_work() -> None:
    gp = calendar(weekly=[WeeklyHours(MONDAY, time(8), time(12))])
    specialist = calendar(weekly=[WeeklyHours(MONDAY, time(10, 30), time(14))])

    found = slots([gp, specialist], oslo(2026, 3, 23), oslo(2026, 3, 24))

    assert local_starts(found) == [
        "2026-03-23 10:30+0100",
        "2026-03-23 11:00+0100",
        "2026-03-23 11:30+0100",
    ]


def test_the_window_clips_working_time() -> None:
    found = working_intervals(calendar(), oslo(2026, 3, 23, 10), oslo(2026, 3, 24, 9, 30), OSLO)

    assert found == [
        Interval(utc(2026, 3, 23, 9), utc(2026, 3, 23, 10)),
        Interval(utc(2026, 3, 24, 8), utc(2026, 3, 24, 8, 30)),
    ]


def test_a_four_week_search_finds_every_weekday() -> None:
    found = slots([calendar(), calendar()], oslo(2026, 3, 16), oslo(2026, 4, 13))

    days = {s.start.astimezone(OSLO).date() for s in found}
    assert len(days) == 20
    assert len(found) == 20 * 4


# --- refused input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"duration": timedelta(0)}, "duration"),
        ({"step": timedelta(minutes=-15)}, "step"),
        ({"step": timedelta(minutes=7)}, "step"),  # does not divide a day
        ({"window_end": oslo(2026, 3, 23)}, "window_end"),
        ({"window_start": datetime(2026, 3, 23)}, "window_start"),
        ({"not_before": datetime(2026, 3, 23)}, "not_before"),
    ],
)
def test_find_common_slots_refuses_bad_input(changes: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {
        "window_start": oslo(2026, 3, 23),
        "window_end": oslo(2026, 3, 24),
        "duration": timedelta(minutes=30),
        "step": timedelta(minutes=15),
        "tz": OSLO,
        "not_before": LONG_AGO,
    }
    arguments.update(changes)

    with pytest.raises(InvalidInput) as refused:
        find_common_slots([calendar()], [], **arguments)  # type: ignore[arg-type]

    assert refused.value.field == field


def test_find_common_slots_needs_a_calendar() -> None:
    with pytest.raises(ValueError, match="at least one"):
        slots([], oslo(2026, 3, 23), oslo(2026, 3, 24))


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (datetime(2026, 3, 23, 9), oslo(2026, 3, 23, 10), "starts_at"),
        (oslo(2026, 3, 23, 9), datetime(2026, 3, 23, 10), "ends_at"),
        (oslo(2026, 3, 23, 9), oslo(2026, 3, 23, 9), "ends_at"),
        (oslo(2026, 3, 23, 10), oslo(2026, 3, 23, 9), "ends_at"),
    ],
)
def test_interval_refuses_naive_or_backwards_times(
    start: datetime, end: datetime, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        Interval(start, end)

    assert refused.value.field == field


@pytest.mark.parametrize(
    ("weekday", "start", "end", "field"),
    [
        (7, time(9), time(10), "weekday"),
        (-1, time(9), time(10), "weekday"),
        (0, time(10), time(9), "end"),
        (0, time(9), time(9), "end"),
        (0, time(9, tzinfo=UTC), time(10), "start"),
    ],
)
def test_weekly_hours_refuse_nonsense(weekday: int, start: time, end: time, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        WeeklyHours(weekday, start, end)

    assert refused.value.field == field


def test_a_calendar_does_not_change_when_the_callers_list_does() -> None:
    busy: list[Interval] = []
    cal = calendar(busy=busy)

    busy.append(Interval(oslo(2026, 3, 23, 9), oslo(2026, 3, 23, 11)))

    assert len(slots([cal], oslo(2026, 3, 23), oslo(2026, 3, 24))) == 4


# --- check_bookable ---------------------------------------------------------------------------

NOW = oslo(2026, 3, 20, 12)


def check(
    interval: Interval,
    calendars: list[ClinicianCalendar] | None = None,
    extra_busy: list[Interval] | None = None,
) -> None:
    check_bookable(calendars or [calendar(), calendar()], extra_busy or [], interval, OSLO, NOW)


def test_a_free_time_in_working_hours_is_bookable() -> None:
    check(Interval(oslo(2026, 3, 23, 9), oslo(2026, 3, 23, 10)))


def test_a_time_after_the_spring_change_is_bookable_in_local_hours() -> None:
    check(Interval(utc(2026, 3, 30, 7), utc(2026, 3, 30, 9)))  # 09:00–11:00 CEST


def test_a_time_in_the_past_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        check(Interval(oslo(2026, 3, 20, 9), oslo(2026, 3, 20, 10)))

    assert refused.value.field == "starts_at"
    assert "past" in refused.value.detail


@pytest.mark.parametrize(
    "interval",
    [
        Interval(oslo(2026, 3, 23, 8), oslo(2026, 3, 23, 9)),  # before hours
        Interval(oslo(2026, 3, 23, 10, 30), oslo(2026, 3, 23, 11, 30)),  # runs past the end
        Interval(oslo(2026, 3, 21, 9), oslo(2026, 3, 21, 10)),  # Saturday
        Interval(utc(2026, 3, 30, 8, 30), utc(2026, 3, 30, 9, 30)),  # 10:30–11:30 CEST
        Interval(oslo(2026, 3, 23, 10), oslo(2026, 3, 24, 10)),  # across a night
    ],
)
def test_a_time_outside_working_hours_is_refused(interval: Interval) -> None:
    with pytest.raises(InvalidInput) as refused:
        check(interval)

    assert refused.value.field == "starts_at"
    assert "working hours" in refused.value.detail


def test_a_time_outside_one_clinicians_hours_is_refused() -> None:
    late_specialist = calendar(weekly=weekdays(time(10), time(12)))

    with pytest.raises(InvalidInput):
        check(
            Interval(oslo(2026, 3, 23, 9), oslo(2026, 3, 23, 10)),
            [calendar(), late_specialist],
        )


def test_a_time_in_an_exception_is_refused() -> None:
    leave = Interval(oslo(2026, 3, 23), oslo(2026, 3, 24))

    with pytest.raises(InvalidInput) as refused:
        check(
            Interval(oslo(2026, 3, 23, 9), oslo(2026, 3, 23, 10)),
            [calendar(exceptions=[leave])],
        )

    assert refused.value.field == "starts_at"


def test_an_end_before_the_start_is_refused_on_the_end() -> None:
    with pytest.raises(InvalidInput) as refused:
        check(Interval(oslo(2026, 3, 23, 10), oslo(2026, 3, 23, 9)))

    assert refused.value.field == "ends_at"


def test_a_time_overlapping_a_clinicians_consultation_is_taken() -> None:
    busy = Interval(oslo(2026, 3, 23, 9, 30), oslo(2026, 3, 23, 10, 30))

    with pytest.raises(SlotTaken) as refused:
        check(
            Interval(oslo(2026, 3, 23, 9), oslo(2026, 3, 23, 10)),
            [calendar(), calendar(busy=[busy])],
        )

    assert "clinician" in refused.value.detail


def test_a_time_overlapping_the_patients_consultation_is_taken() -> None:
    patient_busy = Interval(oslo(2026, 3, 23, 9, 59), oslo(2026, 3, 23, 10, 30))

    with pytest.raises(SlotTaken) as refused:
        check(
            Interval(oslo(2026, 3, 23, 9), oslo(2026, 3, 23, 10)),
            extra_busy=[patient_busy],
        )

    assert "patient" in refused.value.detail


def test_back_to_back_booking_is_allowed() -> None:
    before = Interval(oslo(2026, 3, 23, 9), oslo(2026, 3, 23, 10))
    after = Interval(oslo(2026, 3, 23, 10, 30), oslo(2026, 3, 23, 11))

    check(
        Interval(oslo(2026, 3, 23, 10), oslo(2026, 3, 23, 10, 30)),
        [calendar(busy=[before])],
        [after],
    )


def test_closed_days_take_every_slot_and_refuse_every_booking_of_the_day() -> None:
    # 17 May 2027 is a Monday; the clinicians' weekly hours would have them work.
    may_17 = date(2027, 5, 17)
    assert may_17 in closed_days(date(2027, 5, 1), date(2027, 5, 31))
    found = find_common_slots(
        [calendar()],
        [],
        window_start=oslo(2027, 5, 14),
        window_end=oslo(2027, 5, 19),
        duration=timedelta(minutes=30),
        step=timedelta(minutes=30),
        tz=OSLO,
        not_before=LONG_AGO,
        closed_days={may_17},
    )
    assert {s.start.astimezone(OSLO).date() for s in found} == {
        date(2027, 5, 14),
        date(2027, 5, 18),
    }
    with pytest.raises(InvalidInput) as refused:
        check_bookable(
            [calendar()],
            [],
            Interval(oslo(2027, 5, 17, 9), oslo(2027, 5, 17, 10)),
            OSLO,
            LONG_AGO,
            closed_days={may_17},
        )
    assert refused.value.field == "starts_at"
    check_bookable(
        [calendar()],
        [],
        Interval(oslo(2027, 5, 18, 9), oslo(2027, 5, 18, 10)),
        OSLO,
        LONG_AGO,
        closed_days={may_17},
    )


def test_the_norwegian_closed_days_include_easter_and_christmas_eve() -> None:
    days = closed_days(date(2026, 1, 1), date(2026, 12, 31))
    assert {date(2026, 4, 2), date(2026, 4, 3), date(2026, 4, 6)} <= days  # Easter
    assert {date(2026, 5, 1), date(2026, 5, 14), date(2026, 5, 17), date(2026, 5, 25)} <= days
    assert {date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26)} <= days
    assert date(2026, 4, 7) not in days and date(2026, 12, 23) not in days
