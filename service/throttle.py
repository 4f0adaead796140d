"""Login throttling per account and per client address, using the `limits` library.

Memory storage serves one instance; with `SAMKONS_REDIS_URL` the counters live in Redis so all
instances share them.
"""

from __future__ import annotations

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from service.errors import TooManyRequests


class LoginThrottle:
    def __init__(
        self, *, per_account: int, per_address: int, window_seconds: int, redis_url: str | None
    ) -> None:
        storage: Storage = RedisStorage(f"async+{redis_url}") if redis_url else MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        self._account = RateLimitItemPerSecond(per_account, window_seconds)
        self._address = RateLimitItemPerSecond(per_address, window_seconds)

    async def check(self, account: str, address: str) -> None:
        """Count one attempt; refuse when either the account or the address is over its limit."""
        account_key = account.strip().lower()
        ok_account = await self._limiter.hit(self._account, "login-account", account_key)
        ok_address = await self._limiter.hit(self._address, "login-address", address)
        if not (ok_account and ok_address):
            raise TooManyRequests("Too many login attempts. Wait a while and try again.")

    async def reset_account(self, account: str) -> None:
        await self._limiter.clear(self._account, "login-account", account.strip().lower())
