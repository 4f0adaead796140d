"""How many sockets the hub lets in: per client address, per participant, and how often one
participant may connect again.

One leaked join link must not be able to break a call or starve the database: every upgrade is
counted against its client address before the caller is identified (so a flood costs no
database look-ups past the limit), and against its participant once identified (sockets open at
once, and a token bucket of new connections). Counts are per hub instance. Over a limit the
upgrade is refused with 429, before any socket exists.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from typing import TypeVar

from signalling.config import HubConfig
from signalling.ratelimit import TokenBucket

# Buckets of participants who stopped connecting are forgotten once there are this many.
_PRUNE_AT = 4096

ParticipantKey = tuple[str, str]  # room id, participant id
K = TypeVar("K", bound=Hashable)


class UpgradeLimits:
    """Counters of open sockets per address and per participant, and join buckets."""

    def __init__(self, config: HubConfig) -> None:
        self._config = config
        self._per_address: Counter[str] = Counter()
        self._per_participant: Counter[ParticipantKey] = Counter()
        self._joins: dict[ParticipantKey, TokenBucket] = {}

    def take_address(self, address: str) -> bool:
        """Count one more socket from `address`; False (nothing counted) if it is at its limit."""
        return _take(self._per_address, address, self._config.max_sockets_per_address)

    def release_address(self, address: str) -> None:
        _release(self._per_address, address)

    def take_participant(self, key: ParticipantKey, now: float) -> bool:
        """Count one more socket of a participant, if it has one to spare and a join token."""
        if self._per_participant[key] >= self._config.max_sockets_per_participant:
            return False
        bucket = self._joins.get(key)
        if bucket is None:
            self._prune(now)
            bucket = self._joins[key] = TokenBucket(
                self._config.join_burst, self._config.joins_per_second, now
            )
        if not bucket.take(now):
            return False
        self._per_participant[key] += 1
        return True

    def release_participant(self, key: ParticipantKey) -> None:
        _release(self._per_participant, key)

    def _prune(self, now: float) -> None:
        if len(self._joins) < _PRUNE_AT:
            return
        config = self._config
        refill = config.join_burst / config.joins_per_second
        # A bucket that has refilled by now is the same as a new one.
        for key in [k for k, b in self._joins.items() if now - b.updated_at >= refill]:
            del self._joins[key]


def _take(counter: Counter[K], key: K, limit: int) -> bool:
    if counter[key] >= limit:
        return False
    counter[key] += 1
    return True


def _release(counter: Counter[K], key: K) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]
