"""The consultation page shows the e-mails sent for it, links to the .eml copies, and the .ics."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.settings import Settings
from tests.factories import Client, build_world, login
from tests.mail_support import book_confirmed, deliver


async def test_page_lists_mails_and_links_the_eml_after_delivery(
    client: Client, db: async_sessionmaker[AsyncSession], settings: Settings, clock: FakeClock
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, "2026-01-07T10:00:00+01:00")
    await login(client, "gp")
    page = await (await client.get(f"/samkonsultasjonar/{cid}")).text()
    assert "E-post til deltakarane" in page
    assert "Invitasjon" in page
    assert "Ventar" in page
    assert ".eml" not in page  # nothing delivered yet
    assert f"/api/v1/consultations/{cid}/invite.ics" in page

    await deliver(db, clock, settings)
    page = await (await client.get(f"/samkonsultasjonar/{cid}")).text()
    assert "Sendt" in page
    link = page.split('href="', page.index("Vis e-post (.eml)") - 200)
    eml_urls = [part.split('"')[0] for part in link if part.startswith("/samkonsultasjonar/")]
    eml_urls = [u for u in eml_urls if u.endswith(".eml")]
    assert eml_urls
    resp = await client.get(eml_urls[0])
    assert resp.status == 200
    raw = await resp.read()
    assert raw.startswith(b"Content-Type:") or b"\nSubject: " in raw
    assert b"text/calendar" in raw
