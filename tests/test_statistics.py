"""Evaluators' statistics on SQLite and PostgreSQL: figures checked against counts made here
from the seeded data, small counts suppressed, no personal data in any response, factor
overrides change the totals and the version shown, and evaluators kept out of consultations."""

from __future__ import annotations

import csv
import io
import json
import random
import statistics as pystats
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain import statistics_cellkey as cellkey
from service.domain import statistics_query, statistics_report
from service.domain.actor import Actor
from service.domain.clock import FakeClock
from service.domain.errors import NotAllowed
from service.domain.tokens import hash_token, new_id, new_room_id
from service.domain.travel.calculation import TravellerInput, travel_avoided
from service.domain.travel.factors import load_factor_set
from service.domain.travel.keys import TravelFacts, Traveller, encode_travel_key
from service.domain.travel.reference import ReferenceData, load_reference_data
from service.http.app import create_app
from service.settings import Settings
from service.storage import models
from service.storage.models import Consultation, Participant, Survey
from service.usecases.statistics import filter_departments
from tests.factories import Client, World, build_world, login

OSLO = ZoneInfo("Europe/Oslo")
POSTAL_CODES = {"4631": "5914", "4633": "5947", "4632": "5943", "4630": "5282"}
STATUSES = ["completed"] * 7 + ["cancelled", "no_show", "confirmed"]
MODES = ["car", "car", "bus", "boat", "taxi_pasientreiser"]


@dataclass
class Seeded:
    """What the test put in the database, to count independently of the service."""

    consultations: list[dict[str, Any]] = field(default_factory=list)
    personal: list[str] = field(default_factory=list)  # every name, e-mail, postal code, text


