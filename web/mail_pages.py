"""The pages of a consultation's mails: each sent .eml, for clinicians who may see it.

The consultation page itself lives in `web/pages.py`; it lists the mails with
`service.usecases.mail_log.mails_of_consultation` and links to the files served here.
"""

from __future__ import annotations

from aiohttp import web

from service.domain.errors import NotFound
from service.http import appkeys
from service.http.auth import require_actor
from service.usecases import mail_log
from web.pages.context import translator
from web.pages.i18n import choose_language


async def show_eml(request: web.Request) -> web.StreamResponse:
    actor = require_actor(request)
    try:
        mail_id = int(request.match_info["mail_id"])
    except ValueError as exc:
        raise NotFound("No such e-mail.") from exc
    _ = translator(request, choose_language(request))
    raw = await mail_log.eml_file(
        request.app[appkeys.DB],
        actor,
        request.app[appkeys.CLOCK],
        request.app[appkeys.SETTINGS],
        request.match_info["consultation_id"],
        mail_id,
        _("[personal link, only in the recipient's own e-mail]"),
    )
    return web.Response(
        body=raw,
        headers={
            "Content-Type": "message/rfc822",
            "Content-Disposition": f'attachment; filename="samkons-{mail_id}.eml"',
            "Cache-Control": "no-store",
        },
    )


def setup_mail_pages(app: web.Application) -> None:
    app.router.add_get(
        "/samkonsultasjonar/{consultation_id}/e-post/{mail_id}.eml", show_eml, name="mail_eml"
    )
