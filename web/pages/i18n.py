"""Languages of the pages: gettext catalogs, the reader's language, and local dates and times.

The catalogs are shared with the e-mails (`service.domain.i18n`). Each language gets its own Jinja2
environment with its translations installed, so macros and includes translate without having to
pass the context around.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_date, format_skeleton, format_time

from service.domain.i18n import LANGUAGES
from service.http import appkeys
from service.http.auth import current_actor

LANGUAGE_NAMES: Final = {"nn": "Nynorsk", "nb": "Bokmål", "en": "English"}
LANG_COOKIE: Final = "samkons_lang"
LANG_COOKIE_MAX_AGE: Final = 365 * 24 * 3600
# Babel locales for dates: English uses the British forms (24-hour clock, day before month).
BABEL_LOCALES: Final = {"nn": "nn_NO", "nb": "nb_NO", "en": "en_GB"}


def language_from_query(request: web.Request) -> str | None:
    value = request.query.get("lang")
    return value if value in LANGUAGES else None


def choose_language(request: web.Request) -> str:
    """`?lang=`, else the language cookie, else the logged-in user's language, else the default."""
    chosen = language_from_query(request)
    if chosen:
        return chosen
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    actor = current_actor(request)
    if actor is not None and actor.language in LANGUAGES:
        return actor.language
    return request.app[appkeys.SETTINGS].default_language


def remember_language(request: web.Request, response: web.StreamResponse) -> None:
    chosen = language_from_query(request)
    if chosen:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.app[appkeys.SETTINGS].secure_cookies,
            path="/",
        )


def switch_language_url(request: web.Request, language: str) -> str:
    """The current page in another language (other query parameters kept)."""
    query = {k: v for k, v in request.query.items() if k != "lang"}
    query["lang"] = language
    return str(request.rel_url.with_query(query))


class LocalTime:
    """Dates and times for one language, shown in the service's time zone."""

    def __init__(self, language: str, tz: ZoneInfo) -> None:
        self.locale = BABEL_LOCALES[language]
        self.tz = tz

    def local(self, value: datetime) -> datetime:
        return value.astimezone(self.tz)

    def day(self, value: datetime | date) -> str:
        """«onsdag 7. januar 2026»."""
        day = self.local(value).date() if isinstance(value, datetime) else value
        return format_date(day, "full", locale=self.locale)

    def short_day(self, value: datetime) -> str:
        """«on. 7. jan. 2026»."""
        return format_skeleton("yMMMEd", self.local(value), locale=self.locale)

    def time(self, value: datetime) -> str:
        """«10:00»."""
        return format_time(self.local(value), "short", locale=self.locale)

    def when(self, value: datetime) -> str:
        """«on. 7. jan. 2026 10:00»."""
        return f"{self.short_day(value)} {self.time(value)}"

    def span(self, start: datetime, end: datetime) -> str:
        """«on. 7. jan. 2026 10:00–10:30»."""
        return f"{self.when(start)}–{self.time(end)}"

    def input_value(self, value: datetime) -> str:
        """The value of a datetime-local input (local wall-clock time)."""
        return self.local(value).strftime("%Y-%m-%dT%H:%M")
