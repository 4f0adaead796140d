"""The `Server` header names no version, on every answer the application gives: pages, the API,
static files, redirects, refusals and internal errors alike. (A request so malformed that it
never reaches the application, answered 400 by aiohttp's protocol layer, still carries aiohttp's
default: no public hook reaches that answer; a reverse proxy answers such requests itself.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from service.domain.clock import FakeClock
from service.http.app import SERVER_NAME, create_app
from service.settings import Settings
from tests.factories import Client


@pytest.fixture
async def client(
    aiohttp_client: object, settings: Settings, clock: FakeClock
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = create_app(settings, clock=clock)

    async def boom(_: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    async def raw_500(_: web.Request) -> web.Response:
        raise web.HTTPInternalServerError()

    app.router.add_get("/api/v1/boom", boom)
    app.router.add_get("/boom", boom)
    app.router.add_get("/raw-500", raw_500)
    yield await aiohttp_client(app)  # type: ignore[operator]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 303),
        ("GET", "/logg-inn", 200),
        ("GET", "/static/samkons.css", 200),
        ("GET", "/api/openapi.json", 200),
        ("GET", "/api/v1/consultations", 401),
        ("GET", "/api/v1/nothing-here", 404),
        ("GET", "/nothing-here", 404),
        ("PUT", "/api/openapi.json", 403),  # refused by the CSRF check first
        ("PATCH", "/logg-inn", 403),
        ("GET", "/api/v1/consultations/x/accept", 405),
        ("POST", "/api/v1/session", 422),
        ("GET", "/api/v1/boom", 500),
        ("GET", "/boom", 500),
        ("GET", "/raw-500", 500),
        ("GET", "/ws/some-room", 403),  # not from an allowed origin
    ],
)
async def test_no_version_in_the_server_header(
    client: Client, method: str, path: str, status: int
) -> None:
    resp = await client.request(method, path, allow_redirects=False, json={})
    assert resp.status == status, await resp.text()
    assert resp.headers["Server"] == SERVER_NAME
    assert "aiohttp" not in str(resp.headers).lower()
    assert "python" not in str(resp.headers).lower()
