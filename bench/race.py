"""Race harness: N concurrent HTTP clients per scenario against a served app, then a check of
the database for overlapping consultations.

Usage: python bench/race.py [--db sqlite|postgresql|both] [--clients N] [--rounds N]

Each round serves a fresh database (a temporary SQLite file, or a PostgreSQL database it
creates and drops) on 127.0.0.1 and runs, each scenario on a day of its own in week `round`:

- same specialist: N GPs book one specialist at one time, each for a patient of their own;
- same patient: N GPs book one patient at one time, each with another specialist;
- same new patient: N GPs register the same new patient (one fødselsnummer) at N different
  times: the patient must be created once, and every booking can succeed;
- accept vs reschedule vs book: a coordinator accepts N/5 department requests naming one
  specialist while N/10 of that specialist's confirmed consultations are moved onto the same
  times and the remaining clients book that specialist at partly overlapping times;
- mixed lengths: N GPs book one specialist at starts 10 minutes apart with lengths from 10 to
  60 minutes (partial overlaps).

Every answer is counted as 2xx, 409, other 4xx or 5xx; a 409 must carry a problem+json body.
Afterwards every active consultation (requested, confirmed, in progress) is compared with every
other: two of the same specialist, patient or GP whose times overlap count as an overlap, which
must never happen. Prints a markdown table per database.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import partial
from itertools import combinations
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
from aiohttp import web
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.domain.clock import FakeClock
from service.domain.passwords import hash_password
from service.http.app import create_app
from service.http.logs import configure_logging
from service.settings import Settings
from service.storage.engine import make_engine, make_sessionmaker
from service.storage.migrate import upgrade_to_head
from service.storage.models import (
    Consultation,
    Department,
    GpOffice,
    Hospital,
    Patient,
    User,
    WorkingHours,
)

PG_ADMIN = os.environ.get("SAMKONS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "race-password-123"
OSLO = ZoneInfo("Europe/Oslo")
NOW = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)  # Monday 08:00 in Oslo
SPECIALISTS = 10
ACTIVE = ("requested", "confirmed", "in_progress")
SCENARIOS = (
    "same specialist",
    "same patient",
    "same new patient",
    "accept vs reschedule vs book",
    "mixed lengths",
)


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    bare_409: int = 0  # refusals without a problem body

    def add(self, status: int, content_type: str) -> None:
        if 200 <= status < 300:
            self.counts["2xx"] += 1
        elif status == 409:
            self.counts["409"] += 1
            if content_type != "application/problem+json":
                self.bare_409 += 1
        elif status >= 500:
            self.counts["5xx"] += 1
        else:
            self.counts["4xx"] += 1


@dataclass
class World:
    office: int
    department: int
    gps: list[int]
    specialists: list[int]
    patients: list[int]  # one per GP; the last one is shared by "same patient"
    shared_patient: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fnr_for(day: int, month: int, year: int, individual: int) -> str:
    """A valid fødselsnummer (both mod-11 control digits) for a birth date in 1900-1999."""
    digits = [int(c) for c in f"{day:02d}{month:02d}{year % 100:02d}{individual:03d}"]
    k1 = 11 - sum(w * d for w, d in zip((3, 7, 6, 1, 8, 9, 4, 5, 2), digits, strict=True)) % 11
    k1 = 0 if k1 == 11 else k1
    digits.append(k1)
    k2 = 11 - sum(w * d for w, d in zip((5, 4, 3, 2, 7, 6, 5, 4, 3, 2), digits, strict=True)) % 11
    k2 = 0 if k2 == 11 else k2
    if k1 == 10 or k2 == 10:
        return fnr_for(day, month, year, individual + 1)
    return "".join(map(str, digits)) + str(k2)


async def populate(url: str, clients: int) -> World:
    engine = make_engine(url)
    db = make_sessionmaker(engine)
    pw = hash_password(PASSWORD)

    def user(email: str, role: str, **kw: Any) -> User:
        return User(
            email=email,
            name=email.split("@")[0],
            role=role,
            password_hash=pw,
            language="nn",
            active=True,
            created_at=NOW,
            **kw,
        )

    try:
        async with db() as s, s.begin():
            hospital = Hospital(code="haukeland", name="Haukeland universitetssjukehus")
            s.add(hospital)
            await s.flush()
            dept = Department(hospital_id=hospital.id, name="Race")
            office = GpOffice(name="Race legekontor", municipality_number="4631")
            s.add_all([dept, office])
            await s.flush()
            gps = [user(f"gp{i}@race.no", "gp", gp_office_id=office.id) for i in range(clients)]
            specialists = [
                user(f"sp{i}@race.no", "specialist", department_id=dept.id)
                for i in range(SPECIALISTS)
            ]
            coordinator = user("koord@race.no", "coordinator", department_id=dept.id)
            s.add_all([*gps, *specialists, coordinator])
            patients = [
                Patient(
                    gp_office_id=office.id,
                    name=f"P {i}",
                    postal_code="5914",
                    language="nn",
                    created_at=NOW,
                )
                for i in range(clients + 1)
            ]
            s.add_all(patients)
            await s.flush()
            s.add_all(
                WorkingHours(user_id=u.id, weekday=d, start_time=time(8), end_time=time(16))
                for u in [*gps, *specialists]
                for d in range(5)
            )
            return World(
                office=office.id,
                department=dept.id,
                gps=[u.id for u in gps],
                specialists=[u.id for u in specialists],
                patients=[p.id for p in patients[:clients]],
                shared_patient=patients[clients].id,
            )
    finally:
        await engine.dispose()


class Api:
    """One logged-in browser: its own cookies and CSRF token."""

    def __init__(self, base: str, session: aiohttp.ClientSession, csrf: str) -> None:
        self.base, self.session, self.csrf = base, session, csrf

    @classmethod
    async def login(cls, base: str, email: str) -> Api:
        # unsafe: the server is at an IP address, whose cookies the default jar ignores.
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with session.post(
            f"{base}/api/v1/session", json={"email": email, "password": PASSWORD}
        ) as resp:
            assert resp.status == 200, await resp.text()
            csrf = (await resp.json())["csrf_token"]
        return cls(base, session, csrf)

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, str, Any]:
        async with self.session.post(
            f"{self.base}{path}", json=body, headers={"X-CSRF-Token": self.csrf}
        ) as resp:
            payload = await resp.json(content_type=None)
            return resp.status, resp.content_type, payload

    async def close(self) -> None:
        await self.session.close()


def at(week: int, weekday: int, hour: int, minute: int = 0) -> str:
    """A time in Oslo, `weekday` days after the Monday of week `week` (week 0 is NOW's)."""
    day = (NOW.astimezone(OSLO) + timedelta(weeks=week, days=weekday)).date()
    return (datetime.combine(day, time(hour), OSLO) + timedelta(minutes=minute)).isoformat()


def booking(
    world: World,
    starts_at: str,
    *,
    patient_id: int | None,
    specialist_id: int | None,
    minutes: int = 30,
    new_patient: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "department_id": world.department,
        "specialist_id": specialist_id,
        "patient_group": "other",
        "starts_at": starts_at,
        "duration_minutes": minutes,
    }
    if new_patient is not None:
        body["patient"] = new_patient
    else:
        body["patient_id"] = patient_id
    return body


Call = Callable[[], Awaitable[tuple[int, str, Any]]]


async def race(calls: list[Call], tally: Tally) -> None:
    """All calls at once: each waits at a barrier so they leave together."""
    gate = asyncio.Event()

    async def one(call: Call) -> None:
        await gate.wait()
        try:
            status, content_type, _ = await call()
        except aiohttp.ClientError:
            status, content_type = 599, ""
        tally.add(status, content_type)

    tasks = [asyncio.ensure_future(one(c)) for c in calls]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)


