"""Who is making a request: sessions, roles and CSRF protection.

Sessions live on the server (service/http/sessions.py): the middleware here reads the request's
session and account once, and a session that has ended is gone on its very next request. Every
state-changing request carries a CSRF token, as a form field or an `X-CSRF-Token` header: the
session's, or for a visitor without one the token of the `samkons_csrf` cookie.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from service.domain.actor import Actor
from service.domain.errors import NotAllowed, NotAuthenticated
from service.domain.i18n import N_
from service.domain.roles import CLINICIANS
from service.http import appkeys
from service.http.remotes import client_address
from service.http.sessions import CSRF_COOKIE, SESSION_COOKIE, STATE, RequestSession, set_cookies
from service.http.totp import check_second_factor
from service.storage.models import User

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _state(request: web.Request) -> RequestSession:
    state = request.get(STATE)
    if state is None:
        state = RequestSession()
        request[STATE] = state
    return state


async def csrf_token(request: web.Request) -> str:
    """The token a form or script on this page must send back with a state change."""
    state = _state(request)
    store = request.app[appkeys.SESSIONS]
    if state.sid is not None:
        return store.csrf_for_session(state.sid)
    if state.csrf_nonce is None:
        state.csrf_nonce = secrets.token_urlsafe(32)
        state.new_csrf_nonce = True
    return store.csrf_for_nonce(state.csrf_nonce)


async def start_session(
    request: web.Request, user: User, *, method: str = "password", second_factor: str | None = None
) -> str:
    """Sign the user in with a new session id (the old one, if any, ends): its CSRF token.

    In production a password sign-in needs the TOTP code too (service/http/totp.py), and is
    refused for clinicians when HelseID is configured."""
    settings = request.app[appkeys.SETTINGS]
    if method == "password" and settings.mode == "production":
        if settings.oidc_enabled and user.role in CLINICIANS:
            raise NotAllowed(N_("Clinicians sign in with HelseID."))
        await check_second_factor(
            request.app[appkeys.DB],
            settings,
            request.app[appkeys.THROTTLE],
            user,
            second_factor,
            client_address(request),
            request.app[appkeys.CLOCK].now(),
        )
    state = _state(request)
    store = request.app[appkeys.SESSIONS]
    if state.sid is not None:
        await store.end(state.sid)
    sid = await store.create(user, method)
    state.sid = sid
    state.actor = None
    state.new_cookie = sid
    state.flashes = []
    state.flashes_changed = False
    return store.csrf_for_session(sid)


async def end_session(request: web.Request) -> None:
    """Log out: every session of this account ends, here and on other devices."""
    state = _state(request)
    store = request.app[appkeys.SESSIONS]
    if state.actor is not None:
        await store.end_all(state.actor.user_id)
    elif state.sid is not None:
        await store.end(state.sid)
    state.sid = None
    state.actor = None
    state.clear_cookie = True


def add_flash(request: web.Request, message: str) -> None:
    """Keep a message for the next page (only a signed-in session keeps any)."""
    state = _state(request)
    if state.sid is not None:
        state.flashes.append(message)
        state.flashes_changed = True


def take_flashes(request: web.Request) -> list[str]:
    state = _state(request)
    taken, state.flashes = state.flashes, []
    if taken:
        state.flashes_changed = True
    return taken


def current_actor(request: web.Request) -> Actor | None:
    state = request.get(STATE)
    return None if state is None else state.actor


def require_actor(request: web.Request, *roles: str) -> Actor:
    actor = current_actor(request)
    if actor is None:
        raise NotAuthenticated("Log in to continue.")
    if roles and actor.role not in roles:
        raise NotAllowed("Your role does not give access to this.")
    return actor


async def _given_csrf(request: web.Request) -> str | None:
    given = request.headers.get("X-CSRF-Token")
    if given is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value: Any = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    return given


async def _csrf_ok(request: web.Request, state: RequestSession) -> bool:
    store = request.app[appkeys.SESSIONS]
    if state.sid is not None:
        expected = store.csrf_for_session(state.sid)
    elif state.csrf_nonce is not None:
        expected = store.csrf_for_nonce(state.csrf_nonce)
    else:
        return False
    given = await _given_csrf(request)
    return given is not None and hmac.compare_digest(given, expected)


def csrf_exempt(handler: Handler) -> Handler:
    """Mark a handler that authenticates by other means than the session (e.g. a join token)."""
    handler.csrf_exempt = True  # type: ignore[attr-defined]
    return handler


@web.middleware
async def actor_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    store = request.app[appkeys.SESSIONS]
    state = _state(request)
    nonce = request.cookies.get(CSRF_COOKIE)
    if nonce:
        state.csrf_nonce = nonce
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        loaded = await store.load(sid)
        if loaded is None:
            state.stale = True
            state.clear_cookie = True
        else:
            state.sid = sid
            state.actor, state.flashes = loaded
    needs_csrf = request.method in UNSAFE_METHODS and not getattr(handler, "csrf_exempt", False)
    if needs_csrf and not await _csrf_ok(request, state):
        if state.stale:
            # The session this page was made in has ended (logout, timeout, deactivation).
            raise NotAuthenticated("Your session has ended. Log in again.")
        raise NotAllowed(
            "The form or request is missing a valid CSRF token. Reload the page and try again."
        )
    response = await handler(request)
    if state.flashes_changed and state.sid is not None:
        await store.save_flashes(state.sid, state.flashes)
    set_cookies(response, state, store)
    return response
