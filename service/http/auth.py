"""Who is making a request: login sessions, roles and CSRF protection.

Sessions are encrypted cookies (aiohttp-session): HttpOnly, SameSite=Lax, Secure over https.
Every state-changing request made with a session carries the session's CSRF token, as a form
field or an `X-CSRF-Token` header. The account behind a session is read from the database at
most once per `actor_cache_seconds` per process (`ActorCache`), and afresh after login or logout.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from service.domain.actor import Actor
from service.domain.clock import Clock
from service.domain.errors import NotAllowed, NotAuthenticated
from service.http import appkeys
from service.settings import Settings
from service.storage.models import User
from service.usecases import accounts

SESSION_COOKIE = "samkons_session"
SESSION_MAX_AGE = 12 * 3600
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


ACTOR_KEY = web.RequestKey("samkons.actor", Actor)


class ActorCache:
    """Logged-in accounts read in the last `ttl`, so most requests need not read the account.

    In-process only: another process sees an account change when its entry lapses, so `ttl`
    bounds how long a deactivated account or a changed role can go unnoticed. `forget` drops an
    account at once, and a load that started before a `forget` is not stored afterwards.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, clock: Clock, ttl: timedelta) -> None:
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[int, tuple[Actor, datetime]] = {}
        self._generation: dict[int, int] = {}

    def get(self, user_id: int) -> Actor | None:
        entry = self._entries.get(user_id)
        if entry is None:
            return None
        actor, loaded_at = entry
        # Also stale when the clock went back since the load (the wall clock can jump).
        if not timedelta(0) <= self._clock.now() - loaded_at < self._ttl:
            del self._entries[user_id]
            return None
        return actor

    def generation(self, user_id: int) -> int:
        """Take before loading; `put` stores the load only if nothing was forgotten since."""
        return self._generation.get(user_id, 0)

    def put(self, actor: Actor, generation: int) -> None:
        if self._ttl <= timedelta(0) or generation != self.generation(actor.user_id):
            return
        now = self._clock.now()
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries = {k: v for k, v in self._entries.items() if now - v[1] < self._ttl}
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
        self._entries[actor.user_id] = (actor, now)

    def forget(self, user_id: int) -> None:
        self._entries.pop(user_id, None)
        self._generation[user_id] = self.generation(user_id) + 1


def session_storage(settings: Settings) -> EncryptedCookieStorage:
    key = hashlib.sha256(b"session:" + settings.secret_key.get_secret_value().encode()).digest()
    return EncryptedCookieStorage(
        key,  # raw bytes: aiohttp-session base64-encodes them for Fernet itself
        cookie_name=SESSION_COOKIE,
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookies,
        max_age=SESSION_MAX_AGE,
    )


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def start_session(request: web.Request, user: User) -> str:
    """Log the user in with a fresh session (new id and CSRF token: no session fixation)."""
    session: Session = await new_session(request)
    # The next request reads the account afresh (a role changed since is seen at once).
    request.app[appkeys.ACTOR_CACHE].forget(user.id)
    session["uid"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


async def end_session(request: web.Request) -> None:
    session = await get_session(request)
    uid = session.get("uid")
    if isinstance(uid, int):
        request.app[appkeys.ACTOR_CACHE].forget(uid)
    session.invalidate()


def current_actor(request: web.Request) -> Actor | None:
    return request.get(ACTOR_KEY)


def require_actor(request: web.Request, *roles: str) -> Actor:
    actor = current_actor(request)
    if actor is None:
        raise NotAuthenticated("Log in to continue.")
    if roles and actor.role not in roles:
        raise NotAllowed("Your role does not give access to this.")
    return actor


async def _load_actor(request: web.Request) -> Actor | None:
    session = await get_session(request)
    uid = session.get("uid")
    if not isinstance(uid, int):
        return None
    cache = request.app[appkeys.ACTOR_CACHE]
    cached = cache.get(uid)
    if cached is not None:
        return cached
    generation = cache.generation(uid)
    actor = await accounts.actor_of(request.app[appkeys.READ_DB], uid)
    if actor is None:
        session.invalidate()
        return None
    cache.put(actor, generation)
    return actor


async def _csrf_ok(request: web.Request, session: Session) -> bool:
    expected = session.get("csrf")
    if not isinstance(expected, str):
        return False
    given = request.headers.get("X-CSRF-Token")
    if given is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value: Any = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    return given is not None and hmac.compare_digest(given, expected)


def csrf_exempt(handler: Handler) -> Handler:
    """Mark a handler that authenticates by other means than the session (e.g. a join token)."""
    handler.csrf_exempt = True  # type: ignore[attr-defined]
    return handler


@web.middleware
async def actor_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    actor = await _load_actor(request)
    if actor is not None:
        request[ACTOR_KEY] = actor
    if request.method in UNSAFE_METHODS and not getattr(handler, "csrf_exempt", False):
        session = await get_session(request)
        if not await _csrf_ok(request, session):
            raise NotAllowed(
                "The form or request is missing a valid CSRF token. Reload the page and try again."
            )
    return await handler(request)
