"""The statistics summary (migration 0007) on SQLite and PostgreSQL: after every kind of write
(insert, status change, reschedule across month boundaries, moving a consultation between
municipalities and departments, survey invitations and answers, retention, deletes, bulk SQL)
it equals a summary computed here, in Python, from the consultations and surveys themselves;
the migration back-fills it from rows written before it; percentiles from its histogram equal
the textbook ones; and statistics refuse a summary built for another time zone."""

from __future__ import annotations

import asyncio
import math
import random
import statistics as pystats
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, delete, func, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain import statistics_query
from service.domain.actor import Actor
from service.domain.clock import FakeClock
from service.domain.schemas import SurveyAnswerInput
from service.domain.statistics_query import StatisticsQuery
from service.domain.tokens import new_id, new_room_id
from service.domain.travel.factors import load_factor_set
from service.domain.travel.reference import load_reference_data
from service.http.app import create_app
from service.settings import Settings
from service.storage import statistics as stats_store
from service.storage.engine import make_engine, make_sessionmaker
from service.storage.migrate import alembic_config
from service.storage.models import (
    SUMMARY_KEY,
    Base,
    Consultation,
    StatisticsCalendar,
    StatisticsCounts,
    StatisticsDurations,
    StatisticsTravel,
    StatisticsTravelKey,
    Survey,
)
from service.storage.statistics import quantiles_from_histogram
from service.usecases.retention import erase_expired
from service.usecases.statistics import SummaryOutOfStep, compute_statistics
from service.usecases.survey import answer_survey, create_survey_invitations
from tests.conftest import PG_ADMIN_DSN
from tests.factories import World, build_world, login
from tests.test_statistics import seed

OSLO = ZoneInfo("Europe/Oslo")
SUMMARY_REVISION = "0007"
CALENDAR_YEARS = (1990, 2199)
# Every count the summary keeps per status: its columns beside the grain and the status.
COUNT_FIELDS = tuple(
    c.name for c in StatisticsCounts.__table__.columns if c.name not in (*SUMMARY_KEY, "status")
)

Summary = dict[str, dict[tuple[Any, ...], tuple[int, ...]]]


# --------------------------------------------------------------------------- the expected summary


def _month(at: datetime) -> int:
    local = at.astimezone(OSLO)
    return local.year * 12 + local.month - 1


def _minutes(c: Consultation) -> int:
    actual = c.actual_started_at is not None and c.actual_ended_at is not None
    start = c.actual_started_at if actual else c.starts_at
    end = c.actual_ended_at if actual else c.ends_at
    assert start is not None and end is not None
    seconds = math.floor(end.timestamp()) - math.floor(start.timestamp())
    return (max(seconds, 0) + 30) // 60


async def expected_summary(db: async_sessionmaker[AsyncSession]) -> Summary:
    """The summary straight from consultations and surveys, one consultation at a time."""
    async with db() as s:
        consultations = (await s.execute(select(Consultation))).scalars().all()
        surveys = (await s.execute(select(Survey))).scalars().all()
    by_consultation: dict[str, list[Survey]] = {}
    for survey in surveys:
        by_consultation.setdefault(survey.consultation_id, []).append(survey)
    counts: dict[tuple[Any, ...], Counter[str]] = {}
    durations: Counter[tuple[Any, ...]] = Counter()
    travel: dict[tuple[Any, ...], Counter[str]] = {}
    for c in consultations:
        if not CALENDAR_YEARS[0] <= c.starts_at.astimezone(OSLO).year <= CALENDAR_YEARS[1]:
            continue  # outside the calendar: not counted (and not failed)
        key = (
            _month(c.starts_at),
            c.municipality_number or "",
            c.patient_group,
            c.hospital_id,
            c.department_id,
        )
        row = counts.setdefault((*key, c.status), Counter())

        def add(counter: Counter[str], name: str, n: int, record_key: int) -> None:
            # Each count with the sum of its records' keys beside it (migration 0009).
            counter[name] += n
            counter[f"{name}_keys"] += n * record_key

        rk = c.record_key
        add(row, "consultations", 1, rk)
        add(row, "with_relatives", c.relatives_count > 0, rk)
        add(row, "relatives", c.relatives_count, rk)
        add(row, "interpreters", c.interpreters_count, rk)
        add(row, "municipal_staff", c.municipal_staff_count, rk)
        add(row, "patients", c.kind == "joint", rk)
        add(row, "specialists", c.specialist_id is not None, rk)
        for sv in by_consultation.get(c.id, []):
            answered = sv.answered_at is not None
            sk = sv.record_key
            add(row, "surveys_invited", 1, sk)
            add(row, "surveys_answered", answered, sk)
            if answered and sv.satisfaction is not None:
                add(row, f"satisfaction_{sv.satisfaction}", 1, sk)
            add(row, "would_travel_yes", answered and sv.would_travel is True, sk)
            add(row, "would_travel_no", answered and sv.would_travel is False, sk)
            add(row, "physical_visit_yes", answered and sv.physical_visit_needed is True, sk)
            add(row, "physical_visit_no", answered and sv.physical_visit_needed is False, sk)
            add(row, "with_free_text", answered and sv.has_free_text, sk)
        if c.status == "completed":
            durations[(*key, _minutes(c))] += 1
            if c.travel_key is not None:
                t = travel.setdefault((*key, c.travel_key), Counter())
                add(t, "n", 1, rk)
                add(t, "yes", c.patient_travel_confirmed is True, rk)
                add(t, "no", c.patient_travel_confirmed is False, rk)
    travel_fields = ("n", "yes", "no", "n_keys", "yes_keys", "no_keys")
    return {
        "counts": {k: tuple(v[f] for f in COUNT_FIELDS) for k, v in counts.items()},
        "durations": {k: (n,) for k, n in durations.items()},
        "travel": {k: tuple(v[f] for f in travel_fields) for k, v in travel.items()},
    }


