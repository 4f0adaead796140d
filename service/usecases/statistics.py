"""Statistics for evaluators: use of the service, travel avoided and survey results.

This module owns what an evaluator may see and how it is put together: the query (period,
grouping, filters), the figures (from `service.storage.statistics`, which counts in SQL), travel
avoided (the «grønn helse» calculation run once per group of identical travel inputs), and the
privacy rules: no names, contact details, postal codes or free text ever reach it, every count
goes through `service.domain.suppression`, and a figure derived from a hidden count is hidden with
it.

Travel is computed on read with the app's factor set, so changing a factor changes every total at
once, and each report names the factor set and version that produced it.
"""

from __future__ import annotations

import asyncio
import calendar
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.errors import DomainError, InvalidInput, NotAllowed
from service.domain.permissions import STATISTICS_READERS
from service.domain.schemas import ROW_ID_RULE, as_row_id
from service.domain.suppression import THRESHOLD, CellState, Sum, suppress
from service.domain.travel.calculation import ZERO, Amounts
from service.domain.travel.factors import FactorSet
from service.domain.travel.keys import AMOUNT_FIELDS, TravelPerKey
from service.domain.travel.reference import ReferenceData
from service.storage import statistics as store
from service.storage.models import PARTICIPANT_ROLES, PATIENT_GROUPS

GroupBy = Literal["month", "quarter"]
EVALUATOR_ROLES = STATISTICS_READERS
STATUS_MEASURES = ("completed", "cancelled", "no_show", "open")
COUNT_MEASURES = ("booked", *STATUS_MEASURES)
TRAVEL_MEASURES = (
    "person_km",
    "vehicle_km",
    "hours",
    "co2e_kg",
    "health_sector_kr",
    "societal_kr",
    "work_hours_not_lost",
)
TABLES = ("period", "municipality", "patient_group", "hospital", "department")
MAX_PERIODS = 60
SMALL = "<5"
HIDDEN = "suppressed"

Display = int | float | str | None
T = TypeVar("T")
CellKey = tuple[str, str, str]  # (table, row key, measure); table "total" has row key ""


class SummaryOutOfStep(DomainError):
    """The summary's months are local to another time zone than the service's."""

    status = 503
    title = "Statistics unavailable"
    type_slug = "statistics-unavailable"


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


# --------------------------------------------------------------------------- the query


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


# The years migration 0007 fills `statistics_calendar` with (the summary's local months).
FIRST_YEAR, LAST_YEAR = 1990, 2199


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


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    label: str
    counts: dict[str, Display]
    travel: dict[str, dict[str, Display]] | None = None
    duration: dict[str, Display] | None = None
    relatives: dict[str, Display] | None = None


@dataclass(frozen=True, slots=True)
class FactorSetInfo:
    id: str
    version: str
    base_version: str
    valid_from: str
    modified: bool
    overrides: dict[str, float]


@dataclass(frozen=True, slots=True)
class StatisticsReport:
    query: StatisticsQuery
    periods: list[Period]
    factor_set: FactorSetInfo
    total: Row
    tables: dict[str, list[Row]]
    participants_by_role: dict[str, Display]
    travel_confirmation: dict[str, Display]
    survey: dict[str, Display]
    not_costed: list[str] = field(default_factory=list)
    threshold: int = THRESHOLD


def require_evaluator(actor: Actor) -> None:
    if actor.role not in EVALUATOR_ROLES:
        raise NotAllowed("Statistics are for evaluators.")


@dataclass
class _Figures:
    """Raw figures before suppression; never leaves this module."""

    cells: dict[CellKey, int] = field(default_factory=lambda: defaultdict(int))
    sums: list[Sum[CellKey]] = field(default_factory=list)
    rows: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # table → (key, label)
    travel: dict[tuple[str, str], dict[str, Amounts]] = field(default_factory=dict)
    durations: dict[str, store.DurationRow] = field(default_factory=dict)
    unpublished: set[CellKey] = field(default_factory=set)


