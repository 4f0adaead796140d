"""The GP's booking journey in headless Chromium (Debian's): an existing patient is given an
e-mail address and mobile while booking, everyone who would get no invitation is named before
the booking is sent, and a fødselsnummer already registered shows the stored patient and changes
nothing until the GP says so; the «green health» travel questions are asked with defaults from
the patient's municipality. In nynorsk, bokmål and English where the words matter."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.travel.keys import decode_travel_key
from service.storage.models import Consultation, Patient
from tests.factories import Client, World, booking_body, build_world, login
from tests.test_pages_browser import browser, open_logged_in

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the fixture, used by name

SLOT = "2026-01-07T10:00:00+01:00"
WORDS = {
    "nn": ("Desse har inga e-postadresse", "alt registrert ved legekontoret"),
    "nb": ("Disse har ingen e-postadresse", "allerede registrert ved legekontoret"),
    "en": ("These people have no e-mail address", "registered at your GP office already"),
}


async def choose_time(page: Page, world: World) -> None:
    await page.select_option("#f-department_id", str(world.geriatrics))
    await page.select_option("#f-specialist_id", str(world.specialist))
    await page.select_option("#f-patient_group", "frail_elderly")
    await page.wait_for_selector(f'#slots input[value="{SLOT}"]')
    await page.check(f'#slots input[value="{SLOT}"]')


@pytest.mark.parametrize("language", ["nn", "nb", "en"])
async def test_gp_adds_contact_details_and_is_warned_before_booking(
    client: Client, db: async_sessionmaker[AsyncSession], browser: Browser, language: str
) -> None:
    world = await build_world(db)
    async with db() as s, s.begin():
        await s.execute(update(Patient).where(Patient.id == world.patient2).values(email=None))
    page, problems = await open_logged_in(browser, client, "gp")
    await page.goto(str(client.make_url(f"/bestill?lang={language}")))
    await page.select_option("#f-patient_id", str(world.patient))
    # The stored details are shown to be checked.
    assert await page.input_value("#f-patient_contact-email") == "p1@test.no"
    await page.select_option("#f-patient_id", str(world.patient2))
    assert await page.input_value("#f-patient_contact-email") == ""
    await choose_time(page, world)
    await page.fill("#f-relatives-0-name", "Dotter Ein")
    await page.click('button[value="book"]')

    # Asked before anything is booked: both are named.
    text = await page.inner_text("#no-invitation")
    assert WORDS[language][0] in text
    assert "Pasient To" in text and "Dotter Ein" in text
    # The GP adds the patient's address and mobile instead; the relative stays without.
    await page.fill("#f-patient_contact-email", "pasient.to@test.no")
    await page.fill("#f-patient_contact-phone", "+4791234567")
    await page.click('button[value="book"]')
    text = await page.inner_text("#no-invitation")
    assert "Dotter Ein" in text and "Pasient To" not in text
    await page.check("#f-confirm_no_invite")
    await page.click('button[value="book"]')
    await page.wait_for_url("**/samkonsultasjonar/*")
    async with db() as s:
        stored = await s.get(Patient, world.patient2)
    assert stored is not None
    assert (stored.email, stored.phone) == ("pasient.to@test.no", "+4791234567")
    assert problems == []


@pytest.mark.parametrize("language", ["nn", "nb", "en"])
async def test_a_known_fodselsnummer_shows_the_stored_patient_and_asks(
    client: Client, db: async_sessionmaker[AsyncSession], browser: Browser, language: str
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    known = {
        "name": "Sigrun Nesheim",
        "postal_code": "5914",
        "fnr": "31129956715",
        "email": "sigrun@test.no",
    }
    resp = await client.post(
        "/api/v1/consultations",
        json=booking_body(world, "2026-01-08T10:00:00+01:00", patient_id=None, patient=known),
        headers=gp,
    )
    assert resp.status == 201, await resp.text()
    sigrun = (await resp.json())["patient_id"]

    page, problems = await open_logged_in(browser, client, "gp")
    await page.goto(str(client.make_url(f"/bestill?lang={language}")))
    await page.check("#f-patient_mode-new")
    await page.fill("#f-patient-name", "Sigrun N. Nesheim")
    await page.fill("#f-patient-postal_code", "5914")
    await page.fill("#f-patient-email", "ny@test.no")
    await page.fill("#f-patient-fnr", "31129956715")
    await choose_time(page, world)
    await page.click('button[value="book"]')

    shown = await page.inner_text("#existing-patient")
    assert WORDS[language][1] in shown
    assert "Sigrun Nesheim" in shown and "sigrun@test.no" in shown
    async with db() as s:
        unchanged = await s.get(Patient, sigrun)
    assert unchanged is not None and unchanged.name == "Sigrun Nesheim"

    await page.check("#f-update_existing_patient")
    await page.check(f'#slots input[value="{SLOT}"]')
    await page.click('button[value="book"]')
    await page.wait_for_url("**/samkonsultasjonar/*")
    async with db() as s:
        updated = await s.get(Patient, sigrun)
    assert updated is not None
    assert (updated.name, updated.email) == ("Sigrun N. Nesheim", "ny@test.no")
    assert problems == []


TRAVEL_WORDS = {
    "nn": ("Ville pasienten ha reist til sjukehuset?", "Frå:"),
    "nb": ("Ville pasienten ha reist til sykehuset?", "Fra:"),
    "en": ("Would the patient have travelled to the hospital?", "From:"),
}


@pytest.mark.parametrize("language", ["nn", "nb", "en"])
async def test_the_gp_answers_the_travel_questions_with_defaults_from_the_municipality(
    client: Client, db: async_sessionmaker[AsyncSession], browser: Browser, language: str
) -> None:
    world = await build_world(db)
    page, problems = await open_logged_in(browser, client, "gp")
    await page.goto(str(client.make_url(f"/bestill?lang={language}")))
    await page.select_option("#f-patient_id", str(world.patient))
    travel = await page.inner_text("#f-patient_travel")
    question, from_label = TRAVEL_WORDS[language]
    assert question in travel
    assert f"{from_label} Alver" in travel  # postal code 5914
    assert await page.input_value("#f-patient_travel-mode") == "car"
    assert await page.is_checked("#f-patient_travel-would_travel-yes")

    await page.select_option("#f-patient_travel-mode", "bus")
    await page.check("#f-patient_travel-escort")
    await choose_time(page, world)
    await page.click('button[value="book"]')
    await page.wait_for_url("**/samkonsultasjonar/*")
    async with db() as s:
        (key,) = (await s.scalars(select(Consultation.travel_key))).all()
    assert key is not None
    facts = decode_travel_key(key)
    assert (facts.patient.would_travel, facts.patient.mode) == (True, "bus")
    assert (facts.patient.escort, facts.patient.works) == (True, False)
    assert problems == []
