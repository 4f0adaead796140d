"""Debian's headless Chromium on the real pages: calls with an aiortc peer, and the pre-call check.

Chromium gets a fake camera and microphone. Video must arrive in both directions: the page's
`getStats()` and `<video>` size on the browser side, frames counted in Python on the other.
These tests fail (never skip) when Chromium is missing; they start one browser at a time.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import BrowserContext, Dialog, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import SystemClock
from service.http import appkeys
from service.http.app import create_app
from service.settings import Settings
from service.storage.engine import make_engine, make_sessionmaker
from signalling.codec import Admit
from signalling.peer import MeshPeer
from tests.factories import EMAILS, PASSWORD, build_world
from tests.signalling_support import (
    TcpCutter,
    eventually_async,
    start_peer,
    use_loopback_if_alone,
)
from tests.video_support import Call, make_call

pytestmark = pytest.mark.browser

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    # Host addresses hidden behind <uuid>.local names cannot be resolved by aioice here.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
MIN_FRAMES = 20


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
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> bool:
    return use_loopback_if_alone(monkeypatch)


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "browser.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def cutter_port() -> int:
    """Where a `TcpCutter` in front of the server listens, when a test wants to cut sockets."""
    return free_port()


@pytest.fixture
async def server(
    db: async_sessionmaker[AsyncSession],
    aiohttp_server: Any,
    db_url: str,
    tmp_path: Path,
    cutter_port: int,
) -> TestServer:
    port = free_port()
    settings = Settings(
        mode="test",
        database_url=db_url,
        base_url=f"http://127.0.0.1:{port}",
        allowed_origins=[f"http://127.0.0.1:{port}", f"http://127.0.0.1:{cutter_port}"],
        outbox_dir=tmp_path / "outbox",
        scheduler_enabled=False,
    )
    app = create_app(settings, clock=SystemClock())
    result: TestServer = await aiohttp_server(app, host="127.0.0.1", port=port)
    return result


@pytest.fixture
async def call(db: async_sessionmaker[AsyncSession]) -> Call:
    world = await build_world(db, hours=False)
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    return await make_call(db, world, starts, guests=("patient",))


@pytest.fixture
async def browser(tmp_path: Path, loopback_only: bool) -> AsyncIterator[BrowserContext]:
    flags = [*CHROMIUM_FLAGS]
    if loopback_only:
        flags.append("--allow-loopback-in-peer-connection")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # fresh: nothing left from other runs
            executable_path=chromium_path(),
            headless=True,
            args=flags,
        )
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
async def python_side() -> AsyncIterator[tuple[aiohttp.ClientSession, list[MeshPeer]]]:
    peers: list[MeshPeer] = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session, peers
        for peer in peers:
            await peer.close()


def base(server: TestServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def inbound(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await page.evaluate("window.samkonsCall.inboundVideo()")
    return result


async def video_both_ways(page: Page, peer: MeshPeer, browser_participant: str) -> None:
    async def page_receives() -> bool:
        stats = await inbound(page)
        return any(
            s["participant"] == peer.participant_id
            and s["framesDecoded"] >= MIN_FRAMES
            and s["frameWidth"] > 0
            and s["videoWidth"] > 0
            for s in stats
        )

    async def python_receives() -> bool:
        return peer.frames_from(browser_participant).video >= MIN_FRAMES

    await eventually_async(
        page_receives, timeout=30, what="video frames in the browser", interval=0.2
    )
    await eventually_async(
        python_receives, timeout=30, what="video frames from the browser in Python", interval=0.2
    )


async def test_patient_in_chromium_waits_then_meets_an_aiortc_specialist(
    server: TestServer,
    call: Call,
    browser: BrowserContext,
    python_side: tuple[aiohttp.ClientSession, list[MeshPeer]],
) -> None:
    session, peers = python_side
    page = await browser.new_page()
    await page.goto(f"{base(server)}/bli-med/{call.tokens['patient']}")
    # The link is gone from the address bar at once.
    assert await page.evaluate("location.pathname") == "/bli-med"
    await page.wait_for_selector("#call-root[data-state='waiting']", timeout=10000)

    async with session.post(
        f"{base(server)}/api/v1/session",
        json={"email": EMAILS["specialist"], "password": PASSWORD},
    ) as resp:
        assert resp.status == 200
    specialist = await start_peer(
        peers, session, f"{base(server)}{call.ws_path()}", origin=base(server), timeout=10
    )
    patient_id = call.participants["patient"]

    async def patient_listed() -> bool:
        return patient_id in specialist.roster

    await eventually_async(patient_listed, timeout=10, what="the patient in the list", interval=0.2)
    # The specialist's id (user-<n>) sorts after the patient's hex id: the browser offers.
    assert patient_id < specialist.participant_id
    await specialist.send(Admit(participant_id=patient_id))
    await page.wait_for_selector("#call-root[data-state='connected']", timeout=10000)
    await video_both_ways(page, specialist, patient_id)
    tile = page.locator(f".tile[data-participant='{specialist.participant_id}']")
    assert "Spesialist" in await tile.inner_text()


async def test_gp_in_chromium_admits_an_aiortc_patient_with_the_button(
    server: TestServer,
    call: Call,
    browser: BrowserContext,
    python_side: tuple[aiohttp.ClientSession, list[MeshPeer]],
) -> None:
    session, peers = python_side
    page = await browser.new_page()
    login = await browser.request.post(
        f"{base(server)}/api/v1/session", data={"email": EMAILS["gp"], "password": PASSWORD}
    )
    assert login.status == 200
    await page.goto(f"{base(server)}/samkonsultasjonar/{call.id}/video")
    await page.wait_for_selector("#call-root[data-state='connected']", timeout=10000)

    patient = await start_peer(
        peers, session, f"{base(server)}{call.ws_path('patient')}", origin=base(server), timeout=10
    )
    admit = page.locator(f"button.admit[data-participant='{patient.participant_id}']")
    await admit.click(timeout=10000)
    await asyncio.wait_for(patient.admitted.wait(), 10)
    await video_both_ways(page, patient, call.gp_participant)
    assert await page.locator("#waiting-list li").count() == 0


async def test_gp_in_chromium_removes_a_patient_who_must_then_be_let_in_again(
    server: TestServer, call: Call, browser: BrowserContext
) -> None:
    login = await browser.request.post(
        f"{base(server)}/api/v1/session", data={"email": EMAILS["gp"], "password": PASSWORD}
    )
    assert login.status == 200
    gp = await browser.new_page()
    await gp.goto(f"{base(server)}/samkonsultasjonar/{call.id}/video")
    await gp.wait_for_selector("#call-root[data-state='connected']", timeout=10000)
    patient = await browser.new_page()
    await patient.goto(f"{base(server)}/bli-med/{call.tokens['patient']}")
    await patient.wait_for_selector("#call-root[data-state='waiting']", timeout=10000)
    patient_id = call.participants["patient"]
    await gp.locator(f"button.admit[data-participant='{patient_id}']").click(timeout=10000)
    await patient.wait_for_selector("#call-root[data-state='connected']", timeout=10000)

    remove = gp.locator(f".tile[data-participant='{patient_id}'] button.remove")
    await remove.wait_for(state="visible", timeout=10000)
    own_tile = gp.locator(f".tile[data-participant='{call.gp_participant}']")
    assert not await own_tile.locator("button.remove").is_visible()  # never yourself

    # Saying no to the question leaves the patient in the call.
    questions: list[str] = []

    async def answer_no(dialog: Dialog) -> None:
        questions.append(dialog.message)
        await dialog.dismiss()

    async def asked() -> bool:
        return bool(questions)

    gp.once("dialog", answer_no)
    await remove.click()
    await eventually_async(asked, timeout=5, what="the question", interval=0.2)
    assert questions[0].startswith("Ta ") and "ut av samtalen?" in questions[0]
    await gp.wait_for_timeout(1000)
    assert await patient.get_attribute("#call-root", "data-state") == "connected"

    gp.once("dialog", lambda dialog: dialog.accept())
    await remove.click()
    await patient.wait_for_selector("#call-root[data-state='removed']", timeout=10000)
    assert "Du vart teken ut av samtalen" in await patient.inner_text("#ended-text")
    assert await patient.locator("#controls").is_hidden()
    await remove.wait_for(state="detached", timeout=10000)

    # Coming back with the same link lands in the waiting room, not in the call.
    await patient.goto(f"{base(server)}/bli-med/{call.tokens['patient']}")
    await patient.wait_for_selector("#call-root[data-state='waiting']", timeout=10000)
    admit_again = gp.locator(f"button.admit[data-participant='{patient_id}']")
    await admit_again.wait_for(state="visible", timeout=10000)
    await gp.wait_for_timeout(1000)
    assert await patient.get_attribute("#call-root", "data-state") == "waiting"
    await admit_again.click()
    await patient.wait_for_selector("#call-root[data-state='connected']", timeout=10000)


async def test_chromium_leaves_and_rejoins_then_the_cancelled_call_ends_on_every_page(
    server: TestServer, call: Call, browser: BrowserContext
) -> None:
    login = await browser.request.post(
        f"{base(server)}/api/v1/session", data={"email": EMAILS["gp"], "password": PASSWORD}
    )
    csrf = (await login.json())["csrf_token"]
    gp = await browser.new_page()
    await gp.goto(f"{base(server)}/samkonsultasjonar/{call.id}/video")
    await gp.wait_for_selector("#call-root[data-state='connected']", timeout=10000)
    back = gp.locator(f"a[href='/samkonsultasjonar/{call.id}']")
    assert await back.is_visible()
    patient = await browser.new_page()
    await patient.goto(f"{base(server)}/bli-med/{call.tokens['patient']}")
    await patient.wait_for_selector("#call-root[data-state='waiting']", timeout=10000)

    # Leaving shows the ended view with a way back in while the call goes on.
    await gp.locator("#leave").click()
    await gp.wait_for_selector("#call-root[data-state='left']", timeout=10000)
    rejoin = gp.locator("#rejoin")
    assert await rejoin.is_visible()
    await rejoin.click()
    await gp.wait_for_selector("#call-root[data-state='connected']", timeout=10000)

    cancelled = await browser.request.post(
        f"{base(server)}/api/v1/consultations/{call.id}/cancel",
        data={},
        headers={"X-CSRF-Token": csrf},
    )
    assert cancelled.status == 200, await cancelled.text()
    for page in (gp, patient):
        await page.wait_for_selector("#call-root[data-state='ended_cancelled']", timeout=10000)
        assert "Konsultasjonen vart avlyst" in await page.inner_text("#ended-text")
        assert await page.locator("#rejoin").is_hidden()


async def test_chromium_reconnects_after_its_socket_is_cut_and_media_flows_again(
    server: TestServer,
    call: Call,
    browser: BrowserContext,
    python_side: tuple[aiohttp.ClientSession, list[MeshPeer]],
    cutter_port: int,
) -> None:
    session, peers = python_side
    assert server.port is not None
    cutter = TcpCutter(server.port, listen_port=cutter_port)
    await cutter.start()
    try:
        login = await browser.request.post(
            f"{base(server)}/api/v1/session", data={"email": EMAILS["gp"], "password": PASSWORD}
        )
        assert login.status == 200
        page = await browser.new_page()
        # The page and its socket go through the cutter (the login cookie is per host).
        await page.goto(f"http://127.0.0.1:{cutter_port}/samkonsultasjonar/{call.id}/video")
        await page.wait_for_selector("#call-root[data-state='connected']", timeout=10000)
        patient = await start_peer(
            peers,
            session,
            f"{base(server)}{call.ws_path('patient')}",
            origin=base(server),
            timeout=10,
        )
        await page.locator("button.admit").click(timeout=10000)
        await video_both_ways(page, patient, call.gp_participant)
        first_connection = patient.roster[call.gp_participant].connection

        cutter.cut()
        loop = asyncio.get_running_loop()
        cut_at = loop.time()

        async def rejoined() -> bool:
            gp = patient.roster.get(call.gp_participant)
            return gp is not None and gp.connection != first_connection

        await eventually_async(
            rejoined, timeout=10, what="the browser to rejoin with a new connection", interval=0.2
        )
        await video_both_ways(page, patient, call.gp_participant)
        assert loop.time() - cut_at < 10, "media again within 10 s of the cut"
        assert await page.get_attribute("#call-root", "data-state") == "connected"
    finally:
        await cutter.close()


async def test_precheck_page_round_trip_through_the_echo_peer(
    server: TestServer, browser: BrowserContext
) -> None:
    page = await browser.new_page()
    await page.goto(f"{base(server)}/test-utstyr?lang=nn")
    await page.click("#start-test")
    await page.wait_for_selector(
        "#precheck:not([data-result='running']):not([data-result='idle'])", timeout=40000
    )
    root = page.locator("#precheck")
    assert await root.get_attribute("data-result") == "connected"
    assert await root.get_attribute("data-camera") == "true"
    assert await root.get_attribute("data-microphone") == "true"
    # No TURN server is configured here, so the connection is direct.
    assert await root.get_attribute("data-relay") == "false"
    assert int(await root.get_attribute("data-frames-decoded") or "0") > 0
    assert await page.evaluate("document.getElementById('echo').videoWidth") > 0
    assert "Fungerer (direkte samband)" in await page.inner_text("#result-connection")
    await page.click("#stop-test")

    async def released() -> bool:
        return server.app[appkeys.ECHO].active == 0

    await eventually_async(released, timeout=5, what="the echo session to end", interval=0.2)
