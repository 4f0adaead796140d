"""Every page passes axe-core's WCAG 2.0/2.1 A and AA rules in Debian's headless Chromium, in
nynorsk, bokmål and English, as each role that can see it, and keyboard focus is visible at 3:1.

The pages come from the app's own route table, so a page added later is checked without anyone
listing it here; a new path parameter fails the sweep until it gets a sample value below. API
answers, calendar feeds and e-mail files are left out by their content type, not by name.
"""

# Fixtures come from tests.a11y_support by import; test parameters then share their names.
# ruff: noqa: F811

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page
from playwright.async_api import Error as PlaywrightError

from service.domain.i18n import load_translations
from tests.a11y_support import (  # noqa: F401 - fixtures
    AXE_JS,
    LANGUAGES,
    Samples,
    axe_violations,
    base,
    browser,
    client,
    clock,
    context_as,
    db,
    db_url,
    horizontal_overflow,
    page_problems,
    samples,
    server,
    too_wide,
    weak_focus_indicators,
    world,
)
from tests.factories import World

pytestmark = pytest.mark.browser

ROLES = ("guest", "gp", "specialist", "coordinator", "evaluator", "admin")
HTML = "text/html"
PARAMETER = re.compile(r"\{(\w+)")
TITLE = re.compile(r"<title>(.*?)</title>", re.S)


# --- the route table -------------------------------------------------------------------------


def sample_values(samples: Samples, world: World) -> dict[str, dict[str, list[str]]]:
    """Values for each path parameter: by route ("*" for any route), then by name."""
    call = samples.call
    consultations = [
        samples.requested,
        samples.confirmed,
        samples.completed,
        call.id,
        samples.later_call.id,
    ]
    return {
        "*": {
            "consultation_id": consultations,
            "department_id": [str(world.geriatrics)],
            "mail_id": ["1"],
            "exception_id": ["1"],
            "session_id": ["unknown"],
            "room": [call.room_id],
        },
        "/bli-med/{token}": {
            "token": [
                call.tokens["patient"],
                call.tokens["relative"],
                samples.later_call.tokens["patient"],  # the room is not open yet
                "not-a-valid-link",
            ]
        },
        "/sporjeskjema/{token}": {"token": [samples.survey_token, "not-a-valid-link"]},
        "/kalender/{token}.ics": {"token": ["not-a-valid-link"]},
    }


def get_paths(app: web.Application, samples: Samples, world: World) -> list[str]:
    """A concrete path for every GET route of the app (each sample value of each parameter)."""
    values = sample_values(samples, world)
    paths: list[str] = []
    unknown: list[str] = []
    for route in app.router.routes():
        resource = route.resource
        if route.method != "GET" or resource is None or isinstance(resource, web.StaticResource):
            continue  # files, not pages
        if isinstance(resource, web.PlainResource):
            paths.append(resource.canonical)
            continue
        template = resource.canonical
        names = PARAMETER.findall(template)
        own = values.get(template, {})
        choices: list[list[str]] = []
        for name in names:
            found = own.get(name) or values["*"].get(name)
            if not found:
                unknown.append(f"{template}: {name}")
                found = []
            choices.append(found)
        for combination in itertools.product(*choices):
            paths.append(str(resource.url_for(**dict(zip(names, combination, strict=True)))))
    assert not unknown, f"no sample value for these path parameters (add them above): {unknown}"
    return sorted(set(paths))


@dataclass
class Sweep:
    checked: list[str]
    skipped: list[str]
    problems: list[str]


# What a sweep does on each page: (page, where, first time this page is seen) → problems.
Check = Callable[[Page, str, bool], Awaitable[list[str]]]


async def axe_and_focus(page: Page, where: str, first: bool) -> list[str]:
    # Colours do not change with the language: the focus check once per page.
    return await page_problems(page, where, focus=first)


async def sweep(
    browser: Browser,
    server: TestServer,
    role: str,
    paths: list[str],
    check: Check = axe_and_focus,
    *,
    languages: tuple[str, ...] = LANGUAGES,
    width: int = 1280,
) -> Sweep:
    """`check` on each path that answers with a page, in each language. One tab for all: a
    fresh one per page would cost axe-core a recompile each time."""
    context = await context_as(browser, server, role, width=width)
    page = await context.new_page()
    result = Sweep([], [], [])
    seen: set[tuple[str, str, int]] = set()
    not_pages: set[str] = set()
    focus_seen: set[tuple[str, int]] = set()
    try:
        for path, lang in itertools.product(paths, languages):
            if path in not_pages:
                continue  # its content type does not change with the language
            url = f"{base(server)}{path}?lang={lang}"
            probe = await context.request.get(url)
            kind = probe.headers.get("content-type", "").split(";")[0].strip()
            if kind != HTML:
                result.skipped.append(f"{path} ({kind or 'no content type'})")
                not_pages.add(path)
                continue
            if probe.status >= 500:
                result.problems.append(f"{role} {lang} {path}: server error {probe.status}")
            final = probe.url.split("?")[0].removeprefix(base(server))
            # An error page is the same for every path that gives it (told apart by its title);
            # a redirect may land on a page already seen.
            if probe.status >= 400:
                title = TITLE.search(await probe.text())
                final = f"error page «{title.group(1) if title else ''}»"
            key = (final, lang, probe.status)
            if key in seen:
                continue
            seen.add(key)
            # The join page keeps its link in the tab; the next page must not find it there.
            await page.evaluate("() => { try { sessionStorage.clear(); } catch (e) {} }")
            await page.goto(url, wait_until="load")
            where = f"{role} {lang} {path} → {final} ({probe.status})"
            result.checked.append(where)
            first = (key[0], probe.status) not in focus_seen
            focus_seen.add((key[0], probe.status))
            result.problems += await check(page, where, first)
    finally:
        await context.close()
    return result


