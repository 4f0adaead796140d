"""What operators look at: `GET /healthz`, `GET /readyz` and Prometheus metrics at `/metrics`.

- `/healthz`: the process is up and serving (200, always).
- `/readyz`: the database answers and its schema is at the migrations' head, and Redis answers
  when one is configured; 503 with the failing check's name otherwise. A load balancer sends
  traffic only to a ready instance. The answer names checks, never error texts.
- `/metrics` (Prometheus text format, one registry per application): request latency by route
  (the route's canonical path, such as `/api/v1/consultations/{cid}`, never the raw path with
  its ids and tokens), server errors (5xx) by route, the outbox backlog (mails due and not yet
  delivered, those waiting for a retry included) and how long the oldest of them has waited,
  scheduler job runs and failures, and the call rooms and sockets open on this instance.

`/metrics` answers only the loopback interface, and not through a proxy (a request that carries
`Forwarded` or `X-Forwarded-For` came from elsewhere), unless `SAMKONS_METRICS_TOKEN` is set:
then it answers any client that sends `Authorization: Bearer <token>`, and no one else.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import hdrs, web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from redis.asyncio import Redis

from service.http import appkeys
from service.http.problems import problem_response
from service.storage import ops as store

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CHECK_TIMEOUT_SECONDS = 3.0
UNMATCHED = "(unmatched)"


class Metrics:
    """The application's Prometheus metrics, in a registry of its own (so several apps in one
    process, as in tests, never collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "samkons_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route",
            ["method", "route"],
            registry=self.registry,
        )
        self.server_errors = Counter(
            "samkons_http_server_errors",
            "HTTP answers with a 5xx status, by method and route",
            ["method", "route"],
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "samkons_outbox_backlog",
            "Mails due and not yet delivered (those waiting for a retry included)",
            registry=self.registry,
        )
        self.outbox_oldest_age = Gauge(
            "samkons_outbox_oldest_undelivered_age_seconds",
            "How long the longest-waiting undelivered mail has been due (0 when none is)",
            registry=self.registry,
        )
        self.call_rooms = Gauge(
            "samkons_call_rooms_open",
            "Call rooms with at least one socket on this instance",
            registry=self.registry,
        )
        self.call_sockets = Gauge(
            "samkons_call_sockets_open",
            "Call sockets open on this instance",
            registry=self.registry,
        )
        self.job_runs = Counter(
            "samkons_job_runs",
            "Scheduler job runs, by job",
            ["job"],
            registry=self.registry,
        )
        self.job_failures = Counter(
            "samkons_job_failures",
            "Scheduler job runs that failed, by job",
            ["job"],
            registry=self.registry,
        )


METRICS = web.AppKey("metrics", Metrics)
_REDIS = web.AppKey("ops_redis", Redis)


def route_of(request: web.Request) -> str:
    """The matched route's canonical path: bounded label values, and no ids or tokens."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = route_of(request)
        # A WebSocket's "request" lasts the whole call: it is not an answer time.
        if not request.headers.get(hdrs.UPGRADE):
            metrics.request_seconds.labels(request.method, route).observe(
                time.perf_counter() - started
            )
        if status >= 500:
            metrics.server_errors.labels(request.method, route).inc()


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks = {"database": await _database_check(request)}
    if _REDIS in request.app:
        checks["redis"] = await _redis_check(request.app[_REDIS])
    ready = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


async def _database_check(request: web.Request) -> str:
    try:
        revisions = await asyncio.wait_for(
            store.schema_revisions(request.app[appkeys.ENGINE]), CHECK_TIMEOUT_SECONDS
        )
    except Exception as error:  # any failure means "not ready", never a 500
        log.warning("readiness: the database does not answer (%s)", type(error).__name__)
        return "unreachable"
    if revisions != store.migration_heads():
        return "migrations not at head"
    return "ok"


async def _redis_check(client: Redis) -> str:
    try:
        await asyncio.wait_for(client.ping(), CHECK_TIMEOUT_SECONDS)
    except Exception as error:
        log.warning("readiness: Redis does not answer (%s)", type(error).__name__)
        return "unreachable"
    return "ok"


def _local_and_direct(request: web.Request) -> bool:
    if hdrs.FORWARDED in request.headers or hdrs.X_FORWARDED_FOR in request.headers:
        return False
    try:
        return request.remote is not None and ipaddress.ip_address(request.remote).is_loopback
    except ValueError:
        return False


def _allowed(request: web.Request) -> bool:
    token = request.app[appkeys.SETTINGS].metrics_token
    if token is None:
        return _local_and_direct(request)
    sent = request.headers.get(hdrs.AUTHORIZATION, "")
    expected = f"Bearer {token.get_secret_value()}"
    return hmac.compare_digest(sent.encode(), expected.encode())


async def metrics_endpoint(request: web.Request) -> web.Response:
    if not _allowed(request):
        return problem_response(
            403,
            "Not allowed",
            "Metrics are served to the loopback interface, or with the configured bearer token.",
            type_slug="forbidden",
        )
    metrics = request.app[METRICS]
    await _refresh_outbox(request, metrics)
    hub = request.app.get(appkeys.SIGNALLING_HUB)
    if hub is not None:
        metrics.call_rooms.set(hub.open_rooms())
        metrics.call_sockets.set(hub.open_sockets())
    return web.Response(
        body=generate_latest(metrics.registry), headers={hdrs.CONTENT_TYPE: CONTENT_TYPE_LATEST}
    )


async def _refresh_outbox(request: web.Request, metrics: Metrics) -> None:
    now = request.app[appkeys.CLOCK].now()
    try:
        async with request.app[appkeys.READ_DB]() as db:
            backlog = await asyncio.wait_for(store.outbox_backlog(db, now), CHECK_TIMEOUT_SECONDS)
    except Exception as error:  # the other metrics are still worth serving
        log.warning("metrics: the outbox could not be read (%s)", type(error).__name__)
        return
    metrics.outbox_backlog.set(backlog.due)
    age = (now - backlog.oldest_due).total_seconds() if backlog.oldest_due else 0.0
    metrics.outbox_oldest_age.set(max(age, 0.0))


async def _redis_client(app: web.Application) -> AsyncIterator[None]:
    url = app[appkeys.SETTINGS].redis_url
    if url:
        # Its own client: a readiness probe must not queue behind the backplane's traffic.
        app[_REDIS] = Redis.from_url(url)
    yield
    if _REDIS in app:
        await app[_REDIS].aclose()


def setup_ops(app: web.Application) -> None:
    """Routes and the Redis client for the checks; `METRICS` and `metrics_middleware` are set
    up by the app factory (the middleware list is fixed when the app is made)."""
    app.cleanup_ctx.append(_redis_client)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
