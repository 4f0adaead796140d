"""The evaluators' statistics report: counted figures shaped into published tables (pure).

This module owns what a report is once the counts are in (`Figures`: the cells, the sums that tie
them together, travel amounts and duration quartiles) and `service.domain.suppression` has said
which cells may be shown: a row per period, municipality, patient group, hospital and department
and a total, small counts as "<5" and secondarily hidden ones as "suppressed", travel and
durations only where the count they come from is shown, rounding, and the factor set that
produced the travel figures. The JSON and CSV exports and the `/statistikk` page lay out this one
`StatisticsReport`; the use case (`service.usecases.statistics`) does the counting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from service.domain.roles import ParticipantRole
from service.domain.statistics_query import Period, StatisticsQuery
from service.domain.suppression import THRESHOLD, CellState, Sum, suppress
from service.domain.travel.calculation import ZERO, Amounts
from service.domain.travel.factors import FactorSet

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
PARTICIPANT_ROLES = tuple(role.value for role in ParticipantRole)
SMALL = "<5"
HIDDEN = "suppressed"

Display = int | float | str | None
CellKey = tuple[str, str, str]  # (table, row key, measure); table "total" has row key ""


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


class Quartiles(Protocol):
    """Durations of completed consultations in one period (or all): how many, and quartiles."""

    @property
    def n(self) -> int: ...
    @property
    def p25(self) -> float | None: ...
    @property
    def median(self) -> float | None: ...
    @property
    def p75(self) -> float | None: ...


@dataclass
class Figures:
    """Raw figures before suppression: only `build_report` publishes them, through its rules."""

    cells: dict[CellKey, int] = field(default_factory=lambda: defaultdict(int))
    sums: list[Sum[CellKey]] = field(default_factory=list)
    rows: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # table → (key, label)
    travel: dict[tuple[str, str], dict[str, Amounts]] = field(default_factory=dict)
    durations: Mapping[str, Quartiles] = field(default_factory=dict)  # period key ("": all)
    unpublished: set[CellKey] = field(default_factory=set)


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
    figures: Figures, state: Mapping[CellKey, CellState], table: str, key: str
) -> dict[str, dict[str, Display]] | None:
    if state.get((table, key, "travel_n")) != "shown":
        return None
    amounts = figures.travel.get((table, key), {"assumed": ZERO, "confirmed": ZERO})
    result: dict[str, dict[str, Display]] = {}
    for basis in ("assumed", "confirmed"):
        result[basis] = {m: _round(getattr(amounts[basis], m), m) for m in TRAVEL_MEASURES}
    return result


def _row(
    figures: Figures, state: Mapping[CellKey, CellState], table: str, key: str, label: str
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
    figures: Figures, state: Mapping[CellKey, CellState], table: str, key: str
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


def build_report(
    query: StatisticsQuery,
    periods: Sequence[Period],
    factors: FactorSet,
    figures: Figures,
    not_costed: list[str],
) -> StatisticsReport:
    """The published report: every cell through `suppress`, with the sums the figures declare."""
    state = suppress(dict(figures.cells), figures.sums, unpublished=figures.unpublished)
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
