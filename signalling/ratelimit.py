"""A token bucket, as pure values: one per socket limits how fast a client may send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TokenBucket:
    capacity: float
    refill_per_second: float
    tokens: float
    updated_at: datetime

    @classmethod
    def full(cls, capacity: float, refill_per_second: float, now: datetime) -> TokenBucket:
        return cls(capacity, refill_per_second, capacity, now)

    def take(self, now: datetime) -> tuple[bool, TokenBucket]:
        """Spend one token if there is one; returns whether it was allowed and the new bucket."""
        # A clock that steps backwards must not mint tokens.
        elapsed = max(0.0, (now - self.updated_at).total_seconds())
        tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_second)
        # The constructor, not dataclasses.replace: this runs for every message on every socket.
        if tokens >= 1.0:
            return True, TokenBucket(self.capacity, self.refill_per_second, tokens - 1.0, now)
        return False, TokenBucket(self.capacity, self.refill_per_second, tokens, now)
