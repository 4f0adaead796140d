"""The hub's one-reader mailbox: order, bound, waking the reader."""

from __future__ import annotations

import asyncio

import pytest

from signalling.mailbox import Mailbox


async def test_items_come_out_in_the_order_they_went_in() -> None:
    box: Mailbox[int] = Mailbox()
    for n in range(5):
        assert box.put(n)
    assert [await box.get() for _ in range(5)] == [0, 1, 2, 3, 4]
    assert len(box) == 0


async def test_a_full_mailbox_refuses_without_dropping_what_it_holds() -> None:
    box: Mailbox[str] = Mailbox(limit=2)
    assert box.put("a") and box.put("b")
    assert not box.put("c")
    assert len(box) == 2
    box.clear()
    assert box.put("d")
    assert await box.get() == "d"


async def test_a_waiting_reader_is_woken_by_the_next_item() -> None:
    box: Mailbox[str] = Mailbox()
    reader = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    assert not reader.done()
    box.put("hello")
    assert await asyncio.wait_for(reader, 1) == "hello"


async def test_a_cancelled_reader_leaves_the_mailbox_usable() -> None:
    box: Mailbox[int] = Mailbox()
    reader = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    box.put(7)
    assert await box.get() == 7


async def test_two_readers_at_once_are_a_mistake() -> None:
    box: Mailbox[int] = Mailbox()
    first = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        await box.get()
    first.cancel()


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        Mailbox(limit=0)


async def test_get_nowait_takes_the_oldest_item_or_says_there_is_none() -> None:
    box: Mailbox[int] = Mailbox()
    box.put(1)
    box.put(2)
    assert box.get_nowait() == 1
    assert box.get_nowait() == 2
    with pytest.raises(IndexError):
        box.get_nowait()
