"""Signing in and out: the password form, HelseID (OpenID Connect), the start page per role."""

from __future__ import annotations

import logging

from aiohttp import web
from pydantic import ValidationError

from service.domain.errors import NotAuthenticated, TooManyRequests
from service.domain.schemas import LoginInput
from service.http import appkeys
from service.http.auth import current_actor, end_session, start_session
from service.http.oidc import FLOW_COOKIE, FLOW_SECONDS, OIDC_CLIENT, OidcError, linked_account
from service.http.remotes import client_address
from service.usecases import accounts
from web.pages.context import render
from web.pages.form_errors import FormErrors, from_domain, from_validation
from web.pages.navigation import safe_next, see_other, start_page

log = logging.getLogger(__name__)


async def home(request: web.Request) -> web.Response:
    return see_other(start_page(current_actor(request)))


async def _login_page(
    request: web.Request, *, email: str = "", errors: FormErrors | None = None, status: int = 200
) -> web.Response:
    return await render(
        request,
        "login.html",
        {
            "email": email,
            "next": safe_next(request.query.get("neste")) or "",
            "errors": errors or FormErrors(),
            "helseid": OIDC_CLIENT in request.app,
            "second_factor": request.app[appkeys.SETTINGS].mode == "production",
        },
        status=status,
    )


async def login_form(request: web.Request) -> web.Response:
    if current_actor(request) is not None:
        return see_other(safe_next(request.query.get("neste")) or "/")
    return await _login_page(request)


async def login_submit(request: web.Request) -> web.Response:
    form = await request.post()
    email = str(form.get("email", ""))
    try:
        data = LoginInput(
            email=email,
            password=str(form.get("password", "")),
            totp=str(form.get("totp", "")) or None,
        )
        user = await accounts.authenticate(
            request.app[appkeys.DB],
            request.app[appkeys.THROTTLE],
            data.email,
            data.password,
            client_address(request),
            request.app[appkeys.PASSWORDS],
        )
        await start_session(request, user, second_factor=data.totp)
    except ValidationError as exc:
        return await _login_page(request, email=email, errors=from_validation(exc), status=422)
    except NotAuthenticated as exc:
        return await _login_page(request, email=email, errors=from_domain(exc), status=401)
    except TooManyRequests as exc:
        page = await _login_page(request, email=email, errors=from_domain(exc), status=429)
        if exc.retry_after is not None:
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    return see_other(safe_next(str(form.get("neste", ""))) or "/")


async def logout(request: web.Request) -> web.Response:
    await end_session(request)
    return see_other("/logg-inn")


HELSEID_START = "/logg-inn/helseid"
HELSEID_CALLBACK = "/logg-inn/helseid/tilbake"


async def _signin_problem(request: web.Request, status: int) -> web.Response:
    response = await render(request, "signin_failed.html", {"status": status}, status=status)
    response.del_cookie(FLOW_COOKIE, path=HELSEID_CALLBACK)
    return response


async def helseid_start(request: web.Request) -> web.StreamResponse:
    """Push the authorization request and send the browser to HelseID."""
    client = request.app.get(OIDC_CLIENT)
    if client is None:
        raise web.HTTPNotFound()
    invitation = request.query.get("invitasjon") or None
    try:
        url, sealed = await client.start(safe_next(request.query.get("neste")) or "", invitation)
    except OidcError:
        log.warning("HelseID sign-in could not start")
        return await _signin_problem(request, 502)
    response = see_other(url)
    response.set_cookie(
        FLOW_COOKIE,
        sealed,
        max_age=FLOW_SECONDS,
        path=HELSEID_CALLBACK,
        httponly=True,
        samesite="Lax",  # the callback is a top-level GET from the provider's site
        secure=request.app[appkeys.SETTINGS].secure_cookies,
    )
    return response


async def helseid_callback(request: web.Request) -> web.StreamResponse:
    """Check what HelseID sent back, then sign the linked account in, or say there is none."""
    client = request.app.get(OIDC_CLIENT)
    if client is None:
        raise web.HTTPNotFound()
    sealed = request.cookies.get(FLOW_COOKIE)
    if not sealed:
        return await _signin_problem(request, 400)
    try:
        flow = client.unseal(sealed)
        identity = await client.finish(flow, dict(request.query))
    except OidcError as exc:
        # The reason goes to the log (no personal data in it), the reader gets a plain page.
        log.warning("HelseID sign-in refused: %s", exc)
        return await _signin_problem(request, 400)
    user = await linked_account(
        request.app[appkeys.DB], identity, flow.invitation, request.app[appkeys.CLOCK].now()
    )
    if user is None:
        response = await render(request, "signin_unknown.html", {}, status=403)
        response.del_cookie(FLOW_COOKIE, path=HELSEID_CALLBACK)
        return response
    await start_session(request, user, method="oidc")
    response = see_other(flow.next_url or "/")
    response.del_cookie(FLOW_COOKIE, path=HELSEID_CALLBACK)
    return response


def setup_session_routes(app: web.Application) -> None:
    app.router.add_get(HELSEID_START, helseid_start)
    app.router.add_get(HELSEID_CALLBACK, helseid_callback)
