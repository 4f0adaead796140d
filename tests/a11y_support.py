"""Accessibility checks in a real browser: axe-core's WCAG 2.0/2.1 A and AA rules, the contrast
of the focus indicator (which axe does not check), reflow, and the seeded data the checks visit.

axe-core comes from npm into tests/js (beside ical.js) and is put into every document as an init
script, so the pages' Content-Security-Policy stays on and the page's own scripts run as usual.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.http.app import create_app
from service.settings import Settings
from service.storage.engine import make_engine, make_sessionmaker
from service.storage.models import Consultation
from service.usecases.survey import create_survey_invitations
from tests.factories import EMAILS, PASSWORD, Client, World, booking_body, build_world, login
from tests.mail_support import act, book
from tests.video_support import Call, make_call

CHROMIUM_CANDIDATES: Final = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_FLAGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LANGUAGES: Final = ("nn", "nb", "en")
AXE_JS: Final = Path(__file__).resolve().parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
# The levels the Norwegian regulation on universal design of ICT asks for.
WCAG_TAGS: Final = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
MIN_UI_CONTRAST: Final = 3.0  # WCAG 1.4.11: user interface components and focus indicators


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str | None
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}): {self.help} at {', '.join(self.targets[:5])}"


async def axe_violations(page: Page) -> list[Violation]:
    """axe-core over the whole document, WCAG 2.0 and 2.1 levels A and AA only."""
    found: list[dict[str, Any]] = await page.evaluate(
        """async (tags) => {
            const result = await window.axe.run(document, {
                runOnly: { type: 'tag', values: tags },
                resultTypes: ['violations'],
            });
            return result.violations.map((v) => ({
                rule: v.id,
                impact: v.impact,
                help: v.help,
                targets: v.nodes.map((n) => n.target.join(' ')),
            }));
        }""",
        list(WCAG_TAGS),
    )
    return [
        Violation(v["rule"], v["impact"], v["help"], tuple(str(t) for t in v["targets"]))
        for v in found
    ]


# --- colour contrast -------------------------------------------------------------------------

_RGB = re.compile(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)")
RGB = tuple[float, float, float]


def parse_colours(css: str) -> list[tuple[RGB, float]]:
    """Every `rgb()`/`rgba()` colour in a computed CSS value, with its alpha."""
    return [
        ((float(r), float(g), float(b)), float(a) if a else 1.0) for r, g, b, a in _RGB.findall(css)
    ]


def luminance(colour: RGB) -> float:
    """Relative luminance as WCAG defines it."""

    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = colour
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: RGB, b: RGB) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# Walks the page with the Tab key as a keyboard user does; for each element reached, what its
# focus looks like (outline, halo, own background) and what lies around it. Run again with
# `restore` to read the backgrounds once focus has left, so a background that only changes on
# focus counts as an indicator and one that is always there does not.
_FOCUS_STATE_JS: Final = """(el) => {
    const style = getComputedStyle(el);
    const solid = (node) => {
        for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
            const bg = getComputedStyle(n).backgroundColor;
            if (bg && !/rgba\\(.*,\\s*0\\)$/.test(bg) && bg !== 'transparent') return bg;
        }
        return 'rgb(255, 255, 255)';
    };
    const name = el.getAttribute('aria-label') || (el.textContent || '').trim().slice(0, 40);
    return {
        tag: el.tagName.toLowerCase(),
        id: el.id,
        cls: el.className && typeof el.className === 'string' ? el.className : '',
        name,
        visible: el.getClientRects().length > 0,
        outlineStyle: style.outlineStyle,
        outlineWidth: parseFloat(style.outlineWidth) || 0,
        outlineColor: style.outlineColor,
        boxShadow: style.boxShadow,
        background: style.backgroundColor,
        around: solid(el.parentElement),
    };
}"""


@dataclass
class FocusStop:
    what: str
    visible: bool
    outline: list[tuple[RGB, float]]
    shadows: list[tuple[RGB, float]]
    focused_background: list[tuple[RGB, float]]
    background: list[tuple[RGB, float]] = field(default_factory=list)
    around: RGB = (255.0, 255.0, 255.0)

    def best_contrast(self) -> float:
        """The strongest part of the focus indicator against what surrounds the element."""
        candidates = [c for c, alpha in self.outline + self.shadows if alpha >= 0.99]
        if self.focused_background != self.background:
            candidates += [c for c, alpha in self.focused_background if alpha >= 0.99]
        return max((contrast(c, self.around) for c in candidates), default=0.0)


async def focus_stops(page: Page, limit: int = 250) -> list[FocusStop]:
    """Every element the Tab key reaches, from the top of the page until focus comes round."""
    await page.evaluate("() => { window.__a11yStops = []; document.activeElement?.blur(); }")
    await page.evaluate("() => window.scrollTo(0, 0)")
    stops: list[FocusStop] = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        state: dict[str, Any] | None = await page.evaluate(
            f"""() => {{
                const el = document.activeElement;
                if (!el || el === document.body || window.__a11yStops.includes(el)) return null;
                window.__a11yStops.push(el);
                return ({_FOCUS_STATE_JS})(el);
            }}"""
        )
        if state is None:
            break
        outline = (
            parse_colours(state["outlineColor"])
            if state["outlineStyle"] not in ("none", "hidden") and state["outlineWidth"] >= 1
            else []
        )
        around = parse_colours(state["around"])
        stops.append(
            FocusStop(
                what=_describe(state),
                visible=bool(state["visible"]),
                outline=outline,
                shadows=parse_colours(state["boxShadow"]),
                focused_background=parse_colours(state["background"]),
                around=around[0][0] if around else (255.0, 255.0, 255.0),
            )
        )
    await page.evaluate("() => document.activeElement?.blur()")
    unfocused: list[str] = await page.evaluate(
        "() => window.__a11yStops.map((el) => getComputedStyle(el).backgroundColor)"
    )
    for stop, background in zip(stops, unfocused, strict=False):
        stop.background = parse_colours(background)
    return stops


def _describe(state: dict[str, Any]) -> str:
    ident = f"#{state['id']}" if state["id"] else ""
    classes = "".join(f".{c}" for c in str(state["cls"]).split())
    return f"{state['tag']}{ident}{classes} «{state['name']}»"


async def weak_focus_indicators(page: Page) -> list[str]:
    """Elements whose keyboard focus is invisible or weaker than 3:1 against their surroundings."""
    return [
        f"{stop.what}: focus contrast {stop.best_contrast():.1f}:1"
        for stop in await focus_stops(page)
        if stop.visible and stop.best_contrast() < MIN_UI_CONTRAST
    ]


async def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no horizontal scrolling)."""
    overflow: int = await page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )
    return overflow


