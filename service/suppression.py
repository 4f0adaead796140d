"""Small-count suppression for published statistics (pure).

A count from 1 to 4 could point at a person, so it is never shown ("<5", *primary* suppression).
Hiding it is not enough when the figures around it add up: a row total minus the other cells
gives it back. So cells that sum to another shown cell are declared as *sums*, and further cells
are hidden (*secondary* suppression, shown as "suppressed") until no hidden cell can be worked out
from the shown ones:

1. line by line: a sum with exactly one hidden member, or whose hidden members are all small
   (a reader knows each is 1–4, which can pin them), gets another one: the smallest non-zero
   shown member, a part before the total (the usual statistical-office rule);
2. then audits find cells a reader could still work out, knowing the sums, that a small cell is
   1–4 and that every count is a whole number of at least 0: a hidden cell's unit vector in the
   row space of the sums (Gaussian elimination over fractions); bounds propagated sum by sum
   that narrow a cell to one value; and finally linear programming, which finds the least and
   greatest value the cell could take given all of it (a cell with no other whole number in
   that range is recoverable). Such a cell gets another partner in one of its sums, and both
   steps repeat until nothing changes.

Zero is shown: it identifies no one, and hiding zeros would only hide the structure of the table.
What this does not cover: combining answers to *different* queries (say two overlapping date
ranges), which is a limit of any cell suppression; see docs/statistics.md.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
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
    values: Mapping[K, int], sums: Sequence[Sum[K]], threshold: int = THRESHOLD
) -> dict[K, CellState]:
    """Decide, for every cell of `values`, whether it is shown, small or secondarily suppressed.

    Every key named in `sums` must be in `values`; the sums must hold for the values given.
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
    while True:
        _hide_lone_cells(values, sums, state)
        recoverable = _recoverable_cells(sums, state) or _pinned_by_bounds(
            values, sums, state, threshold
        )
        if not recoverable:
            # The cheap audits found nothing; linear programming has the last word, since
            # several sums together with the 1–4 bounds can still narrow a cell to one value.
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
            # A lone hidden cell is the difference of the others. Small cells alone are no
            # better: a reader knows each is 1–4, so two of them adding up to 8 are both 4.
            if not hidden or (len(hidden) > 1 and any(state[m] != "small" for m in hidden)):
                continue
            candidates = _candidates(values, s, state)
            if candidates:
                state[candidates[0]] = "suppressed"
                changed = True


def _hide_partner(
    values: Mapping[K, int], sums: Sequence[Sum[K]], state: dict[K, CellState], cell: K
) -> bool:
    """Hide one more member of a sum that `cell` is in: the smallest non-zero one, else a zero."""
    containing = [s for s in sums if cell in (s.total, *s.parts)]
    for zeros in (False, True):
        options = [c for s in containing for c in _candidates(values, s, state, zeros=zeros)[:1]]
        if options:
            state[min(options, key=lambda m: values[m])] = "suppressed"
            return True
    return False


def _recoverable_cells(sums: Sequence[Sum[K]], state: Mapping[K, CellState]) -> list[K]:
    """Hidden cells whose value follows from the sums and the shown cells."""
    hidden = [k for k, st in state.items() if st != "shown"]
    if not hidden:
        return []
    column = {k: i for i, k in enumerate(hidden)}
    rows: list[list[Fraction]] = []
    for s in sums:
        row = [Fraction(0)] * len(hidden)
        touched = False
        for member, sign in [(s.total, -1), *((p, 1) for p in s.parts)]:
            if member in column:
                row[column[member]] += sign
                touched = True
        if touched and any(row):
            rows.append(row)
    reduced = _row_echelon(rows, len(hidden))
    recoverable = []
    for row in reduced:
        nonzero = [i for i, x in enumerate(row) if x != 0]
        if len(nonzero) == 1:
            recoverable.append(hidden[nonzero[0]])
    return recoverable


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
    return [k for k, st in state.items() if st != "shown" and low[k] == high[k]]


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

    def explore(objective: list[float]) -> None:
        solution = lp.maximise(objective)
        if solution is None:  # unbounded: every cell with weight in the objective can move
            for j, weight in enumerate(objective):
                if weight:
                    free[j] = True
            return
        for j, x in enumerate(solution):
            if abs(x - truth[j]) >= 1 - _EPS:
                free[j] = True

    rng = random.Random(len(hidden))  # noqa: S311 - search directions, not secrets
    for _ in range(4):
        explore([rng.choice((-1.0, 1.0)) for _ in hidden])
    for i in range(len(hidden)):
        for direction in (1.0, -1.0):
            if not free[i]:
                objective = [0.0] * len(hidden)
                objective[i] = direction
                explore(objective)
    return [k for k, f in zip(hidden, free, strict=True) if not f]


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


def _row_echelon(rows: list[list[Fraction]], width: int) -> list[list[Fraction]]:
    """Reduced row echelon form; a row with one non-zero entry pins that variable."""
    rows = [r[:] for r in rows]
    pivot_row = 0
    for col in range(width):
        pivot = next((i for i in range(pivot_row, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[pivot_row], rows[pivot] = rows[pivot], rows[pivot_row]
        lead = rows[pivot_row][col]
        rows[pivot_row] = [x / lead for x in rows[pivot_row]]
        for i in range(len(rows)):
            if i != pivot_row and rows[i][col] != 0:
                factor = rows[i][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[pivot_row], strict=True)]
        pivot_row += 1
        if pivot_row == len(rows):
            break
    return rows[:pivot_row]
