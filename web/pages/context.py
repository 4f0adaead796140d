"""What every page gets: templates per language, the reader, CSRF token, flash messages.

`render` is the one way a page handler answers with HTML, so each page carries the same base
context, remembers a language chosen with `?lang=`, and is never cached (pages hold health data).
The template environments are made once per process (per language and time zone) and shared by
every app in it, so a template is compiled once, not once per app (the tests make hundreds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from babel.support import NullTranslations

from service.domain.actor import Actor
from service.domain.i18n import LANGUAGES, N_, load_translations
from service.http import appkeys
from service.http.auth import add_flash, csrf_token, current_actor, take_flashes
from web.pages import labels
from web.pages.i18n import (
    LANGUAGE_NAMES,
    LocalTime,
    choose_language,
    remember_language,
    switch_language_url,
)

WEB_DIR: Final = Path(__file__).resolve().parent.parent
TEMPLATES_DIR: Final = WEB_DIR / "templates"
STATIC_DIR: Final = WEB_DIR / "static"
ENV_KEYS: Final = {
    lang: web.AppKey(f"samkons.jinja2.{lang}", jinja2.Environment) for lang in LANGUAGES
}
TRANSLATION_KEYS: Final = {
    lang: web.AppKey(f"samkons.translations.{lang}", NullTranslations) for lang in LANGUAGES
}


@dataclass(frozen=True, slots=True)
class LanguageLink:
    code: str
    name: str
    url: str
    current: bool


@dataclass(frozen=True, slots=True)
class NavLink:
    label: str  # msgid
    url: str
    current: bool


def field_id(name: str) -> str:
    """The HTML id of a form field named like `patient.name` or `relatives.0.email`."""
    return "f-" + name.replace(".", "-")


@cache
def static_url(name: str) -> str:
    """A static file's URL with a content hash, so browsers never use a stale copy."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


@cache
def _environment(language: str, tz: ZoneInfo) -> jinja2.Environment:
    # Shared by every app of the process with this language and zone: nothing may change an
    # environment once it is made (per-request data goes into the render context instead).
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    translations = load_translations(language)
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    local = LocalTime(language, tz)
    env.filters.update(
        t=translations.gettext,  # a msgid held in a variable (a label, an error message)
        field_id=field_id,
        day=local.day,
        short_day=local.short_day,
        time=local.time,
        when=local.when,
        span=local.span,
        input_value=local.input_value,
    )
    env.globals.update(static_url=static_url, labels=labels)
    return env


def setup_templates(app: web.Application) -> None:
    tz = app[appkeys.SETTINGS].tz
    for language, key in ENV_KEYS.items():
        app[key] = _environment(language, tz)
        app[TRANSLATION_KEYS[language]] = load_translations(language)


def translator(request: web.Request, language: str) -> Callable[[str], str]:
    """gettext for text a handler builds in Python (chart labels), where templates cannot."""
    return request.app[TRANSLATION_KEYS[language]].gettext


async def flash(request: web.Request, message: str) -> None:
    """Keep a message (a msgid) to show on the next page the reader sees."""
    add_flash(request, message)


async def _take_flashes(request: web.Request) -> list[str]:
    return take_flashes(request)


def nav_links(request: web.Request, actor: Actor | None) -> list[NavLink]:
    if actor is None:
        return []
    links: list[tuple[str, str]] = []
    if actor.role == "gp":
        links = [
            (N_("My joint consultations"), "/samkonsultasjonar"),
            (N_("Book a joint consultation"), "/bestill"),
            (N_("My calendar"), "/min-kalender"),
        ]
    elif actor.role in ("specialist", "coordinator"):
        links = [
            (N_("Joint consultations"), "/samkonsultasjonar"),
            (N_("My calendar"), "/min-kalender"),
        ]
    elif actor.role in ("evaluator", "admin"):
        links = [(N_("Statistics"), "/statistikk")]
    path = request.path
    return [NavLink(label, url, path == url or path.startswith(url + "/")) for label, url in links]


async def base_context(
    request: web.Request, *, take_flashes: bool = True, language: str | None = None
) -> dict[str, Any]:
    actor = current_actor(request)
    language = language or choose_language(request)
    return {
        "actor": actor,
        "csrf_token": await csrf_token(request),
        "lang": language,
        "languages": [
            LanguageLink(
                code, LANGUAGE_NAMES[code], switch_language_url(request, code), code == language
            )
            for code in LANGUAGES
        ],
        "nav": nav_links(request, actor),
        "flashes": await _take_flashes(request) if take_flashes else [],
        "path": request.path,
    }


async def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    take_flashes: bool = True,
    language: str | None = None,
) -> web.Response:
    """The page in the reader's language, or in `language` when the page knows better (the
    survey is in the language its participant was invited in, unless `?lang=` says otherwise)."""
    full = await base_context(request, take_flashes=take_flashes, language=language)
    full.update(context or {})
    response = aiohttp_jinja2.render_template(
        template, request, full, app_key=ENV_KEYS[full["lang"]], status=status
    )
    response.headers["Cache-Control"] = "no-store"
    remember_language(request, response)
    return response
