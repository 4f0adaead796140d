"""Password hashing with argon2id (argon2-cffi's recommended parameters)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

# Verifying against this keeps the time of a login for an unknown account equal to a real one,
# so response times do not reveal which e-mail addresses have accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password_async(stored_hash: str | None, password: str) -> bool:
    # argon2 deliberately costs tens of milliseconds of CPU: keep it off the event loop.
    return await asyncio.to_thread(verify_password, stored_hash, password)
