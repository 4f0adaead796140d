"""Login throttling: slows guessing from one address down without locking its colleagues out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.domain.errors import TooManyRequests
from service.http.app import create_app
from service.settings import Settings
from service.usecases.throttle import LoginThrottle
from tests.factories import EMAILS, PASSWORD, Client, build_world

MakeClient = Callable[[web.Application], Awaitable[Client]]


@pytest.fixture
def make_client(aiohttp_client: object) -> MakeClient:
    async def make(app: web.Application) -> Client:
        client: Client = await aiohttp_client(app)  # type: ignore[operator]
        return client

    return make


def _throttled_settings(settings: Settings, **extra: object) -> Settings:
    return settings.model_copy(
        update={
            "login_attempts_per_address": 10,
            "login_delay_seconds": 0.01,
            "login_delay_max_seconds": 0.02,
            **extra,
        }
    )


async def _login(client: Client, who: str, password: str, **headers: str) -> int:
    resp = await client.post(
        "/api/v1/session",
        json={"email": EMAILS.get(who, who), "password": password},
        headers=headers,
    )
    return resp.status


async def test_twenty_failures_from_one_address_do_not_stop_another_users_correct_login(
    make_client: MakeClient,
    settings: Settings,
    clock: FakeClock,
    db: async_sessionmaker[AsyncSession],
) -> None:
    client = await make_client(create_app(_throttled_settings(settings), clock=clock))
    await build_world(db)
    statuses = [await _login(client, f"u{i}@test.no", "wrong-password") for i in range(20)]
    assert statuses[:10] == [401] * 10
    assert set(statuses[10:]) == {429}  # past the address limit a wrong password says so ...
    assert await _login(client, "specialist", PASSWORD) == 200  # ... a right one gets in
    assert await _login(client, "gp", PASSWORD) == 200
    late = await client.post("/api/v1/session", json={"email": "x@test.no", "password": "nope"})
    assert late.status == 429
    assert 0 < int(late.headers["Retry-After"]) <= settings.login_window_seconds
    clock.advance(timedelta(seconds=settings.login_window_seconds))
    assert await _login(client, "x@test.no", "nope") == 401  # a new window


async def test_the_page_form_answers_429_with_retry_after(
    make_client: MakeClient,
    settings: Settings,
    clock: FakeClock,
    db: async_sessionmaker[AsyncSession],
) -> None:
    client = await make_client(create_app(_throttled_settings(settings), clock=clock))
    await build_world(db)
    for _ in range(5):
        assert await _login(client, "gp", "wrong-password") == 401
    form = await client.get("/logg-inn")
    token = (await form.text()).split('name="csrf_token" value="')[1].split('"')[0]
    resp = await client.post(
        "/logg-inn", data={"csrf_token": token, "email": EMAILS["gp"], "password": PASSWORD}
    )
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) > 0


async def test_addresses_behind_a_trusted_proxy_are_counted_apart(
    make_client: MakeClient,
    settings: Settings,
    clock: FakeClock,
    db: async_sessionmaker[AsyncSession],
) -> None:
    trusted = _throttled_settings(settings, trusted_proxies=["127.0.0.0/8"])
    client = await make_client(create_app(trusted, clock=clock))
    await build_world(db)
    one = {"X-Forwarded-For": "203.0.113.7"}
    other = {"X-Forwarded-For": "198.51.100.9, 203.0.113.8"}  # the proxy appended the real one
    for i in range(10):
        assert await _login(client, f"u{i}@test.no", "wrong-password", **one) == 401
    assert await _login(client, "a@test.no", "wrong-password", **one) == 429
    assert await _login(client, "a@test.no", "wrong-password", **other) == 401
    # A client cannot pick its bucket by prepending: the last untrusted hop counts.
    forged = {"X-Forwarded-For": "192.0.2.1, 203.0.113.7"}
    assert await _login(client, "b@test.no", "wrong-password", **forged) == 429


async def test_forwarded_for_is_ignored_without_trusted_proxies(
    make_client: MakeClient,
    settings: Settings,
    clock: FakeClock,
    db: async_sessionmaker[AsyncSession],
) -> None:
    client = await make_client(create_app(_throttled_settings(settings), clock=clock))
    await build_world(db)
    for i in range(10):
        headers = {"X-Forwarded-For": f"203.0.113.{i}"}
        assert await _login(client, f"u{i}@test.no", "wrong-password", **headers) == 401
    assert await _login(client, "a@test.no", "wrong", **{"X-Forwarded-For": "198.51.100.1"}) == 429


async def test_parallel_guesses_cannot_pass_one_check_together(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    statuses = await asyncio.gather(*(_login(client, "gp", f"guess-{i}") for i in range(12)))
    assert statuses.count(401) == 5  # the per-account limit, however the checks interleave
    assert statuses.count(429) == 7


async def test_the_delay_grows_and_is_capped(clock: FakeClock) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    throttle = LoginThrottle(
        per_account=100,
        per_address=3,
        window_seconds=900,
        redis_url=None,
        clock=clock,
        delay_seconds=0.5,
        max_delay_seconds=4,
        sleep=sleep,
    )
    for i in range(8):
        attempt = await throttle.begin(f"user{i}", "192.0.2.1")
        if i < 3:
            await throttle.failed(attempt)
        else:
            with pytest.raises(TooManyRequests):
                await throttle.failed(attempt)
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0]
    ok = await throttle.begin("colleague", "192.0.2.1")
    await throttle.succeeded(ok)  # a success takes its own attempt back
    assert waits[-1] == 4.0
    await throttle.close()


async def test_redis_counters_are_shared(clock: FakeClock) -> None:
    redis = "redis://127.0.0.1:6379/0"
    kwargs = {"per_account": 2, "per_address": 100, "window_seconds": 900, "clock": clock}
    first = LoginThrottle(redis_url=redis, **kwargs)  # type: ignore[arg-type]
    second = LoginThrottle(redis_url=redis, **kwargs)  # type: ignore[arg-type]
    account = f"shared-{id(first)}@test.no"
    try:
        await first.failed(await first.begin(account, "192.0.2.5"))
        await second.failed(await second.begin(account, "192.0.2.6"))
        with pytest.raises(TooManyRequests):
            await first.begin(account, "192.0.2.7")
    except (OSError, RedisConnectionError):
        pytest.skip("Redis not reachable")
    finally:
        await first.close()
        await second.close()
