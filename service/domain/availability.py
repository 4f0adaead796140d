"""Availability: clinicians' working hours, exceptions and busy time → common free slots.

Pure functions over plain values, no I/O. Working hours are local wall-clock times in the
clinic's time zone (``Europe/Oslo``); everything else is an aware instant and every result is in
UTC. Intervals are half-open ``[start, end)``, so back-to-back bookings do not overlap.

Daylight-saving time. A weekly "09:00" means 09:00 on the local clock on each date, so it is
08:00 UTC in winter and 07:00 UTC in summer. A local time that does not exist on a date (the
clock jumps 02:00 → 03:00 on the last Sunday of March) is taken as the first instant the clock
shows a later time, i.e. the moment of the jump; a local time that happens twice (02:00–03:00 on
the last Sunday of October) is taken at its first occurrence. Both rules read as "the first
instant at which the local clock shows this time or later", so working hours of 02:15–02:45 on
the March change day vanish, and a span around the change keeps its wall-clock ends. Slot
starts lie on multiples of ``step`` of the local clock counted from local midnight; a start
whose local time does not exist is not offered, and one whose local time happens twice is
offered at both instants when both are free.

Speed: everything is sort and sweep over interval lists (O(n log n) in the number of
intervals); no loop walks the calendar minute by minute.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

from service.domain.errors import InvalidInput, SlotTaken

# An internal interval: a pair of aware UTC datetimes, lighter than Interval for the sweeps.
_Span = tuple[datetime, datetime]

_DAY = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)
# A UTC midnight plus the local offset is a local midnight; any one anchors the slot grid,
# because a valid step divides a day evenly.
_GRID_ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """One stretch of working time on a weekday, in local wall-clock time."""

    weekday: int  # 0 = Monday … 6 = Sunday, as date.weekday()
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise InvalidInput("Weekday must be 0 (Monday) to 6 (Sunday).", field="weekday")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InvalidInput(
                "Working hours are local wall-clock times without a time zone.",
                field="start",
            )
        if self.start >= self.end:
            raise InvalidInput("Working hours must end after they start.", field="end")


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open stretch of time ``[start, end)`` between two aware instants."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.utcoffset() is None:
            raise InvalidInput("The start time must include a time zone.", field="starts_at")
        if self.end.utcoffset() is None:
            raise InvalidInput("The end time must include a time zone.", field="ends_at")
        if self.end <= self.start:
            raise InvalidInput("The end time must be after the start time.", field="ends_at")


@dataclass(frozen=True, slots=True)
class ClinicianCalendar:
    """What decides when one clinician can take a consultation.

    ``exceptions`` are holidays and leave; ``busy`` are the clinician's active consultations.
    """

    weekly: Sequence[WeeklyHours]
    exceptions: Sequence[Interval]
    busy: Sequence[Interval]

    def __post_init__(self) -> None:
        # Tuples keep a frozen calendar from changing under a caller holding a list.
        object.__setattr__(self, "weekly", tuple(self.weekly))
        object.__setattr__(self, "exceptions", tuple(self.exceptions))
        object.__setattr__(self, "busy", tuple(self.busy))


def working_intervals(
    cal: ClinicianCalendar,
    window_start: datetime,
    window_end: datetime,
    tz: ZoneInfo,
    closed_days: Collection[date] = frozenset(),
) -> list[Interval]:
    """The clinician's working time within the window, minus exceptions, in UTC and sorted."""
    window = _window(window_start, window_end)
    return [Interval(start, end) for start, end in _working_spans(cal, window, tz, closed_days)]


def find_common_slots(
    calendars: Sequence[ClinicianCalendar],
    extra_busy: Sequence[Interval],
    *,
    window_start: datetime,
    window_end: datetime,
    duration: timedelta,
    step: timedelta,
    tz: ZoneInfo,
    not_before: datetime,
    closed_days: Collection[date] = frozenset(),
) -> list[Interval]:
    """Every slot of ``duration`` in the window where all clinicians work and nobody is busy.

    Slots start on local-clock multiples of ``step`` counted from local midnight (a 15-minute
    step gives :00, :15, :30, :45), never before ``not_before``, and may overlap each other:
    they are alternatives to choose from. ``extra_busy`` is other people's busy time, such as
    the patient's other consultations. No slot touches a local date in ``closed_days``
    (public holidays), whatever the working hours say. Returned in UTC, sorted by start.
    """
    window = _window(window_start, window_end)
    _require_positive(duration, "duration")
    _require_positive(step, "step")
    if _DAY % step:
        raise InvalidInput("The step must divide a day evenly.", field="step")
    earliest = _utc(_require_aware(not_before, "not_before"))

    working = _common_working_spans(calendars, window, tz, closed_days)
    free = _subtract(working, _busy_spans(calendars, extra_busy))
    slots: list[Interval] = []
    for start, end in free:
        for slot_start in _grid_starts(max(start, earliest), end - duration, step, tz):
            slots.append(Interval(slot_start, slot_start + duration))
    return slots


