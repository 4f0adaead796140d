"""HelseID-style sign-in against a real OpenID Provider (panva's oidc-provider, under Node).

The provider (tests/js/oidc_op.mjs) insists on what HelseID's security profile asks: pushed
authorization requests, PKCE S256, private_key_jwt with aud = issuer and a short exp, single-use
assertions. Missing Node or the npm packages fails the tests: run `npm ci --prefix tests/js`.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pyotp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.domain.errors import DomainError
from service.domain.tokens import hash_token
from service.http.app import create_app
from service.http.appkeys import SETTINGS as APP_SETTINGS
from service.http.oidc import FLOW_COOKIE, OIDC_CLIENT, OidcClient, OidcError
from service.http.totp import enrol
from service.settings import Settings
from service.storage import sessions as store
from service.storage.models import HprLink, LoginSession, User
from tests.factories import EMAILS, PASSWORD, World, build_world

JS_DIR = Path(__file__).parent / "js"
CLIENT_ID = "samkons-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Provider:
    issuer: str
    rp_port: int
    client_jwk: str


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed; the sign-in tests need Node 20+")
    if not (JS_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(f"oidc-provider is not installed in {JS_DIR}; run: npm ci --prefix tests/js")
    key = RSAKey.generate_key(2048, parameters={"kid": "samkons-test-1", "alg": "RS256"})
    port, rp_port = _free_port(), _free_port()
    log = tmp_path_factory.mktemp("op") / "op.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [node, str(JS_DIR / "oidc_op.mjs")],
            env={
                "PATH": "/usr/bin:/bin",
                "OP_PORT": str(port),
                "OP_REDIRECT_URI": f"http://127.0.0.1:{rp_port}/logg-inn/helseid/tilbake",
                "OP_CLIENT_JWKS": json.dumps({"keys": [key.as_dict(private=False)]}),
            },
            cwd=JS_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "READY" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the OpenID Provider did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield Provider(f"http://127.0.0.1:{port}", rp_port, json.dumps(key.as_dict(private=True)))
    finally:
        process.terminate()
        process.wait(timeout=10)


def _oidc_settings(settings: Settings, provider: Provider, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "base_url": f"http://127.0.0.1:{provider.rp_port}",
            "oidc_issuer": provider.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_private_jwk": SecretStr(provider.client_jwk),
            **extra,
        }
    )


@dataclass
class Rp:
    url: str
    app: web.Application
    client: OidcClient


@pytest.fixture
async def rp(settings: Settings, provider: Provider, clock: FakeClock) -> AsyncIterator[Rp]:
    app = create_app(_oidc_settings(settings, provider), clock=clock)
    server = TestServer(app, host="127.0.0.1", port=provider.rp_port)
    await server.start_server()
    try:
        yield Rp(f"http://127.0.0.1:{provider.rp_port}", app, app[OIDC_CLIENT])
    finally:
        await server.close()


@pytest.fixture
async def browser_agent() -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe=True: without it aiohttp drops cookies for IP hosts.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as ua:
        yield ua


async def _link(db: async_sessionmaker[AsyncSession], user_id: int, hpr: str) -> None:
    async with db() as s, s.begin():
        await store.link_hpr(s, hpr, user_id, FakeClock().now())


ACTION = re.compile(r'action="([^"]+)"')


async def _to_provider_form(ua: aiohttp.ClientSession, rp: Rp, query: str = "") -> str:
    """Start at samkons, follow to the provider's login form: the form's absolute action."""
    form = await ua.get(f"{rp.url}/logg-inn/helseid{query}")
    assert form.status == 200, await form.text()
    found = ACTION.search(await form.text())
    assert found is not None
    return str(form.url.origin()) + found.group(1)


async def sign_in(
    ua: aiohttp.ClientSession, rp: Rp, login: str, query: str = ""
) -> aiohttp.ClientResponse:
    action = await _to_provider_form(ua, rp, query)
    return await ua.post(action, data={"login": login, "password": "x"})


async def _code_without_callback(ua: aiohttp.ClientSession, rp: Rp, login: str) -> tuple[str, str]:
    """Sign in at the provider but stop before samkons' callback: the code and the flow cookie."""
    action = await _to_provider_form(ua, rp)
    resp = await ua.post(action, data={"login": login, "password": "x"}, allow_redirects=False)
    while not resp.headers["Location"].startswith(rp.url):
        location = resp.headers["Location"]
        if location.startswith("/"):
            location = str(resp.url.origin()) + location
        resp = await ua.get(location, allow_redirects=False)
    callback = resp.headers["Location"]
    code = re.search(r"[?&]code=([^&]+)", callback)
    assert code is not None, callback
    sealed = next(c.value for c in ua.cookie_jar if c.key == FLOW_COOKIE)
    return code.group(1), sealed


