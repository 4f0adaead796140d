"""The demo as `make run` serves it, on SQLite and PostgreSQL: `samkons seed-demo` fills an empty
database once, the demo GP books a consultation through the pages (no JavaScript), and the demo
specialist then finds it on their list. Also the `samkons` command's own answers to bad input."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service import cli
from service.demo import DEMO_PASSWORD, seed_demo
from service.domain.clock import FakeClock
from service.domain.travel.reference import load_reference_data
from service.http.app import create_app
from service.settings import Settings
from service.storage.models import Consultation, GpOffice, Participant, Patient, User
from tests.factories import Client
from tests.test_pages import CONSULTATION_URL, csrf_of, text_of

OPTION = re.compile(r'<option value="(\d+)"[^>]*>([^<]+)</option>')
FIRST_SLOT = re.compile(r'name="starts_at" value="([^"]+)"')


def select_options(html: str, name: str) -> list[tuple[str, str]]:
    """The (value, label) pairs of the <select name=...> on a page, without the empty choice."""
    start = html.index(f'name="{name}"')
    end = html.index("</select>", start)
    return OPTION.findall(html[start:end])


async def login_as(client: Client, email: str) -> str:
    form = await client.get("/logg-inn")
    resp = await client.post(
        "/logg-inn",
        data={"csrf_token": csrf_of(await form.text()), "email": email, "password": DEMO_PASSWORD},
        allow_redirects=False,
    )
    assert resp.status == 303, text_of(await resp.text())
    return csrf_of(await (await client.get("/")).text())


async def count_consultations(db: async_sessionmaker[AsyncSession]) -> int:
    async with db() as s:
        return int(await s.scalar(select(func.count()).select_from(Consultation)) or 0)


async def test_demo_gp_books_on_the_page_and_the_demo_specialist_sees_it(
    settings: Settings,
    clock: FakeClock,
    db: async_sessionmaker[AsyncSession],
    aiohttp_client: Any,
) -> None:
    logins = {role: email for role, email, _ in await seed_demo(settings, clock=clock)}
    seeded = await count_consultations(db)
    assert seeded > 100, "the demo holds a year of consultations"
    # Seeding again leaves the demo as it is.
    await seed_demo(settings, clock=clock)
    assert await count_consultations(db) == seeded

    async with db() as s:
        specialist = await s.scalar(select(User).where(User.email == logins["specialist"]))
        homes = (
            await s.execute(
                select(Patient.postal_code, GpOffice.municipality_number).join(
                    GpOffice, GpOffice.id == Patient.gp_office_id
                )
            )
        ).all()
    assert specialist is not None and specialist.department_id is not None
    # Patients live around their GP's municipality, not all at one address.
    reference = load_reference_data()
    assert len({code for code, _ in homes}) > len({m for _, m in homes})
    for code, municipality in homes:
        assert code is not None
        assert reference.postal_codes[code].municipality_number == municipality
        assert reference.postal_codes[code].category == "G"  # a street address, no PO box

    client: Client = await aiohttp_client(create_app(settings, clock=clock))
    csrf = await login_as(client, logins["gp"])
    empty = await (await client.get("/bestill")).text()
    patients = select_options(empty, "patient_id")
    assert patients, "the demo GP has patients to choose from"
    patient_id, patient_label = patients[0]
    patient_name = patient_label.split(" (")[0]
    choice = {
        "department_id": str(specialist.department_id),
        "specialist_id": str(specialist.id),
        "patient_id": patient_id,
        "duration_minutes": "30",
    }
    with_slots = await (await client.get("/bestill", params=choice)).text()
    slot = FIRST_SLOT.search(with_slots)
    assert slot, "the demo specialist and GP have common free times"

    booked = await client.post(
        "/bestill",
        data={
            "csrf_token": csrf,
            "intent": "book",
            "confirm_no_invite": "yes",  # the demo patients have no address: the GP was told
            "kind": "joint",
            "patient_mode": "existing",
            "patient_location": "home",
            "patient_group": "frail_elderly",
            "purpose": "Demo: oppfølging",
            "starts_at": slot.group(1),
            **choice,
        },
        allow_redirects=False,
    )
    assert booked.status == 303, text_of(await booked.text())
    match = CONSULTATION_URL.match(booked.headers["Location"])
    assert match
    consultation_id = match.group(1)
    assert await count_consultations(db) == seeded + 1

    logout = await client.post("/logg-ut", data={"csrf_token": csrf}, allow_redirects=False)
    assert logout.status == 303
    await login_as(client, logins["specialist"])
    listing = await (await client.get("/samkonsultasjonar")).text()
    assert f"/samkonsultasjonar/{consultation_id}" in listing
    assert patient_name in text_of(listing)
    async with db() as s:
        roles = set(
            await s.scalars(
                select(Participant.role).where(Participant.consultation_id == consultation_id)
            )
        )
    assert {"gp", "patient"} <= roles


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    database = tmp_path / "var" / "cli.sqlite3"
    monkeypatch.setenv("SAMKONS_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.setenv("SAMKONS_OUTBOX_DIR", str(tmp_path / "outbox"))
    yield database


def test_migrate_seed_and_create_user_from_the_command_line(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["migrate"]) == 0
    assert sqlite_env.exists(), "migrate creates the SQLite file and its folder"
    # The scheduler's chatter about each job run stays out of the service's log.
    assert logging.getLogger("apscheduler").getEffectiveLevel() == logging.WARNING
    assert cli.main(["seed-demo"]) == 0
    out = capsys.readouterr().out
    for email in ("fastlege@demo.samkons.no", "spesialist@demo.samkons.no"):
        assert email in out
    assert DEMO_PASSWORD in out

    args = ["create-user", "--email", "ny@test.no", "--name", "Ny Evaluator"]
    assert cli.main([*args, "--role", "evaluator", "--password", "langt-passord-2026"]) == 0
    assert "Created user" in capsys.readouterr().out
    # The same address twice is a clear refusal, not a traceback; so are a department or GP
    # office that does not exist and an address that is none.
    assert cli.main([*args, "--role", "evaluator", "--password", "langt-passord-2026"]) == 1
    assert capsys.readouterr().err.startswith("samkons: ")
    password = ["--password", "langt-passord-2026"]
    for extra, says in [
        (["--role", "specialist", "--department-id", "999"], "no department 999"),
        (["--role", "gp", "--gp-office-id", "99999999999"], "no gp office 99999999999"),
    ]:
        new = ["create-user", "--email", "ny2@test.no", "--name", "Ny", *password]
        assert cli.main([*new, *extra]) == 1
        err = capsys.readouterr().err
        assert err.startswith("samkons: ") and says in err and "Traceback" not in err
    bad_email = ["create-user", "--email", "notanemail", "--name", "X", "--role", "evaluator"]
    assert cli.main([*bad_email, *password]) == 1
    assert "not an e-mail address" in capsys.readouterr().err


def test_bad_command_line_input_is_refused_with_a_message(
    sqlite_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as unknown_role:
        cli.main(["create-user", "--email", "a@test.no", "--name", "A", "--role", "doctor"])
    assert unknown_role.value.code == 2
    assert "invalid choice" in capsys.readouterr().err

    monkeypatch.setenv("SAMKONS_MODE", "production")
    assert cli.main(["migrate"]) == 2
    assert "configuration refused" in capsys.readouterr().err
