"""The one settings object, read from `SAMKONS_*` environment variables.

Everything configurable lives here so there is one obvious place to look. In production mode the
settings refuse the demo secret and a plain-http base URL, so an unsafe default never ships.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.domain.passwords import MINIMUM_COST, PRODUCTION_COST, HashCost, is_weaker

DEMO_SECRET = "demo-secret-do-not-use-in-production-0000"  # noqa: S105 - refused in production


def hkdf_sha256(secret: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF (RFC 5869) with SHA-256 and no salt: independent keys from one secret."""
    prk = hmac.new(b"\0" * 32, secret, hashlib.sha256).digest()
    out, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
    return out[:length]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMKONS_", extra="ignore")

    mode: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite+aiosqlite:///var/samkons.sqlite3"
    secret_key: SecretStr = SecretStr(DEMO_SECRET)
    base_url: str = "http://127.0.0.1:8080"
    host: str = "127.0.0.1"
    port: int = 8080
    timezone: str = "Europe/Oslo"
    default_language: Literal["nn", "nb", "en"] = "nn"

    # Booking
    default_duration_minutes: int = 30
    slot_step_minutes: int = 15
    booking_horizon_days: int = 56

    # --- Sign-in, sessions, keys and headers (docs/security.md) ---------------------------------
    # Login throttling: failed attempts allowed per window per account (then 429 with
    # Retry-After) and per client address (then a growing delay before each further attempt from
    # it, so a correct password still gets in; a wrong one then answers 429).
    login_attempts_per_account: int = 5
    login_attempts_per_address: int = 20
    login_window_seconds: int = 900
    login_delay_seconds: float = Field(0.5, ge=0)
    login_delay_max_seconds: float = Field(10.0, ge=0)
    # Proxies (addresses or networks) whose X-Forwarded-For is believed: the client address is
    # the last one in that header not in this list. Empty: the TCP peer is the client.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Server-side sessions: ended after this long without a request, and this long after sign-in.
    session_idle_minutes: int = Field(30, ge=1)
    session_absolute_hours: int = Field(12, ge=1)
    # Keys per purpose are derived from secret_key (HKDF); the fødselsnummer pepper can be set on
    # its own. Unset, it is secret_key itself (what every earlier version used), so stored
    # hashes keep matching; pin it to that value before rotating secret_key (docs/security.md).
    fnr_pepper: SecretStr | None = None
    # OpenID Connect sign-in (HelseID): unset issuer means password sign-in only. The client's
    # private key is a JWK (JSON) whose public half is registered with the provider; in
    # production, clinicians may then sign in only this way.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_private_jwk: SecretStr | None = None
    oidc_scope: str = "openid profile helseid://scopes/identity/hpr_number"
    oidc_metadata_ttl_seconds: int = Field(3600, ge=0)
    # Bind the provider's tokens to a key of ours with DPoP (HelseID asks it of most clients).
    oidc_dpop: bool = True
    # Extra connect-src sources for the CSP (an SFU, a TURN-over-https endpoint): 'self' only else.
    csp_connect_sources: list[str] = Field(default_factory=list)
    # argon2id's cost for new password hashes and for the check of an unknown account, e.g.
    # SAMKONS_PASSWORD_HASH_COST='{"time_cost": 3, "memory_kib": 65536, "parallelism": 4}'.
    # Production refuses anything below OWASP's minimum; the tests use a trivial cost.
    password_hash_cost: HashCost = PRODUCTION_COST

    # Requests
    max_body_bytes: int = 1024 * 1024

    # Serving: the garbage collector's young-generation threshold (service/http/runtime.py; Python's
    # default is 700, which costs a busy signalling hub a sixth of its CPU).
    gc_young_threshold: int = Field(20_000, ge=700)

    # Redis (optional): rate limits and the signalling backplane share it when set.
    redis_url: str | None = None

    # Operators: /metrics answers only the loopback interface unless this bearer token is set,
    # and then only requests that carry it (service/http/ops.py).
    metrics_token: SecretStr | None = None

    # E-mail: without smtp_host, mails are written as .eml files into outbox_dir.
    mail_from: str = "samkons@samkons.invalid"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    outbox_dir: Path = Path("var/outbox")

    # Video
    allowed_origins: list[str] = Field(default_factory=list)
    stun_urls: list[str] = Field(default_factory=list)
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: SecretStr | None = None
    turn_ttl_seconds: int = 3600
    max_echo_sessions: int = 4

    # Scheduled work
    scheduler_enabled: bool = True
    reminder_offsets_minutes: list[int] = Field(default_factory=lambda: [24 * 60, 60])
    retention_days: int = 365
    # After its end plus this grace, a consultation still confirmed is a no-show and one still
    # in progress is completed.
    sweep_grace_minutes: int = 30
    outbox_poll_seconds: int = 15
    # The survey link goes to each participant this long after a completed consultation ended,
    # and only while it ended less than `survey_within_days` ago (so a service that was down, or
    # is newly upgraded, does not survey consultations people have long forgotten).
    survey_delay_minutes: int = Field(default=120, ge=0)
    survey_within_days: int = Field(default=14, ge=1)
    mail_max_attempts: int = 10

    # «Grønn helse»: factor name → value, overriding service/data/factors.json, e.g.
    # SAMKONS_GREEN_FACTOR_OVERRIDES='{"ef_car_kg_per_vkm": 0.15}'. Figures then carry the
    # version "<shipped>+mod.<hash>"; unknown names or impossible values stop the start.
    green_factor_overrides: dict[str, float] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.mode == "production":
            secret = self.secret_key.get_secret_value()
            if secret == DEMO_SECRET or len(secret) < 32:
                raise ValueError(
                    "SAMKONS_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production (the demo secret is refused)"
                )
            if not self.base_url.startswith("https://"):
                raise ValueError("SAMKONS_BASE_URL must be https:// in production")
            if is_weaker(self.password_hash_cost, MINIMUM_COST):
                raise ValueError(
                    "SAMKONS_PASSWORD_HASH_COST is below the minimum for production "
                    f"(time_cost {MINIMUM_COST.time_cost}, memory_kib {MINIMUM_COST.memory_kib})"
                )
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_private_jwk)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def purpose_key(self, purpose: Literal["session", "csrf", "token", "totp"]) -> bytes:
        """A 32-byte key for one purpose, derived from secret_key with HKDF-SHA256 (RFC 5869)."""
        return hkdf_sha256(
            self.secret_key.get_secret_value().encode(), b"samkons:" + purpose.encode()
        )

    @property
    def fnr_pepper_value(self) -> str:
        """The key of the fødselsnummer hash: `fnr_pepper`, or secret_key where none is set."""
        return (self.fnr_pepper or self.secret_key).get_secret_value()

    @property
    def origins(self) -> list[str]:
        """Origins allowed to open WebSockets and post forms: the base URL's unless configured."""
        return self.allowed_origins or [self.base_url]
