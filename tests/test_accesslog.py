"""The access log never holds a join, feed or survey token, nor a query string."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from aiohttp import web

from service.accesslog import RedactingAccessLogger, redact_path


def test_paths_with_tokens_are_redacted() -> None:
    assert redact_path("/bli-med/abcDEF123_-") == "/bli-med/[token]"
    assert redact_path("/kalender/secret.ics") == "/kalender/[token]"
    assert redact_path("/sporjeskjema/s3cret") == "/sporjeskjema/[token]"
    assert redact_path("/samkonsultasjonar/abc") == "/samkonsultasjonar/abc"


async def test_served_requests_log_no_token(caplog: pytest.LogCaptureFixture) -> None:
    app = web.Application()

    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/bli-med/{token}", ok)
    app.router.add_get("/ws/{room}", ok)
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("samkons.access"),
        access_log_class=RedactingAccessLogger,
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    caplog.set_level(logging.INFO, logger="samkons.access")
    try:
        async with aiohttp.ClientSession() as session:
            for path in ("/bli-med/SECRET-TOKEN-1", "/ws/room?token=SECRET-TOKEN-2"):
                async with session.get(f"http://127.0.0.1:{port}{path}") as resp:
                    await resp.read()
    finally:
        await runner.cleanup()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "samkons.access")
    assert "GET /bli-med/[token] 200" in logged
    assert "GET /ws/room 200" in logged
    assert "SECRET" not in logged