def check_bookable(
    calendars: Sequence[ClinicianCalendar],
    extra_busy: Sequence[Interval],
    interval: Interval,
    tz: ZoneInfo,
    now: datetime,
    closed_days: Collection[date] = frozenset(),
) -> None:
    """Refuse a proposed consultation time that cannot be booked; return quietly if it can.

    Raises ``InvalidInput`` (field ``starts_at``) for a start in the past or a time that is not
    wholly inside every clinician's working hours (or falls in an exception or on a local date
    in ``closed_days``), and ``SlotTaken``
    when it overlaps a clinician's or the patient's other booking. An end not after the start
    is refused (field ``ends_at``) already when the ``Interval`` is built. The time need not lie
    on the slot grid.
    """
    _check_not_past(interval.start, now)
    start, end = _utc(interval.start), _utc(interval.end)
    days = (start.astimezone(tz).date(), (end - _ONE_MICROSECOND).astimezone(tz).date())
    if any(day in closed_days for day in days):
        raise InvalidInput(
            "The clinics are closed on that day (a public holiday).", field="starts_at"
        )
    if _common_working_spans(calendars, (start, end), tz, closed_days) != [(start, end)]:
        raise InvalidInput("The time is outside the clinicians' working hours.", field="starts_at")
    clinicians_busy = (busy for cal in calendars for busy in cal.busy)
    if _overlaps_any((start, end), clinicians_busy):
        raise SlotTaken("A clinician already has a consultation at this time.", field="starts_at")
    if _overlaps_any((start, end), extra_busy):
        raise SlotTaken("The patient already has a consultation at this time.", field="starts_at")


def check_horizon(start: datetime, now: datetime, horizon: timedelta) -> None:
    """Refuse a start in the past or further ahead than `horizon` (field ``starts_at``).

    Safe for any datetime: it does no arithmetic that a start in year 1 or 9999 would overflow,
    so callers check this before working out ends and margins.
    """
    _check_not_past(start, now)
    if start - now > horizon:
        raise InvalidInput(
            f"Consultations can be booked at most {horizon.days} days ahead.", field="starts_at"
        )


def _check_not_past(start: datetime, now: datetime) -> None:
    if start < _require_aware(now, "now"):
        raise InvalidInput("The start time is in the past.", field="starts_at")


def _window(window_start: datetime, window_end: datetime) -> _Span:
    start = _utc(_require_aware(window_start, "window_start"))
    end = _utc(_require_aware(window_end, "window_end"))
    if end <= start:
        raise InvalidInput("The search window must end after it starts.", field="window_end")
    return start, end


def _require_aware(value: datetime, field: str) -> datetime:
    if value.utcoffset() is None:
        raise InvalidInput("The time must include a time zone.", field=field)
    return value


def _require_positive(value: timedelta, field: str) -> None:
    if value <= timedelta(0):
        raise InvalidInput("The length must be positive.", field=field)


def _utc(value: datetime) -> datetime:
    # One tzinfo for all instants keeps comparisons cheap in the sweeps.
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _working_spans(
    cal: ClinicianCalendar, window: _Span, tz: ZoneInfo, closed_days: Collection[date]
) -> list[_Span]:
    window_start, window_end = window
    hours_by_weekday: dict[int, list[WeeklyHours]] = {}
    for hours in cal.weekly:
        hours_by_weekday.setdefault(hours.weekday, []).append(hours)

    spans: list[_Span] = []
    day = window_start.astimezone(tz).date()
    last_day = window_end.astimezone(tz).date()
    while day <= last_day:
        for hours in () if day in closed_days else hours_by_weekday.get(day.weekday(), ()):
            start = max(_first_instant_showing(day, hours.start, tz), window_start)
            end = min(_first_instant_showing(day, hours.end, tz), window_end)
            if start < end:
                spans.append((start, end))
        day += _DAY
    return _subtract(_merged(spans), _merged(_spans_of(cal.exceptions)))


