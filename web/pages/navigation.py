"""Where pages live and where a reader goes next: start pages per role, safe return paths."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from service.domain.actor import Actor
from service.domain.permissions import CONSULTATION_READERS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LOGIN: Final = "/logg-inn"
CONSULTATIONS: Final = "/samkonsultasjonar"
BOOK: Final = "/bestill"
STATISTICS: Final = "/statistikk"
NOT_PAGES: Final = ("/api/", "/static/", "/ws/")


def is_page_path(path: str) -> bool:
    return not path.startswith(NOT_PAGES)


def consultation_url(consultation_id: str) -> str:
    return f"{CONSULTATIONS}/{consultation_id}"


def start_page(actor: Actor | None) -> str:
    if actor is None:
        return LOGIN
    if actor.role in CONSULTATION_READERS:
        return CONSULTATIONS
    return STATISTICS


def safe_next(value: str | None) -> str | None:
    """A return path after login, only if it stays on this site (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if any(c in value for c in "\r\n\t"):
        return None
    return value


def see_other(location: str) -> web.Response:
    """A 303 redirect as a response (after a form post, the browser GETs the new page)."""
    return web.Response(status=303, headers={"Location": location})
