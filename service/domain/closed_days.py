"""The days the clinics are closed: Norway's public holidays, and Christmas Eve.

The public holidays come from the `holidays` package (its Norway calendar: New Year's Day,
Maundy Thursday to Easter Monday, 1 and 17 May, Ascension Day, Whit Sunday and Monday, Christmas
Day and Boxing Day), a well-kept calendar that works the moving feasts out per year. Christmas
Eve is not a public holiday by law, but outpatient clinics and GP offices are closed on it, so
it is closed here too. Pure: computed from the dates alone, no I/O.
"""

from __future__ import annotations

from datetime import date
from functools import cache

import holidays

# Closed by custom though not by law, as (month, day).
_CUSTOMARY: tuple[tuple[int, int], ...] = ((12, 24),)


@cache
def _closed_in(year: int) -> frozenset[date]:
    public = holidays.country_holidays("NO", years=year)
    return frozenset(public) | {date(year, m, d) for m, d in _CUSTOMARY}


def closed_days(first: date, last: date) -> frozenset[date]:
    """Every closed day from `first` to `last`, both included."""
    if last < first:
        return frozenset()
    days: set[date] = set()
    for year in range(first.year, last.year + 1):
        days.update(d for d in _closed_in(year) if first <= d <= last)
    return frozenset(days)


def is_closed(day: date) -> bool:
    return day in _closed_in(day.year)
