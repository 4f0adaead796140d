"""The race harness runs its scenarios against a served app on a small SQLite database: every
request is answered and counted, refusals are 409 problems, nothing overlaps, the same new
patient is created once, and the table names every scenario."""

from __future__ import annotations

import pytest

from bench.race import SCENARIOS, fnr_for, run
from service.domain.fnr import validate_fnr


def test_generated_fodselsnummer_are_valid() -> None:
    for week in range(1, 8):
        number = fnr_for(1 + week, 2, 1950, 100 + week)
        assert validate_fnr(number) == number


@pytest.mark.slow
async def test_a_small_round_on_sqlite() -> None:
    table = await run("sqlite", clients=10, rounds=1)
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.count("|") > 8}
    for name in SCENARIOS:
        cells = [c.strip() for c in rows[name].split("|")[1:-1]]
        requests, ok, conflict, other, server, bare, overlaps = map(int, cells[1:])
        assert requests == ok + conflict + other + server == 10
        assert (server, other, bare, overlaps) == (0, 0, 0, 0), rows[name]
    assert "New patients created per round (must be 1): [1]" in table
