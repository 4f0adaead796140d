"""Statistics queries: counts, sums and percentiles computed by the database.

Nothing here loads consultations one by one: every query returns one row per group. Several
breakdowns share one scan on PostgreSQL (GROUPING SETS); SQLite, which has no grouping sets, runs
one GROUP BY per breakdown joined with UNION ALL. Periods are numbered by a CASE over the
periods' UTC boundaries, so local-time months and quarters are right across daylight saving on
both databases. Medians: PostgreSQL's `percentile_cont`; on SQLite, window functions number the
durations within each group and only the rows around each percentile are returned.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
    text,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.selectable import Subquery

from service.models import Consultation, Department, Hospital, Survey

# Breakdowns in the order of the GROUPING() bit mask (first argument is the highest bit).
DIMENSIONS = ("period", "municipality", "patient_group", "department")
OPEN_STATUSES = ("requested", "confirmed", "in_progress")


@asynccontextmanager
async def reading(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A read-only transaction for one statistics query."""
    async with sessionmaker() as db, db.begin():
        if db.get_bind().dialect.name == "postgresql":
            # Compiling these aggregates costs more time than it saves (measured: 0.5 s of 1.5).
            await db.execute(text("SET LOCAL jit = off"))
        yield db


@dataclass(frozen=True, slots=True)
class ConsultationFilter:
    """Which consultations count: starting in [starts_from, starts_before), and optional keys."""

    period_ends: tuple[datetime, ...]  # UTC, increasing; the first period starts at starts_from
    starts_from: datetime
    municipality: str | None = None
    patient_group: str | None = None
    hospital_id: int | None = None
    department_id: int | None = None

    @property
    def starts_before(self) -> datetime:
        return self.period_ends[-1]


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


@dataclass(frozen=True, slots=True)
class DurationRow:
    dimension: str | None
    key: str | None
    n: int
    p25: float | None
    median: float | None
    p75: float | None


@dataclass(frozen=True, slots=True)
class TravelGroupRow:
    """Completed consultations sharing travel inputs and the patient's answer, in one group."""

    dimension: str
    key: str | None
    travel_key: str
    confirmed: bool | None
    consultations: int


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


def _period_index(ends: Sequence[datetime]) -> ColumnElement[Any]:
    """0 for the first period, 1 for the next…; rows are already limited to the whole range."""
    whens = [(Consultation.starts_at < end, i) for i, end in enumerate(ends[:-1])]
    if not whens:
        return cast(literal(0), Integer)
    return case(*whens, else_=len(ends) - 1)


def _where(f: ConsultationFilter) -> list[ColumnElement[bool]]:
    clauses = [Consultation.starts_at >= f.starts_from, Consultation.starts_at < f.starts_before]
    if f.municipality is not None:
        clauses.append(Consultation.municipality_number == f.municipality)
    if f.patient_group is not None:
        clauses.append(Consultation.patient_group == f.patient_group)
    if f.hospital_id is not None:
        clauses.append(Consultation.hospital_id == f.hospital_id)
    if f.department_id is not None:
        clauses.append(Consultation.department_id == f.department_id)
    return clauses


def _base(f: ConsultationFilter, *extra: ColumnElement[Any]) -> Subquery:
    return (
        select(
            _period_index(f.period_ends).label("period"),
            Consultation.municipality_number.label("municipality"),
            Consultation.patient_group.label("patient_group"),
            Consultation.department_id.label("department"),
            *extra,
        )
        .where(*_where(f))
        .subquery("base")
    )


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


def _key(row: Any, dimension: str | None) -> str | None:
    if dimension is None:
        return None
    value = row._mapping[dimension]
    return None if value is None else str(value)


_STATUS_SUMS = (
    "consultations",
    "with_relatives",
    "relatives",
    "interpreters",
    "municipal_staff",
    "patients",
    "specialists",
)


