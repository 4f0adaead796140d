"""Cell-key perturbation of published counts (pure): the protection of the evaluators' tables.

This module owns the method national statistics offices use for flexible table builders
(ONS, the Australian Bureau of Statistics' TableBuilder, the European census), as ONS's
`cell-key-perturbation` package implements it: every consultation and every survey answer gets
a random *record key* from 0 to 255 when it is created (`new_record_key`); a cell's *key* is the
sum of its records' keys modulo 256; the published value is the true count plus the entry of a
perturbation table at (count, cell key), and a published value below the threshold is shown as
"<5" only. The same set of records always has the same count and the same key, so every view
that counts those people publishes the same value: differencing two views yields the difference
of two independent perturbations, never a person.

The perturbation table is our own (ONS's shipped `ptable_10_5_rule` rounds to base 5 whatever
the cell key, which does not protect against differencing); it follows ONS's layout: rows
1–750 of cell values, values above 750 reuse rows 501–750, 256 cell keys a row. Each row holds
the perturbations −3…+3 in fixed shares of the 256 keys (see `SHARES`), mean zero, never making
a count negative; the order within a row is a fixed shuffle per row. Parameters:
`THRESHOLD`, `MAX_PERTURBATION`, `VARIANCE` (docs/statistics.md).
"""

from __future__ import annotations

import random
import secrets
from functools import cache

RECORD_KEYS = 256  # record and cell keys are 0…255
THRESHOLD = 5  # published values below this are shown as SMALL
MAX_PERTURBATION = 3
# How many of a row's 256 cell keys get each perturbation (symmetric, so the mean is zero).
SHARES = {0: 102, 1: 51, -1: 51, 2: 18, -2: 18, 3: 8, -3: 8}
VARIANCE = sum(p * p * n for p, n in SHARES.items()) / RECORD_KEYS  # 1.52
PTABLE_ROWS = 750  # ONS's layout: values above reuse rows 501–750
SMALL = "<5"


def new_record_key() -> int:
    """A record's key: uniform on 0…255 and unpredictable (the protection rests on it)."""
    return secrets.randbelow(RECORD_KEYS)


def cell_key(key_sum: int) -> int:
    return key_sum % RECORD_KEYS


def table_row(count: int) -> int:
    """The perturbation table's row for a count (ONS: rows 501–750 repeat above 750)."""
    if count <= PTABLE_ROWS:
        return count
    return (count - 1) % 250 + 501


@cache
def perturbations(row: int) -> tuple[int, ...]:
    """The perturbation for each of the 256 cell keys in one row of the table.

    A row for a count below 3 keeps only the perturbations no larger than the count either way
    (none can make it negative, and the row stays symmetric, so its mean is zero), with their
    shares scaled up to 256 keys (rounded down; no perturbation takes what is left).
    """
    allowed = {p: n for p, n in SHARES.items() if abs(p) <= row}
    total = sum(allowed.values())
    counts = {p: n * RECORD_KEYS // total for p, n in allowed.items() if p != 0}
    counts[0] = RECORD_KEYS - sum(counts.values())
    values = [p for p in sorted(counts) for _ in range(counts[p])]
    # A fixed order per row (the table is public, like ONS's; the record keys are the secret).
    random.Random(f"samkons-ptable-{row}").shuffle(values)  # noqa: S311 - a published table
    return tuple(values)


def perturb(count: int, key_sum: int) -> int:
    """The perturbed count of a cell with `count` records whose keys add up to `key_sum`."""
    if count <= 0:
        return 0  # an empty cell: nobody to protect, and nothing to perturb
    return count + perturbations(table_row(count))[cell_key(key_sum)]


def publish(count: int, key_sum: int) -> int | str:
    """What a table shows: 0 for an empty cell, the perturbed count, or SMALL below the
    threshold (a cell with someone in it never shows a value below the threshold)."""
    if count <= 0:
        return 0
    value = perturb(count, key_sum)
    return value if value >= THRESHOLD else SMALL
