"""The OpenAPI document and the router agree, in both directions."""

from __future__ import annotations

import re

from aiohttp import web

from service.http.app import create_app
from service.settings import Settings


def _routes(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/api/v1/") and route.method not in ("HEAD", "OPTIONS"):
            found.add((route.method.lower(), path))
    return found


def test_every_api_route_is_documented_and_every_documented_route_exists() -> None:
    app = create_app(Settings(mode="test"))
    doc = None
    for route in app.router.routes():
        if route.resource and route.resource.canonical == "/api/openapi.json":
            doc = route
    assert doc is not None
    from service.http.api.routes import route_table
    from service.http.api.spec import openapi_document

    document = openapi_document(route_table(), version="test")
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert documented == _routes(app)
    assert document["openapi"] == "3.1.0"
    for path, ops in document["paths"].items():
        for name in re.findall(r"{(\w+)}", path):
            for op in ops.values():
                assert name in [p["name"] for p in op["parameters"] if p["in"] == "path"]


async def test_openapi_is_served(aiohttp_client: object) -> None:
    # No scheduler: its jobs would try the default database and hold the shutdown for 10 s.
    app = create_app(Settings(mode="test", scheduler_enabled=False))
    client = await aiohttp_client(app)  # type: ignore[operator]
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    booking = doc["paths"]["/api/v1/consultations"]["post"]
    ref = booking["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/BookingInput"
    assert "starts_at" in doc["components"]["schemas"]["BookingInput"]["properties"]