async def status_counts(db: AsyncSession, f: ConsultationFilter) -> list[StatusRow]:
    """Counts per status for each breakdown and overall.

    One GROUP BY over every breakdown at once (some thousands of groups at most: periods ×
    municipalities × patient groups × departments × statuses), rolled up here; a single scan
    beats grouping sets, whose several hash tables cost more than they save.
    """
    c = Consultation
    period = _period_index(f.period_ends).label("period")
    keys = [
        period,
        c.municipality_number.label("municipality"),
        c.patient_group.label("patient_group"),
        c.department_id.label("department"),
        c.status.label("status"),
    ]
    stmt = (
        select(
            *keys,
            func.count().label("consultations"),
            func.sum(case((c.relatives_count > 0, 1), else_=0)).label("with_relatives"),
            func.sum(c.relatives_count).label("relatives"),
            func.sum(c.interpreters_count).label("interpreters"),
            func.sum(c.municipal_staff_count).label("municipal_staff"),
            func.sum(case((c.kind == "joint", 1), else_=0)).label("patients"),
            func.count(c.specialist_id).label("specialists"),
        )
        .where(*_where(f))
        .group_by(*keys)
    )
    totals: dict[tuple[str | None, str | None, str], list[int]] = {}
    for row in (await db.execute(stmt)).all():
        m = row._mapping
        values = [int(m[name] or 0) for name in _STATUS_SUMS]
        status = str(m["status"])
        for dimension in (*DIMENSIONS, None):
            key = _key(row, dimension)
            into = totals.setdefault((dimension, key, status), [0] * len(_STATUS_SUMS))
            for i, v in enumerate(values):
                into[i] += v
    return [
        StatusRow(dimension, key, status, *values)
        for (dimension, key, status), values in totals.items()
    ]


def _duration_minutes(dialect: str) -> ColumnElement[Any]:
    """Actual start to actual end where both were recorded, otherwise the planned times."""
    c = Consultation
    actual = and_(c.actual_started_at.is_not(None), c.actual_ended_at.is_not(None))
    start = case((actual, c.actual_started_at), else_=c.starts_at)
    end = case((actual, c.actual_ended_at), else_=c.ends_at)
    if dialect == "postgresql":
        return cast(func.extract("epoch", end - start), Float) / 60.0
    return (func.julianday(end) - func.julianday(start)) * 1440.0


QUANTILES = (0.25, 0.5, 0.75)


async def duration_quantiles(db: AsyncSession, f: ConsultationFilter) -> list[DurationRow]:
    """Quartiles of the duration of completed consultations, per period and overall."""
    dialect = db.get_bind().dialect.name
    base = (
        select(
            _period_index(f.period_ends).label("period"),
            _duration_minutes(dialect).label("minutes"),
        )
        .where(*_where(f), Consultation.status == "completed")
        .subquery("durations")
    )
    if dialect == "postgresql":
        stmt = select(
            func.grouping(base.c.period).label("overall"),
            base.c.period,
            func.count().label("n"),
            *(
                func.percentile_cont(q).within_group(base.c.minutes).label(f"q{i}")
                for i, q in enumerate(QUANTILES)
            ),
        ).group_by(func.grouping_sets(tuple_(base.c.period), tuple_()))
        rows = (await db.execute(stmt)).all()
        return [
            DurationRow(
                dimension=None if r.overall else "period",
                key=None if r.overall else str(r.period),
                n=int(r.n),
                p25=float(r.q0),
                median=float(r.q1),
                p75=float(r.q2),
            )
            for r in rows
            if r.n  # the overall row of an empty period has no quantiles (NULL)
        ]
    by_period = await _sqlite_quantiles(db, base, base.c.period)
    overall = await _sqlite_quantiles(db, base, None)
    return [
        *(DurationRow("period", key, *values) for key, values in by_period.items()),
        *(DurationRow(None, None, *values) for values in overall.values()),
    ]


