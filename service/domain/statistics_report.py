"""The evaluators' statistics report: counted figures shaped into published tables (pure).

This module owns what a report is once the counts are in (`Figures`: every cell's true count
and the sum of its records' keys, travel amounts and duration quartiles) and how it is
published: every count through cell-key perturbation (`service.domain.statistics_cellkey`), a
row per period, municipality, patient group, hospital and department and a total, each
perturbed on its own (rows need not add up to the total), published values below the threshold
as "<5", travel and durations only where the count they come from is published at or above the
threshold, rounding, and the factor set that produced the travel figures. The JSON and CSV
exports and the `/statistikk` page lay out this one `StatisticsReport`; the use case
(`service.usecases.statistics`) does the counting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from service.domain.roles import ParticipantRole
from service.domain.statistics_cellkey import (
    MAX_PERTURBATION,
    PTABLE_ROWS,
    RECORD_KEYS,
    THRESHOLD,
    VARIANCE,
    publish,
)
from service.domain.statistics_query import Period, StatisticsQuery
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
HIDDEN = "suppressed"  # travel or durations whose count is below the threshold
METHOD = "cell-key perturbation"

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
class Protection:
    """How every count of the report was protected: its parameters, published with it."""

    method: str = METHOD
    threshold: int = THRESHOLD
    max_perturbation: int = MAX_PERTURBATION
    variance: float = round(VARIANCE, 2)
    record_keys: int = RECORD_KEYS
    table_rows: int = PTABLE_ROWS
    totals: str = "perturbed independently: rows need not add up to totals"


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
    protection: Protection = field(default_factory=Protection)


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
    """Raw figures before publication: only `build_report` publishes them, perturbed.

    `cells` holds each cell's true count and `keys` the sum of the record keys of what it
    counts; a cell is the same set of records wherever it appears, so it has the same key.
    """

    cells: dict[CellKey, int] = field(default_factory=lambda: defaultdict(int))
    keys: dict[CellKey, int] = field(default_factory=lambda: defaultdict(int))
    rows: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # table → (key, label)
    travel: dict[tuple[str, str], dict[str, Amounts]] = field(default_factory=dict)
    durations: Mapping[str, Quartiles] = field(default_factory=dict)  # period key ("": all)

    def add(self, k: CellKey, count: int, key_sum: int) -> None:
        self.cells[k] += count
        self.keys[k] += key_sum


Published = Mapping[CellKey, Display]


def _display(published: Published, k: CellKey) -> Display:
    return published.get(k, 0)


def _at_threshold(published: Published, k: CellKey) -> bool:
    """Whether a figure derived from this count may be shown: its published count is not
    below the threshold (an empty cell's zero counts: it derives nothing about anyone)."""
    return isinstance(published.get(k, 0), int)


def _round(x: float, measure: str) -> float:
    return round(x) if measure.endswith("_kr") else round(x, 1)


def _travel_display(
    figures: Figures, published: Published, table: str, key: str
) -> dict[str, dict[str, Display]] | None:
    if not _at_threshold(published, (table, key, "travel_n")):
        return None
    amounts = figures.travel.get((table, key), {"assumed": ZERO, "confirmed": ZERO})
    result: dict[str, dict[str, Display]] = {}
    for basis in ("assumed", "confirmed"):
        result[basis] = {m: _round(getattr(amounts[basis], m), m) for m in TRAVEL_MEASURES}
    return result


def _row(figures: Figures, published: Published, table: str, key: str, label: str) -> Row:
    counts = {m: _display(published, (table, key, m)) for m in COUNT_MEASURES}
    counts["travel_consultations"] = _display(published, (table, key, "travel_n"))
    duration = relatives = None
    if table in ("period", "total"):
        duration = _duration_display(figures, published, table, key)
        with_ = _display(published, (table, key, "with_relatives"))
        without = _display(published, (table, key, "without_relatives"))
        share: Display = None
        # The share of the published figures, so that it agrees with what is shown beside it.
        if isinstance(with_, int) and isinstance(without, int) and with_ + without:
            share = round(with_ / (with_ + without), 3)
        relatives = {"with": with_, "without": without, "share": share}
    return Row(
        key=key if table != "period" else label,
        label=label,
        counts=counts,
        travel=_travel_display(figures, published, table, key),
        duration=duration,
        relatives=relatives,
    )


def _duration_display(
    figures: Figures, published: Published, table: str, key: str
) -> dict[str, Display] | None:
    completed = published.get((table, key, "completed"), 0)
    if not isinstance(completed, int) or completed < THRESHOLD:
        return None
    d = figures.durations.get(key if table == "period" else "")
    if d is None or d.n < THRESHOLD:
        return None
    return {
        "p25": None if d.p25 is None else round(d.p25, 1),
        "median": None if d.median is None else round(d.median, 1),
        "p75": None if d.p75 is None else round(d.p75, 1),
    }


def _with_assumed_share(answers: dict[str, Display]) -> dict[str, Display]:
    """The answers about travelling and the share of consultations whose travel is only
    assumed (nobody answered): of the published figures, None when one is below the threshold.
    Travel avoided is as uncertain as this share is large."""
    figures = [answers[k] for k in ("yes", "no", "unanswered")]
    counts: list[int] = [v for v in figures if isinstance(v, int)]
    total = 0
    for v in counts:
        total += v
    unanswered = answers["unanswered"]
    share: Display = None
    if len(counts) == len(figures) and total and isinstance(unanswered, int):
        share = round(unanswered / total, 3)
    return {**answers, "assumed_share": share}


def build_report(
    query: StatisticsQuery,
    periods: Sequence[Period],
    factors: FactorSet,
    figures: Figures,
    not_costed: list[str],
) -> StatisticsReport:
    """The published report: every count perturbed by its own cell key."""
    published: dict[CellKey, Display] = {
        k: publish(n, figures.keys.get(k, 0)) for k, n in figures.cells.items()
    }
    tables = {
        table: [_row(figures, published, table, key, label) for key, label in figures.rows[table]]
        for table in TABLES
    }

    def group(name: str, keys: Sequence[str]) -> dict[str, Display]:
        return {k: _display(published, (name, "", k)) for k in keys}

    survey_keys = [k for (t, _, k) in figures.cells if t == "survey"]
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
        total=_row(figures, published, "total", "", "total"),
        tables=tables,
        participants_by_role=group("participants", [*PARTICIPANT_ROLES, "all"]),
        travel_confirmation=_with_assumed_share(group("confirmation", ["yes", "no", "unanswered"])),
        survey=group("survey", survey_keys),
        not_costed=not_costed,
    )
