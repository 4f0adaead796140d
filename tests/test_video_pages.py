"""The video pages through the real app: join link, clinician call page, pre-call check."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.settings import Settings
from service.storage.models import AuditRecord
from tests.factories import Client, World, build_world, login
from tests.video_support import Call, make_call
from web.pages.labels import CALL_ROLE


class PageFacts(HTMLParser):
    """What a test needs from a page: scripts, inline styles, data attributes by element id."""

    def __init__(self) -> None:
        super().__init__()
        self.script_sources: list[str | None] = []
        self.inline_styles = 0
        self.data: dict[str, dict[str, str]] = {}
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.script_sources.append(attributes.get("src"))
        if tag == "style" or "style" in attributes:
            self.inline_styles += 1
        element_id = attributes.get("id")
        if element_id:
            self.ids.add(element_id)
            self.data[element_id] = {
                k.removeprefix("data-"): v or "" for k, v in attrs if k.startswith("data-")
            }


def facts(text: str) -> PageFacts:
    parser = PageFacts()
    parser.feed(text)
    return parser


@pytest.fixture
async def client(db_url: str, aiohttp_client: Any, app: Any) -> Client:
    result: Client = await aiohttp_client(app)
    return result


@pytest.fixture
def settings(db_url: str, tmp_path: Any) -> Settings:
    return Settings(
        mode="test",
        database_url=db_url,
        base_url="http://127.0.0.1:8080",
        outbox_dir=tmp_path / "outbox",
        scheduler_enabled=False,
        login_attempts_per_address=50,
        session_idle_minutes=365 * 24 * 60,  # the fake clock moves hours between page loads
        turn_urls=["turn:127.0.0.1:3478"],
        turn_secret=SecretStr("pages-test-turn-secret-0123456789"),
    )


async def _setup(
    db: async_sessionmaker[AsyncSession], clock: FakeClock, **kw: Any
) -> tuple[World, Call]:
    world = await build_world(db, hours=False)
    return world, await make_call(db, world, clock.now() + timedelta(minutes=10), **kw)


def _no_inline_code(page: PageFacts) -> None:
    # The CSP (default-src 'self') would block inline scripts and styles anyway.
    assert page.script_sources and all(src for src in page.script_sources)
    assert page.inline_styles == 0


async def test_join_page_carries_the_room_and_hides_the_link(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    _, call = await _setup(db, clock)
    resp = await client.get(f"/bli-med/{call.tokens['patient']}")
    assert resp.status == 200
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    text = await resp.text()
    page = facts(text)
    root = page.data["call-root"]
    assert root["ws-path"] == f"/ws/{call.room_id}"
    assert root["token"] == call.tokens["patient"]
    assert root["clinician"] == "false"
    texts = json.loads(root["texts"])
    assert texts["waiting"].startswith("Du er på venterommet")  # nynorsk by default
    assert "toggle-share" not in page.ids and "admit-all" not in page.ids
    _no_inline_code(page)
    assert any(
        src and re.match(r"/static/video/call\.js\?v=\w+", src) for src in page.script_sources
    )
    # No link on the page carries the token (language links would put it back in the address).
    assert text.count(call.tokens["patient"]) == 1


async def test_join_page_speaks_the_chosen_language(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    _, call = await _setup(db, clock)
    text = await (await client.get(f"/bli-med/{call.tokens['patient']}?lang=en")).text()
    assert '<html lang="en">' in text
    assert "Joint consultation" in text
    nb = await (await client.get(f"/bli-med/{call.tokens['patient']}?lang=nb")).text()
    assert "Kobler til" in html.unescape(facts(nb).data["call-root"]["texts"])


async def test_an_unknown_link_gets_a_plain_page_without_referrer(client: Client) -> None:
    resp = await client.get("/bli-med/not-a-token")
    assert resp.status == 404
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "Lenkja verkar ikkje" in await resp.text()


@pytest.mark.parametrize(
    ("shift", "status", "words"),
    [
        (timedelta(minutes=-50), "confirmed", "ikkje ope enno"),
        (timedelta(hours=3), "confirmed", "er over"),
        (timedelta(0), "cancelled", "ikkje open"),
    ],
)
async def test_closed_rooms_say_why(
    client: Client,
    db: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    shift: timedelta,
    status: str,
    words: str,
) -> None:
    world = await build_world(db, hours=False)
    call = await make_call(db, world, clock.now(), status=status)
    clock.advance(shift)
    resp = await client.get(f"/bli-med/{call.tokens['patient']}")
    assert resp.status == 403
    text = await resp.text()
    assert words in text
    assert "call-root" not in text
    if shift < timedelta(0):
        assert "08:30" in text  # 07:30 UTC, 30 minutes before the start, in Oslo time


async def test_a_clinicians_link_leads_to_the_login_page_for_the_call(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    _, call = await _setup(db, clock, gp_token=True)
    resp = await client.get(f"/bli-med/{call.tokens['gp']}", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == f"/samkonsultasjonar/{call.id}/video"


async def test_a_reload_lands_on_a_page_that_reopens_the_link_from_the_tab(client: Client) -> None:
    resp = await client.get("/bli-med")
    assert resp.status == 200
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    page = facts(await resp.text())
    _no_inline_code(page)
    assert any("rejoin.js" in (src or "") for src in page.script_sources)


async def test_clinician_call_page_needs_a_login_and_is_audited(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    world, call = await _setup(db, clock)
    anonymous = await client.get(f"/samkonsultasjonar/{call.id}/video", allow_redirects=False)
    assert anonymous.status == 303
    assert anonymous.headers["Location"].startswith("/logg-inn?neste=")
    await login(client, "gp")
    resp = await client.get(f"/samkonsultasjonar/{call.id}/video")
    assert resp.status == 200
    page = facts(await resp.text())
    root = page.data["call-root"]
    assert root["clinician"] == "true" and root["token"] == ""
    assert root["ws-path"] == f"/ws/{call.room_id}"
    assert {"toggle-share", "admit-all", "waiting-list"} <= page.ids
    _no_inline_code(page)
    async with db() as s:
        actions = (
            await s.scalars(
                select(AuditRecord.action).where(
                    AuditRecord.consultation_id == call.id, AuditRecord.actor_id == world.gp
                )
            )
        ).all()
    assert "read" in actions


async def test_the_consultation_page_leads_into_the_call_when_the_room_is_open(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    """The clinicians' invitations link to the consultation page: it is their way in."""
    world = await build_world(db, hours=False)
    call = await make_call(db, world, clock.now() + timedelta(hours=2))
    cancelled = await make_call(db, world, clock.now() + timedelta(hours=4), status="cancelled")
    await login(client, "specialist")
    join = f'href="/samkonsultasjonar/{call.id}/video"'

    early = await (await client.get(f"/samkonsultasjonar/{call.id}")).text()
    assert join not in early
    assert "Rommet opnar" in early and "10:30" in early  # half an hour before 11:00 Oslo time
    assert 'href="/test-utstyr"' in early

    clock.advance(timedelta(hours=1, minutes=40))  # 10 minutes before the start
    now_open = await (await client.get(f"/samkonsultasjonar/{call.id}")).text()
    assert join in now_open and "Bli med i videosamtalen" in now_open

    clock.advance(timedelta(hours=2))  # an hour and 20 minutes after the end
    over = await (await client.get(f"/samkonsultasjonar/{call.id}")).text()
    assert join not in over and "Rommet opnar" not in over
    page = await (await client.get(f"/samkonsultasjonar/{cancelled.id}")).text()
    assert "/video" not in page and "Rommet opnar" not in page