async def seed(
    db: async_sessionmaker[AsyncSession], world: World, *, n: int = 160, rng_seed: int = 7
) -> Seeded:
    rng = random.Random(rng_seed)
    seeded = Seeded()
    departments = [(world.geriatrics, world.haukeland, "haukeland")]
    departments.append((world.psychiatry, world.haraldsplass, "haraldsplass"))
    async with db() as s, s.begin():
        for i in range(n):
            # Growth: later months get more consultations.
            month = min(12, 2 + int(11 * rng.random() ** 0.6))
            day = rng.randint(1, 28)
            start_local = datetime.combine(
                datetime(2025, month, day).date(), time(rng.randint(8, 14), 0), OSLO
            )
            start = start_local.astimezone(UTC)
            minutes = rng.choice([30, 45, 60])
            status = rng.choice(STATUSES)
            municipality = rng.choice(list(POSTAL_CODES))
            postal_code = POSTAL_CODES[municipality]
            department_id, _hospital_id, hospital_code = rng.choice(departments)
            group = rng.choice(["frail_elderly", "frail_elderly", "multiple_chronic", "other"])
            kind = "joint" if rng.random() < 0.9 else "guidance"
            location = rng.choice(["home", "home", "gp_office", "institution"])
            mode = rng.choice(MODES)
            escort = rng.random() < 0.2
            relatives = rng.choice([0, 0, 1, 2]) if kind == "joint" else 0
            relative_travels = [rng.random() < 0.5 for _ in range(relatives)]
            confirmed = rng.choice([None, None, True, False]) if status == "completed" else None
            actual = status == "completed" and rng.random() < 0.8
            started = start + timedelta(minutes=rng.randint(0, 5)) if actual else None
            ended = start + timedelta(minutes=minutes - rng.randint(0, 12)) if actual else None
            travel_key = None
            if kind == "joint":
                travel_key = encode_travel_key(
                    TravelFacts(
                        hospital=hospital_code,
                        patient_location=location,  # type: ignore[arg-type]
                        local_site_municipality="4631" if location == "gp_office" else None,
                        patient=Traveller("patient", municipality, mode, True, escort),  # type: ignore[arg-type]
                        relatives=tuple(
                            Traveller("relative", municipality, mode, t)  # type: ignore[arg-type]
                            for t in relative_travels
                        ),
                    )
                )
            cid = new_id()
            c = Consultation(
                id=cid,
                room_id=new_room_id(),
                kind=kind,
                status=status,
                awaiting=None,
                revision=1,
                gp_id=world.gp,
                specialist_id=world.specialist if rng.random() < 0.9 else None,
                department_id=department_id,
                booked_by_id=world.gp,
                patient_id=world.patient,
                patient_present=kind == "joint",
                patient_group=group,
                patient_location=location,
                purpose=f"Føremål nummer {i} hemmeleg",
                starts_at=start,
                ends_at=start + timedelta(minutes=minutes),
                municipality_number=municipality,
                hospital_id=_hospital_id,
                travel_key=travel_key,
                patient_travel_confirmed=confirmed,
                relatives_count=relatives,
                interpreters_count=1 if rng.random() < 0.1 else 0,
                municipal_staff_count=0,
                actual_started_at=started,
                actual_ended_at=ended,
                created_at=start - timedelta(days=10),
                updated_at=start,
            )
            s.add(c)
            await s.flush()
            patient_name = f"Pasientnamn{i} Etternamn"
            email = f"pasient{i}@privat.example"
            patient = Participant(
                id=new_id(),
                consultation_id=cid,
                role="patient",
                name=patient_name,
                email=email,
                phone=f"+47 9{i:07d}",
                language="nn",
                postal_code=postal_code,
                would_travel=True,
                travel_mode=mode,
                escort=escort,
                created_at=c.created_at,
            )
            s.add(patient)
            seeded.personal += [patient_name, email, f"+47 9{i:07d}", f"Føremål nummer {i}"]
            for r, travels in enumerate(relative_travels):
                relative_name = f"Pårørande{i}x{r} Namn"
                s.add(
                    Participant(
                        id=new_id(),
                        consultation_id=cid,
                        role="relative",
                        name=relative_name,
                        email=f"relative{i}x{r}@privat.example",
                        language="nn",
                        postal_code=postal_code,
                        would_travel=travels,
                        travel_mode=mode,
                        created_at=c.created_at,
                    )
                )
                seeded.personal += [relative_name, f"relative{i}x{r}@privat.example"]
            survey: dict[str, Any] | None = None
            if status == "completed" and rng.random() < 0.7:
                answered = rng.random() < 0.8
                text = f"Fritekst frå pasient {i}: takk til Kari" if rng.random() < 0.4 else None
                survey = {
                    "answered": answered,
                    "satisfaction": rng.randint(1, 5) if answered else None,
                    "would_travel": rng.choice([True, False, None]) if answered else None,
                    "physical": rng.choice([True, False, None]) if answered else None,
                    "free_text": text if answered else None,
                }
                await s.flush()
                s.add(
                    Survey(
                        consultation_id=cid,
                        participant_id=patient.id,
                        role="patient",
                        language="nn",
                        token_hash=hash_token(f"token-{i}"),
                        created_at=start + timedelta(hours=2),
                        answered_at=start + timedelta(hours=5) if answered else None,
                        satisfaction=survey["satisfaction"],
                        would_travel=survey["would_travel"],
                        physical_visit_needed=survey["physical"],
                        free_text=survey["free_text"],
                        has_free_text=survey["free_text"] is not None,
                    )
                )
                await s.flush()  # the survey's record key is set (the model's default)
                survey["record_key"] = (
                    await s.execute(select(Survey.record_key).where(Survey.consultation_id == cid))
                ).scalar_one()
                if text and answered:
                    seeded.personal.append(text)
            seeded.consultations.append(
                {
                    "month": f"2025-{month:02d}",
                    "status": status,
                    "kind": kind,
                    "municipality": municipality,
                    "postal_code": postal_code,
                    "group": group,
                    "department_id": department_id,
                    "hospital": hospital_code,
                    "location": location,
                    "mode": mode,
                    "escort": escort,
                    "relatives": relative_travels,
                    "confirmed": confirmed,
                    "interpreter": c.interpreters_count,
                    "specialist": c.specialist_id is not None,
                    "minutes": (
                        (ended - started)
                        if ended is not None and started is not None
                        else (c.ends_at - c.starts_at)
                    ).total_seconds()
                    / 60,
                    "survey": survey,
                    "record_key": c.record_key,
                }
            )
    return seeded