async def compute_statistics(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    query: StatisticsQuery,
    *,
    tz: ZoneInfo,
    ref: ReferenceData,
    factors: FactorSet,
    travel: TravelPerKey | None = None,
) -> StatisticsReport:
    """The report for `query`. `travel` (the app's, for its factor set) keeps the calculation
    per travel key between reports; without it the calculation starts afresh."""
    require_evaluator(actor)
    if travel is None:
        travel = TravelPerKey(ref, factors)
    elif travel.factors is not factors or travel.ref is not ref:
        raise ValueError("travel was computed with other factors or reference data")
    periods = periods_between(query.date_from, query.date_to, query.group_by)
    async with sessionmaker() as db:
        departments = await store.departments(db)
        hospitals = await store.hospitals(db)
        zone = await store.calendar_zone(db)
        dialect = db.get_bind().dialect.name
    if zone != tz.key:
        # Months in another zone would put consultations near midnight in the wrong month.
        raise SummaryOutOfStep(
            f"The statistics summary counts local months in {zone}, but the service runs in "
            f"{tz.key}; rebuild it (docs/statistics.md, 'The summary')."
        )
    hospital_id = _hospital_id(hospitals, query.hospital)
    if query.department_id is not None and query.department_id not in {d.id for d in departments}:
        raise InvalidInput("Unknown department.", field="department_id")
    f = store.SummaryFilter(
        first_month=store.month_number(periods[0].start.year, periods[0].start.month),
        end_month=store.month_number(periods[-1].end.year, periods[-1].end.month),
        months_per_period=3 if query.group_by == "quarter" else 1,
        municipality=query.municipality,
        patient_group=query.patient_group,
        hospital_id=hospital_id,
        department_id=query.department_id,
    )

    async def travel_rows(db: AsyncSession) -> tuple[list[store.TravelRow], list[str]]:
        weights, flags = travel_weights(await store.travel_keys(db), travel)
        return await store.travel_sums(db, f, weights), flags

    if dialect == "postgresql":
        # Independent reads on separate connections: PostgreSQL runs them on separate cores.
        async def run(query_fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
            async with store.reading(sessionmaker) as db:
                return await query_fn(db)

        statuses, durations, (travel_sums, flags), survey = await asyncio.gather(
            run(lambda db: store.status_counts(db, f)),
            run(lambda db: store.duration_quantiles(db, f)),
            run(travel_rows),
            run(lambda db: store.survey_counts(db, f)),
        )
    else:
        # SQLite serialises transactions (the engine begins them IMMEDIATE): one at a time.
        async with store.reading(sessionmaker) as db:
            statuses = await store.status_counts(db, f)
            durations = await store.duration_quantiles(db, f)
            travel_sums, flags = await travel_rows(db)
            survey = await store.survey_counts(db, f)

    figures = _Figures()
    visible_departments = [
        d
        for d in departments
        if (hospital_id is None or d.hospital_id == hospital_id)
        and (query.department_id is None or d.id == query.department_id)
    ]
    _count_statuses(figures, statuses, periods, visible_departments, ref)
    _count_participants(figures, statuses)
    not_costed = _count_travel(figures, travel_sums, visible_departments, flags)
    _count_survey(figures, survey)
    figures.durations = {r.key if r.key is not None else "": r for r in durations}

    state = suppress(dict(figures.cells), figures.sums, unpublished=figures.unpublished)
    return _report(query, periods, factors, figures, state, not_costed)


def _hospital_id(hospitals: Sequence[tuple[int, str, str]], code: str | None) -> int | None:
    if code is None:
        return None
    for hospital_id, hospital_code, _ in hospitals:
        if hospital_code == code:
            return hospital_id
    raise InvalidInput("Unknown hospital.", field="hospital")


def _row_keys(
    periods: Sequence[Period],
    departments: Sequence[store.DepartmentInfo],
    municipalities: Sequence[str],
    ref: ReferenceData,
) -> dict[str, list[tuple[str, str]]]:
    hospitals: dict[str, str] = {}
    for d in departments:
        hospitals.setdefault(d.hospital_code, d.hospital_name)

    def municipality_name(number: str) -> str:
        m = ref.municipalities.get(number)
        return m.name if m is not None else "unknown"

    return {
        "period": [(str(i), p.key) for i, p in enumerate(periods)],
        "municipality": sorted(
            ((m, municipality_name(m)) for m in municipalities), key=lambda row: row[1]
        ),
        "patient_group": [(g, g) for g in PATIENT_GROUPS],
        "hospital": list(hospitals.items()),
        "department": [(str(d.id), d.name) for d in departments],
    }


def _count_statuses(
    figures: _Figures,
    statuses: Sequence[store.StatusRow],
    periods: Sequence[Period],
    departments: Sequence[store.DepartmentInfo],
    ref: ReferenceData,
) -> None:
    municipalities = sorted({r.key or "unknown" for r in statuses if r.dimension == "municipality"})
    figures.rows = _row_keys(periods, departments, municipalities, ref)
    hospital_of = {str(d.id): d.hospital_code for d in departments}
    cells = figures.cells
    for r in statuses:
        measure = r.status if r.status in STATUS_MEASURES else "open"
        table = r.dimension or "total"
        key = "" if r.dimension is None else (r.key or "unknown")
        cells[(table, key, measure)] += r.consultations
        cells[(table, key, "booked")] += r.consultations
        if r.dimension == "department" and key in hospital_of:
            cells[("hospital", hospital_of[key], measure)] += r.consultations
            cells[("hospital", hospital_of[key], "booked")] += r.consultations
        if r.status == "completed" and r.dimension in ("period", None):
            cells[(table, key, "with_relatives")] += r.with_relatives
            cells[(table, key, "without_relatives")] += r.consultations - r.with_relatives
    for table, rows in figures.rows.items():
        for key, _ in rows:
            for measure in COUNT_MEASURES:
                cells.setdefault((table, key, measure), 0)
            figures.sums.append(
                Sum((table, key, "booked"), tuple((table, key, m) for m in STATUS_MEASURES))
            )
        for measure in COUNT_MEASURES:
            cells.setdefault(("total", "", measure), 0)
            figures.sums.append(
                Sum(("total", "", measure), tuple((table, key, measure) for key, _ in rows))
            )
    figures.sums.append(
        Sum(("total", "", "booked"), tuple(("total", "", m) for m in STATUS_MEASURES))
    )
    for hospital, _ in figures.rows["hospital"]:
        members = [d for d, h in hospital_of.items() if h == hospital]
        for measure in COUNT_MEASURES:
            figures.sums.append(
                Sum(
                    ("hospital", hospital, measure),
                    tuple(("department", d, measure) for d in members),
                )
            )
    # Share with relatives, per period and in total.
    for key in [k for k, _ in figures.rows["period"]]:
        _relatives_sum(figures, "period", key)
    _relatives_sum(figures, "total", "")
    for measure in ("with_relatives", "without_relatives"):
        figures.sums.append(
            Sum(
                ("total", "", measure),
                tuple(("period", key, measure) for key, _ in figures.rows["period"]),
            )
        )


def _relatives_sum(figures: _Figures, table: str, key: str) -> None:
    for measure in ("with_relatives", "without_relatives"):
        figures.cells.setdefault((table, key, measure), 0)
    figures.sums.append(
        Sum(
            (table, key, "completed"),
            ((table, key, "with_relatives"), (table, key, "without_relatives")),
        )
    )


def _count_participants(figures: _Figures, statuses: Sequence[store.StatusRow]) -> None:
    """People taking part in completed consultations, by role (one GP in each)."""
    counts = dict.fromkeys(PARTICIPANT_ROLES, 0)
    for r in statuses:
        if r.dimension is None and r.status == "completed":
            counts["gp"] += r.consultations
            counts["specialist"] += r.specialists
            counts["patient"] += r.patients
            counts["relative"] += r.relatives
            counts["interpreter"] += r.interpreters
            counts["municipal_staff"] += r.municipal_staff
    for role, n in counts.items():
        figures.cells[("participants", "", role)] = n
    figures.cells[("participants", "", "all")] = sum(counts.values())
    figures.sums.append(
        Sum(("participants", "", "all"), tuple(("participants", "", r) for r in counts))
    )
    # The GP count equals the completed count shown elsewhere.
    figures.sums.append(Sum(("total", "", "completed"), (("participants", "", "gp"),)))


def travel_weights(
    keys: Mapping[int, str], travel: TravelPerKey
) -> tuple[dict[int, store.KeyWeights], list[str]]:
    """What a consultation with each travel key adds (the calculation, once per key), and the
    names of what could not be costed. Each of those becomes one more field that is 1 for the
    keys concerned, so its sum says whether any counted consultation had it."""
    per_key = {key_id: travel(travel_key) for key_id, travel_key in keys.items()}
    flags = sorted({name for t in per_key.values() for name in t.not_costed})
    no_flags = (0.0,) * len(flags)
    weights = {
        key_id: store.KeyWeights(
            assumed=(*t.assumed, *(1.0 if name in t.not_costed else 0.0 for name in flags)),
            if_yes=(*t.if_yes, *no_flags),
            if_no=(*t.if_no, *no_flags),
        )
        for key_id, t in per_key.items()
    }
    return weights, flags


def _count_travel(
    figures: _Figures,
    rows: Sequence[store.TravelRow],
    departments: Sequence[store.DepartmentInfo],
    flags: Sequence[str],
) -> list[str]:
    hospital_of = {str(d.id): d.hospital_code for d in departments}
    cells = figures.cells
    width = len(AMOUNT_FIELDS)
    sums: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r in rows:
        key = r.key or "unknown"
        targets = [(r.dimension, key)]
        if r.dimension == "department" and key in hospital_of:
            targets.append(("hospital", hospital_of[key]))
        if r.dimension == "period":
            targets.append(("total", ""))
            cells[("confirmation", "", "yes")] += r.confirmed_yes
            cells[("confirmation", "", "no")] += r.confirmed_no
            cells[("confirmation", "", "unanswered")] += (
                r.consultations - r.confirmed_yes - r.confirmed_no
            )
        for target in targets:
            cells[(*target, "travel_n")] += r.consultations
            into = sums.setdefault(
                target, {"assumed": [0.0] * len(r.assumed), "confirmed": [0.0] * len(r.assumed)}
            )
            for basis, values in (("assumed", r.assumed), ("confirmed", r.confirmed)):
                into[basis] = [a + b for a, b in zip(into[basis], values, strict=True)]
    total = sums.get(("total", ""), {"assumed": [0.0] * (width + len(flags))})["assumed"]
    not_costed = [name for i, name in enumerate(flags) if total[width + i] > 0]
    figures.travel = {
        target: {basis: Amounts(*values[:width]) for basis, values in bases.items()}
        for target, bases in sums.items()
    }

    for table, row_keys in figures.rows.items():
        for key, _ in row_keys:
            cells.setdefault((table, key, "travel_n"), 0)
        figures.sums.append(
            Sum(("total", "", "travel_n"), tuple((table, key, "travel_n") for key, _ in row_keys))
        )
    cells.setdefault(("total", "", "travel_n"), 0)
    # Completed consultations without travel data (guidance, mostly) are not published, but
    # completed minus travel_n would give them: they are protected like a published cell.
    for table, row_keys in [*figures.rows.items(), ("total", [("", "")])]:
        for key, _ in row_keys:
            rest = (table, key, "completed_without_travel")
            cells[rest] = cells[(table, key, "completed")] - cells[(table, key, "travel_n")]
            figures.unpublished.add(rest)
            figures.sums.append(Sum((table, key, "completed"), ((table, key, "travel_n"), rest)))
        if table != "total":
            figures.sums.append(
                Sum(
                    ("total", "", "completed_without_travel"),
                    tuple((table, key, "completed_without_travel") for key, _ in row_keys),
                )
            )
    joint_without_key = ("participants", "", "patient_without_travel")
    cells[joint_without_key] = (
        cells[("participants", "", "patient")] - cells[("total", "", "travel_n")]
    )
    figures.unpublished.add(joint_without_key)
    figures.sums.append(
        Sum(("participants", "", "patient"), (("total", "", "travel_n"), joint_without_key))
    )
    for label in ("yes", "no", "unanswered"):
        cells.setdefault(("confirmation", "", label), 0)
    figures.sums.append(
        Sum(
            ("total", "", "travel_n"),
            tuple(("confirmation", "", a) for a in ("yes", "no", "unanswered")),
        )
    )
    return sorted(not_costed)


def _count_survey(figures: _Figures, s: store.SurveyCounts) -> None:
    values = {
        "invited": s.invited,
        "answered": s.answered,
        "unanswered": s.invited - s.answered,
        **{f"satisfaction_{i + 1}": n for i, n in enumerate(s.satisfaction)},
        "satisfaction_blank": s.answered - sum(s.satisfaction),
        "would_travel_yes": s.would_travel_yes,
        "would_travel_no": s.would_travel_no,
        "would_travel_blank": s.answered - s.would_travel_yes - s.would_travel_no,
        "physical_visit_yes": s.physical_visit_yes,
        "physical_visit_no": s.physical_visit_no,
        "physical_visit_blank": s.answered - s.physical_visit_yes - s.physical_visit_no,
        "with_free_text": s.with_free_text,
        "without_free_text": s.answered - s.with_free_text,
    }
    for name, n in values.items():
        figures.cells[("survey", "", name)] = n

    def cell(name: str) -> CellKey:
        return ("survey", "", name)

    answered = cell("answered")
    figures.sums += [
        Sum(cell("invited"), (answered, cell("unanswered"))),
        Sum(
            answered,
            (*tuple(cell(f"satisfaction_{i}") for i in range(1, 6)), cell("satisfaction_blank")),
        ),
        Sum(answered, tuple(cell(f"would_travel_{a}") for a in ("yes", "no", "blank"))),
        Sum(answered, tuple(cell(f"physical_visit_{a}") for a in ("yes", "no", "blank"))),
        Sum(answered, (cell("with_free_text"), cell("without_free_text"))),
    ]


# --------------------------------------------------------------------------- display


def _display(
    cells: Mapping[CellKey, int], state: Mapping[CellKey, CellState], k: CellKey
) -> Display:
    st = state.get(k, "shown")
    if st == "small":
        return SMALL
    if st == "suppressed":
        return HIDDEN
    return cells.get(k, 0)


def _round(x: float, measure: str) -> float:
    return round(x) if measure.endswith("_kr") else round(x, 1)


def _travel_display(
    figures: _Figures, state: Mapping[CellKey, CellState], table: str, key: str
) -> dict[str, dict[str, Display]] | None:
    if state.get((table, key, "travel_n")) != "shown":
        return None
    amounts = figures.travel.get((table, key), {"assumed": ZERO, "confirmed": ZERO})
    result: dict[str, dict[str, Display]] = {}
    for basis in ("assumed", "confirmed"):
        result[basis] = {m: _round(getattr(amounts[basis], m), m) for m in TRAVEL_MEASURES}
    return result


def _row(
    figures: _Figures, state: Mapping[CellKey, CellState], table: str, key: str, label: str
) -> Row:
    cells = figures.cells
    counts = {m: _display(cells, state, (table, key, m)) for m in COUNT_MEASURES}
    counts["travel_consultations"] = _display(cells, state, (table, key, "travel_n"))
    duration = relatives = None
    if table in ("period", "total"):
        duration = _duration_display(figures, state, table, key)
        with_ = _display(cells, state, (table, key, "with_relatives"))
        completed = cells[(table, key, "completed")]
        share: Display = None
        if isinstance(with_, int) and state.get((table, key, "completed")) == "shown":
            share = round(with_ / completed, 3) if completed else None
        relatives = {
            "with": with_,
            "without": _display(cells, state, (table, key, "without_relatives")),
            "share": share,
        }
    return Row(
        key=key if table != "period" else label,
        label=label,
        counts=counts,
        travel=_travel_display(figures, state, table, key),
        duration=duration,
        relatives=relatives,
    )


def _duration_display(
    figures: _Figures, state: Mapping[CellKey, CellState], table: str, key: str
) -> dict[str, Display] | None:
    if state.get((table, key, "completed")) != "shown":
        return None
    d = figures.durations.get(key if table == "period" else "")
    if d is None or d.n < THRESHOLD:
        return None
    return {
        "p25": None if d.p25 is None else round(d.p25, 1),
        "median": None if d.median is None else round(d.median, 1),
        "p75": None if d.p75 is None else round(d.p75, 1),
    }


def _report(
    query: StatisticsQuery,
    periods: Sequence[Period],
    factors: FactorSet,
    figures: _Figures,
    state: Mapping[CellKey, CellState],
    not_costed: list[str],
) -> StatisticsReport:
    cells = figures.cells
    tables = {
        table: [_row(figures, state, table, key, label) for key, label in figures.rows[table]]
        for table in TABLES
    }

    def group(name: str, keys: Sequence[str]) -> dict[str, Display]:
        return {k: _display(cells, state, (name, "", k)) for k in keys}

    survey_keys = [k for (t, _, k) in cells if t == "survey"]
    return StatisticsReport(
        query=query,
        periods=list(periods),
        factor_set=FactorSetInfo(
            id=factors.id,
            version=factors.version,
            base_version=factors.base_version,
            valid_from=factors.valid_from.isoformat(),
            modified=factors.modified,
            overrides=dict(factors.overrides),
        ),
        total=_row(figures, state, "total", "", "total"),
        tables=tables,
        participants_by_role=group("participants", [*PARTICIPANT_ROLES, "all"]),
        travel_confirmation=group("confirmation", ["yes", "no", "unanswered"]),
        survey=group("survey", survey_keys),
        not_costed=not_costed,
    )