async def scenario(name: str, week: int, world: World, gps: list[Api], coordinator: Api) -> Tally:
    n = len(gps)
    tally = Tally()
    sp = world.specialists
    if name == "same specialist":
        start = at(week, 0, 10)
        calls: list[Call] = [
            partial(
                gps[i].post,
                "/api/v1/consultations",
                booking(world, start, patient_id=world.patients[i], specialist_id=sp[0]),
            )
            for i in range(n)
        ]
    elif name == "same patient":
        start = at(week, 1, 10)
        calls = [
            partial(
                gps[i].post,
                "/api/v1/consultations",
                booking(
                    world, start, patient_id=world.shared_patient, specialist_id=sp[i % len(sp)]
                ),
            )
            for i in range(n)
        ]
    elif name == "same new patient":
        new = {
            "name": f"Ny Pasient {week}",
            "postal_code": "5914",
            "fnr": fnr_for(1 + week, 2, 1950, 100 + week),
        }
        calls = [
            partial(
                gps[i].post,
                "/api/v1/consultations",
                booking(
                    world,
                    at(week, 2 + i // 48, 8, 10 * (i % 48)),
                    patient_id=None,
                    specialist_id=sp[i % len(sp)],
                    minutes=10,
                    new_patient=new,
                ),
            )
            for i in range(n)
        ]
    elif name == "accept vs reschedule vs book":
        calls = await _accept_reschedule_book(week, world, gps, coordinator)
    elif name == "mixed lengths":
        lengths = (10, 20, 30, 45, 60)
        calls = [
            partial(
                gps[i].post,
                "/api/v1/consultations",
                booking(
                    world,
                    at(week, 3, 13, 10 * (i % 6)),
                    patient_id=world.patients[i],
                    specialist_id=sp[1],
                    minutes=lengths[i % len(lengths)],
                ),
            )
            for i in range(n)
        ]
    else:
        raise ValueError(name)
    await race(calls, tally)
    return tally


async def _accept_reschedule_book(
    week: int, world: World, gps: list[Api], coordinator: Api
) -> list[Call]:
    """Arranged one by one, then raced: the coordinator's accepts, the GPs' moves and bookings."""
    n = len(gps)
    requests_n, moves_n = max(1, n // 5), max(1, n // 10)
    sp0 = world.specialists[0]
    requests: list[str] = []
    for k in range(requests_n):
        status, _, body = await gps[k].post(
            "/api/v1/consultations",
            booking(
                world, at(week, 4, 8, 30 * k), patient_id=world.patients[k], specialist_id=None
            ),
        )
        assert status == 201, body
        requests.append(body["id"])
    specialist = await Api.login(gps[0].base, "sp0@race.no")
    confirmed: list[tuple[int, str]] = []
    try:
        for m in range(moves_n):
            g = requests_n + m
            status, _, body = await gps[g].post(
                "/api/v1/consultations",
                booking(
                    world, at(week, 4, 13, 30 * m), patient_id=world.patients[g], specialist_id=sp0
                ),
            )
            assert status == 201, body
            status, _, accepted = await specialist.post(
                f"/api/v1/consultations/{body['id']}/accept", {}
            )
            assert status == 200, accepted
            confirmed.append((g, body["id"]))
    finally:
        await specialist.close()
    calls: list[Call] = [
        partial(coordinator.post, f"/api/v1/consultations/{cid}/accept", {"specialist_id": sp0})
        for cid in requests
    ]
    calls += [
        partial(
            gps[g].post,
            f"/api/v1/consultations/{cid}/reschedule",
            {"starts_at": at(week, 4, 8, 30 * (m % requests_n))},
        )
        for m, (g, cid) in enumerate(confirmed)
    ]
    calls += [
        partial(
            gps[i].post,
            "/api/v1/consultations",
            booking(
                world,
                at(week, 4, 8, 30 * (i % requests_n) + 15),
                patient_id=world.patients[i],
                specialist_id=sp0,
            ),
        )
        for i in range(requests_n + moves_n, n)
    ]
    return calls


async def overlaps(url: str) -> int:
    """Pairs of active consultations sharing a specialist, patient or GP whose times overlap."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            rows = (
                await s.execute(
                    select(
                        Consultation.specialist_id,
                        Consultation.patient_id,
                        Consultation.gp_id,
                        Consultation.starts_at,
                        Consultation.ends_at,
                    ).where(Consultation.status.in_(ACTIVE))
                )
            ).all()
    finally:
        await engine.dispose()
    found = 0
    for a, b in combinations(rows, 2):
        if a.starts_at < b.ends_at and b.starts_at < a.ends_at:
            shared = (
                (a.specialist_id is not None and a.specialist_id == b.specialist_id)
                or (a.patient_id is not None and a.patient_id == b.patient_id)
                or a.gp_id == b.gp_id
            )
            found += shared
    return found


async def new_patients_created(url: str) -> int:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            names = (await s.scalars(select(Patient.name))).all()
    finally:
        await engine.dispose()
    return sum(1 for name in names if name.startswith("Ny Pasient"))


async def one_round(kind: str, clients: int, week: int) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory()
    pg_name = f"samkons_race_{os.getpid()}_{week}"
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{Path(tmp.name) / 'race.sqlite3'}"
    else:
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'CREATE DATABASE "{pg_name}"')
        await conn.close()
        url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        url = f"{url}/{pg_name}"
    try:
        await asyncio.to_thread(upgrade_to_head, url)
        world = await populate(url, clients)
        settings = Settings(
            mode="test",
            database_url=url,
            scheduler_enabled=False,
            outbox_dir=Path(tmp.name) / "outbox",
            login_attempts_per_address=100_000,
        )
        app = create_app(settings, clock=FakeClock(NOW))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        base = f"http://127.0.0.1:{port}"
        gps = [await Api.login(base, f"gp{i}@race.no") for i in range(clients)]
        coordinator = await Api.login(base, "koord@race.no")
        results: dict[str, Any] = {}
        try:
            for name in SCENARIOS:
                tally = await scenario(name, week, world, gps, coordinator)
                results[name] = (tally, await overlaps(url))
            results["new patients created"] = await new_patients_created(url)
        finally:
            for api in [*gps, coordinator]:
                await api.close()
            await runner.cleanup()
        return results
    finally:
        if kind == "postgresql":
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await conn.close()
        tmp.cleanup()


async def run(kind: str, clients: int, rounds: int) -> str:
    totals: dict[str, Tally] = {name: Tally() for name in SCENARIOS}
    overlap_total: Counter[str] = Counter()
    created: list[int] = []
    for week in range(1, rounds + 1):
        results = await one_round(kind, clients, week)
        for name in SCENARIOS:
            tally, found = results[name]
            totals[name].counts.update(tally.counts)
            totals[name].bare_409 += tally.bare_409
            overlap_total[name] = max(overlap_total[name], found)
        created.append(results["new patients created"])
    lines = [
        f"**{kind}**, {clients} concurrent clients per scenario, {rounds} round(s):",
        "",
        "| scenario | requests | 2xx | 409 | other 4xx | 5xx | 409 without problem body "
        "| overlaps in the database |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in SCENARIOS:
        c = totals[name].counts
        lines.append(
            f"| {name} | {sum(c.values())} | {c['2xx']} | {c['409']} | {c['4xx']} | {c['5xx']} "
            f"| {totals[name].bare_409} | {overlap_total[name]} |"
        )
    lines += ["", f"New patients created per round (must be 1): {created}", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not 1 <= args.rounds <= 7:
        parser.error("1 to 7 rounds: each round books in a week of its own inside the horizon")
    if not 10 <= args.clients <= 96:
        parser.error("10 to 96 clients: the same new patient needs a free 10-minute slot each")
    # The server's own log (5xx tracebacks, scrubbed as `samkons serve` writes it) goes to
    # stderr; the table to stdout.
    configure_logging(logging.WARNING)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for kind in kinds:
        print(asyncio.run(run(kind, args.clients, args.rounds)))


if __name__ == "__main__":
    main()