def expected_travel(c: dict[str, Any], ref: ReferenceData, factors: Any, *, confirmed: bool) -> Any:
    """The calculation straight from postal codes, without the service's travel keys."""
    goes = True if not confirmed or c["confirmed"] is None else c["confirmed"]
    travellers = [TravellerInput(c["postal_code"], goes, c["mode"], is_patient=True)]
    if c["escort"]:
        travellers.append(TravellerInput(c["postal_code"], goes, c["mode"], escort=True))
    travellers += [TravellerInput(c["postal_code"], goes and t, c["mode"]) for t in c["relatives"]]
    site = "4631" if c["location"] == "gp_office" else None
    return travel_avoided(travellers, c["hospital"], c["location"], site, ref, factors).totals


def shown(value: Any, records: list[dict[str, Any]] | list[int], weight: str | None = None) -> None:
    """A displayed count is the cell-key perturbation of the true count: exactly what the
    method gives for these records' keys (each counted `weight` times, when given), never more
    than the maximum perturbation away from the truth, and "<5" below the threshold."""
    keys = [r if isinstance(r, int) else r["record_key"] for r in records]
    weights = [1] * len(keys)
    if weight is not None:
        weights = [int(r[weight]) for r in records if not isinstance(r, int)]
    truth = sum(weights)
    key_sum = sum(k * w for k, w in zip(keys, weights, strict=True))
    assert value == cellkey.publish(truth, key_sum)
    if value == "<5":
        assert truth >= 1
    else:
        assert abs(value - truth) <= cellkey.MAX_PERTURBATION
        assert value == 0 or value >= cellkey.THRESHOLD


@pytest.fixture
def world_app(settings: Settings, clock: FakeClock) -> web.Application:
    return create_app(settings, clock=clock)


