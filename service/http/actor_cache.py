"""`ActorCache`: logged-in accounts a process has read recently, so most requests need not read one.

In-process only: another process sees an account change when its entry lapses, so `ttl` bounds
how long a deactivated account or a changed role can go unnoticed. `forget` drops an account at
once, and a load that started before a `forget` is not stored afterwards.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from service.domain.actor import Actor
from service.domain.clock import Clock


class ActorCache:
    """Recently read accounts by id, each good for `ttl` (see the module docstring)."""

    MAX_ENTRIES = 10_000

    def __init__(self, clock: Clock, ttl: timedelta) -> None:
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[int, tuple[Actor, datetime]] = {}
        self._generation: dict[int, int] = {}

    def get(self, user_id: int) -> Actor | None:
        entry = self._entries.get(user_id)
        if entry is None:
            return None
        actor, loaded_at = entry
        # Also stale when the clock went back since the load (the wall clock can jump).
        if not timedelta(0) <= self._clock.now() - loaded_at < self._ttl:
            del self._entries[user_id]
            return None
        return actor

    def generation(self, user_id: int) -> int:
        """Take before loading; `put` stores the load only if nothing was forgotten since."""
        return self._generation.get(user_id, 0)

    def put(self, actor: Actor, generation: int) -> None:
        if self._ttl <= timedelta(0) or generation != self.generation(actor.user_id):
            return
        now = self._clock.now()
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries = {k: v for k, v in self._entries.items() if now - v[1] < self._ttl}
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
        self._entries[actor.user_id] = (actor, now)

    def forget(self, user_id: int) -> None:
        self._entries.pop(user_id, None)
        self._generation[user_id] = self.generation(user_id) + 1
