"""The access log never holds a join, feed or survey token, nor a query string."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from aiohttp import web

from service.http.accesslog import RedactingAccessLogger, loggable_path, redact_path


def test_paths_with_tokens_are_redacted() -> None:
    assert redact_path("/bli-med/abcDEF123_-") == "/bli-med/[token]"
    assert redact_path("/kalender/secret.ics") == "/kalender/[token]"
    assert redact_path("/sporjeskjema/s3cret") == "/sporjeskjema/[token]"
    assert redact_path("/samkonsultasjonar/abc") == "/samkonsultasjonar/abc"


def test_a_logged_path_cannot_break_the_line() -> None:
    assert loggable_path("/a\nFAKE LINE\x00") == "/a%0AFAKE%20LINE%00"
    assert loggable_path("/bli-med/tok\nen") == "/bli-med/[token]"


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
            for path in (
                "/bli-med/SECRET-TOKEN-1",
                "/ws/room?token=SECRET-TOKEN-2",
                "/finst%0A2026-11-23%20INFO%20samkons.access%20FAKE%00",
                "/bli-med/SECRET%2FTOKEN-3",
            ):
                async with session.get(f"http://127.0.0.1:{port}{path}") as resp:
                    await resp.read()
    finally:
        await runner.cleanup()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "samkons.access")
    assert "GET /bli-med/[token] 200" in logged
    assert "GET /ws/room 200" in logged
    assert "SECRET" not in logged
    # As sent, percent-encoded: one request is one line, with no NUL in it.
    assert "GET /finst%0A2026-11-23%20INFO%20samkons.access%20FAKE%00 404" in logged
    assert len(logged.splitlines()) == 4 and "\x00" not in logged
