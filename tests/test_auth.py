"""Login, sessions, CSRF, throttling and role checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.clock import FakeClock
from service.http.actor_cache import ActorCache
from service.storage.models import User
from tests.factories import PASSWORD, Client, booking_body, build_world, login


async def test_login_sets_a_safe_cookie_and_logout_ends_it(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    resp = await client.post("/api/v1/session", json={"email": "GP@test.no", "password": PASSWORD})
    assert resp.status == 200
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # served over plain http in the test
    me = await (await client.get("/api/v1/session")).json()
    assert me["user"]["role"] == "gp"
    await client.delete("/api/v1/session", headers={"X-CSRF-Token": me["csrf_token"]})
    assert (await (await client.get("/api/v1/session")).json())["authenticated"] is False
    assert (await client.get("/api/v1/consultations")).status == 401


async def test_wrong_password_and_unknown_account_look_the_same(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    wrong = await client.post("/api/v1/session", json={"email": "gp@test.no", "password": "nope"})
    unknown = await client.post("/api/v1/session", json={"email": "x@test.no", "password": "nope"})
    assert wrong.status == unknown.status == 401
    assert (await wrong.json())["detail"] == (await unknown.json())["detail"]


async def test_login_is_throttled_per_account(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    for _ in range(5):
        r = await client.post("/api/v1/session", json={"email": "gp@test.no", "password": "bad"})
        assert r.status == 401
    blocked = await client.post(
        "/api/v1/session", json={"email": "gp@test.no", "password": PASSWORD}
    )
    assert blocked.status == 429
    assert blocked.content_type == "application/problem+json"
    # Another account from the same address is not locked out by this one.
    assert (
        await client.post("/api/v1/session", json={"email": "spes@test.no", "password": PASSWORD})
    ).status == 200


async def test_login_is_throttled_per_address(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    for i in range(50):
        await client.post("/api/v1/session", json={"email": f"u{i}@test.no", "password": "bad"})
    r = await client.post("/api/v1/session", json={"email": "gp@test.no", "password": PASSWORD})
    assert r.status == 429


async def test_correct_logins_from_one_address_are_not_throttled(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    """Colleagues behind one hospital address (limit here: 50 failures per address)."""
    await build_world(db)
    for _ in range(60):
        r = await client.post("/api/v1/session", json={"email": "gp@test.no", "password": PASSWORD})
        assert r.status == 200
    # Failures still count, and a success in between does not clear the address's count.
    for i in range(50):
        await client.post("/api/v1/session", json={"email": f"u{i}@test.no", "password": "bad"})
        if i == 25:
            ok = await client.post(
                "/api/v1/session", json={"email": "spes@test.no", "password": PASSWORD}
            )
            assert ok.status == 200
    r = await client.post("/api/v1/session", json={"email": "gp@test.no", "password": PASSWORD})
    assert r.status == 429


async def test_state_change_without_csrf_token_is_refused(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    await login(client, "gp")
    resp = await client.post(
        "/api/v1/consultations", json=booking_body(world, "2026-01-07T10:00:00+01:00")
    )
    assert resp.status == 403
    forged = await client.post(
        "/api/v1/consultations",
        json=booking_body(world, "2026-01-07T10:00:00+01:00"),
        headers={"X-CSRF-Token": "forged"},
    )
    assert forged.status == 403


async def test_roles_that_cannot_book(client: Client, db: async_sessionmaker[AsyncSession]) -> None:
    world = await build_world(db)
    for who in ("specialist", "evaluator", "admin"):
        headers = await login(client, who)
        resp = await client.post(
            "/api/v1/consultations",
            json=booking_body(world, "2026-01-07T10:00:00+01:00"),
            headers=headers,
        )
        assert resp.status == 403, who
        await client.delete("/api/v1/session", headers=headers)


# --- the logged-in account, cached for a few seconds ------------------------------------------


async def _set_account(
    db: async_sessionmaker[AsyncSession], user_id: int, **values: object
) -> None:
    async with db() as s, s.begin():
        await s.execute(update(User).where(User.id == user_id).values(**values))


async def _me(client: Client) -> dict[str, Any]:
    body: dict[str, Any] = await (await client.get("/api/v1/session")).json()
    return body


async def test_the_account_is_reused_until_the_cache_period_lapses(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    world = await build_world(db)
    await login(client, "gp")
    assert (await _me(client))["user"]["name"] == "Kari Fastlege"
    await _set_account(db, world.gp, name="Kari Nyttnamn")
    clock.advance(timedelta(seconds=4))
    assert (await _me(client))["user"]["name"] == "Kari Fastlege"  # still the cached account
    clock.advance(timedelta(seconds=2))
    assert (await _me(client))["user"]["name"] == "Kari Nyttnamn"


async def test_a_deactivated_account_is_logged_out_within_the_cache_period(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    world = await build_world(db)
    await login(client, "gp")
    assert (await client.get("/api/v1/consultations")).status == 200
    await _set_account(db, world.gp, active=False)
    clock.advance(timedelta(seconds=5))
    assert (await client.get("/api/v1/consultations")).status == 401
    assert (await _me(client))["authenticated"] is False


async def test_logging_out_and_in_again_reads_the_account_afresh(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    headers = await login(client, "gp")
    assert (await _me(client))["user"]["role"] == "gp"  # now cached
    await _set_account(db, world.gp, role="evaluator", gp_office_id=None)
    assert (await client.delete("/api/v1/session", headers=headers)).status == 204
    await login(client, "gp")  # no time has passed: only the logout and login clear the cache
    me = await _me(client)
    assert me["user"]["role"] == "evaluator"
    assert (await client.get("/api/v1/consultations")).status == 403


def test_a_load_that_overlaps_a_forget_is_not_cached() -> None:
    clock = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    cache = ActorCache(clock, timedelta(seconds=5))
    actor = Actor(user_id=7, role="gp", name="A", language="nn", gp_office_id=1, department_id=None)
    generation = cache.generation(7)  # a request starts loading the account ...
    cache.forget(7)  # ... while the account is changed and forgotten
    cache.put(actor, generation)
    assert cache.get(7) is None
    cache.put(actor, cache.generation(7))
    assert cache.get(7) == actor


def test_a_clock_that_went_back_does_not_keep_an_entry() -> None:
    clock = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    cache = ActorCache(clock, timedelta(seconds=5))
    actor = Actor(user_id=7, role="gp", name="A", language="nn", gp_office_id=1, department_id=None)
    cache.put(actor, cache.generation(7))
    clock.advance(timedelta(seconds=4))
    assert cache.get(7) == actor
    clock.advance(timedelta(hours=-1))  # the wall clock jumped back
    assert cache.get(7) is None


def test_no_caching_when_the_period_is_zero() -> None:
    clock = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    cache = ActorCache(clock, timedelta(0))
    actor = Actor(user_id=7, role="gp", name="A", language="nn", gp_office_id=1, department_id=None)
    cache.put(actor, cache.generation(7))
    assert cache.get(7) is None
