"""The second factor: in production a password sign-in needs the authenticator app's code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.http.app import create_app
from service.http.totp import enrol
from service.settings import Settings
from service.storage.models import TotpCredential
from tests.factories import EMAILS, PASSWORD, Client, build_world


@pytest.fixture
def production(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "mode": "production",
            "base_url": "https://samkons.example.no",
            "secret_key": SecretStr("s" * 40),
        }
    )


@pytest.fixture
async def prod_client(aiohttp_client: Any, production: Settings, clock: FakeClock) -> Client:
    client: Client = await aiohttp_client(create_app(production, clock=clock))
    return client


async def _login(client: Client, who: str, code: str | None) -> int:
    body: dict[str, Any] = {"email": EMAILS[who], "password": PASSWORD}
    if code is not None:
        body["totp"] = code
    return (await client.post("/api/v1/session", json=body)).status


async def test_production_needs_the_current_code_once(
    prod_client: Client,
    production: Settings,
    db: async_sessionmaker[AsyncSession],
    clock: FakeClock,
) -> None:
    await build_world(db)
    uri = await enrol(db, production, EMAILS["evaluator"], clock.now())
    secret = pyotp.parse_uri(uri).secret
    totp = pyotp.TOTP(secret)
    assert await _login(prod_client, "evaluator", None) == 401
    wrong = "000000" if totp.at(clock.now()) != "000000" else "111111"
    assert await _login(prod_client, "evaluator", wrong) == 401
    assert await _login(prod_client, "evaluator", totp.at(clock.now())) == 200
    assert await _login(prod_client, "evaluator", totp.at(clock.now())) == 401  # used up
    clock.advance(timedelta(seconds=30))
    assert await _login(prod_client, "evaluator", totp.at(clock.now())) == 200
    # The stored secret is sealed, not readable in the table.
    async with db() as s:
        sealed = (await s.execute(select(TotpCredential.sealed_secret))).scalar_one()
    assert secret not in sealed


async def test_an_account_without_a_second_factor_cannot_sign_in_with_a_password(
    prod_client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    assert await _login(prod_client, "admin", "123456") == 401


async def test_wrong_codes_are_throttled(
    prod_client: Client,
    production: Settings,
    db: async_sessionmaker[AsyncSession],
    clock: FakeClock,
) -> None:
    await build_world(db)
    uri = await enrol(db, production, EMAILS["admin"], clock.now())
    right = pyotp.TOTP(pyotp.parse_uri(uri).secret).at(clock.now())
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        assert await _login(prod_client, "admin", wrong) == 401
    assert await _login(prod_client, "admin", right) == 429


async def test_the_login_page_asks_for_the_code_in_production_only(
    prod_client: Client, client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    assert 'name="totp"' in await (await prod_client.get("/logg-inn")).text()
    assert 'name="totp"' not in await (await client.get("/logg-inn")).text()
    assert await _login(client, "admin", None) == 200  # no code asked outside production