async def too_wide(page: Page, limit: int = 4) -> list[str]:
    """The innermost elements that reach past the right edge of the viewport, for the report."""
    found: list[str] = await page.evaluate(
        """(limit) => {
            const edge = document.documentElement.clientWidth;
            const wide = [...document.body.querySelectorAll('*')].filter((el) => {
                const box = el.getBoundingClientRect();
                return box.width > 0 && box.right > edge + 0.5;
            });
            let innermost = wide.filter((el) => !wide.some((o) => o !== el && el.contains(o)));
            if (!innermost.length) {
                // Text that does not wrap (a long word) overflows its box without widening it.
                innermost = [...document.body.querySelectorAll('*')].filter(
                    (el) => el.scrollWidth > el.clientWidth + 1 && el.children.length === 0);
            }
            return innermost.slice(0, limit).map((el) => {
                const cls = typeof el.className === 'string' && el.className
                    ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
                const text = (el.textContent || '').trim().slice(0, 30);
                return `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${cls} «${text}»`;
            });
        }""",
        limit,
    )
    return found


# --- the data the pages show -----------------------------------------------------------------

REQUESTED_SLOT: Final = "2026-01-07T10:00:00+01:00"
CONFIRMED_SLOT: Final = "2026-01-07T13:00:00+01:00"
COMPLETED_SLOT: Final = "2026-01-08T10:00:00+01:00"