async def test_another_gps_consultation_is_not_found(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    _, call = await _setup(db, clock)
    await login(client, "gp2")
    assert (await client.get(f"/samkonsultasjonar/{call.id}/video")).status == 404


async def test_precheck_page_gives_the_browser_explicit_ice_servers(
    client: Client, clock: FakeClock
) -> None:
    resp = await client.get("/test-utstyr")
    assert resp.status == 200
    page = facts(await resp.text())
    _no_inline_code(page)
    servers = json.loads(page.data["precheck"]["ice-servers"])
    assert [s["urls"] for s in servers] == [["turn:127.0.0.1:3478"]]
    expiry = int((clock.now() + timedelta(seconds=3600)).timestamp())
    assert servers[0]["username"].startswith(f"{expiry}:check-")
    assert "Test utstyret ditt" in await resp.text()


STATIC = Path(__file__).resolve().parent.parent / "web" / "static" / "video"


def texts_read_by(script: str) -> set[str]:
    """The words a page script takes from its page: `texts.x`, and the keys it puts together."""
    source = (STATIC / script).read_text()
    keys = set(re.findall(r"texts\.(\w+)", source))
    if "texts[`role_${role}`]" in source:
        keys |= {f"role_{role}" for role in CALL_ROLE}
    if "texts[`peer_${peerState}`]" in source:  # RTCPeerConnection.connectionState
        keys |= {f"peer_{s}" for s in ("new", "connecting", "connected", "disconnected")}
        keys |= {"peer_failed", "peer_closed"}
    if "texts[reason]" in source:  # the reasons a call ends for good
        keys |= {"left", "replaced", "removed", "failed"}
    return keys


@pytest.mark.parametrize(
    ("script", "element", "path"),
    [("call.js", "call-root", "/bli-med/{token}"), ("precheck.js", "precheck", "/test-utstyr")],
)
async def test_every_word_a_page_script_shows_comes_translated_from_its_page(
    client: Client,
    db: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    script: str,
    element: str,
    path: str,
) -> None:
    _, call = await _setup(db, clock)
    url = path.format(token=call.tokens["patient"])
    by_language = {}
    for language in ("nn", "nb", "en"):
        page = facts(await (await client.get(f"{url}?lang={language}")).text())
        by_language[language] = json.loads(page.data[element]["texts"])
        assert set(by_language[language]) >= texts_read_by(script), language
    english = by_language["en"]
    for language in ("nn", "nb"):
        same = {k for k, v in by_language[language].items() if v == english[k]}
        assert not same, f"untranslated in {language}: {same}"
    if script == "call.js":
        assert english["remove_confirm"].startswith("Remove {name} from the call?")


async def test_the_call_page_leads_clinicians_back_and_offers_a_rejoin_after_leaving(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    _, call = await _setup(db, clock)
    back = f'href="/samkonsultasjonar/{call.id}"'
    guest = await (await client.get(f"/bli-med/{call.tokens['patient']}")).text()
    assert back not in guest  # a guest has no consultation page to go back to
    assert "rejoin" in facts(guest).ids
    await login(client, "gp")
    text = await (await client.get(f"/samkonsultasjonar/{call.id}/video")).text()
    assert back in text and "Tilbake til konsultasjonen" in text
    page = facts(text)
    assert "rejoin" in page.ids
    texts = json.loads(page.data["call-root"]["texts"])
    assert texts["ended_cancelled"] == "Konsultasjonen vart avlyst, så samtalen er slutt."
    assert texts["ended_over"].startswith("Konsultasjonen er over")


async def test_the_page_scripts_are_served(client: Client) -> None:
    for name in ("call.js", "precheck.js", "rejoin.js", "video.css"):
        resp = await client.get(f"/static/video/{name}")
        assert resp.status == 200, name
