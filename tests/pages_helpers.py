"""Helpers for driving the web pages like a browser without JavaScript: forms and CSRF."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import EMAILS, PASSWORD, Client, World

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
HTML_LANG = re.compile(r'<html lang="([a-z]{2})">')

# Wednesday 7 January 2026, 10:00 in Oslo; the test clock stands at Monday 5 January 09:00.
SLOT = "2026-01-07T10:00:00+01:00"


def csrf_of(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def html_lang(html: str) -> str:
    match = HTML_LANG.search(html)
    assert match, "the page has no <html lang>"
    return match.group(1)


def text_of(html: str) -> str:
    """The page's text with tags removed and whitespace collapsed, for checking what it says."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


async def page_login(client: Client, who: str) -> str:
    """Log in through the login form; returns the new session's CSRF token."""
    form = await client.get("/logg-inn")
    token = csrf_of(await form.text())
    resp = await client.post(
        "/logg-inn",
        data={"csrf_token": token, "email": EMAILS[who], "password": PASSWORD},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    start = await client.get("/")
    assert start.status == 200
    return csrf_of(await start.text())


async def page_logout(client: Client, csrf: str) -> None:
    resp = await client.post("/logg-ut", data={"csrf_token": csrf}, allow_redirects=False)
    assert resp.status == 303


def booking_form(world: World, csrf: str, **overrides: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf,
        "intent": "book",
        "kind": "joint",
        "department_id": str(world.geriatrics),
        "specialist_id": str(world.specialist),
        "duration_minutes": "30",
        "patient_mode": "existing",
        "patient_id": str(world.patient),
        "patient.name": "",
        "patient.postal_code": "",
        "patient.language": "nn",
        "patient_location": "home",
        "patient_group": "frail_elderly",
        "purpose": "Oppfølging etter innlegging",
        "relatives.0.name": "",
        "relatives.0.email": "",
        "relatives.1.name": "",
        "interpreter.name": "",
        "interpreter.language": "nn",
        "municipal_staff.0.name": "",
        "starts_at": SLOT,
    }
    data.update(overrides)
    return data


async def count(db: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with db() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)
