"""Statistics for evaluators: the use case that counts a report from the summary tables.

This module owns putting a report together for one evaluator and one query
(`service.domain.statistics_query`): the reads from `service.storage.statistics` (which counts
in SQL), travel avoided (the «grønn helse» calculation run once per group of identical travel
inputs), and the privacy rules that turn those rows into figures: every count becomes a cell, and
every sum a reader could use to work a hidden cell out is declared beside it, so that
`service.domain.suppression` can hide enough. The report's tables are shaped by
`service.domain.statistics_report`. No names, contact details, postal codes or free text ever
reach it.

Travel is computed on read with the app's factor set, so changing a factor changes every total at
once, and each report names the factor set and version that produced it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.errors import DomainError, InvalidInput, NotAllowed
from service.domain.permissions import STATISTICS_READERS
from service.domain.statistics_query import PATIENT_GROUPS, Period, StatisticsQuery, periods_between
from service.domain.statistics_report import (
    COUNT_MEASURES,
    PARTICIPANT_ROLES,
    STATUS_MEASURES,
    CellKey,
    Figures,
    StatisticsReport,
    build_report,
)
from service.domain.suppression import Sum
from service.domain.travel.calculation import Amounts
from service.domain.travel.factors import FactorSet
from service.domain.travel.keys import AMOUNT_FIELDS, TravelPerKey
from service.domain.travel.reference import ReferenceData
from service.storage import statistics as store

EVALUATOR_ROLES = STATISTICS_READERS
T = TypeVar("T")


class SummaryOutOfStep(DomainError):
    """The summary's months are local to another time zone than the service's."""

    status = 503
    title = "Statistics unavailable"
    type_slug = "statistics-unavailable"


def require_evaluator(actor: Actor) -> None:
    if actor.role not in EVALUATOR_ROLES:
        raise NotAllowed("Statistics are for evaluators.")


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

    figures = Figures()
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

    return build_report(query, periods, factors, figures, not_costed)


async def filter_departments(
    sessionmaker: async_sessionmaker[AsyncSession], actor: Actor
) -> list[store.DepartmentInfo]:
    """Every department with its hospital, for the page's filters (evaluators only)."""
    require_evaluator(actor)
    async with sessionmaker() as db:
        return await store.departments(db)


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
    figures: Figures,
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


def _relatives_sum(figures: Figures, table: str, key: str) -> None:
    for measure in ("with_relatives", "without_relatives"):
        figures.cells.setdefault((table, key, measure), 0)
    figures.sums.append(
        Sum(
            (table, key, "completed"),
            ((table, key, "with_relatives"), (table, key, "without_relatives")),
        )
    )


def _count_participants(figures: Figures, statuses: Sequence[store.StatusRow]) -> None:
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
    figures: Figures,
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


def _count_survey(figures: Figures, s: store.SurveyCounts) -> None:
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
