"""Booking benchmark: slot search and bookings per second with 10,000 existing consultations.

Usage: python bench/booking.py [--db sqlite|postgresql|both] [--bookings N] [--rounds N]
                              [--profile FILE]

Builds a fresh database (a temporary SQLite file, or a PostgreSQL database it creates and drops),
fills it with 10,000 consultations, then measures through a real HTTP server on 127.0.0.1:
- the common free slots of a GP and a specialist over four weeks (GET /api/v1/slots), and the
  same search as a direct call of the domain function;
- bookings per second (POST /api/v1/consultations) from concurrent clients.

Besides wall-clock numbers it reports the server's CPU time and SQL statements per booking,
which hold steady when other work shares the machine. `--profile FILE` writes a cProfile of
the server during the booking phase (read it with `python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import multiprocessing
import os
import platform
import random
import statistics
import sys
import tempfile
import time as timer
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from sqlalchemy import event, insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.domain.actor import Actor
from service.domain.clock import FakeClock
from service.domain.passwords import hash_password
from service.http import appkeys
from service.http.accesslog import RedactingAccessLogger, access_logger
from service.http.app import create_app
from service.http.runtime import tune_garbage_collector
from service.settings import Settings
from service.storage.engine import make_engine, make_sessionmaker
from service.storage.migrate import upgrade_to_head
from service.storage.models import (
    Booking,
    Consultation,
    Department,
    GpOffice,
    Hospital,
    Patient,
    User,
    WorkingHours,
)
from service.usecases.booking import SlotQuery, find_slots

EXISTING = 10_000
GPS = 100
SPECIALISTS = 100
PASSWORD = "bench-password-123"
NOW = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)  # Monday 08:00 Oslo
OSLO_OFFSET = timedelta(hours=1)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        mem = "unknown RAM"
    return f"{os.cpu_count()} cores, {cpu}, {mem}, Python {platform.python_version()}"


async def populate(url: str, new_patients: int = 2000) -> None:
    """10,000 consultations over a year around NOW, with their held times, and `new_patients`
    patients with nothing booked yet (one per booking the benchmark makes)."""
    rng = random.Random(7)
    engine = make_engine(url)
    db = make_sessionmaker(engine)
    pw = hash_password(PASSWORD)
    async with db() as s, s.begin():
        hospital = Hospital(code="haukeland", name="Haukeland universitetssjukehus")
        s.add(hospital)
        await s.flush()
        dept = Department(hospital_id=hospital.id, name="Bench")
        office = GpOffice(name="Bench legekontor", municipality_number="4631")
        s.add_all([dept, office])
        await s.flush()
        users = [
            {
                "email": f"gp{i}@bench.no",
                "name": f"GP {i}",
                "role": "gp",
                "gp_office_id": office.id,
                "department_id": None,
            }
            for i in range(GPS)
        ] + [
            {
                "email": f"sp{i}@bench.no",
                "name": f"Spes {i}",
                "role": "specialist",
                "gp_office_id": None,
                "department_id": dept.id,
            }
            for i in range(SPECIALISTS)
        ]
        await s.execute(
            insert(User),
            [
                {**u, "password_hash": pw, "language": "nn", "active": True, "created_at": NOW}
                for u in users
            ],
        )
        await s.execute(
            insert(Patient),
            [
                {
                    "gp_office_id": office.id,
                    "name": f"P {i}",
                    "postal_code": "5914",
                    "language": "nn",
                    "created_at": NOW,
                }
                for i in range(EXISTING + new_patients)
            ],
        )
        await s.execute(
            insert(WorkingHours),
            [
                {"user_id": uid, "weekday": d, "start_time": time(8), "end_time": time(16)}
                for uid in range(1, GPS + SPECIALISTS + 1)
                for d in range(5)
            ],
        )
        # Existing consultations: each on a distinct (gp, specialist, slot) so nothing overlaps.
        slots_per_day = 16
        rows: list[dict[str, Any]] = []
        holds: list[dict[str, Any]] = []
        for n in range(EXISTING):
            gp = n % GPS + 1
            sp = GPS + (n * 7) % SPECIALISTS + 1
            k = n // GPS  # the n-th consultation of this GP
            # Spread over -180..+40 days: the benchmark's bookings go in weeks 7-8, inside the
            # booking horizon (56 days) and clear of these.
            day = -180 + (k * 11) % 221
            start_day = (NOW + timedelta(days=day)).date()
            while start_day.weekday() > 4:
                start_day -= timedelta(days=2)
            slot = (k * 5 + rng.randint(0, 1)) % slots_per_day
            start = datetime.combine(start_day, time(8), UTC) - OSLO_OFFSET
            start += timedelta(minutes=30 * slot)
            cid = f"{n:032x}"
            rows.append(
                {
                    "id": cid,
                    "room_id": cid,
                    "kind": "joint",
                    "status": "confirmed",
                    "awaiting": None,
                    "revision": 1,
                    "gp_id": gp,
                    "specialist_id": sp,
                    "department_id": dept.id,
                    "booked_by_id": gp,
                    "patient_id": n + 1,
                    "patient_present": True,
                    "patient_group": "other",
                    "patient_location": "home",
                    "purpose": None,
                    "starts_at": start,
                    "ends_at": start + timedelta(minutes=30),
                    "municipality_number": "4631",
                    "hospital_id": hospital.id,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            for resource in (f"user:{gp}", f"user:{sp}", f"patient:{n + 1}"):
                holds.append(
                    {
                        "consultation_id": cid,
                        "resource": resource,
                        "starts_at": start,
                        "ends_at": start + timedelta(minutes=30),
                        "active": True,
                    }
                )
        await s.execute(insert(Consultation), rows)
        # Holds that would overlap are dropped: the database refuses them anyway.
        seen: dict[str, list[tuple[datetime, datetime]]] = {}
        kept = []
        for h in holds:
            spans = seen.setdefault(h["resource"], [])
            if any(a < h["ends_at"] and h["starts_at"] < b for a, b in spans):
                continue
            spans.append((h["starts_at"], h["ends_at"]))
            kept.append(h)
        await s.execute(insert(Booking), kept)
    await engine.dispose()


async def bench_slots(url: str, base: str, rounds: int) -> dict[str, float]:
    settings = Settings(mode="test", database_url=url)
    engine = make_engine(url)
    db = make_sessionmaker(engine)
    actor = Actor(
        user_id=1, role="gp", name="GP 0", language="nn", gp_office_id=1, department_id=None
    )
    clock = FakeClock(NOW)
    query = SlotQuery(
        department_id=1,
        specialist_id=GPS + 1,
        patient_id=1,
        window_start=NOW,
        window_end=NOW + timedelta(days=28),
        duration=timedelta(minutes=30),
    )
    direct = []
    for _ in range(rounds):
        t0 = timer.perf_counter()
        slots = await find_slots(db, actor, clock, settings, query)
        direct.append((timer.perf_counter() - t0) * 1000)
    await engine.dispose()
    assert slots, "the slot search found nothing: the benchmark data is wrong"

    http = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await _login(session, base, "gp0@bench.no")
        params = {
            "department_id": "1",
            "specialist_id": str(GPS + 1),
            "patient_id": "1",
            "days": "28",
        }
        for _ in range(rounds):
            t0 = timer.perf_counter()
            async with session.get(f"{base}/api/v1/slots", params=params) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()
            http.append((timer.perf_counter() - t0) * 1000)
    return {
        "slots_found": len(slots),
        "direct_median_ms": statistics.median(direct),
        "direct_p95_ms": statistics.quantiles(direct, n=20)[-1],
        "http_median_ms": statistics.median(http),
        "http_p95_ms": statistics.quantiles(http, n=20)[-1],
    }


async def _login(session: aiohttp.ClientSession, base: str, email: str) -> str:
    async with session.post(
        f"{base}/api/v1/session", json={"email": email, "password": PASSWORD}
    ) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["csrf_token"])


def _free_slot(j: int) -> datetime:
    """The j-th half-hour on weekdays from week 7 on, 08:00-16:00 Oslo (winter time); up to
    160 of them stay inside the booking horizon."""
    weekday_index, slot = divmod(j, 16)
    weeks, day_in_week = divmod(weekday_index, 5)
    monday = (NOW + timedelta(days=42)).date()
    monday -= timedelta(days=monday.weekday())
    day = monday + timedelta(weeks=weeks, days=day_in_week)
    return datetime.combine(day, time(8), UTC) - OSLO_OFFSET + timedelta(minutes=30 * slot)


def _client_process(base: str, total: int, concurrency: int, out: Any) -> None:
    out.put(asyncio.run(bench_bookings(base, total, concurrency, lambda: out.put("logged in"))))


async def bookings_from_another_process(
    base: str, total: int, concurrency: int, on_start: Callable[[], None] = lambda: None
) -> dict[str, float]:
    """Run the load generator in its own process, so it does not share the server's CPU.

    `on_start` runs in this process when the clients are logged in and start booking.
    """
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_client_process, args=(base, total, concurrency, out))
    proc.start()
    assert await asyncio.to_thread(out.get) == "logged in"
    on_start()
    result: dict[str, float] = await asyncio.to_thread(out.get)
    await asyncio.to_thread(proc.join)
    return result


async def bench_bookings(
    base: str, total: int, concurrency: int, logged_in: Callable[[], None]
) -> dict[str, float]:
    """`concurrency` GPs book in parallel, each into free slots of its own from week 7.

    Every GP logs in first; the clock starts when all are logged in, so the measurement is of
    bookings only (a login verifies an Argon2 hash, deliberately slow).
    """
    per_client = total // concurrency
    sessions = [
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) for _ in range(concurrency)
    ]
    try:
        tokens = await asyncio.gather(
            *(_login(s, base, f"gp{i}@bench.no") for i, s in enumerate(sessions))
        )

        async def one_gp(i: int) -> tuple[int, int]:
            ok = refused = 0
            for j in range(per_client):
                start = _free_slot(j)
                body = {
                    "department_id": 1,
                    "specialist_id": GPS + i + 1,
                    "patient_id": EXISTING + 1 + i * per_client + j,
                    "patient_group": "other",
                    "starts_at": start.isoformat(),
                    "duration_minutes": 30,
                }
                async with sessions[i].post(
                    f"{base}/api/v1/consultations", json=body, headers={"X-CSRF-Token": tokens[i]}
                ) as resp:
                    await resp.read()
                    if resp.status == 201:
                        ok += 1
                    else:
                        refused += 1
            return ok, refused

        logged_in()
        t0 = timer.perf_counter()
        results = await asyncio.gather(*(one_gp(i) for i in range(concurrency)))
        elapsed = timer.perf_counter() - t0
    finally:
        for s in sessions:
            await s.close()
    ok = sum(r[0] for r in results)
    refused = sum(r[1] for r in results)
    return {"booked": ok, "refused": refused, "seconds": elapsed, "per_second": ok / elapsed}


async def run(kind: str, bookings: int, rounds: int, profile: str | None) -> dict[str, object]:
    tmp = tempfile.TemporaryDirectory()
    pg_name = f"samkons_bench_{os.getpid()}"
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    else:
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        await conn.execute(f'CREATE DATABASE "{pg_name}"')
        await conn.close()
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_name}"
    try:
        await asyncio.to_thread(upgrade_to_head, url)
        await populate(url, new_patients=bookings)
        settings = Settings(
            mode="test",
            database_url=url,
            scheduler_enabled=False,
            login_attempts_per_address=10_000,
        )
        app = create_app(settings, clock=FakeClock(NOW))
        # As `samkons serve` runs: the collector tuned and every request in the access log
        # (here to a file; the service writes it to stderr).
        tune_garbage_collector(settings.gc_young_threshold)
        logging.basicConfig(
            filename=Path(tmp.name) / "access.log",
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
            force=True,
        )
        runner = web.AppRunner(
            app, access_log=access_logger(), access_log_class=RedactingAccessLogger
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        statements = 0

        def count(*_: object) -> None:
            nonlocal statements
            statements += 1

        event.listen(app[appkeys.ENGINE].sync_engine, "before_cursor_execute", count)
        try:
            slots = await bench_slots(url, base, rounds)
            profiler = cProfile.Profile() if profile else None
            cpu0 = 0.0

            def start_counting() -> None:
                nonlocal statements, cpu0
                statements, cpu0 = 0, timer.process_time()
                if profiler:
                    profiler.enable()

            booking = await bookings_from_another_process(
                base, bookings, concurrency=20, on_start=start_counting
            )
            if profiler:
                profiler.disable()
                profiler.dump_stats(f"{profile}.{kind}")
            cpu = timer.process_time() - cpu0
        finally:
            await runner.cleanup()
        per_booking = {
            "cpu_ms_per_booking": cpu * 1000 / max(booking["booked"], 1),
            "statements_per_booking": statements / max(booking["booked"], 1),
        }
        return {"database": kind, **slots, **booking, **per_booking}
    finally:
        if kind == "postgresql":
            conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
            await conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await conn.close()
        tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--profile", metavar="FILE", help="cProfile the server while booking")
    args = parser.parse_args()
    if args.bookings > 20 * 160:
        parser.error("at most 3200 bookings fit in the free slots inside the booking horizon")
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(f"Machine: {machine()}")
    print(f"Existing consultations: {EXISTING}")
    for kind in kinds:
        r = asyncio.run(run(kind, args.bookings, args.rounds, args.profile))
        print(
            f"{r['database']:>10}: slots over 4 weeks ({r['slots_found']} found): "
            f"direct median {r['direct_median_ms']:.1f} ms (p95 {r['direct_p95_ms']:.1f}), "
            f"HTTP median {r['http_median_ms']:.1f} ms (p95 {r['http_p95_ms']:.1f}); "
            f"bookings: {r['booked']} in {r['seconds']:.2f} s = {r['per_second']:.0f}/s "
            f"({r['refused']} refused); server CPU {r['cpu_ms_per_booking']:.1f} ms and "
            f"{r['statements_per_booking']:.1f} SQL statements per booking"
        )


if __name__ == "__main__":
    main()