async def test_statistics_match_independent_counts(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    seeded = await seed(db, world)
    await login(client, "evaluator")
    resp = await client.get("/api/v1/statistics", params={"from": "2025-01", "to": "2025-12"})
    assert resp.status == 200, await resp.text()
    body = await resp.json()

    by_month: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for c in seeded.consultations:
        measure = c["status"] if c["status"] in ("completed", "cancelled", "no_show") else "open"
        by_month[c["month"]][measure].append(c)
        by_month[c["month"]]["booked"].append(c)
    periods = {row["key"]: row for row in body["by"]["period"]}
    assert list(periods) == [f"2025-{m:02d}" for m in range(1, 13)]
    hidden = 0
    for month, row in periods.items():
        for measure in ("booked", "completed", "cancelled", "no_show", "open"):
            shown(row["counts"][measure], by_month[month][measure])
            hidden += row["counts"][measure] == "<5"
    assert hidden > 0  # the seed has small months; they must be hidden, not shown

    def status(c: dict[str, Any]) -> str:
        return c["status"] if c["status"] in ("completed", "cancelled", "no_show") else "open"

    shown(body["total"]["counts"]["booked"], seeded.consultations)
    for measure in ("completed", "cancelled", "no_show", "open"):
        shown(
            body["total"]["counts"][measure],
            [c for c in seeded.consultations if status(c) == measure],
        )

    for row in body["by"]["municipality"]:
        shown(
            row["counts"]["booked"],
            [c for c in seeded.consultations if c["municipality"] == row["key"]],
        )
    assert {r["label"] for r in body["by"]["municipality"]} == {
        "Alver",
        "Fedje",
        "Austrheim",
        "Osterøy",
    }
    for row in body["by"]["hospital"]:
        shown(
            row["counts"]["booked"],
            [c for c in seeded.consultations if c["hospital"] == row["key"]],
        )

    completed = [c for c in seeded.consultations if c["status"] == "completed"]
    minutes = sorted(c["minutes"] for c in completed)
    quartiles = pystats.quantiles(minutes, n=4, method="inclusive")
    assert body["total"]["duration_minutes"]["median"] == pytest.approx(
        pystats.median(minutes), abs=0.05
    )
    assert body["total"]["duration_minutes"]["p25"] == pytest.approx(quartiles[0], abs=0.05)
    assert body["total"]["duration_minutes"]["p75"] == pytest.approx(quartiles[2], abs=0.05)
    for month, row in periods.items():
        month_minutes = sorted(c["minutes"] for c in completed if c["month"] == month)
        if isinstance(row["duration_minutes"], dict):
            assert row["duration_minutes"]["median"] == pytest.approx(
                pystats.median(month_minutes), abs=0.05
            )

    relatives = body["total"]["relatives"]
    shown(relatives["with"], [c for c in completed if c["relatives"]])
    shown(relatives["without"], [c for c in completed if not c["relatives"]])
    # The share of the figures shown beside it, so that the table reads consistently.
    assert relatives["share"] == pytest.approx(
        relatives["with"] / (relatives["with"] + relatives["without"]), abs=0.001
    )
    roles = body["participants_by_role"]
    # The GPs are the completed consultations: the same records, so the same published value.
    assert roles["gp"] == body["total"]["counts"]["completed"]
    shown(roles["gp"], completed)
    for c in completed:
        c["relative_count"] = len(c["relatives"])
    shown(roles["relative"], completed, "relative_count")
    shown(roles["patient"], [c for c in completed if c["kind"] == "joint"])
    shown(roles["interpreter"], completed, "interpreter")

    ref, factors = load_reference_data(), load_factor_set()
    travelled = [c for c in completed if c["kind"] == "joint"]
    for basis, confirmed in (("assumed", False), ("confirmed", True)):
        totals = [expected_travel(c, ref, factors, confirmed=confirmed) for c in travelled]
        travel = body["total"]["travel"][basis]
        assert travel["person_km"] == pytest.approx(sum(t.person_km for t in totals), abs=0.1)
        assert travel["co2e_kg"] == pytest.approx(sum(t.co2e_kg for t in totals), abs=0.1)
        assert travel["hours"] == pytest.approx(sum(t.hours for t in totals), abs=0.1)
        assert travel["health_sector_kr"] == pytest.approx(
            sum(t.health_sector_kr for t in totals), abs=1
        )
        assert travel["societal_kr"] == pytest.approx(sum(t.societal_kr for t in totals), abs=1)
    assert body["total"]["travel"]["assumed"] != body["total"]["travel"]["confirmed"]
    for answer, name in ((False, "no"), (True, "yes"), (None, "unanswered")):
        shown(body["travel_confirmation"][name], [c for c in travelled if c["confirmed"] is answer])
    # How much of the travel avoided rests on the booking's assumption alone.
    answers = body["travel_confirmation"]
    assert answers["assumed_share"] == pytest.approx(
        answers["unanswered"] / (answers["yes"] + answers["no"] + answers["unanswered"]), abs=0.001
    )

    surveys = [c["survey"] for c in seeded.consultations if c["survey"]]
    answered = [s for s in surveys if s["answered"]]
    shown(body["survey"]["invited"], surveys)
    shown(body["survey"]["answered"], answered)
    shown(body["survey"]["unanswered"], [s for s in surveys if not s["answered"]])
    for score in range(1, 6):
        shown(
            body["survey"][f"satisfaction_{score}"],
            [s for s in answered if s["satisfaction"] == score],
        )
    shown(body["survey"]["with_free_text"], [s for s in answered if s["free_text"]])
    shown(body["survey"]["without_free_text"], [s for s in answered if not s["free_text"]])
    assert body["factor_set"]["id"] == factors.id
    assert body["factor_set"]["version"] == factors.version


async def test_no_personal_data_in_any_evaluator_response(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    seeded = await seed(db, world, n=60)
    await login(client, "evaluator")
    params = {"from": "2025-01", "to": "2025-12"}
    responses = [
        await (await client.get("/api/v1/statistics", params=params)).text(),
        await (await client.get("/api/v1/statistics.csv", params=params)).text(),
        await (
            await client.get("/api/v1/statistics", params={**params, "group_by": "quarter"})
        ).text(),
    ]
    for text in responses:
        for secret in [*seeded.personal, *POSTAL_CODES.values(), "Pasient Ein", "p1@test.no"]:
            assert secret not in text
        assert "Kari" not in text


async def test_csv_carries_the_same_figures(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    await seed(db, world, n=80)
    await login(client, "evaluator")
    params = {"from": "2025-01", "to": "2025-12"}
    body = await (await client.get("/api/v1/statistics", params=params)).json()
    resp = await client.get("/api/v1/statistics.csv", params=params)
    assert resp.status == 200
    assert resp.content_type == "text/csv"
    lines = list(csv.DictReader(io.StringIO(await resp.text())))
    values = {(r["table"], r["key"], r["measure"]): r["value"] for r in lines}
    assert values[("total", "", "booked")] == str(body["total"]["counts"]["booked"])
    assert values[("meta", "", "factor_set_version")] == body["factor_set"]["version"]
    for row in body["by"]["period"]:
        assert values[("period", row["key"], "completed")] == str(row["counts"]["completed"])
    # Every count says it is perturbed, and the report names the method and its parameters.
    perturbed = {(r["table"], r["key"], r["measure"]): r["perturbed"] for r in lines}
    assert perturbed[("total", "", "booked")] == "yes"
    assert perturbed[("survey", "", "invited")] == "yes"
    assert perturbed[("total", "", "travel_assumed_co2e_kg")] == "no"
    assert values[("meta", "", "protection")] == "cell-key perturbation"
    assert values[("meta", "", "protection_max_perturbation")] == "3"
    protection = body["protection"]
    assert (protection["threshold"], protection["max_perturbation"]) == (5, 3)
    assert protection["variance"] == pytest.approx(1.52)
    assert protection["perturbed"] == "every count"


async def test_filters_and_quarters(client: Client, db: async_sessionmaker[AsyncSession]) -> None:
    world = await build_world(db)
    seeded = await seed(db, world, n=120)
    await login(client, "evaluator")
    body = await (
        await client.get(
            "/api/v1/statistics",
            params={
                "from": "2025-01",
                "to": "2025-12",
                "group_by": "quarter",
                "hospital": "haukeland",
            },
        )
    ).json()
    assert [r["key"] for r in body["by"]["period"]] == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    haukeland = [c for c in seeded.consultations if c["hospital"] == "haukeland"]
    shown(body["total"]["counts"]["booked"], haukeland)
    for i, row in enumerate(body["by"]["period"]):
        shown(
            row["counts"]["booked"],
            [c for c in haukeland if (int(c["month"][5:]) - 1) // 3 == i],
        )
    assert [r["key"] for r in body["by"]["hospital"]] == ["haukeland"]

    body = await (
        await client.get(
            "/api/v1/statistics",
            params={"from": "2025-01", "to": "2025-12", "municipality": "4633"},
        )
    ).json()
    fedje = [c for c in seeded.consultations if c["municipality"] == "4633"]
    shown(body["total"]["counts"]["booked"], fedje)


@pytest.mark.parametrize(
    ("params", "field_name"),
    [
        ({"group_by": "week"}, "group_by"),
        ({"from": "2025-13"}, "from"),
        ({"from": "garbage"}, "from"),
        ({"from": "2025-06", "to": "2025-01"}, "from"),
        ({"from": "2010-01", "to": "2025-12"}, "from"),
        ({"municipality": "9999"}, "municipality"),
        ({"patient_group": "adults"}, "patient_group"),
        ({"hospital": "rikshospitalet"}, "hospital"),
        ({"department_id": "x"}, "department_id"),
        ({"department_id": "999"}, "department_id"),  # like an unknown municipality
    ],
)
async def test_bad_filters_are_422_with_the_field(
    client: Client, db: async_sessionmaker[AsyncSession], params: dict[str, str], field_name: str
) -> None:
    await build_world(db)
    await login(client, "evaluator")
    resp = await client.get("/api/v1/statistics", params=params)
    assert resp.status == 422
    assert (await resp.json())["field"] == field_name


@pytest.mark.parametrize("who", ["gp", "specialist", "coordinator"])
async def test_statistics_are_for_evaluators_only(
    client: Client, db: async_sessionmaker[AsyncSession], who: str
) -> None:
    await build_world(db)
    assert (await client.get("/api/v1/statistics")).status == 401
    await login(client, who)
    assert (await client.get("/api/v1/statistics")).status == 403
    assert (await client.get("/api/v1/statistics.csv")).status == 403


async def test_factor_override_changes_totals_and_version(
    aiohttp_client: Any, settings: Settings, clock: FakeClock, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    await seed(db, world, n=160)
    params = {"from": "2025-01", "to": "2025-12"}

    async def totals(app_settings: Settings) -> dict[str, Any]:
        client = await aiohttp_client(create_app(app_settings, clock=clock))
        await login(client, "evaluator")
        body: dict[str, Any] = await (await client.get("/api/v1/statistics", params=params)).json()
        return body

    shipped = await totals(settings)
    doubled = settings.model_copy(update={"green_factor_overrides": {"ef_car_kg_per_vkm": 0.26}})
    changed = await totals(doubled)
    assert shipped["factor_set"]["modified"] is False
    assert changed["factor_set"]["modified"] is True
    assert changed["factor_set"]["version"].startswith(shipped["factor_set"]["version"] + "+mod.")
    assert changed["factor_set"]["overrides"] == {"ef_car_kg_per_vkm": 0.26}
    before = shipped["total"]["travel"]["assumed"]
    after = changed["total"]["travel"]["assumed"]
    assert after["co2e_kg"] > before["co2e_kg"]
    assert after["person_km"] == before["person_km"]  # distance does not depend on the factor


def test_bad_factor_override_stops_the_start() -> None:
    with pytest.raises(ValueError, match="SAMKONS_GREEN_FACTOR_OVERRIDES"):
        create_app(Settings(mode="test", green_factor_overrides={"no_such_factor": 1.0}))
    with pytest.raises(ValueError, match="SAMKONS_GREEN_FACTOR_OVERRIDES"):
        create_app(Settings(mode="test", green_factor_overrides={"ef_car_kg_per_vkm": -1.0}))


def test_factor_overrides_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMKONS_GREEN_FACTOR_OVERRIDES", json.dumps({"detour_factor": 1.4}))
    assert Settings().green_factor_overrides == {"detour_factor": 1.4}


def test_the_statistics_rows_name_the_groups_and_roles_the_schema_allows() -> None:
    # The report's rows come from the domain's vocabulary; the database's checks from the models.
    assert statistics_query.PATIENT_GROUPS == models.PATIENT_GROUPS
    assert statistics_report.PARTICIPANT_ROLES == models.PARTICIPANT_ROLES


async def test_the_department_filter_lists_every_department_for_evaluators_only(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await build_world(db)

    def actor(user_id: int, role: str) -> Actor:
        return Actor(user_id, role, "Someone", "nn", gp_office_id=None, department_id=None)

    found = await filter_departments(db, actor(world.evaluator, "evaluator"))
    assert {(d.id, d.hospital_id) for d in found} == {
        (world.geriatrics, world.haukeland),
        (world.psychiatry, world.haraldsplass),
    }
    with pytest.raises(NotAllowed):
        await filter_departments(db, actor(world.gp, "gp"))