async def _sqlite_quantiles(
    db: AsyncSession, base: Subquery, partition: ColumnElement[Any] | None
) -> dict[str, tuple[int, float | None, float | None, float | None]]:
    """percentile_cont by hand: number the rows, fetch only those next to each percentile."""
    group = partition if partition is not None else literal(0)
    ranked = select(
        group.label("grp"),
        base.c.minutes,
        func.row_number().over(partition_by=partition, order_by=base.c.minutes).label("rn"),
        func.count().over(partition_by=partition).label("n"),
    ).subquery("ranked")
    r = ranked.c
    picks: list[ColumnElement[Any]] = []
    for i, q in enumerate(QUANTILES):
        position = 1 + q * (r.n - 1)  # 1-based; percentile_cont interpolates between rows
        low = cast(position, Integer)
        picks.append(func.max(case((r.rn == low, r.minutes))).label(f"lo{i}"))
        picks.append(func.max(case((r.rn == low + 1, r.minutes))).label(f"hi{i}"))
    stmt = select(r.grp, func.max(r.n).label("n"), *picks).group_by(r.grp)
    result: dict[str, tuple[int, float | None, float | None, float | None]] = {}
    for row in (await db.execute(stmt)).all():
        m = row._mapping
        n = int(m["n"])
        values: list[float | None] = []
        for i, q in enumerate(QUANTILES):
            offset = q * (n - 1)
            fraction = offset - math.floor(offset)
            low, high = m[f"lo{i}"], m[f"hi{i}"]
            if low is None:
                values.append(None)
            elif high is None or fraction == 0:
                values.append(float(low))
            else:
                values.append(float(low) + fraction * (float(high) - float(low)))
        result[str(m["grp"])] = (n, values[0], values[1], values[2])
    return result


async def travel_groups(db: AsyncSession, f: ConsultationFilter) -> list[TravelGroupRow]:
    """Completed consultations with travel inputs, counted per (group, travel key, answer)."""
    base = (
        select(
            _period_index(f.period_ends).label("period"),
            Consultation.municipality_number.label("municipality"),
            Consultation.patient_group.label("patient_group"),
            Consultation.department_id.label("department"),
            Consultation.travel_key.label("travel_key"),
            Consultation.patient_travel_confirmed.label("confirmed"),
        )
        .where(
            *_where(f),
            Consultation.status == "completed",
            Consultation.travel_key.is_not(None),
        )
        .subquery("base")
    )
    stmt = _grouped(
        db,
        base,
        list(DIMENSIONS),
        [base.c.travel_key, base.c.confirmed],
        [func.count().label("consultations")],
    )
    result = []
    for row in (await db.execute(stmt)).all():
        m = row._mapping
        dimension = _dimension_of(int(m["mask"]))
        assert dimension is not None
        confirmed = m["confirmed"]
        result.append(
            TravelGroupRow(
                dimension=dimension,
                key=_key(row, dimension),
                travel_key=str(m["travel_key"]),
                confirmed=None if confirmed is None else bool(confirmed),
                consultations=int(m["consultations"]),
            )
        )
    return result


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def survey_counts(db: AsyncSession, f: ConsultationFilter) -> SurveyCounts:
    s = Survey
    answered = s.answered_at.is_not(None)
    stmt = (
        select(
            func.count(),
            _count_if(answered),
            *(_count_if(and_(answered, s.satisfaction == i)) for i in range(1, 6)),
            _count_if(and_(answered, s.would_travel == true())),
            _count_if(and_(answered, s.would_travel.is_(False))),
            _count_if(and_(answered, s.physical_visit_needed == true())),
            _count_if(and_(answered, s.physical_visit_needed.is_(False))),
            _count_if(and_(answered, s.has_free_text == true())),
        )
        .select_from(s)
        .join(Consultation, Consultation.id == s.consultation_id)
        .where(*_where(f))
    )
    row = (await db.execute(stmt)).one()
    n = [int(x or 0) for x in row]
    return SurveyCounts(
        invited=n[0],
        answered=n[1],
        satisfaction=(n[2], n[3], n[4], n[5], n[6]),
        would_travel_yes=n[7],
        would_travel_no=n[8],
        physical_visit_yes=n[9],
        physical_visit_no=n[10],
        with_free_text=n[11],
    )


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
