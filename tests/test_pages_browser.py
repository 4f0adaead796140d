"""The booking page in headless Chromium (Debian's, never a downloaded build): the slot list
follows the choices through `/api/v1/slots`, parts that do not apply step aside, the page
breaks no Content-Security-Policy rule, and a booking made with the script lands on its page."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import EMAILS, PASSWORD, Client, build_world

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed; CI needs it", pytrace=False)
        pytest.skip("Chromium is not installed")
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield b
        await b.close()


async def open_logged_in(browser: Browser, client: Client, who: str) -> tuple[Page, list[str]]:
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(str(client.make_url("/logg-inn")))
    await page.fill("#f-email", EMAILS[who])
    await page.fill("#f-password", PASSWORD)
    await page.click("button.primary")
    await page.wait_for_url("**/samkonsultasjonar")
    return page, problems


async def test_slot_list_follows_the_choices_and_the_booking_goes_through(
    client: Client, db: async_sessionmaker[AsyncSession], browser: Browser
) -> None:
    world = await build_world(db)
    page, problems = await open_logged_in(browser, client, "gp")
    await page.goto(str(client.make_url("/bestill")))
    assert "Vel avdeling for å sjå ledige tider." in await page.inner_text("#slots")

    await page.select_option("#f-department_id", str(world.geriatrics))
    await page.wait_for_selector("#slots .slot-days")
    first_day = await page.text_content("#slots .slot-day-name >> nth=0")
    assert first_day == "måndag 5. januar 2026"  # the server's nynorsk, not the browser's
    # Only the chosen department's specialists can be picked.
    assert await page.locator(f'optgroup[data-department="{world.psychiatry}"]').is_hidden()

    await page.select_option("#f-specialist_id", str(world.specialist))
    await page.select_option("#f-patient_id", str(world.patient))
    await page.select_option("#f-duration_minutes", "60")
    await page.wait_for_selector('#slots input[value="2026-01-07T10:00:00+01:00"]')

    # A new patient's fields show only when asked for; guidance hides the relatives.
    assert await page.locator('[data-patient-mode="new"]').is_hidden()
    await page.check("#f-kind-guidance")
    assert await page.locator("[data-joint-only] >> nth=0").is_hidden()
    await page.check("#f-kind-joint")
    # One relative row shows; another appears on request.
    assert await page.locator('[data-relative-row="1"]').is_hidden()
    await page.click("[data-add-relative]")
    assert await page.locator('[data-relative-row="1"]').is_visible()

    await page.select_option("#f-patient_group", "frail_elderly")
    await page.fill("#f-relatives-0-name", "Dotter Ein")
    await page.check('#slots input[value="2026-01-07T10:00:00+01:00"]')
    await page.click('button[value="book"]')
    # Neither the patient nor the relative has an address: asked before booking.
    await page.wait_for_selector("#no-invitation")
    await page.check("#f-confirm_no_invite")
    await page.click('button[value="book"]')
    await page.wait_for_url("**/samkonsultasjonar/*")
    heading = await page.inner_text("h1")
    assert heading == "onsdag 7. januar 2026, 10:00–11:00"
    assert "Dotter Ein" in await page.inner_text("main")
    assert problems == []  # no script errors and no Content-Security-Policy violations
