"""Login, sessions, CSRF, throttling and role checks."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
    assert 0 < int(blocked.headers["Retry-After"]) <= 900
    # Another account from the same address is not locked out by this one.
    assert (
        await client.post("/api/v1/session", json={"email": "spes@test.no", "password": PASSWORD})
    ).status == 200


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