def _common_working_spans(
    calendars: Sequence[ClinicianCalendar],
    window: _Span,
    tz: ZoneInfo,
    closed_days: Collection[date],
) -> list[_Span]:
    if not calendars:
        raise ValueError("A consultation needs at least one clinician's calendar.")
    common = _working_spans(calendars[0], window, tz, closed_days)
    for cal in calendars[1:]:
        common = _intersection(common, _working_spans(cal, window, tz, closed_days))
    return common


def _busy_spans(
    calendars: Sequence[ClinicianCalendar], extra_busy: Sequence[Interval]
) -> list[_Span]:
    everyone = [busy for cal in calendars for busy in cal.busy]
    everyone.extend(extra_busy)
    return _merged(_spans_of(everyone))


def _spans_of(intervals: Iterable[Interval]) -> list[_Span]:
    return [(_utc(interval.start), _utc(interval.end)) for interval in intervals]


def _first_instant_showing(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first instant on ``day`` at which the local clock shows ``wall`` or later, in UTC."""
    # fold=0 (the default) picks the first of two occurrences of a repeated time.
    local = datetime.combine(day, wall, tzinfo=tz)
    instant = local.astimezone(UTC)
    # Same tzinfo on both sides, so == compares the wall-clock fields: a round trip that
    # changes them means the clock never showed this time.
    if instant.astimezone(tz) == local:
        return instant
    # The clock skipped this time. fold=1 reads it with the offset after the jump, which lands
    # before the jump; fold=0 reads it with the offset before, which lands after it.
    return _offset_change(local.replace(fold=1).astimezone(UTC), instant, tz)


def _offset_change(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The first instant in ``(before, after]`` with a UTC offset other than ``before``'s.

    Bisection, run only for the few spans that cross a clock change.
    """
    offset_before = before.astimezone(tz).utcoffset()
    while after - before > _ONE_MICROSECOND:
        middle = before + (after - before) // 2
        if middle.astimezone(tz).utcoffset() == offset_before:
            before = middle
        else:
            after = middle
    return after


def _grid_starts(
    first: datetime, last: datetime, step: timedelta, tz: ZoneInfo
) -> Iterator[datetime]:
    """Instants in ``[first, last]`` whose local clock time is a multiple of ``step``."""
    if last < first:
        return
    piece_start = first
    while True:
        offset = piece_start.astimezone(tz).utcoffset()
        assert offset is not None  # a ZoneInfo always has an offset
        # Free spans lie within a local day, so at most one clock change falls inside one.
        last_offset = last.astimezone(tz).utcoffset()
        piece_end = last if last_offset == offset else _offset_change(piece_start, last, tz)
        start = piece_start + (-(piece_start + offset - _GRID_ANCHOR)) % step
        # The last piece includes its end; earlier pieces stop short of the change.
        limit = piece_end if piece_end == last else piece_end - _ONE_MICROSECOND
        while start <= limit:
            yield start
            start += step
        if piece_end == last:
            return
        piece_start = piece_end


def _merged(spans: list[_Span]) -> list[_Span]:
    """Sorted spans with overlapping and touching ones joined."""
    if not spans:
        return []
    # Sorting on the start alone is enough for the sweep and halves the comparisons.
    ordered = sorted(spans, key=itemgetter(0))
    merged: list[_Span] = []
    current_start, current_end = ordered[0]
    for start, end in ordered:
        if start <= current_end:
            current_end = max(current_end, end)
        else:
            merged.append((current_start, current_end))
            current_start, current_end = start, end
    merged.append((current_start, current_end))
    return merged


def _subtract(spans: list[_Span], cuts: list[_Span]) -> list[_Span]:
    """``spans`` minus ``cuts``; both sorted and merged."""
    result: list[_Span] = []
    first_cut = 0
    for start, end in spans:
        while first_cut < len(cuts) and cuts[first_cut][1] <= start:
            first_cut += 1
        cursor = start
        index = first_cut
        while index < len(cuts) and cuts[index][0] < end and cursor < end:
            cut_start, cut_end = cuts[index]
            if cut_start > cursor:
                result.append((cursor, cut_start))
            cursor = max(cursor, cut_end)
            index += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def _intersection(left: list[_Span], right: list[_Span]) -> list[_Span]:
    """Time covered by both lists; both sorted and merged."""
    result: list[_Span] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            result.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return result


def _overlaps_any(span: _Span, intervals: Iterable[Interval]) -> bool:
    start, end = span
    return any(_utc(other.start) < end and start < _utc(other.end) for other in intervals)
