"""The pre-call check's echo endpoint: offer in, answer out, your own media comes back.

Anyone may use it (patients have no login), so it is guarded by the cap on concurrent sessions
(`settings.max_echo_sessions`, 503 when full) and by each session's time limit. It is exempt
from the CSRF check like the login: it only accepts `application/json`, which a cross-site form
cannot send.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from service.domain.errors import DomainError, InvalidInput, NotFound
from service.domain.tokens import new_id
from service.http import appkeys
from service.http.api.io import read_body
from service.http.auth import csrf_exempt
from service.http.video import ice_servers_from_settings
from signalling.codec import IceServer
from signalling.echo import EchoBusy, EchoOfferRefused

ECHO_CREDENTIALS_TTL = timedelta(minutes=10)


class EchoOffer(BaseModel):
    """A browser's SDP offer, with its candidates already gathered (no trickle)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["offer"]
    sdp: Annotated[str, Field(min_length=1, max_length=60_000)]


class EchoUnavailable(DomainError):
    status = 503
    title = "Test service busy"
    type_slug = "echo-busy"


@csrf_exempt  # JSON only, like the login: a cross-site form cannot send it.
async def start_echo(request: web.Request) -> web.Response:
    offer = await read_body(request, EchoOffer)
    app = request.app
    servers = ice_servers_from_settings(
        app[appkeys.SETTINGS], f"echo-{new_id()}", app[appkeys.CLOCK].now(), ECHO_CREDENTIALS_TTL
    )
    try:
        session_id, answer = await app[appkeys.ECHO].answer(
            offer.sdp, [IceServer.model_validate(s) for s in servers]
        )
    except EchoBusy:
        raise EchoUnavailable(
            "Every test connection is in use just now. Try again in a minute."
        ) from None
    except EchoOfferRefused:
        raise InvalidInput("The offer could not be answered.", field="sdp") from None
    return web.json_response({"id": session_id, "type": "answer", "sdp": answer}, status=201)


@csrf_exempt  # the unguessable session id is the only key, held by the page that started it
async def end_echo(request: web.Request) -> web.Response:
    if not await request.app[appkeys.ECHO].end(request.match_info["session_id"]):
        raise NotFound("No such test connection.")
    return web.Response(status=204)
