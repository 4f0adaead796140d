"""The accessibility statement: in each language, saying how the service is tested and whom to
write to, and linked from the footer of every kind of page (the site's and the video pages)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.settings import Settings
from tests.factories import Client, build_world
from tests.video_support import make_call

STATEMENT = "/tilgjengelegheitserklaering"


@pytest.mark.parametrize(
    ("lang", "heading", "tested"),
    [
        ("nn", "Tilgjengelegheitserklæring", "Korleis tenesta blir testa"),
        ("nb", "Tilgjengelighetserklæring", "Hvordan tjenesten testes"),
        ("en", "Accessibility statement", "How the service is tested"),
    ],
)
async def test_statement_in_each_language_says_how_it_was_tested_and_whom_to_ask(
    client: Client, settings: Settings, lang: str, heading: str, tested: str
) -> None:
    resp = await client.get(f"{STATEMENT}?lang={lang}")
    assert resp.status == 200
    html = await resp.text()
    assert f'<html lang="{lang}">' in html
    assert f"<h1>{heading}</h1>" in html
    assert tested in html and "axe-core" in html and "WCAG 2.1" in html
    assert f'href="mailto:{settings.mail_from}"' in html
    assert 'href="https://www.uutilsynet.no/"' in html


async def test_every_kind_of_page_links_the_statement_in_its_footer(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    world = await build_world(db, hours=False)
    call = await make_call(db, world, clock.now() + timedelta(minutes=5))
    for path in ("/logg-inn", "/test-utstyr", f"/bli-med/{call.tokens['patient']}", "/nowhere"):
        html = await (await client.get(path)).text()
        footer = html[html.index("<footer") :]
        assert f'href="{STATEMENT}' in footer, path
        assert "Tilgjengelegheitserklæring" in footer, path