@dataclass
class Samples:
    """Consultations in the states a page can show, and the tokens that open the public pages."""

    requested: str  # waits for the hospital: the specialist sees the accept form
    confirmed: str  # with e-mails queued to everyone taking part
    completed: str  # its participants got survey links
    call: Call  # in its join window now, with a patient and a relative invited
    later_call: Call  # confirmed for the day after tomorrow: its room is not open yet
    survey_token: str


async def seed(
    client: Client, db: async_sessionmaker[AsyncSession], world: World, clock: FakeClock
) -> Samples:
    requested = await book(client, world, REQUESTED_SLOT, purpose="Vurdering av medisinar")
    confirmed = await book(client, world, CONFIRMED_SLOT)
    await act(client, "specialist", confirmed, "accept")
    gp = await login(client, "gp")
    body = booking_body(
        world, COMPLETED_SLOT, relatives=[{"name": "Son Ein", "email": "son@test.no"}]
    )
    resp = await client.post("/api/v1/consultations", json=body, headers=gp)
    assert resp.status == 201, await resp.text()
    completed: str = (await resp.json())["id"]
    await client.delete("/api/v1/session", headers=gp)
    async with db() as s, s.begin():
        await s.execute(
            update(Consultation)
            .where(Consultation.id == completed)
            .values(status="completed", awaiting=None)
        )
    async with db() as s, s.begin():
        invitations = await create_survey_invitations(s, completed, clock.now())
    survey_token = invitations[0][1]
    call = await make_call(db, world, clock.now() + timedelta(minutes=5))
    later_call = await make_call(db, world, clock.now() + timedelta(days=2))
    return Samples(
        requested=requested,
        confirmed=confirmed,
        completed=completed,
        call=call,
        later_call=later_call,
        survey_token=survey_token,
    )


async def page_problems(page: Page, where: str, *, focus: bool = True) -> list[str]:
    """axe-core's violations and weak focus indicators on the page as it is now."""
    problems = [f"{where}: {v}" for v in await axe_violations(page)]
    if focus:
        problems += [f"{where}: {w}" for w in await weak_focus_indicators(page)]
    return problems


# --- fixtures: a server at a known address, the seeded data, Debian's Chromium ---------------
# Test modules import these by name (pytest finds fixtures in a module's namespace).


def chromium_path() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)", pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    # The pages look the same on both databases; the browser runs once.
    path = tmp_path / "a11y.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    # Monday 5 January 2026, 09:00 in Oslo, like the other page tests.
    return FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))


@pytest.fixture
async def server(aiohttp_server: Any, db_url: str, tmp_path: Path, clock: FakeClock) -> TestServer:
    # The call page's socket must come from an allowed origin: the server's own address.
    port = free_port()
    settings = Settings(
        mode="test",
        database_url=db_url,
        base_url=f"http://127.0.0.1:{port}",
        outbox_dir=tmp_path / "outbox",
        scheduler_enabled=False,
    )
    result: TestServer = await aiohttp_server(create_app(settings, clock=clock), port=port)
    return result


@pytest.fixture
async def client(aiohttp_client: Any, server: TestServer) -> Client:
    result: Client = await aiohttp_client(server)
    return result


@pytest.fixture
async def world(db: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(db)


@pytest.fixture
async def samples(
    client: Client, db: async_sessionmaker[AsyncSession], world: World, clock: FakeClock
) -> Samples:
    return await seed(client, db, world, clock)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            await launched.close()


def base(server: TestServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def context_as(
    browser: Browser, server: TestServer, role: str, *, width: int = 1280, height: int = 900
) -> BrowserContext:
    """A fresh browser profile with axe-core in every document, logged in as `role` (or not,
    as a "guest": a patient, a relative, someone answering the survey)."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    await context.add_init_script(path=str(AXE_JS))
    if role != "guest":
        login = await context.request.post(
            f"{base(server)}/api/v1/session", data={"email": EMAILS[role], "password": PASSWORD}
        )
        assert login.status == 200, await login.text()
    return context
