"""Server-side sessions: ended for real by logout, deactivation, a role change and timeouts."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.http.app import create_app
from service.http.sessions import SESSION_COOKIE
from service.settings import Settings
from service.storage.models import LoginSession, User
from tests.factories import EMAILS, PASSWORD, Client, build_world, login

PLACEHOLDER = re.compile(r"\{[^}]+\}")
# Routes anyone may use: reading whether one is signed in, the pre-call echo, the spec.
PUBLIC = ("/api/v1/session", "/api/v1/echo", "/api/openapi")


def _session_cookie(client: Client) -> str:
    for cookie in client.session.cookie_jar:
        if cookie.key == SESSION_COOKIE:
            return cookie.value
    raise AssertionError("no session cookie")


def _api_routes(app: web.Application) -> list[tuple[str, str]]:
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if not isinstance(path, str) or not path.startswith("/api/v1/"):
            continue
        if route.method in ("HEAD", "OPTIONS") or path.startswith(PUBLIC):
            continue
        found.append((route.method, PLACEHOLDER.sub("1", path)))
    return found


async def _assert_signed_out_everywhere(
    client: Client, cookie: str, csrf: str, app: web.Application
) -> None:
    """The old cookie and CSRF token, sent again, open nothing: 401 on every API route."""
    client.session.cookie_jar.clear()
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRF-Token": csrf}
    routes = _api_routes(app)
    assert len(routes) > 10
    for method, path in routes:
        resp = await client.request(method, path, headers=headers, json={})
        assert resp.status == 401, (method, path, resp.status)
    me = await (await client.get("/api/v1/session", headers=headers)).json()
    assert me["authenticated"] is False
    page = await client.get("/samkonsultasjonar", headers=headers, allow_redirects=False)
    assert page.status == 303
    assert page.headers["Location"].startswith("/logg-inn")


async def _set_account(db: async_sessionmaker[AsyncSession], user_id: int, **values: Any) -> None:
    async with db() as s, s.begin():
        await s.execute(update(User).where(User.id == user_id).values(**values))


async def test_after_logout_the_copied_cookie_opens_nothing(
    client: Client, db: async_sessionmaker[AsyncSession], app: web.Application
) -> None:
    await build_world(db)
    headers = await login(client, "gp")
    cookie = _session_cookie(client)
    assert (await client.get("/api/v1/consultations")).status == 200
    assert (await client.delete("/api/v1/session", headers=headers)).status == 204
    await _assert_signed_out_everywhere(client, cookie, headers["X-CSRF-Token"], app)


async def test_logout_ends_the_accounts_sessions_on_other_devices(
    client: Client, db: async_sessionmaker[AsyncSession], app: web.Application
) -> None:
    await build_world(db)
    first = await login(client, "gp")
    first_cookie = _session_cookie(client)
    client.session.cookie_jar.clear()
    second = await login(client, "gp")
    assert _session_cookie(client) != first_cookie
    assert (await client.delete("/api/v1/session", headers=second)).status == 204
    await _assert_signed_out_everywhere(client, first_cookie, first["X-CSRF-Token"], app)


async def test_deactivation_ends_every_session_at_the_next_request(
    client: Client, db: async_sessionmaker[AsyncSession], app: web.Application
) -> None:
    world = await build_world(db)
    headers = await login(client, "gp")
    cookie = _session_cookie(client)
    assert (await client.get("/api/v1/consultations")).status == 200
    await _set_account(db, world.gp, active=False)
    await _assert_signed_out_everywhere(client, cookie, headers["X-CSRF-Token"], app)
    async with db() as s:
        assert (await s.execute(select(LoginSession))).first() is None


async def test_a_role_change_ends_every_session_at_the_next_request(
    client: Client, db: async_sessionmaker[AsyncSession], app: web.Application
) -> None:
    world = await build_world(db)
    headers = await login(client, "gp")
    cookie = _session_cookie(client)
    await _set_account(db, world.gp, role="evaluator", gp_office_id=None)
    await _assert_signed_out_everywhere(client, cookie, headers["X-CSRF-Token"], app)
    # Signing in again gives the new role.
    await login(client, "gp")
    me = await (await client.get("/api/v1/session")).json()
    assert me["user"]["role"] == "evaluator"
    assert (await client.get("/api/v1/consultations")).status == 403


async def test_other_account_changes_are_seen_at_the_next_request(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    await login(client, "gp")
    await _set_account(db, world.gp, name="Kari Nyttnamn")
    me = await (await client.get("/api/v1/session")).json()
    assert me["user"]["name"] == "Kari Nyttnamn"


@pytest.fixture
async def shipped_timeouts(aiohttp_client: object, settings: Settings, clock: FakeClock) -> Client:
    """A client of an app with the shipped session timeouts (30 minutes idle, 12 hours)."""
    defaults = Settings.model_fields
    shipped = settings.model_copy(
        update={
            "session_idle_minutes": defaults["session_idle_minutes"].default,
            "session_absolute_hours": defaults["session_absolute_hours"].default,
        }
    )
    client: Client = await aiohttp_client(create_app(shipped, clock=clock))  # type: ignore[operator]
    return client


async def test_a_session_ends_after_the_idle_timeout(
    shipped_timeouts: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    client = shipped_timeouts
    await build_world(db)
    await login(client, "gp")
    for _ in range(3):  # in use: each request keeps it alive past the idle time in total
        clock.advance(timedelta(minutes=20))
        assert (await client.get("/api/v1/consultations")).status == 200
    clock.advance(timedelta(minutes=31))
    assert (await client.get("/api/v1/consultations")).status == 401
    clock.advance(timedelta(minutes=-31))  # gone for good, not merely out of time
    assert (await client.get("/api/v1/consultations")).status == 401


async def test_a_session_ends_at_the_absolute_timeout_however_busy(
    shipped_timeouts: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    client = shipped_timeouts
    await build_world(db)
    await login(client, "gp")
    for _ in range(12 * 4 - 1):
        clock.advance(timedelta(minutes=15))
        assert (await client.get("/api/v1/consultations")).status == 200
    clock.advance(timedelta(minutes=15))
    assert (await client.get("/api/v1/consultations")).status == 401


async def test_the_session_id_is_random_new_at_sign_in_and_stored_only_hashed(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    await login(client, "gp")
    first = _session_cookie(client)
    assert len(first) >= 43  # 256 bits in URL-safe base64
    await login(client, "gp")  # signing in again with the old cookie: a new id, the old one dead
    second = _session_cookie(client)
    assert second != first
    async with db() as s:
        stored = (await s.execute(select(LoginSession.id_hash))).scalars().all()
    assert len(stored) == 1
    assert first not in stored[0] and second not in stored[0]
    client.session.cookie_jar.clear()
    old = await client.get("/api/v1/consultations", headers={"Cookie": f"{SESSION_COOKIE}={first}"})
    assert old.status == 401


async def test_the_login_page_form_logs_in_and_a_stale_cookie_is_cleared(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: "made-up"})
    form = await client.get("/logg-inn")
    assert f"{SESSION_COOKIE}=" in form.headers.get("Set-Cookie", "")
    token = re.search(r'name="csrf_token" value="([^"]+)"', await form.text())
    assert token is not None
    resp = await client.post(
        "/logg-inn",
        data={"csrf_token": token.group(1), "email": EMAILS["gp"], "password": PASSWORD},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert (await client.get("/api/v1/consultations")).status == 200
