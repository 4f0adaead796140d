"""«Min kalender»: a clinician subscribes to their consultations in their own calendar app.

The feed address holds a secret token; it is shown once, when made, and can be revoked.
"""

from __future__ import annotations

from aiohttp import web

from service.domain.i18n import N_
from service.domain.permissions import CONSULTATION_READERS
from service.http import appkeys
from service.http.auth import require_actor
from service.usecases.calendar_feed import create_feed, feed_url, has_feed, revoke_feed, webcal_url
from web.pages.context import flash, render
from web.pages.navigation import see_other

CALENDAR = "/min-kalender"


async def calendar_page(request: web.Request) -> web.Response:
    actor = require_actor(request, *CONSULTATION_READERS)
    subscribed = await has_feed(request.app[appkeys.DB], actor)
    return await render(request, "calendar.html", {"subscribed": subscribed, "new_url": None})


async def calendar_create(request: web.Request) -> web.Response:
    actor = require_actor(request, *CONSULTATION_READERS)
    token = await create_feed(request.app[appkeys.DB], actor)
    url = feed_url(request.app[appkeys.SETTINGS].base_url, token)
    # Rendered directly, not redirected: the address must not pass through a URL or the session.
    return await render(
        request,
        "calendar.html",
        {"subscribed": True, "new_url": url, "new_webcal_url": webcal_url(url)},
    )


async def calendar_revoke(request: web.Request) -> web.Response:
    actor = require_actor(request, *CONSULTATION_READERS)
    await revoke_feed(request.app[appkeys.DB], actor)
    await flash(request, N_("The calendar address no longer works."))
    return see_other(CALENDAR)


def setup_calendar_routes(app: web.Application) -> None:
    app.router.add_get(CALENDAR, calendar_page)
    app.router.add_post(CALENDAR, calendar_create)
    app.router.add_post(CALENDAR + "/trekk-tilbake", calendar_revoke)
