"""HTTP for calendars and mails: feed management, the feed itself, .ics downloads, mail lists.

The feed URL authenticates by its secret token, not a session, because calendar programs poll
it without logging in. Everything else needs a logged-in clinician.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from service.http import appkeys
from service.http.api.views import iso
from service.http.auth import require_actor
from service.usecases import calendar_feed, mail_log

ICS_TYPE = "text/calendar"


async def get_calendar_feed(request: web.Request) -> web.Response:
    actor = require_actor(request)
    active = await calendar_feed.has_feed(request.app[appkeys.DB], actor)
    return web.json_response({"active": active})


async def create_calendar_feed(request: web.Request) -> web.Response:
    actor = require_actor(request)
    token = await calendar_feed.create_feed(request.app[appkeys.DB], actor)
    url = calendar_feed.feed_url(request.app[appkeys.SETTINGS].base_url, token)
    return web.json_response(
        {"active": True, "url": url, "webcal_url": calendar_feed.webcal_url(url)},
        status=201,
        headers={"Cache-Control": "no-store"},
    )


async def revoke_calendar_feed(request: web.Request) -> web.Response:
    actor = require_actor(request)
    await calendar_feed.revoke_feed(request.app[appkeys.DB], actor)
    return web.Response(status=204)


async def download_invite(request: web.Request) -> web.Response:
    actor = require_actor(request)
    ics, filename = await calendar_feed.consultation_ics(
        request.app[appkeys.DB],
        actor,
        request.app[appkeys.CLOCK],
        request.app[appkeys.SETTINGS],
        request.match_info["consultation_id"],
    )
    return web.Response(
        body=ics,
        content_type=ICS_TYPE,
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


async def list_mails(request: web.Request) -> web.Response:
    actor = require_actor(request)
    mails = await mail_log.mails_of_consultation(
        request.app[appkeys.DB],
        actor,
        request.app[appkeys.CLOCK],
        request.match_info["consultation_id"],
    )
    tz = request.app[appkeys.SETTINGS].tz
    return web.json_response([mail_json(m, tz) for m in mails])


def mail_json(m: mail_log.MailSummary, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": m.id,
        "kind": m.kind,
        "status": m.status,
        "recipient_role": m.recipient_role,
        "recipient_name": m.recipient_name,
        "recipient": m.recipient,
        "revision": m.revision,
        "due_at": iso(m.due_at, tz),
        "sent_at": iso(m.sent_at, tz),
        "attempts": m.attempts,
        "eml_url": m.eml_url,
    }


async def serve_feed(request: web.Request) -> web.Response:
    ics = await calendar_feed.feed_for_token(
        request.app[appkeys.DB],
        request.app[appkeys.CLOCK],
        request.app[appkeys.SETTINGS],
        request.match_info["token"],
    )
    return web.Response(
        body=ics,
        content_type=ICS_TYPE,
        charset="utf-8",
        headers={"Cache-Control": "private, no-cache", "X-Robots-Tag": "noindex"},
    )


def setup_calendar_feed(app: web.Application) -> None:
    app.router.add_get("/kalender/{token}.ics", serve_feed)
