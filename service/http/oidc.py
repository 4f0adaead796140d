"""OpenID Connect sign-in as HelseID's security profile asks (docs/security.md).

- Authorization code flow with PKCE (S256) and a pushed authorization request (RFC 9126): the
  browser only ever carries `client_id` and the `request_uri` to the provider.
- Client authentication by `private_key_jwt` only: a fresh assertion for every call, `aud` the
  issuer, `exp` 60 seconds ahead, a random `jti` (the provider refuses a replayed one).
- The ID token is checked against the provider's JWKS (RS256/PS256/ES256 only) and for `iss`,
  `aud`, `exp`, `iat` and the `nonce` of this sign-in; the callback's `iss` (RFC 9207) and
  `state` are checked first.
- With `oidc_dpop`, every call to the provider carries a DPoP proof (RFC 9449) from a key made
  at start-up, so the code (bound at PAR) and the tokens work only with that key; a
  `use_dpop_nonce` answer is retried once with the nonce given.
- The provider's metadata and keys are cached for `oidc_metadata_ttl_seconds`; an ID token
  signed with an unknown `kid` fetches the keys again once.

What a sign-in must remember between the start and the callback (state, nonce, PKCE verifier,
where to go next) travels in a cookie encrypted with the token key (JWE, dir + A256GCM), valid
ten minutes and bound to this browser. Protocol times follow the wall clock, not the app's
clock: the provider checks them against its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from joserfc import jwe, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.errors import NotFound
from service.domain.tokens import hash_token, new_token
from service.settings import Settings
from service.storage import directory
from service.storage import sessions as store
from service.storage.models import User

FLOW_COOKIE: Final = "samkons_signin"
FLOW_SECONDS: Final = 600
ASSERTION_SECONDS: Final = 60
ID_TOKEN_ALGORITHMS: Final = ("RS256", "PS256", "ES256")
HPR_CLAIM: Final = "helseid://claims/hpr/hpr_number"
ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class OidcError(Exception):
    """The provider refused, or answered something that does not hold up. Never shown raw."""


@dataclass(frozen=True, slots=True)
class Flow:
    """One sign-in in progress."""

    state: str
    nonce: str
    verifier: str
    next_url: str
    invitation: str | None
    expires: int


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    hpr_number: str | None
    name: str | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def challenge(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode()).digest())


class OidcClient:
    """The relying party: one per application, configured by the `oidc_*` settings."""

    def __init__(self, settings: Settings, *, now: Any = time.time) -> None:
        if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_private_jwk):
            raise ValueError("OpenID Connect needs an issuer, a client id and a private key")
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.redirect_uri = settings.base_url + "/logg-inn/helseid/tilbake"
        self.scope = settings.oidc_scope
        jwk = json.loads(settings.oidc_private_jwk.get_secret_value())
        self._key = RSAKey.import_key(jwk)
        self._kid = jwk.get("kid")
        self._flow_key = OctKey.import_key(settings.purpose_key("token"))
        self._ttl = settings.oidc_metadata_ttl_seconds
        self._now = now
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._jwks: KeySet | None = None
        self._http: aiohttp.ClientSession | None = None
        # DPoP: one key per process; the tokens the provider issues are bound to it.
        self._dpop_key = ECKey.generate_key("P-256") if settings.oidc_dpop else None
        self._dpop_nonce: str | None = None

    # --- plumbing --------------------------------------------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._session().get(url) as resp:
                if resp.status != 200:
                    raise OidcError(f"{url} answered {resp.status}")
                body: dict[str, Any] = await resp.json(content_type=None)
                return body
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise OidcError(f"{url} could not be read") from exc

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, cached; its issuer must be the configured one."""
        if self._metadata is None or self._now() - self._metadata_at >= self._ttl:
            found = await self._get_json(self.issuer + "/.well-known/openid-configuration")
            if found.get("issuer") != self.issuer:
                raise OidcError("the discovery document names another issuer")
            self._metadata, self._metadata_at, self._jwks = found, self._now(), None
        return self._metadata

    async def _keys(self, *, refresh: bool = False) -> KeySet:
        if self._jwks is None or refresh:
            found = await self._get_json(str((await self.metadata())["jwks_uri"]))
            self._jwks = KeySet.import_key_set(found)  # type: ignore[arg-type]
        return self._jwks

    def client_assertion(self) -> str:
        """A single-use private_key_jwt assertion: aud = issuer, exp 60 seconds ahead."""
        now = int(self._now())
        header = {"alg": "RS256", "typ": "JWT"}
        if self._kid:
            header["kid"] = self._kid
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_SECONDS,
            "jti": secrets.token_urlsafe(24),
        }
        return jwt.encode(header, claims, self._key)

    def dpop_proof(self, method: str, url: str) -> str:
        """A DPoP proof (RFC 9449) for one request, with the provider's latest nonce."""
        if self._dpop_key is None:
            raise OidcError("DPoP is not configured")
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(24),
            "htm": method,
            "htu": url.split("?", 1)[0].split("#", 1)[0],
            "iat": int(self._now()),
        }
        if self._dpop_nonce:
            claims["nonce"] = self._dpop_nonce
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self._dpop_key.as_dict(private=False)}
        return jwt.encode(header, claims, self._dpop_key)

    async def _post(self, url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """POST with a fresh client assertion (and DPoP proof); once more if the provider asks
        for a DPoP nonce, which does not use up the code."""
        for _ in range(2):
            full = {
                **form,
                "client_id": self.client_id,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.client_assertion(),
            }
            headers = {"DPoP": self.dpop_proof("POST", url)} if self._dpop_key else {}
            try:
                async with self._session().post(url, data=full, headers=headers) as resp:
                    body: dict[str, Any] = await resp.json(content_type=None)
                    status, nonce = resp.status, resp.headers.get("DPoP-Nonce")
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise OidcError(f"{url} could not be reached") from exc
            if nonce:
                self._dpop_nonce = nonce
            if not (self._dpop_key and body.get("error") == "use_dpop_nonce" and nonce):
                break
        return status, body

    # --- the flow --------------------------------------------------------------------------

    async def start(self, next_url: str, invitation: str | None) -> tuple[str, str]:
        """Push the authorization request: the URL to send the browser to, and the flow cookie."""
        flow = Flow(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            next_url=next_url,
            invitation=invitation,
            expires=int(self._now()) + FLOW_SECONDS,
        )
        meta = await self.metadata()
        status, body = await self._post(
            str(meta["pushed_authorization_request_endpoint"]),
            {
                "response_type": "code",
                "redirect_uri": self.redirect_uri,
                "scope": self.scope,
                "state": flow.state,
                "nonce": flow.nonce,
                "code_challenge": challenge(flow.verifier),
                "code_challenge_method": "S256",
                "prompt": "login",
            },
        )
        request_uri = body.get("request_uri")
        if status != 201 or not isinstance(request_uri, str):
            raise OidcError(f"pushed authorization request refused: {body.get('error')}")
        query = urlencode({"client_id": self.client_id, "request_uri": request_uri})
        url = f"{meta['authorization_endpoint']}?{query}"
        return url, self.seal(flow)

    def seal(self, flow: Flow) -> str:
        payload = json.dumps(_asdict(flow))
        return jwe.encrypt_compact({"alg": "dir", "enc": "A256GCM"}, payload, self._flow_key)

    def unseal(self, sealed: str) -> Flow:
        try:
            data = json.loads(jwe.decrypt_compact(sealed, self._flow_key).plaintext or b"")
            flow = Flow(**data)
        except (JoseError, ValueError, TypeError) as exc:
            raise OidcError("the sign-in cookie is not ours") from exc
        if flow.expires < self._now():
            raise OidcError("the sign-in took too long")
        return flow

    async def finish(self, flow: Flow, query: dict[str, str]) -> Identity:
        """Check the callback, redeem the code and check the ID token."""
        if not secrets.compare_digest(query.get("state", ""), flow.state):
            raise OidcError("state does not match")
        if "iss" in query and query["iss"] != self.issuer:
            raise OidcError("the callback names another issuer")
        if "error" in query or "code" not in query:
            raise OidcError(f"the provider answered {query.get('error', 'no code')}")
        tokens = await self.redeem(query["code"], flow.verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("no ID token")
        return await self.verify_id_token(id_token, flow.nonce)

    async def redeem(self, code: str, verifier: str | None) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
        }
        if verifier is not None:
            form["code_verifier"] = verifier
        meta = await self.metadata()
        status, body = await self._post(str(meta["token_endpoint"]), form)
        if status != 200:
            raise OidcError(f"the token endpoint refused: {body.get('error')}")
        if self._dpop_key is not None and str(body.get("token_type", "")).lower() != "dpop":
            raise OidcError("the provider did not bind the tokens to our DPoP key")
        return body

    async def verify_id_token(self, id_token: str, nonce: str) -> Identity:
        try:
            header = json.loads(base64.urlsafe_b64decode(id_token.split(".")[0] + "=="))
            keys = await self._keys()
            if header.get("kid") and not any(k.kid == header["kid"] for k in keys.keys):
                keys = await self._keys(refresh=True)
            token = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
            jwt.JWTClaimsRegistry(
                now=lambda: int(self._now()),
                leeway=30,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
                sub={"essential": True},
            ).validate(token.claims)
        except (JoseError, ValueError, IndexError) as exc:
            raise OidcError(f"the ID token does not hold up: {type(exc).__name__}") from exc
        claims = token.claims
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self.client_id:
            raise OidcError("the ID token is meant for several parties and not authorised here")
        hpr = claims.get(HPR_CLAIM)
        name = claims.get("name")
        return Identity(
            subject=str(claims["sub"]),
            hpr_number=str(hpr) if isinstance(hpr, str | int) and str(hpr).isdigit() else None,
            name=name if isinstance(name, str) else None,
        )


def _asdict(flow: Flow) -> dict[str, Any]:
    return {name: getattr(flow, name) for name in Flow.__slots__}


OIDC_CLIENT: Final = web.AppKey("samkons.oidc", OidcClient)


async def _close(app: web.Application) -> None:
    await app[OIDC_CLIENT].close()


def setup_oidc(app: web.Application, settings: Settings) -> None:
    """Add the relying party when the settings configure a provider."""
    if settings.oidc_enabled:
        app[OIDC_CLIENT] = OidcClient(settings)
        app.on_cleanup.append(_close)


async def linked_account(
    db: async_sessionmaker[AsyncSession],
    identity: Identity,
    invitation: str | None,
    now: datetime,
) -> User | None:
    """The active account linked to the person's HPR number, linking it by an invitation first
    if one came along; None for anyone else (no account is ever made here)."""
    if identity.hpr_number is None:
        return None
    async with db() as s, s.begin():
        user = await store.user_by_hpr(s, identity.hpr_number)
        if user is None and invitation:
            user_id = await store.take_invitation(s, hash_token(invitation), now)
            if user_id is not None:
                await store.link_hpr(s, identity.hpr_number, user_id, now)
                user = await store.account(s, user_id)
    return user if user is not None and user.active else None


INVITATION_PATH: Final = "/logg-inn/helseid?invitasjon="


async def create_invitation(
    db: async_sessionmaker[AsyncSession], email: str, now: datetime, days: int
) -> str:
    """An administrator's single-use invitation for an account: the sign-in link to send it."""
    token = new_token()
    async with db() as s, s.begin():
        user = await directory.user_by_email(s, email)
        if user is None or not user.active:
            raise NotFound("There is no active account with that e-mail address.")
        await store.add_invitation(s, hash_token(token), user.id, now + timedelta(days=days))
    return INVITATION_PATH + token
