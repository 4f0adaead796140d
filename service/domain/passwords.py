"""Password hashing with argon2id: the cost of a hash, hashing, checking, and when to rehash.

Production uses argon2-cffi's recommended parameters (RFC 9106's low-memory profile). The cost is
a parameter so the tests can hash and check in microseconds instead of a quarter of a second per
login; a stored hash carries its own parameters, so any hash verifies whatever the cost in force,
and `needs_rehash` says when a stored hash is weaker (or stronger) than that cost.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache
from typing import Final

from argon2 import PasswordHasher, Type, profiles
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10


@dataclass(frozen=True, slots=True)
class HashCost:
    """argon2id's cost parameters."""

    time_cost: int  # passes over the memory
    memory_kib: int
    parallelism: int  # lanes

    def __post_init__(self) -> None:
        # argon2's own limits: at least one pass and lane, and 8 KiB of memory per lane.
        if self.time_cost < 1 or self.parallelism < 1 or self.memory_kib < 8 * self.parallelism:
            raise ValueError(
                "argon2 needs time_cost >= 1, parallelism >= 1 and memory_kib >= 8 * parallelism"
            )


_RECOMMENDED = profiles.RFC_9106_LOW_MEMORY
PRODUCTION_COST: Final = HashCost(
    time_cost=_RECOMMENDED.time_cost,
    memory_kib=_RECOMMENDED.memory_cost,
    parallelism=_RECOMMENDED.parallelism,
)
# OWASP's password storage cheat sheet: argon2id needs at least 19 MiB and 2 passes. Anything
# weaker is for tests only, and production settings refuse it.
MINIMUM_COST: Final = HashCost(time_cost=2, memory_kib=19 * 1024, parallelism=1)


def is_weaker(cost: HashCost, than: HashCost) -> bool:
    return cost.time_cost < than.time_cost or cost.memory_kib < than.memory_kib


def _hasher(cost: HashCost) -> PasswordHasher:
    return PasswordHasher(
        time_cost=cost.time_cost,
        memory_cost=cost.memory_kib,
        parallelism=cost.parallelism,
        hash_len=_RECOMMENDED.hash_len,
        salt_len=_RECOMMENDED.salt_len,
        type=Type.ID,
    )


@cache
def _dummy_hash(cost: HashCost) -> str:
    # Verifying against this keeps the time of a login for an unknown account equal to a real
    # one (at the same cost), so response times do not reveal which e-mail addresses have
    # accounts. Made before the first login, once per cost and process.
    return _hasher(cost).hash("not-a-real-password")


class Passwords:
    """Hashes and checks passwords at one cost."""

    def __init__(self, cost: HashCost = PRODUCTION_COST) -> None:
        self.cost = cost
        self._hasher = _hasher(cost)
        self._dummy = _dummy_hash(cost)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and (
                stored_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    async def verify_async(self, stored_hash: str | None, password: str) -> bool:
        # argon2 deliberately costs tens of milliseconds of CPU: keep it off the event loop.
        return await asyncio.to_thread(self.verify, stored_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether a stored hash was made at another cost than this one (or is no argon2 hash)."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True


PRODUCTION: Final = Passwords()


def hash_password(password: str) -> str:
    return PRODUCTION.hash(password)