async def _me(ua: aiohttp.ClientSession, rp: Rp) -> dict[str, Any]:
    body: dict[str, Any] = await (await ua.get(f"{rp.url}/api/v1/session")).json()
    return body


async def _count(db: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with db() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


# --- the flow ----------------------------------------------------------------------------------


async def test_a_linked_clinician_signs_in_and_the_session_works_across_the_app(
    rp: Rp, db: async_sessionmaker[AsyncSession], browser_agent: aiohttp.ClientSession
) -> None:
    world = await build_world(db)
    await _link(db, world.gp, "1234567")
    done = await sign_in(browser_agent, rp, "alice", "?neste=/min-kalender")
    assert done.status == 200
    assert str(done.url) == f"{rp.url}/min-kalender"
    me = await _me(browser_agent, rp)
    assert me["authenticated"] is True and me["user"]["id"] == world.gp
    assert (await browser_agent.get(f"{rp.url}/api/v1/consultations")).status == 200
    made = await browser_agent.post(
        f"{rp.url}/api/v1/me/exceptions",
        json={"starts_at": "2026-02-02T08:00:00+01:00", "ends_at": "2026-02-02T12:00:00+01:00"},
        headers={"X-CSRF-Token": me["csrf_token"]},
    )
    assert made.status == 201, await made.text()
    async with db() as s:
        methods = (await s.execute(select(LoginSession.method))).scalars().all()
    assert methods == ["oidc"]
    assert FLOW_COOKIE not in {c.key for c in browser_agent.cookie_jar}


async def test_an_unknown_hpr_number_gets_a_clear_page_and_no_account(
    rp: Rp, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    users = await _count(db, User)
    for login in ("stranger", "nohpr"):
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as ua:
            done = await sign_in(ua, rp, login)
            assert done.status == 403, (login, await done.text())
            assert "Du har ingen konto her" in await done.text()
            assert (await _me(ua, rp))["authenticated"] is False
    assert await _count(db, User) == users
    assert await _count(db, LoginSession) == 0


async def test_an_invitation_links_the_account_once(
    rp: Rp,
    db: async_sessionmaker[AsyncSession],
    browser_agent: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    world: World = await build_world(db)
    async with db() as s, s.begin():
        await store.add_invitation(
            s, hash_token("invite-token-1"), world.specialist, clock.now() + timedelta(days=2)
        )
    done = await sign_in(browser_agent, rp, "bob", "?invitasjon=invite-token-1")
    assert done.status == 200
    assert (await _me(browser_agent, rp))["user"]["id"] == world.specialist
    async with db() as s:
        link = (await s.execute(select(HprLink))).scalar_one()
    assert (link.hpr_number, link.user_id) == ("7654321", world.specialist)
    # The invitation is used up: another person cannot link themselves with it.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        again = await sign_in(other, rp, "stranger", "?invitasjon=invite-token-1")
        assert again.status == 403


async def test_a_callback_without_this_browsers_flow_or_with_another_state_is_refused(
    rp: Rp, db: async_sessionmaker[AsyncSession], browser_agent: aiohttp.ClientSession
) -> None:
    world = await build_world(db)
    await _link(db, world.gp, "1234567")
    code, sealed = await _code_without_callback(browser_agent, rp, "alice")
    browser_agent.cookie_jar.clear()  # e.g. a code injected into another browser
    cb = f"{rp.url}/logg-inn/helseid/tilbake?code={code}&iss={rp.client.issuer}"
    no_flow = await browser_agent.get(f"{cb}&state=whatever")
    assert no_flow.status == 400
    wrong_state = await browser_agent.get(
        f"{cb}&state=forged", headers={"Cookie": f"{FLOW_COOKIE}={sealed}"}
    )
    assert wrong_state.status == 400
    assert (await _me(browser_agent, rp))["authenticated"] is False


# --- refusals by the provider and by our checks -------------------------------------------------


async def test_a_code_without_its_pkce_verifier_is_refused(
    rp: Rp, db: async_sessionmaker[AsyncSession], browser_agent: aiohttp.ClientSession
) -> None:
    await build_world(db)
    code, sealed = await _code_without_callback(browser_agent, rp, "alice")
    with pytest.raises(OidcError, match="invalid_grant"):
        await rp.client.redeem(code, None)
    with pytest.raises(OidcError, match="invalid_grant"):
        await rp.client.redeem(code, "a-verifier-of-the-right-length-but-not-the-one-sent-0123456")
    flow = rp.client.unseal(sealed)
    tokens = await rp.client.redeem(code, flow.verifier)  # the code itself was good
    identity = await rp.client.verify_id_token(tokens["id_token"], flow.nonce)
    assert identity.hpr_number == "1234567"


async def test_a_replayed_client_assertion_is_refused(rp: Rp) -> None:
    assertion = rp.client.client_assertion()
    assert assertion != rp.client.client_assertion()  # every call makes a new one
    token_endpoint = (await rp.client.metadata())["token_endpoint"]
    form = {
        "grant_type": "authorization_code",
        "code": "not-a-code",
        "redirect_uri": rp.client.redirect_uri,
        "code_verifier": "v" * 43,
        "client_id": CLIENT_ID,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    async with aiohttp.ClientSession() as http:
        first = await (await http.post(token_endpoint, data=form)).json()
        second = await (await http.post(token_endpoint, data=form)).json()
    assert first["error"] == "invalid_grant"  # the client was authenticated
    assert second["error"] == "invalid_client"  # the same assertion again was not


def test_the_assertion_is_aimed_at_the_issuer_and_short_lived(
    settings: Settings, provider: Provider
) -> None:
    client = OidcClient(_oidc_settings(settings, provider))
    public = RSAKey.import_key(json.loads(provider.client_jwk))
    claims = jwt.decode(client.client_assertion(), public).claims
    assert claims["aud"] == provider.issuer
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["exp"] - claims["iat"] == 60
    assert len(claims["jti"]) >= 32


async def test_an_id_token_for_another_audience_or_nonce_or_signer_is_refused(
    rp: Rp,
    settings: Settings,
    provider: Provider,
    db: async_sessionmaker[AsyncSession],
    browser_agent: aiohttp.ClientSession,
) -> None:
    await build_world(db)
    code, sealed = await _code_without_callback(browser_agent, rp, "alice")
    flow = rp.client.unseal(sealed)
    id_token = (await rp.client.redeem(code, flow.verifier))["id_token"]
    assert (await rp.client.verify_id_token(id_token, flow.nonce)).subject == "alice"
    with pytest.raises(OidcError):
        await rp.client.verify_id_token(id_token, "another-nonce")
    other_client = OidcClient(_oidc_settings(settings, provider, oidc_client_id="someone-else"))
    try:
        with pytest.raises(OidcError):
            await other_client.verify_id_token(id_token, flow.nonce)
    finally:
        await other_client.close()
    # The same claims signed by a key the provider never published, under its key id.
    genuine = json.loads(base64.urlsafe_b64decode(id_token.split(".")[1] + "==").decode())
    forger = RSAKey.generate_key(2048, parameters={"kid": "op-1"})
    forged = jwt.encode({"alg": "RS256", "kid": "op-1"}, genuine, forger)
    with pytest.raises(OidcError):
        await rp.client.verify_id_token(forged, flow.nonce)


async def test_production_refuses_password_sign_in_for_clinicians_when_helseid_is_set(
    aiohttp_client: Any,
    settings: Settings,
    provider: Provider,
    clock: FakeClock,
    db: async_sessionmaker[AsyncSession],
) -> None:
    production = _oidc_settings(
        settings,
        provider,
        mode="production",
        secret_key=SecretStr("p" * 40),
    ).model_copy(update={"base_url": "https://samkons.example.no"})
    client = await aiohttp_client(create_app(production, clock=clock))
    await build_world(db)
    gp = await client.post("/api/v1/session", json={"email": EMAILS["gp"], "password": PASSWORD})
    assert gp.status == 403
    # An administrator still may, with the second factor that production asks of everyone.
    uri = await enrol(db, production, EMAILS["admin"], clock.now())
    code = pyotp.TOTP(pyotp.parse_uri(uri).secret).at(clock.now())
    admin = await client.post(
        "/api/v1/session", json={"email": EMAILS["admin"], "password": PASSWORD, "totp": code}
    )
    assert admin.status == 200


# --- in a real browser ---------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
async def test_a_full_sign_in_in_headless_chromium(
    rp: Rp, db: async_sessionmaker[AsyncSession]
) -> None:
    from playwright.async_api import async_playwright

    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed; CI needs it", pytrace=False)
        pytest.skip("Chromium is not installed")
    world = await build_world(db)
    await _link(db, world.gp, "1234567")
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.goto(f"{rp.url}/logg-inn")
            await page.click("text=Logg inn med HelseID")
            await page.wait_for_selector("#login")  # the provider's own page
            assert page.url.startswith(rp.client.issuer)
            await page.fill("#login", "alice")
            await page.fill("#password", "x")
            await page.click("#submit")
            await page.wait_for_url(f"{rp.url}/samkonsultasjonar")
            assert "Kari Fastlege" in await page.inner_text("body")
            me = await (await page.request.get(f"{rp.url}/api/v1/session")).json()
            assert me["user"]["id"] == world.gp
            assert problems == []
        finally:
            await browser.close()


async def test_the_invitation_command_makes_a_link_that_signs_in(
    rp: Rp,
    db: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
    browser_agent: aiohttp.ClientSession,
) -> None:
    from service.cli import _invite_signin

    world = await build_world(db)
    args = argparse.Namespace(email=EMAILS["coordinator"], days=7)
    await _invite_signin(rp.app[APP_SETTINGS], args)
    link = capsys.readouterr().out.strip().splitlines()[-1]
    assert link.startswith(f"{rp.url}/logg-inn/helseid?invitasjon=")
    query = link.removeprefix(f"{rp.url}/logg-inn/helseid")
    done = await sign_in(browser_agent, rp, "bob", query)
    assert done.status == 200
    assert (await _me(browser_agent, rp))["user"]["id"] == world.coordinator
    with pytest.raises(DomainError):
        await _invite_signin(rp.app[APP_SETTINGS], argparse.Namespace(email="x@test.no", days=1))


# --- DPoP ----------------------------------------------------------------------------------------


@pytest.fixture
async def dpop_rp(settings: Settings, provider: Provider, clock: FakeClock) -> AsyncIterator[Rp]:
    """samkons registered as the client whose tokens must be DPoP-bound."""
    app = create_app(_oidc_settings(settings, provider, oidc_client_id="samkons-dpop"), clock=clock)
    server = TestServer(app, host="127.0.0.1", port=provider.rp_port)
    await server.start_server()
    try:
        yield Rp(f"http://127.0.0.1:{provider.rp_port}", app, app[OIDC_CLIENT])
    finally:
        await server.close()


async def test_a_client_that_must_use_dpop_signs_in_with_bound_tokens(
    dpop_rp: Rp, db: async_sessionmaker[AsyncSession], browser_agent: aiohttp.ClientSession
) -> None:
    world = await build_world(db)
    await _link(db, world.gp, "1234567")
    done = await sign_in(browser_agent, dpop_rp, "alice")
    assert done.status == 200, await done.text()
    assert (await _me(browser_agent, dpop_rp))["user"]["id"] == world.gp


async def test_without_dpop_that_client_is_refused(
    settings: Settings,
    provider: Provider,
    clock: FakeClock,
    db: async_sessionmaker[AsyncSession],
    browser_agent: aiohttp.ClientSession,
) -> None:
    world = await build_world(db)
    await _link(db, world.gp, "1234567")
    no_dpop = _oidc_settings(settings, provider, oidc_client_id="samkons-dpop", oidc_dpop=False)
    app = create_app(no_dpop, clock=clock)
    server = TestServer(app, host="127.0.0.1", port=provider.rp_port)
    await server.start_server()
    try:
        rp = Rp(f"http://127.0.0.1:{provider.rp_port}", app, app[OIDC_CLIENT])
        done = await sign_in(browser_agent, rp, "alice")
        assert done.status == 400
        assert (await _me(browser_agent, rp))["authenticated"] is False
    finally:
        await server.close()


def test_a_dpop_proof_names_the_request_and_carries_the_public_key(
    settings: Settings, provider: Provider
) -> None:
    client = OidcClient(_oidc_settings(settings, provider))
    proof = client.dpop_proof("POST", f"{provider.issuer}/token?x=1")
    header = json.loads(base64.urlsafe_b64decode(proof.split(".")[0] + "=="))
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    assert "d" not in header["jwk"]  # the public half only
    claims = jwt.decode(proof, ECKey.import_key(header["jwk"])).claims
    assert claims["htm"] == "POST" and claims["htu"] == f"{provider.issuer}/token"
    assert client.dpop_proof("POST", "x") != proof
