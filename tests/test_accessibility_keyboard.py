"""Keyboard-only journeys in Debian's headless Chromium: no mouse, focus always somewhere useful.

A GP books a consultation; a clinician lets people in and takes one out; a patient joins, mutes
and leaves. The call page's updates (someone joins, mutes, is let in) must not take the focus
away, and what changes is said in the live region.
"""

# Fixtures come from tests.a11y_support by import; test parameters then share their names.
# ruff: noqa: F811

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from tests.a11y_support import (  # noqa: F401 - fixtures
    Samples,
    base,
    browser,
    client,
    clock,
    context_as,
    db,
    db_url,
    samples,
    server,
    world,
)
from tests.factories import World

pytestmark = pytest.mark.browser


async def tab_to(page: Page, selector: str, *, limit: int = 120, backwards: bool = False) -> None:
    """Press Tab until the element `selector` has focus; fails if the keyboard cannot reach it."""
    for _ in range(limit):
        if await page.evaluate(
            "(s) => Boolean(document.activeElement && document.activeElement.matches(s))", selector
        ):
            return
        await page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"the keyboard never reached {selector}")


async def focused(page: Page) -> dict[str, str]:
    """Who has focus: id, participant, accessible label, and the text the element shows."""
    found: dict[str, str] = await page.evaluate(
        """() => {
            const el = document.activeElement;
            return {
                id: el.id || '',
                participant: el.dataset.participant || '',
                label: el.getAttribute('aria-label') || el.textContent.trim(),
                tag: el.tagName.toLowerCase(),
            };
        }"""
    )
    return found


async def announced(page: Page, words: str, timeout: float = 10000) -> None:
    await page.wait_for_function(
        "(w) => document.getElementById('announcer').textContent.includes(w)",
        arg=words,
        timeout=timeout,
    )


