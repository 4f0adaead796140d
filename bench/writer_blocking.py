"""Benchmark: does an acceptance block other writers while it renders its mails?

An acceptance writes about 15 mails (invites and reminders for five participants); rendering
them takes some 180 ms. While a transaction holds SQLite's write lock, every other writer
waits, so the question is how long another writer takes while acceptances run.

What runs, on a fresh database (a temporary SQLite file, or a PostgreSQL database it creates
and drops), set up as the application sets it up (`make_database`: on SQLite one write
connection, the writers queue for it): a GP books `--consultations` consultations with a
relative and an interpreter, then

1. *quiet*: the other writer alone, `--probes` times: the GP reads a consultation, which writes
   its audit record (`booking.read`), a writer like every page view;
2. *during acceptances*: the specialist accepts every consultation one after another while the
   other writer runs in a loop beside them, one probe every 10 ms.

It reports the other writer's latency (median, p95, max) in both phases and the acceptances'
own time. That writer shares the acceptances' process, so its latency also counts the time the
rendering thread holds the interpreter. On SQLite a second writer runs in a process of its own
as well (another server process on the same file would be one): it writes an audit record
directly with sqlite3 (BEGIN IMMEDIATE, INSERT, COMMIT) every 10 ms, so its latency is the
database lock alone. Run it on the old code too, from a worktree of that commit:
`git worktree add /tmp/old 8285d5a && cp bench/writer_blocking.py /tmp/old/bench/ &&
(cd /tmp/old && python -m bench.writer_blocking --label before)`.

Run: `python -m bench.writer_blocking [--db sqlite|postgresql|both] [--consultations N]
[--probes N] [--label TEXT]`. Prints one table row per database.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from bench.invites import REFERENCE, _weekday_slots, _world
from service.domain.clock import FakeClock
from service.domain.schemas import AcceptInput, BookingInput, PersonInput
from service.settings import Settings
from service.storage.engine import make_database, make_sessionmaker
from service.storage.migrate import upgrade_to_head_async
from service.usecases import booking

OSLO = ZoneInfo("Europe/Oslo")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PROBE_GAP = 0.01


def _other_process_writer(path: str, stop: Any, out: Any) -> None:
    """Runs in its own process: audit records straight into the SQLite file until `stop`."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    latencies: list[float] = []
    try:
        while not stop.is_set():
            began = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO audit_log (at, actor_role, action) VALUES (?, 'system', 'bench')",
                (datetime.now(UTC).isoformat(),),
            )
            conn.execute("COMMIT")
            latencies.append(time.perf_counter() - began)
            time.sleep(PROBE_GAP)
    finally:
        conn.close()
        out.put(latencies or [0.0])


def _summary(latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{statistics.median(ms):.1f} / {p95:.1f} / {ms[-1]:.1f} ms"


async def run(url: str, consultations: int, probes: int, folder: Path) -> tuple[str, str, str, str]:
    await upgrade_to_head_async(url)
    settings = Settings(mode="test", database_url=url, outbox_dir=folder / "outbox")
    database = make_database(url)
    db = make_sessionmaker(database.writes)
    clock = FakeClock(datetime(2026, 1, 5, 6, 0, tzinfo=UTC))
    try:
        gp, specialist, patient_id, department_id = await _world(db)
        booked = []
        for start in _weekday_slots(datetime(2026, 1, 6, tzinfo=OSLO), consultations):
            c = await booking.book(
                db,
                gp,
                clock,
                settings,
                BookingInput(
                    department_id=department_id,
                    specialist_id=specialist.user_id,
                    patient_id=patient_id,
                    relatives=[PersonInput(name="Dotter Pasientsen", email="d@heime.example")],
                    interpreter=PersonInput(name="Tariq Tolk", email="t@tolk.example"),
                    patient_group="frail_elderly",
                    starts_at=start,
                    duration_minutes=30,
                ),
                reference=REFERENCE,
            )
            booked.append(c.id)

        async def probe() -> float:
            began = time.perf_counter()
            await booking.read(db, gp, clock, booked[0])
            return time.perf_counter() - began

        quiet = [await probe() for _ in range(probes)]
        accepting = True
        during: list[float] = []

        async def prober() -> None:
            while accepting:
                during.append(await probe())
                await asyncio.sleep(PROBE_GAP)

        probing = asyncio.create_task(prober())
        context = multiprocessing.get_context("spawn")
        stop, out = context.Event(), context.Queue()
        other = None
        if url.startswith("sqlite"):
            path = url.split("///", 1)[1]
            other = context.Process(target=_other_process_writer, args=(path, stop, out))
            other.start()
            await asyncio.sleep(1)  # the process is up and writing before acceptances begin
        accept_times = []
        for cid in booked:
            began = time.perf_counter()
            await booking.accept(db, specialist, clock, settings, cid, AcceptInput())
            accept_times.append(time.perf_counter() - began)
        accepting = False
        await probing
        elsewhere = "–"
        if other is not None:
            stop.set()
            elsewhere = _summary(await asyncio.to_thread(out.get))
            other.join()
    finally:
        await database.dispose()
    return _summary(quiet), _summary(during), elsewhere, _summary(accept_times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--consultations", type=int, default=20)
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--label", default="this code")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(
        "| code | database | other writer, quiet (median / p95 / max) "
        "| other writer, during acceptances | other process's writer, during acceptances "
        "| one acceptance |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for kind in kinds:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            pg_name = f"samkons_bench_{uuid.uuid4().hex[:8]}"
            if kind == "sqlite":
                url = f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"
            else:
                conn = await asyncpg.connect(PG_ADMIN)
                await conn.execute(f'CREATE DATABASE "{pg_name}"')
                await conn.close()
                url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_name}"
            try:
                quiet, during, elsewhere, accept = await run(
                    url, args.consultations, args.probes, folder
                )
            finally:
                if kind == "postgresql":
                    conn = await asyncpg.connect(PG_ADMIN)
                    await conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
                    await conn.close()
            print(
                f"| {args.label} | {kind} | {quiet} | {during} | {elsewhere} | {accept} |",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
