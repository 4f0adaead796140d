"""The application factory: `create_app(settings)` assembles everything.

Nothing is created at import time; the database engine and other resources open and close in
`cleanup_ctx`, so tests can build as many independent apps as they like.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from service.domain.clock import Clock, SystemClock
from service.domain.errors import DomainError
from service.domain.passwords import Passwords
from service.domain.travel.factors import FactorSet, load_factor_set
from service.domain.travel.keys import TravelPerKey
from service.domain.travel.reference import load_reference_data
from service.http import appkeys
from service.http.api.calendar import setup_calendar_feed
from service.http.api.routes import setup_api
from service.http.auth import actor_middleware
from service.http.headers import SERVER_NAME, setup_security_headers
from service.http.oidc import setup_oidc
from service.http.ops import METRICS, Metrics, metrics_middleware, setup_ops
from service.http.problems import make_problem_middleware
from service.http.sessions import SessionStore
from service.http.video import signalling_hub
from service.settings import Settings
from service.storage.engine import make_database, make_read_sessionmaker, make_sessionmaker
from service.usecases.throttle import LoginThrottle
from signalling.echo import EchoService
from signalling.hub import add_routes

log = logging.getLogger(__name__)

__all__ = ["SERVER_NAME", "create_app", "green_factor_set"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _database(app: web.Application) -> AsyncIterator[None]:
    database = make_database(app[appkeys.SETTINGS].database_url)
    app[appkeys.ENGINE] = database.writes
    app[appkeys.DB] = make_sessionmaker(database.writes)
    app[appkeys.READ_DB] = make_read_sessionmaker(database.reads)
    app[appkeys.SESSIONS].bind(app[appkeys.DB], app[appkeys.READ_DB])
    yield
    await database.dispose()


async def _close_throttle(app: web.Application) -> None:
    await app[appkeys.THROTTLE].close()


async def _close_echo(app: web.Application) -> None:
    await app[appkeys.ECHO].close()


def green_factor_set(settings: Settings) -> FactorSet:
    """The shipped factor set with the settings' overrides; a bad override stops the start."""
    try:
        return load_factor_set(settings.green_factor_overrides)
    except DomainError as exc:
        raise ValueError(f"SAMKONS_GREEN_FACTOR_OVERRIDES: {exc.detail}") from exc


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> web.Application:
    from scheduler.runner import scheduler_ctx
    from web.mail_pages import setup_mail_pages
    from web.pages import render_error_page, setup_web
    from web.pages.navigation import is_page_path
    from web.video_pages import setup_video_pages

    settings = settings or Settings()
    clock = clock or SystemClock()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            # Outermost: it times the whole answer and sees the 500s the next one makes.
            metrics_middleware,
            make_problem_middleware(render_error_page, is_page_path),
            actor_middleware,
        ],
    )
    app[METRICS] = Metrics()
    app[appkeys.SETTINGS] = settings
    setup_security_headers(app)
    setup_oidc(app, settings)
    app[appkeys.CLOCK] = clock
    app[appkeys.THROTTLE] = LoginThrottle(
        per_account=settings.login_attempts_per_account,
        per_address=settings.login_attempts_per_address,
        window_seconds=settings.login_window_seconds,
        redis_url=settings.redis_url,
        clock=clock,
        delay_seconds=settings.login_delay_seconds,
        max_delay_seconds=settings.login_delay_max_seconds,
    )
    app[appkeys.PASSWORDS] = Passwords(settings.password_hash_cost)
    app.on_cleanup.append(_close_throttle)
    app[appkeys.SESSIONS] = SessionStore(settings, clock)
    app[appkeys.REFERENCE_DATA] = load_reference_data()
    app[appkeys.FACTOR_SET] = green_factor_set(settings)
    app[appkeys.TRAVEL_PER_KEY] = TravelPerKey(app[appkeys.REFERENCE_DATA], app[appkeys.FACTOR_SET])
    app.cleanup_ctx.append(_database)
    # After the database: the scheduler's jobs use it, and stop before it closes.
    app.cleanup_ctx.append(scheduler_ctx)
    hub = signalling_hub(app, settings, clock)
    app[appkeys.SIGNALLING_HUB] = hub
    add_routes(app, hub)
    app[appkeys.ECHO] = EchoService(settings.max_echo_sessions)
    app.on_shutdown.append(_close_echo)
    setup_ops(app)
    setup_api(app)
    setup_calendar_feed(app)
    setup_web(app)
    setup_mail_pages(app)
    setup_video_pages(app)
    return app