@pytest.mark.timeout(600)
@pytest.mark.parametrize("role", ROLES)
async def test_every_page_passes_axe_in_every_language(
    role: str, server: TestServer, samples: Samples, world: World, browser: Browser
) -> None:
    paths = get_paths(server.app, samples, world)
    result = await sweep(browser, server, role, paths)
    assert result.checked, "no page was checked"
    assert not result.problems, "\n".join(result.problems)


# --- reflow: 320 CSS pixels wide, and text at 200 % ----------------------------------------

REFLOW_ROLES = ("guest", "gp", "specialist", "evaluator")


def reflow_check(shots: Path) -> Check:
    async def check(page: Page, where: str, first: bool) -> list[str]:
        problems: list[str] = []
        name = re.sub(r"[^A-Za-z0-9]+", "-", where)[:80]
        # WCAG 1.4.10: at 320 CSS px (1280 px zoomed to 400 %) nothing needs sideways scrolling.
        if (overflow := await horizontal_overflow(page)) > 0:
            problems.append(f"{where}: {overflow} px wider than 320 px: {await too_wide(page)}")
        await page.screenshot(path=shots / f"{name}-320.png", full_page=True)
        # WCAG 1.4.4: text at 200 %, in a window as wide as a laptop's at that zoom.
        await page.set_viewport_size({"width": 640, "height": 900})
        await page.evaluate("() => { document.documentElement.style.fontSize = '200%'; }")
        if (overflow := await horizontal_overflow(page)) > 0:
            problems.append(f"{where}: {overflow} px too wide, text 200 %: {await too_wide(page)}")
        await page.screenshot(path=shots / f"{name}-200.png", full_page=True)
        await page.set_viewport_size({"width": 320, "height": 640})
        return problems

    return check


@pytest.mark.timeout(300)
@pytest.mark.parametrize("role", REFLOW_ROLES)
async def test_every_page_reflows_at_320_px_and_with_text_at_200_percent(
    role: str, server: TestServer, samples: Samples, world: World, browser: Browser, tmp_path: Path
) -> None:
    paths = get_paths(server.app, samples, world)
    check = reflow_check(tmp_path)
    result = await sweep(browser, server, role, paths, check, languages=("nn",), width=320)
    assert result.checked, "no page was checked"
    assert not result.problems, "\n".join(result.problems)


# --- the call page, state by state -----------------------------------------------------------


async def pressed_by_name(page: Page, name: str, pressed: bool) -> int:
    """How many buttons have this accessible name and this aria-pressed state."""
    return await page.get_by_role("button", name=name, exact=True, pressed=pressed).count()


async def toggles_keep_their_names(page: Page, lang: str, where: str) -> list[str]:
    """Each toggle says its state with aria-pressed alone; its name stays (WCAG 4.1.2)."""
    gettext = load_translations(lang).gettext
    problems: list[str] = []
    for selector, msgid in (
        ("#toggle-mic", "Mute"),
        ("#toggle-camera", "Turn camera off"),
    ):
        name = gettext(msgid)
        if await pressed_by_name(page, name, pressed=False) != 1:
            problems.append(f"{where}: no button «{name}», not pressed, before the click")
            continue
        await page.locator(selector).click()
        if await pressed_by_name(page, name, pressed=True) != 1:
            problems.append(f"{where}: «{name}» lost its name or its state once pressed")
        await page.locator(selector).click()
        if await pressed_by_name(page, name, pressed=False) != 1:
            problems.append(f"{where}: «{name}» lost its name or its state once released")
    return problems


