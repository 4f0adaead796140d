"""Security headers on every response: pages, API, errors, static files."""

from __future__ import annotations

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.http.app import create_app
from service.settings import Settings
from tests.factories import Client, build_world, login


async def _get(client: Client, path: str) -> dict[str, str]:
    resp = await client.get(path, allow_redirects=False)
    return dict(resp.headers)


@pytest.mark.parametrize(
    "path",
    [
        "/logg-inn",
        "/api/v1/session",
        "/api/v1/consultations",  # 401 problem
        "/api/v1/nothing-here",  # aiohttp's own 404
        "/nothing-here",
        "/static/no-such-file.css",  # a raised 404 no page renders
        "/bli-med/not-a-token",
        "/test-utstyr",
    ],
)
async def test_every_response_carries_the_headers(client: Client, path: str) -> None:
    headers = await _get(client, path)
    csp = headers["Content-Security-Policy"]
    assert "connect-src 'self';" in csp
    assert "ws:" not in csp and "wss:" not in csp
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Server"] == "samkons"
    assert "Strict-Transport-Security" not in headers  # not in test mode over http
    assert "Permissions-Policy" in headers


async def test_camera_and_microphone_only_on_the_call_and_equipment_pages(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    for path in ("/test-utstyr", "/bli-med/some-token", "/bli-med", "/samkonsultasjonar/x/video"):
        policy = (await _get(client, path))["Permissions-Policy"]
        assert "camera=(self)" in policy and "microphone=(self)" in policy, path
    await login(client, "gp")
    for path in ("/samkonsultasjonar", "/logg-inn", "/api/v1/session", "/sporjeskjema/x"):
        policy = (await _get(client, path))["Permissions-Policy"]
        assert "camera=()" in policy and "microphone=()" in policy, path


async def test_production_sends_hsts_and_the_configured_connect_sources(
    aiohttp_client: object, settings: Settings, clock: FakeClock
) -> None:
    production = settings.model_copy(
        update={
            "mode": "production",
            "base_url": "https://samkons.example.no",
            "csp_connect_sources": ["https://sfu.example.no"],
        }
    )
    app: web.Application = create_app(production, clock=clock)
    client: Client = await aiohttp_client(app)  # type: ignore[operator]
    headers = await _get(client, "/logg-inn")
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "connect-src 'self' https://sfu.example.no;" in headers["Content-Security-Policy"]
    missing = await _get(client, "/nothing-here")
    assert "Strict-Transport-Security" in missing
