"""The second factor for password sign-in in production: TOTP (RFC 6238, `pyotp`).

In production mode every password sign-in needs the current six-digit code of the account's
authenticator app; an account without one enrolled cannot sign in with a password there
(`samkons totp-enrol --email …` enrols one and prints the otpauth:// link for the app). The
secret is stored sealed (JWE dir + A256GCM under the TOTP key, derived from the secret key). A
code is good for its 30-second step and one step either side (clock drift), and only once:
the step of the last code accepted is kept. Wrong codes count in the login throttle like
wrong passwords, under their own key, before the check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import pyotp
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.errors import NotAuthenticated, NotFound
from service.domain.i18n import N_
from service.settings import Settings
from service.storage import directory
from service.storage import sessions as store
from service.storage.models import User
from service.usecases.throttle import LoginThrottle

ISSUER_NAME: Final = "samkons"
DRIFT_STEPS: Final = 1
WRONG_CODE: Final = N_("Wrong or missing code from the authenticator app.")


def _key(settings: Settings) -> OctKey:
    return OctKey.import_key(settings.purpose_key("totp"))


def seal(settings: Settings, secret: str) -> str:
    return jwe.encrypt_compact({"alg": "dir", "enc": "A256GCM"}, secret, _key(settings))


def unseal(settings: Settings, sealed: str) -> str:
    return (jwe.decrypt_compact(sealed, _key(settings)).plaintext or b"").decode()


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code `code` is, within the allowed drift, or None."""
    totp = pyotp.TOTP(secret)
    here = totp.timecode(now)
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(code, totp.generate_otp(here + offset)):
            return here + offset
    return None


async def enrol(
    db: async_sessionmaker[AsyncSession], settings: Settings, email: str, now: datetime
) -> str:
    """Give an account a new TOTP secret: the otpauth:// URI for its authenticator app."""
    secret = pyotp.random_base32()
    async with db() as s, s.begin():
        user = await directory.user_by_email(s, email)
        if user is None:
            raise NotFound("There is no account with that e-mail address.")
        await store.put_totp(s, user.id, seal(settings, secret), now)
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER_NAME)


async def check_second_factor(
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    throttle: LoginThrottle,
    user: User,
    code: str | None,
    address: str,
    now: datetime,
) -> None:
    """Raise NotAuthenticated unless `code` is the account's current, unused TOTP code."""
    attempt = await throttle.begin(f"totp:{user.id}", address)  # counted before the check
    async with db() as s, s.begin():
        credential = await store.totp_of(s, user.id)
        step = None
        if credential is not None and code:
            try:
                secret = unseal(settings, credential.sealed_secret)
            except (JoseError, ValueError):
                secret = None
            if secret is not None:
                step = matching_step(secret, code.strip().replace(" ", ""), now)
        if step is None or not await store.use_totp_step(s, user.id, step):
            step = None
    if step is None:
        await throttle.failed(attempt)
        raise NotAuthenticated(WRONG_CODE)
    await throttle.succeeded(attempt)