async def stored_summary(db: async_sessionmaker[AsyncSession]) -> Summary:
    """What the triggers (or the back-fill) wrote, without the rows that went back to zero."""
    key = (
        StatisticsCounts.month,
        StatisticsCounts.municipality,
        StatisticsCounts.patient_group,
        StatisticsCounts.hospital_id,
        StatisticsCounts.department_id,
    )
    d, t = StatisticsDurations, StatisticsTravel
    async with db() as s:
        counts = (
            await s.execute(
                select(
                    *key,
                    StatisticsCounts.status,
                    *(getattr(StatisticsCounts, f) for f in COUNT_FIELDS),
                )
            )
        ).all()
        durations = (
            await s.execute(
                select(
                    d.month,
                    d.municipality,
                    d.patient_group,
                    d.hospital_id,
                    d.department_id,
                    d.minutes,
                    d.consultations,
                )
            )
        ).all()
        travel = (
            await s.execute(
                select(
                    t.month,
                    t.municipality,
                    t.patient_group,
                    t.hospital_id,
                    t.department_id,
                    StatisticsTravelKey.travel_key,
                    t.consultations,
                    t.confirmed_yes,
                    t.confirmed_no,
                    t.consultations_keys,
                    t.confirmed_yes_keys,
                    t.confirmed_no_keys,
                ).join(StatisticsTravelKey, StatisticsTravelKey.id == t.travel_key_id)
            )
        ).all()

    def table(rows: Any, width: int) -> dict[tuple[Any, ...], tuple[int, ...]]:
        return {
            tuple(r[:-width]): tuple(int(v) for v in r[-width:]) for r in rows if any(r[-width:])
        }

    return {
        "counts": table(counts, len(COUNT_FIELDS)),
        "durations": table(durations, 1),
        "travel": table(travel, 6),
    }


async def assert_in_step(db: async_sessionmaker[AsyncSession], step: str) -> None:
    expected, stored = await expected_summary(db), await stored_summary(db)
    for table in ("counts", "durations", "travel"):
        assert stored[table] == expected[table], f"{table} after {step}"


# --------------------------------------------------------------------------- writes


def _utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=OSLO).astimezone(UTC)


async def _consultations(db: async_sessionmaker[AsyncSession], status: str) -> list[Consultation]:
    async with db() as s:
        found = (
            (
                await s.execute(
                    select(Consultation)
                    .where(Consultation.status == status)
                    .order_by(Consultation.starts_at)
                )
            )
            .scalars()
            .all()
        )
    return list(found)


