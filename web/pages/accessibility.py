"""The accessibility statement (tilgjengelegheitserklæring) that the regulation on universal
design of ICT asks public bodies to publish: how the service is tested, what is known not to
work yet, and whom to write to. Every page's footer links here.

The contact is the service's own address (`mail_from`), the one its e-mails come from.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from service.http import appkeys
from web.pages.context import render

ACCESSIBILITY: Final = "/tilgjengelegheitserklaering"


async def accessibility_page(request: web.Request) -> web.Response:
    contact = request.app[appkeys.SETTINGS].mail_from
    return await render(request, "accessibility.html", {"contact": contact})


def setup_accessibility_routes(app: web.Application) -> None:
    app.router.add_get(ACCESSIBILITY, accessibility_page)
