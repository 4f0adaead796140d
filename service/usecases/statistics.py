"""Statistics for evaluators: the use case that counts a report from the summary tables.

This module owns putting a report together for one evaluator and one query
(`service.domain.statistics_query`): the reads from `service.storage.statistics` (which counts
in SQL), travel avoided (the «grønn helse» calculation run once per group of identical travel
inputs), and turning those rows into figures: every count becomes a cell with the sum of its
records' keys beside it, which `service.domain.statistics_report` perturbs
(`service.domain.statistics_cellkey`). The report's tables are shaped by
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
    Figures,
    StatisticsReport,
    build_report,
)
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
    for r in statuses:
        measure = r.status if r.status in STATUS_MEASURES else "open"
        table = r.dimension or "total"
        key = "" if r.dimension is None else (r.key or "unknown")
        targets = [(table, key)]
        if r.dimension == "department" and key in hospital_of:
            targets.append(("hospital", hospital_of[key]))
        n, keys = r.consultations, r.keys[0]
        for target in targets:
            figures.add((*target, measure), n, keys)
            figures.add((*target, "booked"), n, keys)
        if r.status == "completed" and r.dimension in ("period", None):
            with_n, with_keys = r.with_relatives, r.keys[1]
            figures.add((table, key, "with_relatives"), with_n, with_keys)
            figures.add((table, key, "without_relatives"), n - with_n, keys - with_keys)
    for table, rows in [*figures.rows.items(), ("total", [("", "")])]:
        for key, _ in rows:
            for measure in (*COUNT_MEASURES, "travel_n"):
                figures.add((table, key, measure), 0, 0)
            if table in ("period", "total"):
                for measure in ("with_relatives", "without_relatives"):
                    figures.add((table, key, measure), 0, 0)


def _count_participants(figures: Figures, statuses: Sequence[store.StatusRow]) -> None:
    """People taking part in completed consultations, by role (one GP in each). A person
    counted in a role carries their consultation's record key."""
    fields = {
        "specialist": "specialists",
        "patient": "patients",
        "relative": "relatives",
        "interpreter": "interpreters",
        "municipal_staff": "municipal_staff",
    }
    for role in PARTICIPANT_ROLES:
        figures.add(("participants", "", role), 0, 0)
    figures.add(("participants", "", "all"), 0, 0)
    for r in statuses:
        if r.dimension is None and r.status == "completed":
            keys = dict(zip(store.COUNT_SUMS, r.keys, strict=True))
            contributions = {"gp": (r.consultations, keys["consultations"])}
            for role, name in fields.items():
                contributions[role] = (getattr(r, name), keys[name])
            for role, (n, key_sum) in contributions.items():
                figures.add(("participants", "", role), n, key_sum)
                figures.add(("participants", "", "all"), n, key_sum)


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
    width = len(AMOUNT_FIELDS)
    sums: dict[tuple[str, str], dict[str, list[float]]] = {}
    for label in ("yes", "no", "unanswered"):
        figures.add(("confirmation", "", label), 0, 0)
    for r in rows:
        key = r.key or "unknown"
        targets = [(r.dimension, key)]
        if r.dimension == "department" and key in hospital_of:
            targets.append(("hospital", hospital_of[key]))
        n_keys, yes_keys, no_keys = r.keys
        if r.dimension == "period":
            targets.append(("total", ""))
            figures.add(("confirmation", "", "yes"), r.confirmed_yes, yes_keys)
            figures.add(("confirmation", "", "no"), r.confirmed_no, no_keys)
            figures.add(
                ("confirmation", "", "unanswered"),
                r.consultations - r.confirmed_yes - r.confirmed_no,
                n_keys - yes_keys - no_keys,
            )
        for target in targets:
            figures.add((*target, "travel_n"), r.consultations, n_keys)
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
    return sorted(not_costed)


def _count_survey(figures: Figures, s: store.SurveyCounts) -> None:
    """Survey figures; those not kept in the summary (not answered, blanks, without free text)
    are differences of kept ones, and so are their key sums."""
    n = {
        "invited": s.invited,
        "answered": s.answered,
        **{f"satisfaction_{i + 1}": v for i, v in enumerate(s.satisfaction)},
        "would_travel_yes": s.would_travel_yes,
        "would_travel_no": s.would_travel_no,
        "physical_visit_yes": s.physical_visit_yes,
        "physical_visit_no": s.physical_visit_no,
        "with_free_text": s.with_free_text,
    }
    stored = dict(zip(n, store.SURVEY_SUMS, strict=True))
    keys = {name: (s.keys or {}).get(column, 0) for name, column in stored.items()}
    derived = {
        "unanswered": ("invited", ("answered",)),
        "satisfaction_blank": ("answered", tuple(f"satisfaction_{i}" for i in range(1, 6))),
        "would_travel_blank": ("answered", ("would_travel_yes", "would_travel_no")),
        "physical_visit_blank": ("answered", ("physical_visit_yes", "physical_visit_no")),
        "without_free_text": ("answered", ("with_free_text",)),
    }
    for name, (whole, parts) in derived.items():
        n[name] = n[whole] - sum(n[p] for p in parts)
        keys[name] = keys[whole] - sum(keys[p] for p in parts)
    order = [
        "invited",
        "answered",
        "unanswered",
        *(f"satisfaction_{i}" for i in range(1, 6)),
        "satisfaction_blank",
        *(f"would_travel_{a}" for a in ("yes", "no", "blank")),
        *(f"physical_visit_{a}" for a in ("yes", "no", "blank")),
        "with_free_text",
        "without_free_text",
    ]
    for name in order:
        figures.add(("survey", "", name), n[name], keys[name])