async def _add_consultation(
    db: async_sessionmaker[AsyncSession], world: World, starts_at: datetime, **kw: Any
) -> str:
    cid = new_id()
    values: dict[str, Any] = {
        "kind": "joint",
        "status": "confirmed",
        "patient_group": "other",
        "municipality_number": "4631",
        "travel_key": "t1|haukeland|home|-|P:4631:car:100",
        "relatives_count": 1,
        **kw,
    }
    async with db() as s, s.begin():
        s.add(
            Consultation(
                id=cid,
                room_id=new_room_id(),
                awaiting=None,
                revision=1,
                gp_id=world.gp,
                specialist_id=world.specialist,
                department_id=world.geriatrics,
                booked_by_id=world.gp,
                patient_id=world.patient,
                patient_location="home",
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=45),
                hospital_id=world.haukeland,
                created_at=starts_at - timedelta(days=3),
                updated_at=starts_at - timedelta(days=3),
                **values,
            )
        )
    return cid


async def _update(db: async_sessionmaker[AsyncSession], cid: str, **values: Any) -> None:
    async with db() as s, s.begin():
        await s.execute(update(Consultation).where(Consultation.id == cid).values(**values))


async def test_summary_stays_in_step_through_every_kind_of_change(
    db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    world = await build_world(db)
    await seed(db, world, n=40)
    await assert_in_step(db, "inserts")

    # Actual times with seconds and microseconds: both databases round alike (29:30 → 30).
    start = _utc(2025, 5, 6, 10)
    odd = await _add_consultation(
        db,
        world,
        start,
        status="completed",
        actual_started_at=start + timedelta(seconds=10, microseconds=999_000),
        actual_ended_at=start + timedelta(minutes=29, seconds=40, microseconds=1),
    )
    await _add_consultation(
        db,
        world,
        start + timedelta(hours=2),
        status="completed",
        actual_started_at=start + timedelta(hours=2),
        actual_ended_at=start + timedelta(hours=2, minutes=29, seconds=29),
        municipality_number=None,
    )
    await assert_in_step(db, "inserts with odd durations and no municipality")

    confirmed_start = _utc(2025, 6, 2, 13)
    confirmed = await _add_consultation(db, world, confirmed_start)
    completed = await _consultations(db, "completed")
    await _update(db, confirmed, status="in_progress")
    await _update(
        db,
        confirmed,
        status="completed",
        actual_started_at=confirmed_start,
        actual_ended_at=confirmed_start + timedelta(minutes=37),
    )
    await _update(db, completed[0].id, status="cancelled")
    await assert_in_step(db, "status changes")

    # Across month boundaries in local time: the last minutes of October (CET begins) and of
    # March (CEST), and back.
    await _update(
        db,
        odd,
        starts_at=_utc(2025, 10, 31, 23, 30),
        ends_at=_utc(2025, 10, 31, 23, 59),
        actual_started_at=None,
        actual_ended_at=None,
    )
    await assert_in_step(db, "a reschedule to the last half hour of October")
    await _update(db, odd, starts_at=_utc(2025, 11, 1, 0, 0), ends_at=_utc(2025, 11, 1, 0, 30))
    await assert_in_step(db, "a reschedule across the October/November boundary")
    await _update(db, odd, starts_at=_utc(2025, 3, 31, 23, 45), ends_at=_utc(2025, 4, 1, 0, 15))
    await assert_in_step(db, "a reschedule to the end of March")

    # Survey invitations and answers through the service, which also corrects the travel
    # assumption on the consultation.
    clock = FakeClock(datetime(2026, 1, 5, 8, tzinfo=UTC))
    target = (await _consultations(db, "completed"))[-1]
    async with db() as s, s.begin():
        invitations = await create_survey_invitations(s, target.id, clock.now())
    assert invitations
    await assert_in_step(db, "survey invitations")
    await answer_survey(
        db,
        clock,
        invitations[0][1],
        SurveyAnswerInput(satisfaction=4, would_travel="no", free_text="Takk"),
    )
    await assert_in_step(db, "a survey answer")

    # Moving a consultation (with its surveys) to another municipality, group and department.
    await _update(
        db,
        target.id,
        municipality_number="4633",
        patient_group="multiple_chronic",
        department_id=world.psychiatry,
        hospital_id=world.haraldsplass,
        relatives_count=0,
        specialist_id=None,
    )
    await assert_in_step(db, "a move between municipalities and departments")

    # Bulk SQL that no application code path wraps.
    async with db() as s, s.begin():
        await s.execute(
            text(
                "UPDATE consultations SET patient_group = 'other', interpreters_count = 2 "
                "WHERE status = 'cancelled'"
            )
        )
    await assert_in_step(db, "a bulk SQL update")

    # Retention erases personal data, mails and bookings; the anonymous facts stay counted.
    await erase_expired(db, FakeClock(datetime(2030, 1, 1, tzinfo=UTC)), settings)
    await assert_in_step(db, "retention")

    # Deleting a survey, then a consultation with surveys (they go with it, by cascade).
    async with db() as s, s.begin():
        some = (await s.execute(select(Survey).limit(1))).scalar_one()
        await s.delete(some)
    await assert_in_step(db, "a survey deleted")
    async with db() as s:
        with_surveys = (
            await s.execute(select(Survey.consultation_id).distinct().limit(2))
        ).scalars()
        doomed = list(with_surveys)
    async with db() as s, s.begin():
        await s.execute(delete(Consultation).where(Consultation.id.in_(doomed)))
    await assert_in_step(db, "consultations with surveys deleted")


# --------------------------------------------------------------------------- the migration


def _revision_before_summary(url: str) -> str:
    revision = ScriptDirectory.from_config(alembic_config(url)).get_revision(SUMMARY_REVISION)
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[str]:
    """A database with no schema at all, of its own (the migration test needs old revisions)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
        return
    if request.getfixturevalue("pg_database") is None:
        pytest.skip("PostgreSQL not reachable (outside CI)")
    name = f"samkons_summary_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def test_the_migration_back_fills_the_summary_from_existing_rows(empty_url: str) -> None:
    config = alembic_config(empty_url)
    # Seeded with today's models, then taken back to before the summary (and the record keys
    # of 0009): the way up back-fills the summary (0007), then the keys and key sums (0009).
    await asyncio.to_thread(command.upgrade, config, "head")
    engine = make_engine(empty_url)
    db = make_sessionmaker(engine)
    try:
        world = await build_world(db)
        await seed(db, world, n=60, rng_seed=11)
        # A consultation whose start is outside the calendar's years is left out, not failed.
        await _add_consultation(db, world, datetime(1980, 6, 1, 10, tzinfo=UTC))
        await engine.dispose()
        await asyncio.to_thread(command.downgrade, config, _revision_before_summary(empty_url))
        await asyncio.to_thread(command.upgrade, config, "head")
        stored = await stored_summary(db)
        assert stored == await expected_summary(db)
        assert sum(v[0] for v in stored["counts"].values()) == 60
        async with db() as s:
            # Existing rows got random record keys on the way up (0009), not one default.
            keys = (await s.execute(select(Consultation.record_key))).scalars().all()
            survey_keys = (await s.execute(select(Survey.record_key))).scalars().all()
        assert len(set(keys)) > 20 and all(0 <= k < 256 for k in keys)
        assert len(set(survey_keys)) > 5
        # And the triggers run from there on.
        await _add_consultation(db, world, _utc(2025, 2, 3, 9), status="completed")
        await assert_in_step(db, "an insert after the migration")
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- reading


def _summary_migration() -> ModuleType:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revision = script.get_revision(SUMMARY_REVISION)
    assert revision is not None
    return revision.module


def test_the_runtime_reads_the_columns_and_years_migration_0007_made() -> None:
    # The migration keeps its own frozen copy of the lists (migrations are history): this is
    # what keeps that copy and the one the statistics read from drifting apart.
    migration = _summary_migration()
    assert migration.KEY == SUMMARY_KEY
    assert migration.COUNT_SUMS == stats_store.COUNT_SUMS
    assert migration.SURVEY_SUMS == stats_store.SURVEY_SUMS
    assert (migration.FIRST_YEAR, migration.LAST_YEAR) == (
        statistics_query.FIRST_YEAR,
        statistics_query.LAST_YEAR,
    )
    declared = [c.name for c in StatisticsCounts.__table__.columns]
    runtime = [
        *SUMMARY_KEY,
        "status",
        *stats_store.COUNT_SUMS,
        *stats_store.SURVEY_SUMS,
        *stats_store.COUNT_KEYS,
        *stats_store.SURVEY_KEYS,
    ]
    assert sorted(declared) == sorted(runtime)


async def test_the_migrated_summary_has_the_models_columns_and_calendar(
    db: async_sessionmaker[AsyncSession],
) -> None:
    tables: tuple[type[Base], ...] = (
        StatisticsCalendar,
        StatisticsCounts,
        StatisticsDurations,
        StatisticsTravel,
        StatisticsTravelKey,
    )

    def columns(connection: Connection) -> dict[str, set[str]]:
        found = inspect(connection)
        return {
            t.__tablename__: {c["name"] for c in found.get_columns(t.__tablename__)} for t in tables
        }

    async with db() as s:
        migrated = await s.run_sync(lambda session: columns(session.connection()))
        month = StatisticsCalendar.month
        first, last = (await s.execute(select(func.min(month), func.max(month)))).one()
    assert migrated == {t.__tablename__: {c.name for c in t.__table__.columns} for t in tables}
    # The query refuses dates outside the years the calendar has months for.
    assert (first, last) == (
        statistics_query.FIRST_YEAR * 12,
        statistics_query.LAST_YEAR * 12 + 11,
    )


def test_percentiles_from_a_histogram_equal_percentile_cont() -> None:
    rng = random.Random(3)
    for size in (1, 2, 3, 7, 40, 333):
        values = [rng.choice(range(15, 75)) for _ in range(size)]
        n, p25, median, p75 = quantiles_from_histogram(list(Counter(values).items()))
        assert n == size
        if size == 1:
            assert p25 == median == p75 == values[0]
            continue
        quartiles = pystats.quantiles(values, n=4, method="inclusive")
        assert p25 == pytest.approx(quartiles[0])
        assert median == pytest.approx(pystats.median(values))
        assert p75 == pytest.approx(quartiles[2])
    assert quantiles_from_histogram([]) == (0, None, None, None)


async def test_statistics_refuse_a_summary_of_another_time_zone(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await build_world(db)
    evaluator = Actor(
        user_id=world.evaluator,
        role="evaluator",
        name="Evaluator",
        language="nn",
        gp_office_id=None,
        department_id=None,
    )
    query = StatisticsQuery(date(2025, 1, 1), date(2025, 12, 31))
    ref, factors = load_reference_data(), load_factor_set()
    with pytest.raises(SummaryOutOfStep, match=r"Europe/Oslo.*Europe/London"):
        await compute_statistics(
            db, evaluator, query, tz=ZoneInfo("Europe/London"), ref=ref, factors=factors
        )
    report = await compute_statistics(db, evaluator, query, tz=OSLO, ref=ref, factors=factors)
    assert report.total.counts["booked"] == 0


async def test_not_costed_follows_the_counted_consultations(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await build_world(db)
    start = _utc(2025, 4, 7, 10)
    for i, mode in enumerate(["car", "ambulance"]):
        await _add_consultation(
            db,
            world,
            start + timedelta(days=i),
            status="completed",
            patient_group=("other", "frail_elderly")[i],
            travel_key=f"t1|haukeland|home|-|P:4631:{mode}:100",
        )
    evaluator = Actor(
        user_id=world.evaluator,
        role="evaluator",
        name="Evaluator",
        language="nn",
        gp_office_id=None,
        department_id=None,
    )
    ref, factors = load_reference_data(), load_factor_set()

    async def not_costed(patient_group: str | None = None) -> list[str]:
        query = StatisticsQuery(date(2025, 1, 1), date(2025, 12, 31), patient_group=patient_group)
        report = await compute_statistics(db, evaluator, query, tz=OSLO, ref=ref, factors=factors)
        return report.not_costed

    assert await not_costed() == ["ambulance"]
    assert await not_costed(patient_group="other") == []
    assert await not_costed(patient_group="frail_elderly") == ["ambulance"]


async def test_a_summary_of_another_time_zone_is_a_clear_503_not_a_crash(
    settings: Settings, clock: FakeClock, db: async_sessionmaker[AsyncSession], aiohttp_client: Any
) -> None:
    await build_world(db)
    london = settings.model_copy(update={"timezone": "Europe/London"})
    client = await aiohttp_client(create_app(london, clock=clock))
    await login(client, "evaluator")
    resp = await client.get("/api/v1/statistics", params={"from": "2025-01", "to": "2025-12"})
    assert resp.status == 503
    assert resp.content_type == "application/problem+json"
    problem = await resp.json()
    assert problem["title"] == "Statistics unavailable"
    assert "Europe/Oslo" in problem["detail"] and "Europe/London" in problem["detail"]
    page = await client.get("/statistikk")
    assert page.status == 503
    assert "Denne delen av tenesta er ikkje tilgjengeleg no." in await page.text()
