"""The consultation page shows the e-mails sent for it, links to the .eml copies, and the .ics."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.settings import Settings
from tests.factories import Client, build_world, login
from tests.mail_support import book_confirmed, decoded_text, deliver, parse_raw


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


async def test_no_downloaded_mail_carries_a_personal_link_that_lets_anyone_in(
    client: Client, db: async_sessionmaker[AsyncSession], settings: Settings, clock: FakeClock
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, "2026-01-07T10:00:00+01:00")
    await deliver(db, clock, settings)
    # The copies as delivered do carry working personal links (so the check below means something).
    delivered = [
        re.sub(r"\r?\n[ \t]", "", decoded_text(parse_raw(p.read_bytes())))
        for p in settings.outbox_dir.rglob("*.eml")
    ]
    tokens = {t for text in delivered for t in re.findall(r"/bli-med/([A-Za-z0-9_\-]+)", text)}
    assert len(tokens) >= 3  # patient, relative, interpreter
    for t in tokens:
        assert (await client.get(f"/bli-med/{t}")).status != 404  # not open yet, but known

    for who in ("gp", "specialist"):
        await login(client, who)
        page = await (await client.get(f"/samkonsultasjonar/{cid}")).text()
        eml_urls = set(re.findall(r'href="(/samkonsultasjonar/[^"]+\.eml)"', page))
        assert len(eml_urls) >= 4  # patient, relative, interpreter, clinicians
        for url in eml_urls:
            resp = await client.get(url)
            assert resp.status == 200
            text = decoded_text(parse_raw(await resp.read()))
            unfolded = re.sub(r"\r?\n[ \t]", "", text)
            for t in tokens:
                assert t not in unfolded
            for found in re.findall(r"/(?:bli-med|sporjeskjema)/([A-Za-z0-9_\-]+)", unfolded):
                assert (await client.get(f"/bli-med/{found}")).status == 404
            to = parse_raw(await resp.read())["To"]
            if any(a in to for a in ("p1@test.no", "dotter@test.no", "tolk@test.no")):
                assert "personleg lenkje" in text
