"""The video pages: the patient's join page, the clinician's call page and the pre-call check.

- `/bli-med/{token}`: a participant's personal link. The page takes the token out of the address
  bar at once (the script keeps it in the tab's sessionStorage so a reload still works, via
  `/bli-med`), and the response says `Referrer-Policy: no-referrer`.
- `/samkonsultasjonar/{id}/video`: the same call page for a clinician, who is identified by the
  login; reading it is audited like reading the consultation.
- `/test-utstyr`: "Test utstyret ditt", the camera, microphone and connection check against the
  server's echo peer.

Everything the scripts need comes in `data-` attributes, their words too (translated with the
site's gettext catalogs, like every other page): the CSP (`default-src 'self'`) allows no inline
script or style. Pages are never cached, since they may show names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

from aiohttp import web

from service.domain.calls import LOGIN_ONLY_ROLES, RoomRefusal, join_window, room_refusal
from service.domain.i18n import LANGUAGES
from service.domain.permissions import CONSULTATION_READERS
from service.domain.tokens import new_id
from service.http import appkeys
from service.http.auth import require_actor
from service.http.video import ice_servers_from_settings
from service.storage.models import Consultation
from service.usecases import booking, video
from web.pages.context import ENV_KEYS
from web.pages.i18n import LANGUAGE_NAMES, language_from_query, remember_language
from web.pages.i18n import choose_language as shared_choose_language
from web.pages.navigation import consultation_url

WEB_DIR: Final = Path(__file__).resolve().parent
STATIC_DIR: Final = WEB_DIR / "static" / "video"
STATIC_PREFIX: Final = "/static/video/"
JOIN: Final = "/bli-med"
PRECHECK: Final = "/test-utstyr"

# Why a page cannot show the call: message.html has the words for each.
Closed = Literal["link_invalid", "too_early", "too_late", "closed"]


@cache
def static_url(name: str) -> str:
    """A static file's URL with a content hash, so browsers never keep a stale copy."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"{STATIC_PREFIX}{name}?v={digest}"


def choose_language(request: web.Request, guest_language: str | None) -> str:
    """`?lang=` first, then a guest's own language (their personal link says who they are),
    then what every other page chooses: the language cookie, the login's language, the default."""
    asked = language_from_query(request)
    if asked:
        return asked
    if guest_language in LANGUAGES:
        return guest_language
    return shared_choose_language(request)


@dataclass(frozen=True, slots=True)
class LanguageLink:
    code: str
    name: str
    url: str
    current: bool


def language_links(request: web.Request, current: str) -> list[LanguageLink]:
    # Only on pages without a token in their path: the link would put it back in the address.
    return [
        LanguageLink(code, LANGUAGE_NAMES[code], f"{request.path}?lang={code}", code == current)
        for code in LANGUAGES
    ]


def _render(
    request: web.Request, template: str, language: str, status: int = 200, **context: Any
) -> web.Response:
    # The site's environment for this language: its `_()` translates from the catalogs.
    env = request.app[ENV_KEYS[language]]
    html = env.get_template(f"video/{template}").render(
        lang=language,
        static_url=static_url,
        languages=context.pop("languages", []),
        **context,
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    response.headers["Cache-Control"] = "no-store"
    remember_language(request, response)
    return response


def _local_time(request: web.Request, value: datetime, language: str) -> tuple[str, str]:
    local = value.astimezone(request.app[appkeys.SETTINGS].tz)
    day = local.strftime("%d.%m.%Y") if language != "en" else local.strftime("%Y-%m-%d")
    return local.strftime("%H:%M"), day


def _closed_page(
    request: web.Request,
    consultation: Consultation,
    refusal: RoomRefusal,
    language: str,
    **context: Any,
) -> web.Response:
    opens, _ = join_window(consultation.starts_at, consultation.ends_at)
    time, day = _local_time(request, opens, language)
    kind: Closed = refusal
    return _render(
        request, "message.html", language, 403, kind=kind, opens_time=time, opens_day=day, **context
    )


def _no_referrer(response: web.Response) -> web.Response:
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --- handlers --------------------------------------------------------------------------------


async def join_page(request: web.Request) -> web.Response:
    """A participant's personal link: the waiting room and then the call."""
    token = request.match_info["token"]
    participant = await video.guest_by_link(request.app[appkeys.DB], token)
    if participant is None:
        language = choose_language(request, None)
        kind: Closed = "link_invalid"
        return _no_referrer(_render(request, "message.html", language, 404, kind=kind))
    consultation = participant.consultation
    if participant.role in LOGIN_ONLY_ROLES:
        # Clinicians' powers in the room come from their login, never from a link.
        raise web.HTTPSeeOther(f"/samkonsultasjonar/{consultation.id}/video")
    language = choose_language(request, participant.language)
    now = request.app[appkeys.CLOCK].now()
    refusal = room_refusal(consultation.status, consultation.starts_at, consultation.ends_at, now)
    if refusal is not None:
        return _no_referrer(_closed_page(request, consultation, refusal, language))
    return _no_referrer(_call_page(request, consultation, language, token=token, clinician=False))


async def rejoin_page(request: web.Request) -> web.Response:
    """Where a reload of the join page lands: the script reopens the link kept in the tab."""
    language = choose_language(request, None)
    return _no_referrer(_render(request, "rejoin.html", language))


async def clinician_call_page(request: web.Request) -> web.Response:
    actor = require_actor(request, *sorted(CONSULTATION_READERS))
    app = request.app
    consultation = await booking.read(
        app[appkeys.DB], actor, app[appkeys.CLOCK], request.match_info["consultation_id"]
    )
    language = choose_language(request, None)
    now = app[appkeys.CLOCK].now()
    refusal = room_refusal(consultation.status, consultation.starts_at, consultation.ends_at, now)
    links = language_links(request, language)
    if refusal is not None:
        return _closed_page(request, consultation, refusal, language, languages=links)
    return _call_page(request, consultation, language, token=None, clinician=True, languages=links)


def _call_page(
    request: web.Request,
    consultation: Consultation,
    language: str,
    *,
    token: str | None,
    clinician: bool,
    languages: list[LanguageLink] | None = None,
) -> web.Response:
    time, day = _local_time(request, consultation.starts_at, language)
    return _render(
        request,
        "call.html",
        language,
        ws_path=f"/ws/{consultation.room_id}",
        token=token or "",
        clinician=clinician,
        starts_time=time,
        starts_day=day,
        precheck_url=f"{PRECHECK}?lang={language}",
        # Guests have no consultation page: only clinicians get the way back.
        consultation_url=consultation_url(consultation.id) if clinician else "",
        languages=languages or [],
    )


async def precheck_page(request: web.Request) -> web.Response:
    app = request.app
    settings = app[appkeys.SETTINGS]
    language = choose_language(request, None)
    servers = ice_servers_from_settings(settings, f"check-{new_id()}", app[appkeys.CLOCK].now())
    return _render(
        request,
        "precheck.html",
        language,
        ice_servers=json.dumps(servers),
        languages=language_links(request, language),
    )


def setup_video_pages(app: web.Application) -> None:
    """Routes of the video pages; their templates come from `setup_web` (call it first)."""
    app.router.add_get(JOIN, rejoin_page)
    app.router.add_get(f"{JOIN}/{{token}}", join_page)
    app.router.add_get("/samkonsultasjonar/{consultation_id}/video", clinician_call_page)
    app.router.add_get(PRECHECK, precheck_page)
    app.router.add_static(STATIC_PREFIX, STATIC_DIR, name="video-static", append_version=False)
