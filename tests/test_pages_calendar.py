"""«Min kalender»: make, use and revoke a calendar feed address from the page."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Client, build_world, login
from tests.mail_support import book_confirmed


async def test_make_use_and_revoke_the_calendar_address(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    await book_confirmed(client, world, "2026-01-07T10:00:00+01:00")
    headers = await login(client, "gp")
    page = await (await client.get("/min-kalender")).text()
    assert "Du har inga kalenderadresse." in page
    made = await client.post("/min-kalender", data={"csrf_token": headers["X-CSRF-Token"]})
    assert made.status == 200
    html = await made.text()
    match = re.search(r'value="http://127\.0\.0\.1:8080(/kalender/[^"]+\.ics)"', html)
    assert match, html
    feed = await client.get(match.group(1))
    assert feed.status == 200
    assert b"BEGIN:VEVENT" in await feed.read()
    # Shown once: the page afterwards says an address exists but does not repeat it.
    again = await (await client.get("/min-kalender")).text()
    assert match.group(1) not in again
    assert "Ei kalenderadresse er i bruk." in again
    revoked = await client.post(
        "/min-kalender/trekk-tilbake",
        data={"csrf_token": headers["X-CSRF-Token"]},
        allow_redirects=False,
    )
    assert revoked.status == 303
    assert (await client.get(match.group(1))).status == 404


async def test_evaluator_has_no_calendar_page(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    await login(client, "evaluator")
    assert (await client.get("/min-kalender")).status == 403
