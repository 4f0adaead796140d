"""The statistics benchmark runs its real paths on a small SQLite database: rows loaded at the
revision before the summary, the upgrade back-fills it, every timed request answers 200, and
the write costs compare the two revisions."""

from __future__ import annotations

import uuid

import pytest

from bench.stats import report, run_sqlite, write_costs


async def test_a_small_run_loads_upgrades_and_times_every_request() -> None:
    run = await run_sqlite(300, runs=1, keep=False, reuse=False)
    assert run.load is not None and run.load > 0
    assert run.migrate is not None and run.migrate > 0
    names = [name for name in run.timings if not name.startswith("cpu:")]
    assert len(names) == 5
    assert all(len(run.timings[name]) == 1 for name in names)
    text = report(
        300,
        {"SQLite": run},
        {"nproc": "2", "cpu": "x", "ram": "1 GiB", "python": "3", "sqlite": "3", "load": "1.0"},
        {"SQLite": (0.001, 0.002)},
        10,
    )
    assert "| SQLite | Page /statistikk (HTML + SVG) |" in text
    assert "Upgrade to head on SQLite (summary back-fill from 300 rows)" in text
    assert "| SQLite | 1.00 ms | 2.00 ms |" in text


async def test_write_costs_measure_both_revisions_on_both_databases(
    pg_database: str | None,
) -> None:
    if pg_database is None:
        pytest.skip("PostgreSQL not reachable (outside CI)")
    costs = await write_costs(5, pg_name=f"samkons_bench_writes_{uuid.uuid4().hex[:10]}")
    assert set(costs) == {"PostgreSQL", "SQLite"}
    assert all(before > 0 and after > 0 for before, after in costs.values())
