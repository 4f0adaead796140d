"""Both clocks give `timestamp()` as the same instant as `now()`."""

from __future__ import annotations

from datetime import timedelta

from service.domain.clock import FakeClock, SystemClock


def test_system_clock_timestamp_is_now() -> None:
    clock = SystemClock()
    before = clock.now().timestamp()
    stamp = clock.timestamp()
    after = clock.now().timestamp()
    # now() is rounded to the microsecond and its timestamp() to a float: allow for both.
    assert before - 1e-5 <= stamp <= after + 1e-5


def test_fake_clock_timestamp_moves_with_the_clock() -> None:
    clock = FakeClock()
    start = clock.timestamp()
    assert start == clock.now().timestamp()
    clock.advance(timedelta(seconds=1.5))
    assert clock.timestamp() == start + 1.5