@pytest.mark.timeout(180)
async def test_the_call_by_keyboard_lets_in_takes_out_mutes_and_leaves(
    server: TestServer, samples: Samples, browser: Browser
) -> None:
    call = samples.call
    patient_id, relative_id = call.participants["patient"], call.participants["relative"]
    clinician = await context_as(browser, server, "gp")
    guests = await context_as(browser, server, "guest")
    relatives = await context_as(browser, server, "guest")
    try:
        gp = await clinician.new_page()
        await gp.goto(f"{base(server)}/samkonsultasjonar/{call.id}/video")
        await gp.wait_for_selector("#call-root[data-state='connected']", timeout=10000)

        patient = await guests.new_page()
        await patient.goto(f"{base(server)}/bli-med/{call.tokens['patient']}")
        await patient.wait_for_selector("#call-root[data-state='waiting']", timeout=10000)
        await announced(gp, "Pasient Ein ventar på å bli sleppt inn.")

        # The clinician tabs to the button that lets the patient in; it is named for her.
        await tab_to(gp, f"button.admit[data-participant='{patient_id}']")
        assert (await focused(gp))["label"] == "Slepp inn Pasient Ein"

        # Others arriving and the patient muting herself update the list, not the focus.
        relative = await relatives.new_page()
        await relative.goto(f"{base(server)}/bli-med/{call.tokens['relative']}")
        await gp.wait_for_selector(f"button.admit[data-participant='{relative_id}']")
        await tab_to(patient, "#toggle-mic")
        await patient.keyboard.press("Space")
        assert await patient.get_attribute("#toggle-mic", "aria-pressed") == "true"
        await gp.wait_for_function(
            "(id) => document.querySelector(`#roster li[data-participant='${id}']`)"
            ".textContent.includes('mikrofon av')",
            arg=patient_id,
        )
        assert (await focused(gp))["participant"] == patient_id

        # Enter lets her in; focus goes on to the next person waiting.
        await gp.keyboard.press("Enter")
        await patient.wait_for_selector("#call-root[data-state='connected']", timeout=10000)
        await announced(gp, "Pasient Ein er no med i samtalen.")
        await gp.wait_for_function(
            "(id) => document.activeElement.dataset.participant === id", arg=relative_id
        )
        assert (await focused(gp))["label"] == "Slepp inn Pårørande Ein"
        await gp.keyboard.press("Enter")
        await relative.wait_for_selector("#call-root[data-state='connected']", timeout=10000)
        # Nobody is waiting now: focus stays in the waiting-room box, at its heading.
        await gp.wait_for_function("() => document.activeElement.id === 'waiting-list-title'")

        # Taking the relative out: the button says whom it takes out, and asks first.
        remove = f".tile[data-participant='{relative_id}'] button.remove"
        await gp.wait_for_selector(remove)
        await tab_to(gp, remove, backwards=True)
        assert (await focused(gp))["label"] == "Ta ut av samtalen: Pårørande Ein"
        gp.once("dialog", lambda dialog: dialog.accept())
        await gp.keyboard.press("Enter")
        await relative.wait_for_selector("#call-root[data-state='removed']", timeout=10000)
        assert (await focused(relative))["id"] == "ended-title"
        assert await relative.inner_text("#ended-title") == "Du er ikkje lenger med i samtalen"
        await announced(gp, "Pårørande Ein har forlate samtalen.")

        # In the call, the patient turning her microphone back on is said to the others.
        assert (await focused(patient))["id"] == "toggle-mic"
        await patient.keyboard.press("Space")
        assert await patient.get_attribute("#toggle-mic", "aria-pressed") == "false"
        await announced(gp, "Pasient Ein slo på mikrofonen.")

        # The patient's controls are one toolbar: the arrow keys move, Tab leaves it.
        await patient.keyboard.press("ArrowRight")
        assert (await focused(patient))["id"] == "toggle-camera"
        await patient.keyboard.press("End")
        assert (await focused(patient))["id"] == "leave"
        await patient.keyboard.press("Home")
        assert (await focused(patient))["id"] == "toggle-mic"
        await patient.keyboard.press("ArrowLeft")  # round to the last one
        assert (await focused(patient))["id"] == "leave"
        assert await patient.evaluate(
            "() => [...document.querySelectorAll('#controls button')]"
            ".filter((b) => b.tabIndex === 0).map((b) => b.id)"
        ) == ["leave"]
        await patient.keyboard.press("Enter")
        await patient.wait_for_selector("#call-root[data-state='left']", timeout=10000)
        # The Leave button is gone; focus is on the heading that says the call is over.
        assert (await focused(patient))["id"] == "ended-title"
        assert await patient.inner_text("#ended-title") == "Samtalen er slutt"
        assert await patient.get_attribute("#ended-view", "aria-live") == "polite"
        await announced(gp, "Pasient Ein har forlate samtalen.")
    finally:
        for context in (clinician, guests, relatives):
            await context.close()


@pytest.mark.timeout(120)
async def test_a_gp_books_a_consultation_with_the_keyboard_alone(
    server: TestServer, world: World, browser: Browser
) -> None:
    context = await context_as(browser, server, "gp")
    try:
        page = await context.new_page()
        await page.goto(f"{base(server)}/samkonsultasjonar")
        # From the top of the page: the skip link first, then the way to the booking form.
        await page.keyboard.press("Tab")
        assert (await focused(page))["label"] == "Gå til hovudinnhaldet"
        await tab_to(page, "main a[href='/bestill']")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/bestill")

        await tab_to(page, "#f-department_id")
        await page.keyboard.type("Geriatrisk")  # picks the option as a keyboard user does
        assert await page.input_value("#f-department_id") == str(world.geriatrics)
        await tab_to(page, "#f-patient_id")
        await page.keyboard.type("Pasient Ein")
        assert await page.input_value("#f-patient_id") == str(world.patient)
        await tab_to(page, "#f-patient_group")
        await page.keyboard.press("ArrowDown")
        assert await page.input_value("#f-patient_group") != ""
        # The free times come in without a reload; the first day's first time, by keyboard.
        await page.wait_for_selector("#slots input[name='starts_at']", timeout=10000)
        await tab_to(page, "#slots input[name='starts_at']")
        await page.keyboard.press("Space")
        chosen = await page.evaluate("() => document.activeElement.value")
        assert await page.is_checked(f"#slots input[value='{chosen}']")
        await tab_to(page, "button[value='book']")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/samkonsultasjonar/*")
        assert "Pasient Ein" in await page.inner_text("main")
    finally:
        await context.close()
