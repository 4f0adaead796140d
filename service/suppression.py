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
        if not any(_hide_partner(values, sums, state, cell) for cell in recoverable):
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

    Every solution found along the way frees the cells it moved, so most cells need no LP.
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
    truth = [float(values[k]) for k in hidden]
    free = [False] * len(hidden)
    for i in range(len(hidden)):
        for direction in (1.0, -1.0):
            if free[i]:
                break
            objective = [0.0] * len(hidden)
            objective[i] = direction
            solution = _maximise(objective, rows, rhs, low, high)
            if solution is None:
                free[i] = True  # unbounded: the cell can grow without limit
                continue
            for j, x in enumerate(solution):
                if abs(x - truth[j]) >= 1 - _EPS:
                    free[j] = True
    return [k for k, f in zip(hidden, free, strict=True) if not f]


_EPS = 1e-9


def _maximise(
    objective: list[float],
    rows: list[list[float]],
    rhs: list[float],
    low: list[float],
    high: list[float],
) -> list[float] | None:
    """Maximise objective·x subject to rows·x = rhs and low ≤ x ≤ high (two-phase simplex,
    Bland's rule). Returns an optimal x, or None when the objective is unbounded. The system is
    always feasible here: the true table satisfies it."""
    n = len(objective)
    finite = [j for j in range(n) if high[j] != math.inf]
    # Shift x = low + y (y ≥ 0); add y_j + s_j = high_j - low_j for finite bounds.
    table: list[list[float]] = []
    for row, b in zip(rows, rhs, strict=True):
        shifted = b - sum(a * lo for a, lo in zip(row, low, strict=True))
        line = row + [0.0] * len(finite)
        table.append([*line, shifted])
    for k, j in enumerate(finite):
        line = [0.0] * (n + len(finite))
        line[j] = 1.0
        line[n + k] = 1.0
        table.append([*line, high[j] - low[j]])
    width = n + len(finite)
    m = len(table)
    for line in table:
        if line[-1] < 0:
            line[:] = [-x for x in line]
    # Phase one: an artificial variable per row, minimise their sum.
    for r, line in enumerate(table):
        artificial = [0.0] * m
        artificial[r] = 1.0
        table[r] = [*line[:-1], *artificial, line[-1]]
    basis = [width + r for r in range(m)]
    phase_one = [0.0] * (width + m)
    for r in range(m):
        phase_one[width + r] = -1.0
    _simplex(table, basis, phase_one)
    # Drive artificial variables out of the basis where possible, then drop their columns.
    for r in range(m):
        if basis[r] >= width:
            pivot = next((c for c in range(width) if abs(table[r][c]) > _EPS), None)
            if pivot is not None:
                _pivot(table, basis, r, pivot)
    keep = [r for r in range(m) if basis[r] < width]
    table = [[*table[r][:width], table[r][-1]] for r in keep]
    basis = [basis[r] for r in keep]
    full_objective = objective + [0.0] * len(finite)
    if not _simplex(table, basis, full_objective):
        return None
    y = [0.0] * width
    for r, b in enumerate(basis):
        y[b] = table[r][-1]
    return [low[j] + y[j] for j in range(n)]


def _simplex(table: list[list[float]], basis: list[int], objective: list[float]) -> bool:
    """Maximise in place from a feasible basis; False when unbounded."""
    width = len(table[0]) - 1 if table else 0
    while True:
        reduced = [
            objective[c] - sum(objective[basis[r]] * table[r][c] for r in range(len(table)))
            for c in range(width)
        ]
        entering = next((c for c in range(width) if reduced[c] > _EPS), None)
        if entering is None:
            return True
        ratios = [
            (table[r][-1] / table[r][entering], basis[r], r)
            for r in range(len(table))
            if table[r][entering] > _EPS
        ]
        if not ratios:
            return False
        _, _, leaving = min(ratios)
        _pivot(table, basis, leaving, entering)


def _pivot(table: list[list[float]], basis: list[int], row: int, col: int) -> None:
    lead = table[row][col]
    table[row] = [x / lead for x in table[row]]
    for r in range(len(table)):
        if r != row and abs(table[r][col]) > _EPS:
            factor = table[r][col]
            table[r] = [a - factor * b for a, b in zip(table[r], table[row], strict=True)]
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
