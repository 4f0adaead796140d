"""The evaluators' statistics query: which periods and filters a report covers (pure).

This module owns reading and checking the query string that `/statistikk` and
`GET /api/v1/statistics` take (first and last day or month, month or quarter, municipality,
patient group, hospital code, department) and the whole months or quarters it spans. A bad
value is an `InvalidInput` naming its field. Whether a hospital or department exists is asked
of the database by the use case (`service.usecases.statistics`).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, get_args

from service.domain.errors import InvalidInput
from service.domain.schemas import ROW_ID_RULE, PatientGroup, as_row_id
from service.domain.travel.reference import ReferenceData

GroupBy = Literal["month", "quarter"]
MAX_PERIODS = 60
PATIENT_GROUPS: tuple[PatientGroup, ...] = get_args(PatientGroup)
# The years migration 0007 fills `statistics_calendar` with (the summary's local months).
FIRST_YEAR, LAST_YEAR = 1990, 2199


@dataclass(frozen=True, slots=True)
class StatisticsQuery:
    date_from: date  # first day of the first period
    date_to: date  # last day of the last period
    group_by: GroupBy = "month"
    municipality: str | None = None
    patient_group: str | None = None
    hospital: str | None = None
    department_id: int | None = None


@dataclass(frozen=True, slots=True)
class Period:
    key: str
    start: date
    end: date  # exclusive


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _period_start(d: date, group_by: GroupBy) -> date:
    if group_by == "quarter":
        return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    return _month_start(d)


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _period_key(start: date, group_by: GroupBy) -> str:
    if group_by == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def periods_between(date_from: date, date_to: date, group_by: GroupBy) -> list[Period]:
    """Whole months or quarters covering [date_from, date_to], both included."""
    step = 3 if group_by == "quarter" else 1
    start = _period_start(date_from, group_by)
    periods = []
    while start <= date_to:
        end = _add_months(start, step)
        periods.append(Period(_period_key(start, group_by), start, end))
        start = end
    return periods


def _parse_date(text: str, name: str, *, end: bool) -> date:
    try:
        if len(text) == 7:
            year, month = (int(x) for x in text.split("-"))
            day = calendar.monthrange(year, month)[1] if end else 1
            parsed = date(year, month, day)
        else:
            parsed = date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a date, YYYY-MM-DD or YYYY-MM.", field=name) from exc
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        # The summary's local months (statistics_calendar) cover these years.
        raise InvalidInput(f"{name} must be in the years {FIRST_YEAR}–{LAST_YEAR}.", field=name)
    return parsed


def parse_query(params: Mapping[str, str], today: date, ref: ReferenceData) -> StatisticsQuery:
    """Read the query string; by default the last twelve whole months."""
    group_by = params.get("group_by") or "month"
    if group_by not in ("month", "quarter"):
        raise InvalidInput("group_by must be month or quarter.", field="group_by")
    grouping: GroupBy = "quarter" if group_by == "quarter" else "month"
    raw_to = params.get("to")
    date_to = (
        _parse_date(raw_to, "to", end=True) if raw_to else _month_start(today) - timedelta(days=1)
    )
    raw_from = params.get("from")
    date_from = (
        _parse_date(raw_from, "from", end=False)
        if raw_from
        else _add_months(_month_start(date_to), -11)
    )
    if date_from > date_to:
        raise InvalidInput("from must not be after to.", field="from")
    periods = periods_between(date_from, date_to, grouping)
    if len(periods) > MAX_PERIODS:
        raise InvalidInput(f"Ask for at most {MAX_PERIODS} periods at a time.", field="from")
    municipality = params.get("municipality") or None
    if municipality is not None and municipality not in ref.municipalities:
        raise InvalidInput("Unknown municipality number.", field="municipality")
    patient_group = params.get("patient_group") or None
    if patient_group is not None and patient_group not in PATIENT_GROUPS:
        raise InvalidInput("Unknown patient group.", field="patient_group")
    department = params.get("department_id") or None
    department_id = None if department is None else as_row_id(department)
    if department is not None and department_id is None:
        raise InvalidInput(f"department_id must be {ROW_ID_RULE}.", field="department_id")
    return StatisticsQuery(
        date_from=periods[0].start,
        date_to=periods[-1].end - timedelta(days=1),
        group_by=grouping,
        municipality=municipality,
        patient_group=patient_group,
        hospital=params.get("hospital") or None,
        department_id=department_id,
    )
