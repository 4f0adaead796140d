"""A first-in, first-out mailbox with one reader: the hub's queues on the message path.

`asyncio.Queue` supports many readers and writers and pays for it on every call; each message
through the hub crosses two queues (the backplane's event queue and the addressee's send queue),
so this leaner one-reader version is worth having. Writing never waits: a full mailbox refuses.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Mailbox(Generic[T]):
    __slots__ = ("_items", "_limit", "_waiter")

    def __init__(self, limit: int | None = None) -> None:
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1")
        self._items: deque[T] = deque()
        self._limit = limit
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> bool:
        """Add `item`; False (and nothing added) if the mailbox is full."""
        if self._limit is not None and len(self._items) >= self._limit:
            return False
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    def clear(self) -> None:
        self._items.clear()

    def get_nowait(self) -> T:
        """The oldest item without waiting; IndexError if the mailbox is empty."""
        return self._items.popleft()

    async def get(self) -> T:
        """The oldest item, waiting for one if the mailbox is empty (one reader at a time)."""
        while not self._items:
            if self._waiter is not None:
                raise RuntimeError("a Mailbox has one reader")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()
