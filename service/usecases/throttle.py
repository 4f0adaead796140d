"""Login throttling per account and per client address, using the `limits` library.

Only failed attempts count: many people behind one address (a hospital's NAT, a proxy) who log
in correctly never lock each other out, while guessing passwords from one address, or at one
account from many, is stopped. A correct password clears the account's count.

Memory storage serves one instance; with `SAMKONS_REDIS_URL` the counters live in Redis so all
instances share them.
"""

from __future__ import annotations

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from service.domain.errors import TooManyRequests


class LoginThrottle:
    def __init__(
        self, *, per_account: int, per_address: int, window_seconds: int, redis_url: str | None
    ) -> None:
        storage: Storage = RedisStorage(f"async+{redis_url}") if redis_url else MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        self._account = RateLimitItemPerSecond(per_account, window_seconds)
        self._address = RateLimitItemPerSecond(per_address, window_seconds)

    async def check(self, account: str, address: str) -> None:
        """Refuse when the account or the address has used up its failed attempts."""
        ok_account = await self._limiter.test(self._account, "login-account", _key(account))
        ok_address = await self._limiter.test(self._address, "login-address", address)
        if not (ok_account and ok_address):
            raise TooManyRequests("Too many login attempts. Wait a while and try again.")

    async def failed(self, account: str, address: str) -> None:
        await self._limiter.hit(self._account, "login-account", _key(account))
        await self._limiter.hit(self._address, "login-address", address)

    async def succeeded(self, account: str) -> None:
        await self._limiter.clear(self._account, "login-account", _key(account))


def _key(account: str) -> str:
    return account.strip().lower()
