"""Statistics queries: counts, sums and percentiles read from the pre-aggregated summary.

Nothing here reads consultations: the summary tables (`statistics_counts`, `_durations`,
`_travel`; see `service.storage.models` and migration 0007) hold one row per local month,
municipality,
patient group, hospital, department and status (or duration in minutes, or travel key), kept in
step by database triggers. A request reads some thousands of rows, whatever the number of
consultations. Periods are whole local months (the summary's `month` numbers them), so a period
is a range of month numbers and quarters are three of them. Several breakdowns share one read on
PostgreSQL (GROUPING SETS); SQLite, which has no grouping sets, runs one GROUP BY per breakdown
joined with UNION ALL. Percentiles are computed exactly from the per-minute histogram.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    cast,
    func,
    literal,
    null,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.selectable import CTE, Subquery

from service.storage.models import (
    Department,
    Hospital,
    StatisticsCalendar,
    StatisticsCounts,
    StatisticsDurations,
    StatisticsTravel,
    StatisticsTravelKey,
)

# Breakdowns in the order of the GROUPING() bit mask (first argument is the highest bit).
DIMENSIONS = ("period", "municipality", "patient_group", "department")
OPEN_STATUSES = ("requested", "confirmed", "in_progress")
# The sums `statistics_counts` keeps beside its grain (`SUMMARY_KEY`) and status, in migration
# 0007's order: what a consultation adds, then what its surveys add. The models declare the same
# columns; tests/test_statistics_summary.py checks the migration, the models and these agree.
COUNT_SUMS = (
    "consultations",
    "with_relatives",
    "relatives",
    "interpreters",
    "municipal_staff",
    "patients",
    "specialists",
)
SURVEY_SUMS = (
    "surveys_invited",
    "surveys_answered",
    "satisfaction_1",
    "satisfaction_2",
    "satisfaction_3",
    "satisfaction_4",
    "satisfaction_5",
    "would_travel_yes",
    "would_travel_no",
    "physical_visit_yes",
    "physical_visit_no",
    "with_free_text",
)
# Beside each count, the sum of the record keys of what it counts (migration 0009): a cell's
# key for `service.domain.statistics_cellkey` is that sum modulo 256.
COUNT_KEYS = tuple(f"{name}_keys" for name in COUNT_SUMS)
SURVEY_KEYS = tuple(f"{name}_keys" for name in SURVEY_SUMS)


@asynccontextmanager
async def reading(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A read-only transaction for one statistics query."""
    async with sessionmaker() as db, db.begin():
        if db.get_bind().dialect.name == "postgresql":
            # Compiling these aggregates costs more time than it saves.
            await db.execute(text("SET LOCAL jit = off"))
        yield db


def month_number(year: int, month: int) -> int:
    """The summary's number for a calendar month (year × 12 + month − 1)."""
    return year * 12 + month - 1


@dataclass(frozen=True, slots=True)
class SummaryFilter:
    """Which consultations count: starting in local months [first_month, end_month), in periods
    of `months_per_period` months from the first, and optional keys."""

    first_month: int
    end_month: int
    months_per_period: int = 1
    municipality: str | None = None
    patient_group: str | None = None
    hospital_id: int | None = None
    department_id: int | None = None


@dataclass(frozen=True, slots=True)
class StatusRow:
    """Consultations of one status in one group (`dimension` None: all of them)."""

    dimension: str | None
    key: str | None
    status: str
    consultations: int
    with_relatives: int
    relatives: int
    interpreters: int
    municipal_staff: int
    patients: int
    specialists: int
    keys: tuple[int, ...] = ()  # the key sum of each count above, in COUNT_SUMS order


@dataclass(frozen=True, slots=True)
class DurationRow:
    dimension: str | None
    key: str | None
    n: int
    p25: float | None
    median: float | None
    p75: float | None


@dataclass(frozen=True, slots=True)
class KeyWeights:
    """What one consultation with a given travel key adds, field by field: as booked
    (`assumed`), and when its patient answered they would (`if_yes`) or would not have travelled.
    All three have the same length."""

    assumed: Sequence[float]
    if_yes: Sequence[float]
    if_no: Sequence[float]


@dataclass(frozen=True, slots=True)
class TravelRow:
    """Completed consultations with travel inputs in one group: how many, how many patients
    answered yes / no, and Σ of each consultation's `KeyWeights`, as assumed and as confirmed
    (unanswered: assumed)."""

    dimension: str
    key: str | None
    consultations: int
    confirmed_yes: int
    confirmed_no: int
    assumed: tuple[float, ...]
    confirmed: tuple[float, ...]
    keys: tuple[int, int, int] = (0, 0, 0)  # key sums of consultations, yes, no


