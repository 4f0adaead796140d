"""Server-side sessions: the cookie holds a random id, the database its keyed hash.

A session id is 256 random bits, sent as the `samkons_session` cookie (HttpOnly, SameSite=Lax,
Secure over https); the `login_sessions` row is keyed by HMAC-SHA256 of it under the session key,
so a leaked table opens no session. Every request reads its session together with the account:

- ended after `session_idle_minutes` without a request and `session_absolute_hours` after
  sign-in, whichever comes first;
- ended, with every other session of the account, once the account is deactivated or has
  another role than at sign-in; logging out also ends every session of the account;
- a new id at every sign-in (no session fixation).

The CSRF token of a session is an HMAC of its id under the CSRF key, so it changes with the id
and needs no storage. A visitor without a session (the login form) gets a random `samkons_csrf`
cookie and the HMAC of that as token (a signed double submit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.clock import Clock
from service.settings import Settings
from service.storage import sessions as store
from service.storage.models import LoginSession, User

SESSION_COOKIE: Final = "samkons_session"
CSRF_COOKIE: Final = "samkons_csrf"
# last_seen_at is written at most this often: the idle timeout is this much less exact, and a
# busy page does not write on every request.
TOUCH_EVERY: Final = timedelta(seconds=60)
MAX_FLASHES: Final = 5


@dataclass
class RequestSession:
    """What the middleware found for one request (`STATE` on the request)."""

    sid: str | None = None  # the raw id from the cookie, when it names a live session
    actor: Actor | None = None
    stale: bool = False  # a session cookie came that names no live session
    flashes: list[str] = field(default_factory=list)
    flashes_changed: bool = False
    new_cookie: str | None = None  # set at sign-in
    clear_cookie: bool = False  # set at logout or when the cookie is stale
    csrf_nonce: str | None = None  # an anonymous visitor's double-submit nonce
    new_csrf_nonce: bool = False


STATE: Final = web.RequestKey("samkons.session", RequestSession)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SessionStore:
    """Creates, reads and ends sessions; one per application."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: async_sessionmaker[AsyncSession] | None = None,
        read_db: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._session_key = settings.purpose_key("session")
        self._csrf_key = settings.purpose_key("csrf")
        self._clock = clock
        self._idle = timedelta(minutes=settings.session_idle_minutes)
        self._absolute = timedelta(hours=settings.session_absolute_hours)
        self._db = db
        self._read_db = read_db
        self.secure = settings.secure_cookies

    def bind(
        self, db: async_sessionmaker[AsyncSession], read_db: async_sessionmaker[AsyncSession]
    ) -> None:
        """The database is opened after the app is built (cleanup_ctx)."""
        self._db = db
        self._read_db = read_db

    @property
    def db(self) -> async_sessionmaker[AsyncSession]:
        if self._db is None:
            raise RuntimeError("the session store has no database yet")
        return self._db

    @property
    def read_db(self) -> async_sessionmaker[AsyncSession]:
        """Reading a session takes no write lock (SQLite): a request waits for no writer."""
        return self._read_db or self.db

    @property
    def absolute(self) -> timedelta:
        return self._absolute

    def id_hash(self, sid: str) -> str:
        return hmac.new(self._session_key, sid.encode(), hashlib.sha256).hexdigest()

    def csrf_for_session(self, sid: str) -> str:
        return _b64(hmac.new(self._csrf_key, b"session:" + sid.encode(), hashlib.sha256).digest())

    def csrf_for_nonce(self, nonce: str) -> str:
        return _b64(
            hmac.new(self._csrf_key, b"anonymous:" + nonce.encode(), hashlib.sha256).digest()
        )

    async def create(self, user: User, method: str) -> str:
        sid = secrets.token_urlsafe(32)
        now = self._clock.now()
        async with self.db() as db, db.begin():
            # Sessions nobody comes back to are cleared here, so the table stays small.
            await store.delete_expired(db, now - self._idle, now - self._absolute)
            await store.add(
                db,
                LoginSession(
                    id_hash=self.id_hash(sid),
                    user_id=user.id,
                    role=user.role,
                    method=method,
                    created_at=now,
                    last_seen_at=now,
                    flashes="[]",
                ),
            )
        return sid

    async def load(self, sid: str) -> tuple[Actor, list[str]] | None:
        """The session's account and waiting flashes, or None once it has ended."""
        id_hash = self.id_hash(sid)
        now = self._clock.now()
        async with self.read_db() as db:
            found = await store.with_account(db, id_hash)
        if found is None:
            return None
        row, user = found.session, found.user
        if not user.active or user.role != row.role:
            await self.end_all(user.id)
            return None
        if not (
            timedelta(0) <= now - row.last_seen_at < self._idle
            and now - row.created_at < self._absolute
        ):
            await self.end(sid)
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            async with self.db() as db, db.begin():
                await store.touch(db, id_hash, now)
        try:
            flashes = [m for m in json.loads(row.flashes) if isinstance(m, str)]
        except ValueError:
            flashes = []
        return Actor.of(user, found.municipality_number), flashes

    async def save_flashes(self, sid: str, flashes: list[str]) -> None:
        async with self.db() as db, db.begin():
            await store.set_flashes(db, self.id_hash(sid), json.dumps(flashes[-MAX_FLASHES:]))

    async def end(self, sid: str) -> None:
        async with self.db() as db, db.begin():
            await store.delete_one(db, self.id_hash(sid))

    async def end_all(self, user_id: int) -> int:
        async with self.db() as db, db.begin():
            return await store.delete_of_user(db, user_id)


def set_cookies(response: web.StreamResponse, state: RequestSession, store_: SessionStore) -> None:
    """Write what sign-in, logout or a stale cookie changed onto the response."""
    if response.prepared:  # a WebSocket: its headers are gone already
        return
    if state.new_cookie is not None:
        response.set_cookie(
            SESSION_COOKIE,
            state.new_cookie,
            max_age=int(store_.absolute.total_seconds()),
            path="/",
            httponly=True,
            samesite="Lax",
            secure=store_.secure,
        )
    elif state.clear_cookie:
        response.del_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="Lax", secure=store_.secure
        )
    if state.new_csrf_nonce and state.csrf_nonce is not None:
        response.set_cookie(
            CSRF_COOKIE,
            state.csrf_nonce,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=store_.secure,
        )
