"""Logging in and out, the start page per role, and the statistics placeholder."""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from service.domain.errors import NotAuthenticated, TooManyRequests
from service.domain.schemas import LoginInput
from service.http import appkeys
from service.http.auth import current_actor, end_session, start_session
from service.http.remotes import client_address
from service.usecases import accounts
from web.pages.context import render
from web.pages.form_errors import FormErrors, from_domain, from_validation
from web.pages.navigation import safe_next, see_other, start_page


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
        data = LoginInput(email=email, password=str(form.get("password", "")))
        user = await accounts.authenticate(
            request.app[appkeys.DB],
            request.app[appkeys.THROTTLE],
            data.email,
            data.password,
            client_address(request),
        )
    except ValidationError as exc:
        return await _login_page(request, email=email, errors=from_validation(exc), status=422)
    except NotAuthenticated as exc:
        return await _login_page(request, email=email, errors=from_domain(exc), status=401)
    except TooManyRequests as exc:
        page = await _login_page(request, email=email, errors=from_domain(exc), status=429)
        if exc.retry_after is not None:
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    await start_session(request, user)
    return see_other(safe_next(str(form.get("neste", ""))) or "/")


async def logout(request: web.Request) -> web.Response:
    await end_session(request)
    return see_other("/logg-inn")