@dataclass(frozen=True, slots=True)
class SurveyCounts:
    invited: int
    answered: int
    satisfaction: tuple[int, int, int, int, int]
    would_travel_yes: int
    would_travel_no: int
    physical_visit_yes: int
    physical_visit_no: int
    with_free_text: int
    keys: dict[str, int] | None = None  # key sum per SURVEY_SUMS name


Summary = type[StatisticsCounts] | type[StatisticsDurations] | type[StatisticsTravel]


def _period(table: Summary, f: SummaryFilter) -> ColumnElement[Any]:
    """0 for the first period, 1 for the next…: whole months, so integer division is exact."""
    offset = table.month - f.first_month
    if f.months_per_period == 1:
        return offset
    return offset // f.months_per_period


def _where(table: Summary, f: SummaryFilter) -> list[ColumnElement[bool]]:
    clauses = [table.month >= f.first_month, table.month < f.end_month]
    if f.municipality is not None:
        clauses.append(table.municipality == f.municipality)
    if f.patient_group is not None:
        clauses.append(table.patient_group == f.patient_group)
    if f.hospital_id is not None:
        clauses.append(table.hospital_id == f.hospital_id)
    if f.department_id is not None:
        clauses.append(table.department_id == f.department_id)
    return clauses


def _municipality(table: Summary) -> ColumnElement[Any]:
    # The summary keeps "" for a consultation without a municipality (key columns are NOT NULL).
    return func.nullif(table.municipality, "")


def _dimension_of(mask: int) -> str | None:
    """The breakdown a row belongs to, from the GROUPING() mask over DIMENSIONS."""
    for i, name in enumerate(DIMENSIONS):
        bit = 1 << (len(DIMENSIONS) - 1 - i)
        if not mask & bit:
            return name
    return None


def _mask(dimension: str | None) -> int:
    full = (1 << len(DIMENSIONS)) - 1
    if dimension is None:
        return full
    return full & ~(1 << (len(DIMENSIONS) - 1 - DIMENSIONS.index(dimension)))


def _grouped(
    db: AsyncSession,
    base: Subquery,
    dimensions: Sequence[str | None],
    common: Sequence[ColumnElement[Any]],
    aggregates: Sequence[ColumnElement[Any]],
) -> Select[Any]:
    """One row per (dimension key, common keys) for each dimension (None: no dimension)."""
    dims = [base.c[name] for name in DIMENSIONS]
    if db.get_bind().dialect.name == "postgresql":
        sets = [tuple_(*([base.c[d]] if d is not None else []), *common) for d in dimensions]
        return select(func.grouping(*dims).label("mask"), *dims, *common, *aggregates).group_by(
            func.grouping_sets(*sets)
        )
    parts = []
    for d in dimensions:
        columns = [(base.c[name] if name == d else null()).label(name) for name in DIMENSIONS]
        group = [base.c[d]] if d is not None else []
        parts.append(
            select(literal(_mask(d)).label("mask"), *columns, *common, *aggregates).group_by(
                *group, *common
            )
        )
    union = union_all(*parts).subquery("grouped")
    return select(union)


def _key(m: Mapping[str, Any], dimension: str | None) -> str | None:
    if dimension is None:
        return None
    value = m[dimension]
    return None if value is None else str(value)


async def status_counts(db: AsyncSession, f: SummaryFilter) -> list[StatusRow]:
    """Counts per status for each breakdown and overall (some hundreds of rows)."""
    t = StatisticsCounts
    base = (
        select(
            _period(t, f).label("period"),
            _municipality(t).label("municipality"),
            t.patient_group.label("patient_group"),
            t.department_id.label("department"),
            t.status.label("status"),
            *(getattr(t, name) for name in (*COUNT_SUMS, *COUNT_KEYS)),
        )
        .where(*_where(t, f))
        .subquery("base")
    )
    stmt = _grouped(
        db,
        base,
        [*DIMENSIONS, None],
        [base.c.status],
        [func.sum(base.c[name]).label(name) for name in (*COUNT_SUMS, *COUNT_KEYS)],
    )
    result = []
    for row in (await db.execute(stmt)).all():
        m = row._mapping
        values = [int(m[name] or 0) for name in COUNT_SUMS]
        if values[0] == 0:
            continue  # consultations all moved away or deleted: the rows stay behind as zeros
        dimension = _dimension_of(int(m["mask"]))
        keys = tuple(int(m[name] or 0) for name in COUNT_KEYS)
        n, with_relatives, relatives, interpreters, staff, patients, specialists = values
        result.append(
            StatusRow(
                dimension,
                _key(m, dimension),
                str(m["status"]),
                n,
                with_relatives,
                relatives,
                interpreters,
                staff,
                patients,
                specialists,
                keys,
            )
        )
    return result


