"""Login throttling that slows guessing down without locking people out.

Failures are counted per account and per client address in fixed windows of
`login_window_seconds`. Each attempt is counted *before* the (slow) password check, and taken
back when the password is right, so parallel guesses cannot all slip past one check.

- **Account**: past `login_attempts_per_account` failures, attempts at that account answer 429
  with `Retry-After` until the window ends (a correct password clears the count).
- **Address**: past `login_attempts_per_address` failures, every further attempt from that
  address waits first, twice as long each time (from `login_delay_seconds` up to
  `login_delay_max_seconds`). A correct password still signs in, so colleagues behind one
  hospital address are not locked out by someone guessing there; a wrong one answers 429.

Counters live in memory (one instance) or, with `SAMKONS_REDIS_URL`, in Redis so all instances
share them. Keys hold SHA-256 digests, never an e-mail address or IP address in clear.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from service.domain.clock import Clock
from service.domain.errors import TooManyRequests

# The same words for both limits (they are in the translation catalogs).
TOO_MANY = "Too many login attempts. Wait a while and try again."

Sleep = Callable[[float], Awaitable[None]]


class _Counters:
    """Counts per key within the current window."""

    async def incr(self, key: str, window: int) -> int:
        raise NotImplementedError

    async def decr(self, key: str) -> None:
        raise NotImplementedError

    async def clear(self, key: str) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class _MemoryCounters(_Counters):
    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._window: str = ""

    def _roll(self, key: str) -> None:
        window = key.rsplit(":", 1)[1]
        if window != self._window or len(self._counts) > self.MAX_KEYS:
            self._counts = {k: v for k, v in self._counts.items() if k.endswith(":" + window)}
            self._window = window

    async def incr(self, key: str, window: int) -> int:
        self._roll(key)
        self._counts[key] = self._counts.get(key, 0) + 1
        return self._counts[key]

    async def decr(self, key: str) -> None:
        if self._counts.get(key, 0) > 0:
            self._counts[key] -= 1

    async def clear(self, key: str) -> None:
        self._counts.pop(key, None)


class _RedisCounters(_Counters):
    def __init__(self, client: Redis) -> None:
        self._client = client

    async def incr(self, key: str, window: int) -> int:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window * 2)
            count, _ = await pipe.execute()
        return int(count)

    async def decr(self, key: str) -> None:
        await self._client.decr(key)

    async def clear(self, key: str) -> None:
        await self._client.delete(key)

    async def close(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True, slots=True)
class Attempt:
    """One recorded attempt: settle it with `LoginThrottle.succeeded` or `.failed`."""

    account_key: str
    address_key: str
    address_over: bool
    retry_after: int


class LoginThrottle:
    def __init__(
        self,
        *,
        per_account: int,
        per_address: int,
        window_seconds: int,
        redis_url: str | None,
        clock: Clock,
        delay_seconds: float = 0.5,
        max_delay_seconds: float = 10.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._counters: _Counters = (
            _RedisCounters(Redis.from_url(redis_url)) if redis_url else _MemoryCounters()
        )
        self._per_account = per_account
        self._per_address = per_address
        self._window = window_seconds
        self._clock = clock
        self._delay = delay_seconds
        self._max_delay = max_delay_seconds
        self._sleep = sleep

    def _keys(self, account: str, address: str, now: datetime) -> tuple[str, str, int]:
        stamp = now.timestamp()
        index = math.floor(stamp / self._window)
        retry_after = max(1, math.ceil((index + 1) * self._window - stamp))
        return (
            f"login:account:{_digest(account.strip().lower())}:{index}",
            f"login:address:{_digest(address)}:{index}",
            retry_after,
        )

    def delay(self, address_count: int) -> float:
        """The wait before the attempt that made the address's count `address_count`."""
        over = address_count - self._per_address
        if over <= 0:
            return 0.0
        return float(min(self._delay * 2 ** min(over - 1, 30), self._max_delay))

    async def begin(self, account: str, address: str) -> Attempt:
        """Record an attempt before checking the password; waits or refuses (see module doc)."""
        account_key, address_key, retry_after = self._keys(account, address, self._clock.now())
        account_count = await self._counters.incr(account_key, self._window)
        if account_count > self._per_account:
            await self._counters.decr(account_key)  # refused unchecked: not another failure
            raise TooManyRequests(
                TOO_MANY,
                retry_after=retry_after,
            )
        address_count = await self._counters.incr(address_key, self._window)
        wait = self.delay(address_count)
        if wait > 0:
            await self._sleep(wait)
        return Attempt(account_key, address_key, address_count > self._per_address, retry_after)

    async def close(self) -> None:
        await self._counters.close()

    async def succeeded(self, attempt: Attempt) -> None:
        await self._counters.clear(attempt.account_key)
        await self._counters.decr(attempt.address_key)

    async def failed(self, attempt: Attempt) -> None:
        """The attempt stays counted; over the address limit the answer is 429."""
        if attempt.address_over:
            raise TooManyRequests(
                TOO_MANY,
                retry_after=attempt.retry_after,
            )


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]