@pytest.mark.timeout(300)
@pytest.mark.parametrize("lang", LANGUAGES)
async def test_every_state_of_the_call_page_passes_axe(
    lang: str, server: TestServer, samples: Samples, browser: Browser
) -> None:
    call = samples.call
    gettext = load_translations(lang).gettext
    problems: list[str] = []
    clinician = await context_as(browser, server, "gp")
    guests = await context_as(browser, server, "guest")
    relatives = await context_as(browser, server, "guest")
    try:
        gp = await clinician.new_page()
        await gp.goto(f"{base(server)}/samkonsultasjonar/{call.id}/video?lang={lang}")
        await gp.wait_for_selector("#call-root[data-state='connected']", timeout=10000)
        problems += await page_problems(gp, f"{lang} clinician alone in the room")
        problems += await toggles_keep_their_names(gp, lang, f"{lang} clinician")

        patient = await guests.new_page()
        await patient.goto(f"{base(server)}/bli-med/{call.tokens['patient']}?lang={lang}")
        await patient.wait_for_selector("#call-root[data-state='waiting']", timeout=10000)
        problems += await page_problems(patient, f"{lang} patient in the waiting room")

        patient_id = call.participants["patient"]
        admit_name = gettext("Let in %(name)s") % {"name": "Pasient Ein"}
        admit = gp.get_by_role("button", name=admit_name, exact=True)
        await admit.wait_for(timeout=10000)
        problems += await page_problems(gp, f"{lang} clinician with a patient waiting")

        await admit.click()
        await patient.wait_for_selector("#call-root[data-state='connected']", timeout=10000)
        await patient.wait_for_selector(f".tile[data-participant='{call.gp_participant}']")
        await gp.wait_for_selector(f".tile[data-participant='{patient_id}']")
        problems += await page_problems(patient, f"{lang} patient in the call")
        problems += await page_problems(gp, f"{lang} clinician in the call with the patient")
        problems += await toggles_keep_their_names(patient, lang, f"{lang} patient")

        relative = await relatives.new_page()
        await relative.goto(f"{base(server)}/bli-med/{call.tokens['relative']}?lang={lang}")
        relative_id = call.participants["relative"]
        await gp.locator(f"button.admit[data-participant='{relative_id}']").click(timeout=10000)
        remove = gp.locator(f".tile[data-participant='{relative_id}'] button.remove")
        gp.once("dialog", lambda dialog: dialog.accept())
        await remove.click(timeout=10000)
        await relative.wait_for_selector("#call-root[data-state='removed']", timeout=10000)
        problems += await page_problems(relative, f"{lang} relative taken out of the call")

        await patient.locator("#leave").click()
        await patient.wait_for_selector("#call-root[data-state='left']", timeout=10000)
        problems += await page_problems(patient, f"{lang} patient after leaving")
    except PlaywrightError as exc:
        # What was found before the page got stuck is the useful part of the report.
        problems.append(f"{lang}: the journey stopped: {exc.message.splitlines()[0]}")
    finally:
        for context in (clinician, guests, relatives):
            await context.close()
    assert not problems, "\n".join(problems)


async def test_the_checks_catch_what_they_are_for(browser: Browser) -> None:
    """A page with known faults: axe-core must report them, and the focus check the weak ring
    the video pages had (#f2a900 on #f3f5f6: 1.8:1, below 3:1)."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.set_content(
            """<!doctype html><html lang="nn"><head><title>Feil</title><style>
              body { background: #f3f5f6; }
              .faint { color: #bbbbbb; }
              button:focus-visible { outline: 3px solid #f2a900; outline-offset: 2px; }
            </style></head><body><main><h1>Feil</h1>
              <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
              <p class="faint">Lys tekst</p><button type="button">Trykk</button>
            </main></body></html>"""
        )
        await page.add_script_tag(path=str(AXE_JS))
        rules = {v.rule for v in await axe_violations(page)}
        assert {"image-alt", "color-contrast"} <= rules
        weak = await weak_focus_indicators(page)
        assert len(weak) == 1 and "button" in weak[0] and "1.8:1" in weak[0], weak
    finally:
        await context.close()


# --- forms sent back with errors (POST answers, which the route sweep does not reach) --------


@pytest.mark.timeout(300)
@pytest.mark.parametrize("lang", LANGUAGES)
async def test_forms_sent_back_with_errors_pass_axe(
    lang: str, server: TestServer, samples: Samples, browser: Browser
) -> None:
    problems: list[str] = []
    first = lang == "nn"  # colours do not change with the language
    guest = await context_as(browser, server, "guest")
    gp = await context_as(browser, server, "gp")
    try:
        page = await guest.new_page()
        await page.goto(f"{base(server)}/logg-inn?lang={lang}")
        await page.fill("#f-email", "gp@test.no")
        await page.fill("#f-password", "not the password")
        await page.click("button.primary")
        await page.wait_for_selector(".error-summary")
        problems += await page_problems(page, f"{lang} login refused", focus=first)

        await page.goto(f"{base(server)}/sporjeskjema/{samples.survey_token}?lang={lang}")
        # Past the browser's own check of the required answer, as an older browser would be.
        await page.evaluate("() => { document.querySelector('form.survey').noValidate = true; }")
        await page.click("form.survey button[type='submit']")
        await page.wait_for_selector(".error-summary")
        problems += await page_problems(page, f"{lang} survey without answers", focus=first)

        booking = await gp.new_page()
        await booking.goto(f"{base(server)}/bestill?lang={lang}")
        await booking.click("button[value='book']")
        await booking.wait_for_selector(".error-summary")
        problems += await page_problems(booking, f"{lang} empty booking", focus=first)
    finally:
        await guest.close()
        await gp.close()
    assert not problems, "\n".join(problems)