QUANTILES = (0.25, 0.5, 0.75)


def quantiles_from_histogram(
    histogram: Sequence[tuple[int, int]],
) -> tuple[int, float | None, float | None, float | None]:
    """(n, p25, median, p75) of the values in (value, count) pairs, as `percentile_cont` would
    give over the values one by one (linear interpolation between neighbouring ranks)."""
    pairs = sorted((value, count) for value, count in histogram if count > 0)
    n = sum(count for _, count in pairs)
    if n == 0:
        return 0, None, None, None

    def at(rank: int) -> float:  # the value at 0-based rank
        seen = 0
        for value, count in pairs:
            seen += count
            if rank < seen:
                return float(value)
        raise AssertionError("rank beyond the histogram")

    result: list[float | None] = []
    for q in QUANTILES:
        position = q * (n - 1)
        low = math.floor(position)
        fraction = position - low
        value = at(low)
        if fraction:
            value += fraction * (at(low + 1) - value)
        result.append(value)
    return n, result[0], result[1], result[2]


async def duration_quantiles(db: AsyncSession, f: SummaryFilter) -> list[DurationRow]:
    """Quartiles of the duration of completed consultations (whole minutes), per period and
    overall, from the per-minute histogram."""
    t = StatisticsDurations
    period = _period(t, f).label("period")
    stmt = (
        select(period, t.minutes, func.sum(t.consultations).label("n"))
        .where(*_where(t, f))
        .group_by(period, t.minutes)
    )
    by_period: dict[str, list[tuple[int, int]]] = {}
    overall: dict[int, int] = {}
    for row in (await db.execute(stmt)).all():
        n = int(row.n)
        by_period.setdefault(str(row.period), []).append((int(row.minutes), n))
        overall[int(row.minutes)] = overall.get(int(row.minutes), 0) + n
    rows = [
        DurationRow("period", key, *quantiles_from_histogram(histogram))
        for key, histogram in by_period.items()
    ]
    rows.append(DurationRow(None, None, *quantiles_from_histogram(list(overall.items()))))
    return [r for r in rows if r.n]


async def travel_keys(db: AsyncSession) -> dict[int, str]:
    """Every travel key the summary has counted, by its number (hundreds, not consultations)."""
    rows = (await db.execute(select(StatisticsTravelKey.id, StatisticsTravelKey.travel_key))).all()
    return {int(key_id): str(travel_key) for key_id, travel_key in rows}


def _weights_table(db: AsyncSession, weights: Mapping[int, KeyWeights], width: int) -> CTE:
    """The weights per key number as a table, sent as one JSON parameter (any number of keys)."""
    payload = json.dumps(
        [[key_id, *w.assumed, *w.if_yes, *w.if_no] for key_id, w in weights.items()]
    )
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        items = func.jsonb_array_elements(cast(literal(payload), JSONB)).table_valued("value")

        def element(i: int) -> ColumnElement[Any]:
            return items.c.value.op("->>")(i)
    else:
        items = func.json_each(literal(payload)).table_valued("value")

        def element(i: int) -> ColumnElement[Any]:
            return func.json_extract(items.c.value, f"$[{i}]")

    # Materialised: read out of the JSON once per key, not once per row it is joined to.
    return (
        select(
            cast(element(0), Integer).label("key_id"),
            *(cast(element(1 + i), Float).label(f"w{i}") for i in range(3 * width)),
        )
        .cte("weights")
        .prefix_with("MATERIALIZED")
    )


