"""Password hashing: production's cost is strong, the cost is a setting, and a hash made at
another cost still verifies and is recognised as due for rehashing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from argon2 import Type, extract_parameters, profiles
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.passwords import (
    MINIMUM_COST,
    PRODUCTION,
    PRODUCTION_COST,
    HashCost,
    Passwords,
    hash_password,
)
from service.http import appkeys
from service.settings import Settings
from service.usecases.accounts import create_user
from tests.factories import PASSWORD, TEST_HASH_COST, build_world, login
from tests.test_pages import csrf_of

STRONG_SECRET = "k" * 40


def test_production_cost_is_argon2s_recommendation_and_above_the_minimum() -> None:
    params = extract_parameters(hash_password("a long enough password"))
    assert params.type is Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) == (
        profiles.RFC_9106_LOW_MEMORY.time_cost,
        profiles.RFC_9106_LOW_MEMORY.memory_cost,
        profiles.RFC_9106_LOW_MEMORY.parallelism,
    )
    assert params.memory_cost >= MINIMUM_COST.memory_kib >= 19 * 1024
    assert params.time_cost >= MINIMUM_COST.time_cost >= 2
    assert PRODUCTION.cost == PRODUCTION_COST
    assert Settings().password_hash_cost == PRODUCTION_COST


def test_production_settings_refuse_a_weak_cost() -> None:
    with pytest.raises(ValidationError, match="PASSWORD_HASH_COST"):
        Settings(
            mode="production",
            base_url="https://x.example",
            secret_key=STRONG_SECRET,
            password_hash_cost=TEST_HASH_COST,
        )
    weaker = HashCost(time_cost=1, memory_kib=MINIMUM_COST.memory_kib, parallelism=1)
    with pytest.raises(ValidationError, match="PASSWORD_HASH_COST"):
        Settings(
            mode="production",
            base_url="https://x.example",
            secret_key=STRONG_SECRET,
            password_hash_cost=weaker,
        )
    ok = Settings(
        mode="production",
        base_url="https://x.example",
        secret_key=STRONG_SECRET,
        password_hash_cost=MINIMUM_COST,
    )
    assert ok.password_hash_cost == MINIMUM_COST


def test_the_cost_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SAMKONS_PASSWORD_HASH_COST", '{"time_cost": 4, "memory_kib": 32768, "parallelism": 2}'
    )
    assert Settings().password_hash_cost == HashCost(4, 32768, 2)
    monkeypatch.setenv(
        "SAMKONS_PASSWORD_HASH_COST", '{"time_cost": 0, "memory_kib": 8, "parallelism": 1}'
    )
    with pytest.raises(ValidationError, match="time_cost >= 1"):
        Settings()


def test_a_cheap_hash_verifies_at_production_cost_and_is_due_for_rehashing() -> None:
    cheap = Passwords(TEST_HASH_COST)
    weak_hash = cheap.hash(PASSWORD)
    assert extract_parameters(weak_hash).memory_cost == TEST_HASH_COST.memory_kib
    # A stored hash carries its parameters: it verifies whatever the cost in force ...
    assert PRODUCTION.verify(weak_hash, PASSWORD)
    assert cheap.verify(weak_hash, PASSWORD)
    assert not PRODUCTION.verify(weak_hash, "wrong password")
    # ... and once the parameters change, it is due for a new hash at the new cost.
    assert PRODUCTION.needs_rehash(weak_hash)
    assert not cheap.needs_rehash(weak_hash)
    strong_hash = PRODUCTION.hash(PASSWORD)
    assert not PRODUCTION.needs_rehash(strong_hash)
    assert cheap.needs_rehash(strong_hash)
    assert PRODUCTION.needs_rehash("not an argon2 hash")


async def test_no_account_and_a_broken_hash_never_verify() -> None:
    cheap = Passwords(TEST_HASH_COST)
    assert not await cheap.verify_async(None, "not-a-real-password")
    assert not await cheap.verify_async("not an argon2 hash", PASSWORD)
    assert await cheap.verify_async(cheap.hash(PASSWORD), PASSWORD)


async def test_the_app_and_new_accounts_use_the_settings_cost(
    app: web.Application, settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    assert settings.password_hash_cost == TEST_HASH_COST
    assert app[appkeys.PASSWORDS].cost == TEST_HASH_COST
    world = await build_world(db)
    async with db() as s, s.begin():
        user = await create_user(
            s,
            email="ny@test.no",
            name="Ny Brukar",
            role="gp",
            password=PASSWORD,
            now=datetime(2026, 1, 5, tzinfo=UTC),
            gp_office_id=world.knarvik,
            passwords=app[appkeys.PASSWORDS],
        )
        assert extract_parameters(user.password_hash).memory_cost == TEST_HASH_COST.memory_kib


class _Counting(Passwords):
    def __init__(self, cost: HashCost) -> None:
        super().__init__(cost)
        self.checked: list[str | None] = []

    def verify(self, stored_hash: str | None, password: str) -> bool:
        self.checked.append(stored_hash)
        return super().verify(stored_hash, password)


async def test_logins_check_with_the_apps_hasher(
    aiohttp_client: Any, app: web.Application, db: async_sessionmaker[AsyncSession]
) -> None:
    counting = _Counting(TEST_HASH_COST)
    app[appkeys.PASSWORDS] = counting
    client = await aiohttp_client(app)
    await build_world(db)
    await login(client, "gp")  # the API
    unknown = await client.post(
        "/api/v1/session", json={"email": "x@test.no", "password": PASSWORD}
    )
    assert unknown.status == 401
    form = await client.get("/logg-inn")
    page = await client.post(
        "/logg-inn",
        data={"csrf_token": csrf_of(await form.text()), "email": "gp@test.no", "password": "nope"},
        allow_redirects=False,
    )
    assert page.status == 401
    assert len(counting.checked) == 3
    assert counting.checked[1] is None  # the unknown account, against the dummy hash
