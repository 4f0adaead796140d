"""Small-count suppression for published statistics (pure).

A count from 1 to 4 could point at a person, so it is never shown ("<5", *primary* suppression).
Hiding it is not enough when the figures around it add up: a row total minus the other cells
gives it back. So cells that sum to another cell are declared as *sums*, and further cells are
hidden (*secondary* suppression, shown as "suppressed") until no small cell can be worked out:

1. line by line: a sum whose hidden members are all small (one alone is the difference of the
   others; several together are still pinned when a reader knows each is 1–4) gets another
   one: the smallest non-zero shown member, a part before the total;
2. then audits look for small cells a reader could still work out from the shown cells, the
   sums, and knowing that a small cell is 1–4 and every count a whole number of at least 0:
   first bounds propagated sum by sum (cheap), then linear programming, which finds the least
   and greatest value each small cell could take given everything at once (a cell with no other
   whole number in that range is recoverable; this also catches cells fixed by combining
   several sums). Such a cell gets another partner in one of its sums, and both steps repeat.

Only small cells are protected this way: a secondary cell that could be worked out reveals
nobody, and the audit would notice if it exposed a small one. Zero is shown: it identifies no one.
What this does not cover: combining answers to *different* queries (say two overlapping date
ranges), which is a limit of any cell suppression; see docs/statistics.md.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

K = TypeVar("K", bound=Hashable)
CellState = Literal["shown", "small", "suppressed"]
THRESHOLD = 5


@dataclass(frozen=True, slots=True)
class Sum(Generic[K]):
    """`total` is the sum of `parts`: a relation a reader could use to recover a hidden cell."""

    total: K
    parts: tuple[K, ...]


def is_small(value: int, threshold: int = THRESHOLD) -> bool:
    return 0 < value < threshold


def suppress(
    values: Mapping[K, int],
    sums: Sequence[Sum[K]],
    threshold: int = THRESHOLD,
    *,
    unpublished: Collection[K] = (),
) -> dict[K, CellState]:
    """Decide, for every cell of `values`, whether it is shown, small or secondarily suppressed.

    Every key named in `sums` must be in `values`; the sums must hold for the values given.
    `unpublished` cells are never shown but a reader could still work them out (say, completed
    consultations without travel data, the difference of two published counts): they take part
    in the sums and are protected like any other cell.
    """
    for s in sums:
        missing = [k for k in (s.total, *s.parts) if k not in values]
        if missing:
            raise KeyError(f"sum refers to unknown cells: {missing!r}")
        if values[s.total] != sum(values[p] for p in s.parts):
            raise ValueError(f"cells do not add up to {s.total!r}")
    state: dict[K, CellState] = {
        k: "small" if is_small(v, threshold) else "shown" for k, v in values.items()
    }
    for k in unpublished:
        if state[k] == "shown":
            state[k] = "suppressed"
    while True:
        _hide_lone_cells(values, sums, state)
        recoverable = _pinned_by_bounds(values, sums, state, threshold)
        if not recoverable:
            # The cheap audit found nothing; linear programming has the last word: it finds
            # cells fixed by several sums together, with or without the 1–4 bounds.
            recoverable = _pinned_by_linear_programming(values, sums, state, threshold)
        if not recoverable:
            return state
        hid = [_hide_partner(values, sums, state, cell) for cell in recoverable]
        if not any(hid):
            return state  # every member already hidden: only contradictory sums get here


def _candidates(
    values: Mapping[K, int], s: Sum[K], state: Mapping[K, CellState], *, zeros: bool = False
) -> list[K]:
    """Shown members of a sum, smallest first, parts before the total on ties; zeros only when
    asked (hiding a zero protects nothing unless nothing else is left)."""
    members = [*s.parts, s.total]
    shown = [m for m in members if state[m] == "shown" and (zeros or values[m] > 0)]
    return sorted(shown, key=lambda m: (values[m] == 0, values[m], m == s.total))


def _hide_lone_cells(
    values: Mapping[K, int], sums: Sequence[Sum[K]], state: dict[K, CellState]
) -> None:
    changed = True
    while changed:
        changed = False
        for s in sums:
            hidden = [m for m in (s.total, *s.parts) if state[m] != "shown"]
            # A lone small cell is the difference of the others. Small cells together are no
            # better: a reader knows each is 1–4, so two of them adding up to 8 are both 4.
            if not hidden or any(state[m] != "small" for m in hidden):
                continue
            candidates = _candidates(values, s, state)
            if candidates:
                state[candidates[0]] = "suppressed"
                changed = True


def _hide_partner(
    values: Mapping[K, int], sums: Sequence[Sum[K]], state: dict[K, CellState], cell: K
) -> bool:
    """Hide one more cell near `cell`: the smallest non-zero shown member of a sum it is in;
    when all of those are hidden already, of a sum one hidden cell further out, and so on."""
    frontier, seen = {cell}, {cell}
    remaining = list(sums)
    while frontier and remaining:
        near = [s for s in remaining if frontier & {s.total, *s.parts}]
        remaining = [s for s in remaining if s not in near]
        for zeros in (False, True):
            options = [c for s in near for c in _candidates(values, s, state, zeros=zeros)[:1]]
            if options:
                state[min(options, key=lambda m: values[m])] = "suppressed"
                return True
        frontier = {m for s in near for m in (s.total, *s.parts)} - seen
        seen |= frontier
    return False


def _pinned_by_bounds(
    values: Mapping[K, int],
    sums: Sequence[Sum[K]],
    state: Mapping[K, CellState],
    threshold: int,
) -> list[K]:
    """Hidden cells whose interval, as a reader can narrow it from the sums, is one value."""
    low: dict[K, float] = {}
    high: dict[K, float] = {}
    for k, st in state.items():
        if st == "shown":
            low[k] = high[k] = values[k]
        elif st == "small":
            low[k], high[k] = 1, threshold - 1
        else:
            low[k], high[k] = 0, math.inf
    for _ in range(4 * len(sums) + 4):
        changed = False
        for s in sums:
            parts_low = sum(low[p] for p in s.parts)
            parts_high = sum(high[p] for p in s.parts)
            changed |= _narrow(low, high, s.total, parts_low, parts_high)
            for p in s.parts:
                others_low = parts_low - low[p]
                others_high = (
                    parts_high - high[p] if high[p] != math.inf else _sum_high(high, s.parts, p)
                )
                changed |= _narrow(
                    low, high, p, low[s.total] - others_high, high[s.total] - others_low
                )
        if not changed:
            break
    return [k for k, st in state.items() if st == "small" and low[k] == high[k]]


def _sum_high(high: Mapping[K, float], parts: tuple[K, ...], without: K) -> float:
    return sum(high[p] for p in parts if p != without)


def _narrow(low: dict[K, float], high: dict[K, float], k: K, lo: float, hi: float) -> bool:
    new_low = max(low[k], lo, 0)
    new_high = min(high[k], hi)
    if (new_low, new_high) == (low[k], high[k]):
        return False
    low[k], high[k] = new_low, new_high
    return True


def _pinned_by_linear_programming(
    values: Mapping[K, int],
    sums: Sequence[Sum[K]],
    state: Mapping[K, CellState],
    threshold: int,
) -> list[K]:
    """Hidden cells that cannot move by a whole unit either way within everything a reader knows.

    One phase one finds a feasible corner; a few random objectives then free most cells at once
    (any solution that moves a cell by a unit or more proves it is not pinned), and only the
    cells left get their own maximisation and minimisation.
    """
    hidden = [k for k, st in state.items() if st != "shown"]
    if not hidden:
        return []
    column = {k: i for i, k in enumerate(hidden)}
    low = [1.0 if state[k] == "small" else 0.0 for k in hidden]
    high = [float(threshold - 1) if state[k] == "small" else math.inf for k in hidden]
    rows: list[list[float]] = []
    rhs: list[float] = []
    for s in sums:
        row = [0.0] * len(hidden)
        known = 0.0
        for member, sign in [(s.total, -1), *((p, 1) for p in s.parts)]:
            if member in column:
                row[column[member]] += sign
            else:
                known += sign * values[member]
        if any(row):
            rows.append(row)
            rhs.append(-known)
    lp = _FeasibleRegion(rows, rhs, low, high)
    truth = [float(values[k]) for k in hidden]
    free = [False] * len(hidden)

    def explore(objective: list[float], cell: int | None = None) -> None:
        solution = lp.maximise(objective)
        if solution is None:  # unbounded: only a single cell's own objective proves it free
            if cell is not None:
                free[cell] = True
            return
        for j, x in enumerate(solution):
            if abs(x - truth[j]) >= 1 - _EPS:
                free[j] = True

    rng = random.Random(len(hidden))  # noqa: S311 - search directions, not secrets
    for _ in range(4):
        explore([rng.choice((-1.0, 1.0)) for _ in hidden])
    for i in range(len(hidden)):
        for direction in (1.0, -1.0):
            if not free[i] and state[hidden[i]] == "small":
                objective = [0.0] * len(hidden)
                objective[i] = direction
                explore(objective, i)
    return [k for k, f in zip(hidden, free, strict=True) if not f and state[k] == "small"]


_EPS = 1e-9


class _FeasibleRegion:
    """{x : rows·x = rhs, low ≤ x ≤ high}, with a feasible basis found once (phase one of the
    simplex method) and reused for every objective. The region is never empty here: the true
    table lies in it."""

    def __init__(
        self, rows: list[list[float]], rhs: list[float], low: list[float], high: list[float]
    ) -> None:
        n = len(low)
        finite = [j for j in range(n) if high[j] != math.inf]
        self.n, self.low = n, low
        self.width = n + len(finite)  # x shifted to y = x - low ≥ 0, plus a slack per bound
        table: list[list[float]] = []
        for row, b in zip(rows, rhs, strict=True):
            shifted = b - sum(a * lo for a, lo in zip(row, low, strict=True))
            table.append([*row, *([0.0] * len(finite)), shifted])
        for k, j in enumerate(finite):
            line = [0.0] * (self.width + 1)
            line[j] = line[n + k] = 1.0
            line[-1] = high[j] - low[j]
            table.append(line)
        for line in table:
            if line[-1] < 0:
                line[:] = [-x for x in line]
        m = len(table)
        # Phase one: an artificial variable per row; maximise minus their sum.
        table = [
            [*line[:-1], *(1.0 if r == a else 0.0 for a in range(m)), line[-1]]
            for r, line in enumerate(table)
        ]
        basis = [self.width + r for r in range(m)]
        reduced = [sum(line[c] for line in table) for c in range(self.width)] + [0.0] * (m + 1)
        _simplex(table, basis, reduced, self.width + m)
        for r in range(m):  # drive artificials out of the basis where a real column can enter
            if basis[r] >= self.width:
                pivot = next((c for c in range(self.width) if abs(table[r][c]) > _EPS), None)
                if pivot is not None:
                    _pivot(table, basis, r, pivot, None)
        keep = [r for r in range(m) if basis[r] < self.width]
        self.table = [[*table[r][: self.width], table[r][-1]] for r in keep]
        self.basis = [basis[r] for r in keep]

    def maximise(self, objective: list[float]) -> list[float] | None:
        """An optimal x, or None when the objective is unbounded."""
        table = [line[:] for line in self.table]
        basis = self.basis[:]
        cost = objective + [0.0] * (self.width - self.n)
        reduced = [
            cost[c] - sum(cost[b] * line[c] for b, line in zip(basis, table, strict=True))
            for c in range(self.width)
        ] + [0.0]
        if not _simplex(table, basis, reduced, self.width):
            return None
        y = [0.0] * self.width
        for line, b in zip(table, basis, strict=True):
            y[b] = line[-1]
        return [self.low[j] + y[j] for j in range(self.n)]


def _simplex(table: list[list[float]], basis: list[int], reduced: list[float], width: int) -> bool:
    """Maximise in place from a feasible basis (Bland's rule); False when unbounded."""
    while True:
        entering = next((c for c in range(width) if reduced[c] > _EPS), None)
        if entering is None:
            return True
        ratios = [
            (line[-1] / line[entering], basis[r], r)
            for r, line in enumerate(table)
            if line[entering] > _EPS
        ]
        if not ratios:
            return False
        _, _, leaving = min(ratios)
        _pivot(table, basis, leaving, entering, reduced)


def _pivot(
    table: list[list[float]], basis: list[int], row: int, col: int, reduced: list[float] | None
) -> None:
    lead = table[row][col]
    pivot_row = [x / lead for x in table[row]]
    table[row] = pivot_row
    for r, line in enumerate(table):
        if r != row:
            factor = line[col]
            if abs(factor) > _EPS:
                table[r] = [a - factor * b for a, b in zip(line, pivot_row, strict=True)]
    if reduced is not None:
        factor = reduced[col]
        reduced[:] = [a - factor * b for a, b in zip(reduced, pivot_row, strict=True)]
    basis[row] = col