async def travel_sums(
    db: AsyncSession, f: SummaryFilter, weights: Mapping[int, KeyWeights]
) -> list[TravelRow]:
    """Completed consultations with travel inputs per breakdown, with their weights summed.

    First per (breakdown row, travel key) (GROUPING SETS / UNION ALL over the summary), then the
    key's weights times the counts, summed per breakdown row: one row per period, municipality,
    patient group and department comes back, however many keys there are.
    """
    width = len(next(iter(weights.values())).assumed) if weights else 0
    t = StatisticsTravel
    base = (
        select(
            _period(t, f).label("period"),
            _municipality(t).label("municipality"),
            t.patient_group.label("patient_group"),
            t.department_id.label("department"),
            t.travel_key_id,
            t.consultations,
            t.confirmed_yes,
            t.confirmed_no,
            t.consultations_keys,
            t.confirmed_yes_keys,
            t.confirmed_no_keys,
        )
        .where(*_where(t, f), t.consultations > 0)
        .subquery("base")
    )
    per_key = _grouped(
        db,
        base,
        list(DIMENSIONS),
        [base.c.travel_key_id],
        [
            func.sum(base.c.consultations).label("n"),
            func.sum(base.c.confirmed_yes).label("yes"),
            func.sum(base.c.confirmed_no).label("no"),
            func.sum(base.c.consultations_keys).label("n_keys"),
            func.sum(base.c.confirmed_yes_keys).label("yes_keys"),
            func.sum(base.c.confirmed_no_keys).label("no_keys"),
        ],
    ).subquery("per_key")
    w = _weights_table(db, weights, width)
    g = per_key.c
    unanswered = g.n - g.yes - g.no
    group = [g.mask, *(g[d] for d in DIMENSIONS)]
    stmt = (
        select(
            *group,
            func.sum(g.n),
            func.sum(g.yes),
            func.sum(g.no),
            func.sum(g.n_keys),
            func.sum(g.yes_keys),
            func.sum(g.no_keys),
            *(func.sum(g.n * w.c[f"w{i}"]) for i in range(width)),
            *(
                func.sum(
                    unanswered * w.c[f"w{i}"]
                    + g.yes * w.c[f"w{width + i}"]
                    + g.no * w.c[f"w{2 * width + i}"]
                )
                for i in range(width)
            ),
        )
        # A key without weights would be dropped here: the caller gives every key some.
        .join_from(per_key, w, w.c.key_id == g.travel_key_id)
        .group_by(*group)
    )
    result = []
    for row in (await db.execute(stmt)).all():
        dimension = _dimension_of(int(row[0]))
        assert dimension is not None
        value = row[1 + DIMENSIONS.index(dimension)]
        sums = [float(x or 0.0) for x in row[len(group) + 6 :]]
        result.append(
            TravelRow(
                dimension=dimension,
                key=None if value is None else str(value),
                consultations=int(row[len(group)]),
                confirmed_yes=int(row[len(group) + 1]),
                confirmed_no=int(row[len(group) + 2]),
                assumed=tuple(sums[:width]),
                confirmed=tuple(sums[width:]),
                keys=(
                    int(row[len(group) + 3] or 0),
                    int(row[len(group) + 4] or 0),
                    int(row[len(group) + 5] or 0),
                ),
            )
        )
    return result


async def survey_counts(db: AsyncSession, f: SummaryFilter) -> SurveyCounts:
    t = StatisticsCounts
    columns = (*SURVEY_SUMS, *SURVEY_KEYS)
    stmt = select(*(func.coalesce(func.sum(getattr(t, name)), 0) for name in columns)).where(
        *_where(t, f)
    )
    n = [int(x) for x in (await db.execute(stmt)).one()]
    keys = dict(zip(SURVEY_SUMS, n[len(SURVEY_SUMS) :], strict=True))
    return SurveyCounts(
        invited=n[0],
        answered=n[1],
        satisfaction=(n[2], n[3], n[4], n[5], n[6]),
        would_travel_yes=n[7],
        would_travel_no=n[8],
        physical_visit_yes=n[9],
        physical_visit_no=n[10],
        with_free_text=n[11],
        keys=keys,
    )


async def calendar_zone(db: AsyncSession) -> str | None:
    """The time zone the summary's months are local to (None before any calendar exists)."""
    zones = (await db.execute(select(StatisticsCalendar.zone).distinct())).scalars().all()
    return zones[0] if len(zones) == 1 else None


@dataclass(frozen=True, slots=True)
class DepartmentInfo:
    id: int
    name: str
    hospital_id: int
    hospital_code: str
    hospital_name: str


async def departments(db: AsyncSession) -> list[DepartmentInfo]:
    rows = (
        await db.execute(
            select(Department.id, Department.name, Hospital.id, Hospital.code, Hospital.name)
            .join(Hospital, Hospital.id == Department.hospital_id)
            .order_by(Hospital.name, Department.name)
        )
    ).all()
    return [DepartmentInfo(*row) for row in rows]


async def hospitals(db: AsyncSession) -> list[tuple[int, str, str]]:
    rows = (await db.execute(select(Hospital.id, Hospital.code, Hospital.name))).all()
    return [(int(i), str(code), str(name)) for i, code, name in rows]
