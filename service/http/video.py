"""The video rooms' side of the app: the signalling hub built from the settings, and its door.

- `hub_config` and `ice_servers_from_settings` turn the settings into what the signalling
  broker and the pre-call check need (origins, STUN and TURN, fresh TURN credentials).
- `VideoAuthenticator` is the hub's `Authenticator`: it reads the upgrade request's join token
  or login and asks the use cases in `service/usecases/video.py`, whose refusals it answers as
  plain 401 and 403 responses (a WebSocket upgrade gets no problem document).
- `signalling_hub` assembles the hub with its backplane (Redis when configured), recorder and
  admission ledger.
- `end_call` ends a consultation's call for everyone once it is cancelled (the API's cancel
  route calls it after the use case has committed).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import Clock
from service.domain.errors import NotAllowed, NotAuthenticated
from service.http import appkeys
from service.http.auth import current_actor
from service.settings import Settings
from service.usecases import video
from service.usecases.video import DbAdmissionLedger, DbSessionRecorder, SessionmakerSource
from signalling.backplane import Backplane, MemoryBackplane, RedisBackplane
from signalling.codec import EndedReason
from signalling.config import HubConfig
from signalling.hub import SignallingHub
from signalling.identity import Identity
from signalling.turn import ice_servers_for, mint_turn_credentials

log = logging.getLogger(__name__)


def hub_config(settings: Settings) -> HubConfig:
    """The signalling hub's configuration from the app's settings."""
    secret = settings.turn_secret.get_secret_value() if settings.turn_secret else None
    return HubConfig(
        allowed_origins=frozenset(settings.origins),
        turn_secret=secret,
        turn_urls=tuple(settings.turn_urls),
        stun_urls=tuple(settings.stun_urls),
        turn_ttl=timedelta(seconds=settings.turn_ttl_seconds),
    )


def ice_servers_from_settings(
    settings: Settings, participant_id: str, now: datetime, ttl: timedelta | None = None
) -> list[dict[str, object]]:
    """STUN and TURN servers for a peer outside a room (the pre-call check and its echo peer).

    TURN credentials are minted fresh for `participant_id`, valid for `ttl` (default: the
    settings' TURN lifetime).
    """
    credentials = None
    if settings.turn_secret and settings.turn_urls:
        lifetime = ttl or timedelta(seconds=settings.turn_ttl_seconds)
        credentials = mint_turn_credentials(
            settings.turn_secret.get_secret_value(), participant_id, now, lifetime
        )
    return ice_servers_for(
        stun_urls=settings.stun_urls, turn_urls=settings.turn_urls, credentials=credentials
    )


class VideoAuthenticator:
    """The signalling `Authenticator`: a join token (`?token=`) or the login session."""

    def __init__(self, sessionmaker: SessionmakerSource, clock: Clock) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock

    async def authenticate(self, request: web.Request) -> Identity:
        token = request.query.get("token")
        try:
            if token:
                return await video.identify_guest(self._sessionmaker(), self._clock, token)
            actor = current_actor(request)
            if actor is None:
                raise web.HTTPUnauthorized(text="log in or use your join link")
            room_id = request.match_info.get("room", "")
            return await video.identify_clinician(self._sessionmaker(), self._clock, actor, room_id)
        except NotAuthenticated as refusal:
            raise web.HTTPUnauthorized(text=refusal.detail) from None
        except NotAllowed as refusal:
            raise web.HTTPForbidden(text=refusal.detail) from None


def _redis_client(client: Redis) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifetime(_: web.Application) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return lifetime


def signalling_hub(app: web.Application, settings: Settings, clock: Clock) -> SignallingHub:
    """The video rooms: Redis backplane when configured (several instances), else in memory."""
    backplane: Backplane = MemoryBackplane()
    if settings.redis_url:
        # The client connects lazily on first use; it is closed after the hub, in cleanup.
        client = Redis.from_url(settings.redis_url)
        app.cleanup_ctx.append(_redis_client(client))
        backplane = RedisBackplane(client)

    def sessionmaker() -> async_sessionmaker[AsyncSession]:
        return app[appkeys.DB]

    return SignallingHub(
        hub_config(settings),
        VideoAuthenticator(sessionmaker, clock),
        recorder=DbSessionRecorder(sessionmaker),
        ledger=DbAdmissionLedger(sessionmaker),
        backplane=backplane,
        clock=clock,
    )


async def end_call(app: web.Application, room_id: str, reason: EndedReason) -> None:
    """End the call in `room_id` for everyone, on every instance of the hub.

    Called after what ended it has been committed: if the backplane cannot be reached, that
    stands, and the sockets end anyway when their room's join window closes.
    """
    try:
        await app[appkeys.SIGNALLING_HUB].end_room(room_id, reason)
    except Exception:
        log.warning("could not end the call of a room", exc_info=True)
