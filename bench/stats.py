"""Benchmark: the evaluators' statistics over 1,000,000 consultations, on SQLite and PostgreSQL.

Generates a year of consultations (growing month by month, all statuses, travel keys, about
one survey per three consultations) with a fast bulk load (COPY on PostgreSQL through asyncpg,
executemany on SQLite), then times the JSON endpoint and the full `/statistikk` page through the
real application. PostgreSQL gets its own database (`samkons_bench_stats`), created and dropped
here; the test database is never touched.

    python bench/stats.py                 # both databases, 1,000,000 consultations
    python bench/stats.py --rows 100000 --only sqlite
    python bench/stats.py --write-docs    # also record the results in docs/benchmarks.md
    python bench/stats.py --keep          # keep the databases (PostgreSQL, var/bench-stats.sqlite3)
    python bench/stats.py --reuse         # time against kept databases, loading only if missing

The rows are loaded at the revision before the statistics summary and the database is then
upgraded to head, so the summary's back-fill migration is timed on the full data set too (the
way an existing deployment would get it).

Participants are not generated: the statistics read only consultations and surveys.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Table, insert, text, update
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.domain.clock import FakeClock
from service.domain.passwords import hash_password
from service.domain.travel.keys import TravelFacts, Traveller, encode_travel_key
from service.http.app import create_app
from service.settings import Settings
from service.storage.engine import make_engine, make_sessionmaker
from service.storage.migrate import alembic_config, upgrade_to_head
from service.storage.models import (
    PATIENT_GROUPS,
    Consultation,
    Department,
    GpOffice,
    Hospital,
    User,
)

PG_ADMIN_DSN = os.environ.get("SAMKONS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BENCH_DB = "samkons_bench_stats"
KEPT_SQLITE = Path(__file__).resolve().parent.parent / "var" / "bench-stats.sqlite3"
SUMMARY_REVISION = "0007"  # the statistics summary, back-filled when the loaded rows upgrade
PASSWORD = "bench-evaluator-password"
NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
YEAR_START = datetime(2025, 1, 1, 7, 0, tzinfo=UTC)
MUNICIPALITIES = ["4631", "4632", "4633", "4634", "4635", "4629", "4630", "4628", "4601"]
MODES = ["car", "car", "car", "bus", "boat", "taxi_pasientreiser", "ambulance"]
LOCATIONS = ["home", "home", "home", "gp_office", "institution"]
STATUSES = ["completed"] * 16 + ["cancelled", "cancelled", "no_show"] + ["confirmed"]
CONSULTATION_COLUMNS = [
    "id",
    "room_id",
    "kind",
    "status",
    "awaiting",
    "revision",
    "gp_id",
    "specialist_id",
    "department_id",
    "booked_by_id",
    "patient_id",
    "patient_present",
    "patient_group",
    "patient_location",
    "purpose",
    "starts_at",
    "ends_at",
    "municipality_number",
    "hospital_id",
    "travel_key",
    "patient_travel_confirmed",
    "relatives_count",
    "interpreters_count",
    "municipal_staff_count",
    "actual_started_at",
    "actual_ended_at",
    "erased_at",
    "created_at",
    "updated_at",
]
SURVEY_COLUMNS = [
    "consultation_id",
    "participant_id",
    "role",
    "language",
    "token_hash",
    "created_at",
    "answered_at",
    "satisfaction",
    "would_travel",
    "physical_visit_needed",
    "free_text",
    "has_free_text",
]


@dataclass(frozen=True)
class World:
    gps: list[tuple[int, str]]  # (user id, office municipality)
    specialists: list[tuple[int, int, int, str]]  # (user id, department, hospital id, code)


async def build_world(url: str) -> World:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            hospitals = [
                Hospital(code="haukeland", name="Haukeland universitetssjukehus"),
                Hospital(code="haraldsplass", name="Haraldsplass diakonale sykehus"),
            ]
            s.add_all(hospitals)
            await s.flush()
            departments = [
                Department(hospital_id=hospitals[i // 4].id, name=f"Avdeling {i}") for i in range(6)
            ]
            offices = [
                GpOffice(name=f"Legekontor {m}", municipality_number=m) for m in MUNICIPALITIES
            ]
            s.add_all([*departments, *offices])
            await s.flush()
            password = hash_password(PASSWORD)

            def user(email: str, role: str, **kw: Any) -> User:
                return User(
                    email=email,
                    name=role,
                    role=role,
                    password_hash=password,
                    language="nn",
                    active=True,
                    created_at=NOW,
                    **kw,
                )

            gps = [user(f"gp{o.id}@bench", "gp", gp_office_id=o.id) for o in offices]
            specialists = [
                user(f"spes{d.id}@bench", "specialist", department_id=d.id) for d in departments
            ]
            s.add_all([*gps, *specialists, user("evaluator@bench", "evaluator")])
            await s.flush()
            code = {h.id: h.code for h in hospitals}
            hospital_of = {d.id: d.hospital_id for d in departments}
            return World(
                gps=[(u.id, MUNICIPALITIES[i]) for i, u in enumerate(gps)],
                specialists=[
                    (
                        u.id,
                        u.department_id or 0,
                        hospital_of[u.department_id or 0],
                        code[hospital_of[u.department_id or 0]],
                    )
                    for u in specialists
                ],
            )
    finally:
        await engine.dispose()


def _travel_key(rng: random.Random, municipality: str, hospital: str) -> str:
    location = rng.choice(LOCATIONS)
    mode = rng.choice(MODES)
    relatives = tuple(
        Traveller("relative", municipality, "car", rng.random() < 0.5)
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2]))
    )
    return encode_travel_key(
        TravelFacts(
            hospital=hospital,
            patient_location=location,  # type: ignore[arg-type]
            local_site_municipality=municipality if location == "gp_office" else None,
            patient=Traveller(
                "patient",
                municipality,
                mode,  # type: ignore[arg-type]
                rng.random() < 0.9,
                rng.random() < 0.2,
                rng.random() < 0.2,
            ),
            relatives=relatives,
        )
    )


def generate(
    world: World, n: int, seed: int = 1
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """Consultation rows (in CONSULTATION_COLUMNS order) with their survey rows."""
    rng = random.Random(seed)
    # A pool of travel keys per (municipality, hospital), as real data would repeat them.
    keys = {
        (m, h): [_travel_key(rng, m, h) for _ in range(40)]
        for m in MUNICIPALITIES
        for h in ("haukeland", "haraldsplass")
    }
    year_minutes = 365 * 24 * 60
    for i in range(n):
        # Growth: more consultations later in the year.
        offset = timedelta(minutes=int(year_minutes * rng.random() ** 0.7))
        start = (YEAR_START + offset).replace(second=0, microsecond=0)
        minutes = rng.choice((30, 30, 45, 60))
        end = start + timedelta(minutes=minutes)
        gp, municipality = rng.choice(world.gps)
        specialist, department, hospital_id, code = rng.choice(world.specialists)
        status = rng.choice(STATUSES)
        kind = "joint" if rng.random() < 0.85 else "guidance"
        completed = status == "completed"
        cid = uuid.UUID(int=rng.getrandbits(128)).hex
        travel_key = rng.choice(keys[(municipality, code)]) if kind == "joint" else None
        relatives = travel_key.count("R:") if travel_key else 0
        confirmed = rng.choice((None, None, True, False)) if completed and travel_key else None
        row = (
            cid,
            f"room-{i}",
            kind,
            status,
            None,
            2,
            gp,
            specialist,
            department,
            gp,
            None,
            kind == "joint",
            rng.choice(PATIENT_GROUPS),
            "home",
            None,
            start,
            end,
            municipality,
            hospital_id,
            travel_key,
            confirmed,
            relatives,
            1 if rng.random() < 0.05 else 0,
            1 if rng.random() < 0.1 else 0,
            start + timedelta(minutes=rng.randint(0, 4)) if completed else None,
            end - timedelta(minutes=rng.randint(0, 8)) if completed else None,
            None,
            start - timedelta(days=14),
            start,
        )
        surveys = []
        if completed and rng.random() < 0.4:
            answered = rng.random() < 0.7
            surveys.append(
                (
                    cid,
                    None,
                    "patient",
                    "nn",
                    uuid.UUID(int=rng.getrandbits(128)).hex * 2,
                    end + timedelta(hours=1),
                    end + timedelta(hours=5) if answered else None,
                    rng.randint(1, 5) if answered else None,
                    rng.choice((True, False, None)) if answered else None,
                    rng.choice((True, False, None)) if answered else None,
                    None,
                    answered and rng.random() < 0.2,
                )
            )
        yield row, surveys


async def load_postgresql(dsn: str, world: World, n: int) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        batch: list[tuple[Any, ...]] = []
        surveys: list[tuple[Any, ...]] = []
        for row, survey_rows in generate(world, n):
            batch.append(row)
            surveys += survey_rows
            if len(batch) == 50_000:
                await conn.copy_records_to_table(
                    "consultations", records=batch, columns=CONSULTATION_COLUMNS
                )
                await conn.copy_records_to_table("surveys", records=surveys, columns=SURVEY_COLUMNS)
                batch, surveys = [], []
        if batch:
            await conn.copy_records_to_table(
                "consultations", records=batch, columns=CONSULTATION_COLUMNS
            )
            await conn.copy_records_to_table("surveys", records=surveys, columns=SURVEY_COLUMNS)
        await conn.execute("VACUUM ANALYZE consultations")
        await conn.execute("VACUUM ANALYZE surveys")
    finally:
        await conn.close()
    return time.perf_counter() - started


def _sqlite_value(value: Any) -> Any:
    # The same text format the UTCDateTime type writes (naive UTC, fixed width).
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def load_sqlite(path: Path, world: World, n: int) -> float:
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        insert_c = (
            f"INSERT INTO consultations ({', '.join(CONSULTATION_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(CONSULTATION_COLUMNS))})"
        )
        insert_s = (
            f"INSERT INTO surveys ({', '.join(SURVEY_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(SURVEY_COLUMNS))})"
        )
        batch: list[tuple[Any, ...]] = []
        surveys: list[tuple[Any, ...]] = []
        for row, survey_rows in generate(world, n):
            batch.append(tuple(_sqlite_value(v) for v in row))
            surveys += [tuple(_sqlite_value(v) for v in s) for s in survey_rows]
            if len(batch) == 50_000:
                conn.executemany(insert_c, batch)
                conn.executemany(insert_s, surveys)
                conn.commit()
                batch, surveys = [], []
        conn.executemany(insert_c, batch)
        conn.executemany(insert_s, surveys)
        conn.commit()
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return time.perf_counter() - started


async def time_writes(url: str, world: World, n: int, *, record_keys: bool = True) -> float:
    """Seconds per consultation for n inserts, then n status changes and n reschedules to the
    next month, one transaction each (what a booking does), through SQLAlchemy. Without
    `record_keys` (a revision before migration 0009) no record key is written."""
    engine = make_engine(url)
    rng = random.Random(3)
    rows = [
        (*row, rng.randrange(256)) if record_keys else row for row, _ in generate(world, n, seed=2)
    ]
    columns = [*CONSULTATION_COLUMNS, *(["record_key"] if record_keys else [])]
    model = Consultation.__table__
    assert isinstance(model, Table)
    # Only the columns the revision has, with the model's types (and none of its defaults).
    table = sa_table("consultations", *(sa_column(c, model.c[c].type) for c in columns))
    try:
        started = time.perf_counter()
        for row in rows:
            async with engine.begin() as conn:
                await conn.execute(insert(table).values(dict(zip(columns, row, strict=True))))
        for row in rows:
            values = dict(zip(columns, row, strict=True))
            async with engine.begin() as conn:
                await conn.execute(
                    update(table).where(table.c.id == values["id"]).values(status="cancelled")
                )
            async with engine.begin() as conn:
                await conn.execute(
                    update(table)
                    .where(table.c.id == values["id"])
                    .values(
                        starts_at=values["starts_at"] + timedelta(days=31),
                        ends_at=values["ends_at"] + timedelta(days=31),
                    )
                )
        return (time.perf_counter() - started) / n
    finally:
        await engine.dispose()


async def write_costs(
    n: int, pg_name: str = f"{BENCH_DB}_writes"
) -> dict[str, tuple[float, float]]:
    """Per consultation written: (without the summary, with it), on a small fresh database."""
    results: dict[str, tuple[float, float]] = {}
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        for database in ("PostgreSQL", "SQLite"):
            costs = []
            for revision in ("before", "head"):
                directory = tempfile.mkdtemp()
                if database == "PostgreSQL":
                    name = pg_name
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    await admin.execute(f'CREATE DATABASE "{name}"')
                    url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
                else:
                    url = f"sqlite+aiosqlite:///{Path(directory) / 'writes.sqlite3'}"
                target = load_revision(url) if revision == "before" else "head"
                await asyncio.to_thread(command.upgrade, alembic_config(url), target)
                world = await build_world(url)
                costs.append(await time_writes(url, world, n, record_keys=revision == "head"))
                if database == "PostgreSQL":
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                else:
                    await asyncio.to_thread(_remove_sqlite, Path(directory) / "writes.sqlite3")
            results[database] = (costs[0], costs[1])
    finally:
        await admin.close()
    return results


async def time_requests(url: str, runs: int) -> dict[str, list[float]]:
    settings = Settings(mode="test", database_url=url, scheduler_enabled=False)
    app = create_app(settings, clock=FakeClock(NOW))
    timings: dict[str, list[float]] = {}
    async with TestClient(TestServer(app)) as client:
        resp = await client.post(
            "/api/v1/session", json={"email": "evaluator@bench", "password": PASSWORD}
        )
        assert resp.status == 200, await resp.text()
        for name, path in (
            ("JSON, 12 months by month", "/api/v1/statistics?from=2025-01&to=2025-12"),
            ("JSON, by quarter", "/api/v1/statistics?from=2025-01&to=2025-12&group_by=quarter"),
            (
                "JSON, one municipality",
                "/api/v1/statistics?from=2025-01&to=2025-12&municipality=4633",
            ),
            ("Page /statistikk (HTML + SVG)", "/statistikk?from=2025-01&to=2025-12"),
            ("CSV", "/api/v1/statistics.csv?from=2025-01&to=2025-12"),
        ):
            samples, cpu = [], []
            for _ in range(runs):
                started, cpu_started = time.perf_counter(), time.process_time()
                resp = await client.get(path)
                await resp.read()
                samples.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
                assert resp.status == 200, (path, resp.status)
            timings[name] = samples
            timings[f"cpu:{name}"] = cpu
    return timings


def machine() -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as handle:
        kb = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def load_revision(url: str) -> str:
    """The revision before the statistics summary: rows are loaded there, then upgraded."""
    revision = ScriptDirectory.from_config(alembic_config(url)).get_revision(SUMMARY_REVISION)
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


def migrate_to_head(url: str) -> float:
    started = time.perf_counter()
    upgrade_to_head(url)
    return time.perf_counter() - started


@dataclass
class Run:
    load: float | None  # None: an existing database was reused
    migrate: float | None  # the upgrade to head, with the summary back-fill; None if at head
    timings: dict[str, list[float]]


async def _scalar(url: str, sql: str) -> object:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar()
    finally:
        await engine.dispose()


async def _revision(url: str) -> str:
    return str(await _scalar(url, "SELECT version_num FROM alembic_version"))


async def _rows(url: str) -> int:
    return int(str(await _scalar(url, "SELECT count(*) FROM consultations")))


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def _prepare(url: str, n: int, load: Any, head_revision: str) -> Run:
    """Load at the revision before the summary (unless reused), then upgrade and time."""
    load_seconds = None
    if load is not None:
        await asyncio.to_thread(command.upgrade, alembic_config(url), load_revision(url))
        world = await build_world(url)
        load_seconds = await load(world)
    migrate = None
    if await _revision(url) != head_revision:
        migrate = await asyncio.to_thread(migrate_to_head, url)
    return Run(load_seconds, migrate, {})


async def run_postgresql(n: int, runs: int, keep: bool, reuse: bool) -> tuple[Run, str]:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    version = str(await admin.fetchval("SHOW server_version"))
    exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", BENCH_DB)
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{BENCH_DB}"
    fresh = not (reuse and exists and await _rows(url) == n)
    if fresh:
        await admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{BENCH_DB}"')
    await admin.close()

    async def load(world: World) -> float:
        return await load_postgresql(f"{base}/{BENCH_DB}", world, n)

    try:
        run = await _prepare(url, n, load if fresh else None, head(url))
        run.timings = await time_requests(url, runs)
    finally:
        if not keep:
            admin = await asyncpg.connect(PG_ADMIN_DSN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
            await admin.close()
    return run, version


async def run_sqlite(n: int, runs: int, keep: bool, reuse: bool) -> Run:
    path = KEPT_SQLITE if keep or reuse else Path(tempfile.mkdtemp()) / "bench.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    fresh = not (reuse and KEPT_SQLITE.exists() and await _rows(url) == n)
    if fresh:
        path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(_remove_sqlite, path)

    async def load(world: World) -> float:
        return await asyncio.to_thread(load_sqlite, path, world, n)

    try:
        run = await _prepare(url, n, load if fresh else None, head(url))
        run.timings = await time_requests(url, runs)
    finally:
        if not keep:
            await asyncio.to_thread(_remove_sqlite, path)
    return run


def head(url: str) -> str:
    found = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert found is not None
    return found


def report(
    n: int,
    results: dict[str, Run],
    info: dict[str, str],
    writes: dict[str, tuple[float, float]],
    write_count: int,
) -> str:
    lines = [
        "## Statistics",
        "",
        f"`bench/stats.py`: {n:,} consultations over one year (growing month by month; every "
        "status; travel keys from a pool of 720; about 0.3 surveys each), loaded at the "
        "revision before the statistics summary and then upgraded (the summary's back-fill), "
        "then each request timed through the real application (aiohttp test server, logged in "
        "as an evaluator). CPU is this process's (aiohttp, the statistics code, the client), "
        "not the database server's.",
        "",
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['ram']} RAM; Python "
        f"{info['python']}, SQLite {info['sqlite']}"
        + (f", PostgreSQL {info['postgresql']}" if "postgresql" in info else "")
        + f"; run {datetime.now(UTC).date().isoformat()}. Load average (1 min): "
        f"{info['load']}; the machine is shared, so judge by CPU and by ratios within a run.",
        "",
        "| database | request | median | min | max | CPU (median) |",
        "|---|---|---|---|---|---|",
    ]
    for database, run in results.items():
        for name, samples in run.timings.items():
            if name.startswith("cpu:"):
                continue
            cpu = run.timings[f"cpu:{name}"]
            lines.append(
                f"| {database} | {name} | {statistics.median(samples):.3f} s | "
                f"{min(samples):.3f} s | {max(samples):.3f} s | {statistics.median(cpu):.3f} s |"
            )
    lines += [""]
    for database, run in results.items():
        if run.load is not None:
            lines.append(f"- Bulk load on {database}: {run.load:.0f} s.")
        if run.migrate is not None:
            lines.append(
                f"- Upgrade to head on {database} (summary back-fill from {n:,} rows): "
                f"{run.migrate:.0f} s."
            )
    if writes:
        lines += [
            "",
            f"What the summary's triggers cost on writes ({write_count:,} consultations, each "
            "inserted, then cancelled, then moved a month on, one transaction each, on a fresh "
            "database):",
            "",
            "| database | per consultation, without the summary | with it |",
            "|---|---|---|",
        ]
        for database, (before, after) in writes.items():
            lines.append(f"| {database} | {before * 1000:.2f} ms | {after * 1000:.2f} ms |")
    lines += [
        "",
        "Target: under one second for the full page on PostgreSQL.",
        "",
    ]
    return "\n".join(lines)


def write_docs(text: str) -> None:
    path = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(r"^## Statistics\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(current):
        updated = pattern.sub(text, current)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    path.write_text(updated, encoding="utf-8")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse kept databases of --rows")
    parser.add_argument("--writes", type=int, default=1000, help="consultations for write costs")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    info = machine()
    load_at_start = os.getloadavg()[0]
    results: dict[str, Run] = {}
    if args.only in (None, "postgresql"):
        run, version = await run_postgresql(args.rows, args.runs, args.keep, args.reuse)
        info["postgresql"] = version
        results["PostgreSQL"] = run
    if args.only in (None, "sqlite"):
        results["SQLite"] = await run_sqlite(args.rows, args.runs, args.keep, args.reuse)
    writes = await write_costs(args.writes) if args.writes else {}
    info["load"] = f"{load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    text = report(args.rows, results, info, writes, args.writes)
    print(text)
    if args.write_docs:
        write_docs(text)


if __name__ == "__main__":
    asyncio.run(main())
