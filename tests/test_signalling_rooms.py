"""Waiting-room decisions (pure functions) and the token bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from signalling.codec import BOTH_ON
from signalling.identity import Identity
from signalling.ratelimit import TokenBucket
from signalling.rooms import (
    Member,
    RoomView,
    admitted_on_join,
    check_admit,
    check_admit_all,
    check_relay,
    check_remove,
    offers_to,
    relay_target,
)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def member(pid: str, *, clinician: bool = False, minute: int = 0, conn: str = "") -> Member:
    identity = Identity("rm", pid, f"Name {pid}", "gp" if clinician else "patient", clinician)
    return Member.joining(
        identity,
        connection_id=conn or f"c-{pid}",
        instance_id="i1",
        media=BOTH_ON,
        at=T0 + timedelta(minutes=minute),
    )


VIEW = RoomView(
    members={
        "gp1": member("gp1", clinician=True, minute=1),
        "pa1": member("pa1", minute=0),
        "re1": member("re1", minute=2),
    },
    admitted=frozenset({"gp1", "pa1", "gone"}),
)


def test_participants_in_join_order_with_state() -> None:
    assert [(p.participant_id, p.state) for p in VIEW.participants()] == [
        ("pa1", "admitted"),
        ("gp1", "admitted"),
        ("re1", "waiting"),
    ]
    assert VIEW.waiting_ids() == ["re1"]


def test_admitted_but_absent_is_not_admitted() -> None:
    assert not VIEW.is_admitted("gone")


@pytest.mark.parametrize(
    ("clinician", "before", "expected"),
    [
        (True, frozenset(), True),
        (False, frozenset(), False),
        (False, frozenset({"x"}), True),
    ],
)
def test_admitted_on_join(clinician: bool, before: frozenset[str], expected: bool) -> None:
    assert admitted_on_join(Identity("rm", "x", "X", "relative", clinician), before) is expected


def test_only_the_current_connection_of_a_clinician_may_admit() -> None:
    assert check_admit(VIEW, "gp1", "c-gp1", "re1") is None
    assert check_admit(VIEW, "gp1", "c-old", "re1") == "not_joined"
    assert check_admit(VIEW, "pa1", "c-pa1", "re1") == "not_clinician"
    assert check_admit(VIEW, "gp1", "c-gp1", "nobody") == "unknown_participant"
    assert check_admit_all(VIEW, "pa1", "c-pa1") == "not_clinician"
    assert check_admit_all(VIEW, "gp1", "c-gp1") is None


def test_remove_rules() -> None:
    assert check_remove(VIEW, "gp1", "c-gp1", "pa1") is None
    assert check_remove(VIEW, "gp1", "c-gp1", "gp1") == "unknown_participant"
    assert check_remove(VIEW, "re1", "c-re1", "pa1") == "not_clinician"


def test_relay_only_between_admitted_current_connections() -> None:
    assert check_relay(VIEW, "gp1", "c-gp1", "pa1") is None
    assert check_relay(VIEW, "re1", "c-re1", "gp1") == "not_admitted"
    assert check_relay(VIEW, "gp1", "c-gp1", "re1") == "peer_not_admitted"
    assert check_relay(VIEW, "gp1", "c-stale", "pa1") == "not_admitted"
    assert check_relay(VIEW, "gp1", "c-gp1", "gp1") == "unknown_participant"
    assert check_relay(VIEW, "gp1", "c-gp1", "gone") == "unknown_participant"


def test_relay_target_decides_exactly_as_check_relay() -> None:
    ids = ["gp1", "pa1", "re1", "gone", "nobody"]
    for sender in ids:
        for connection in (f"c-{sender}", "c-stale"):
            for target in ids:
                allowed = check_relay(VIEW, sender, connection, target) is None
                found = relay_target(VIEW, sender, connection, target)
                assert (found is not None) == allowed, (sender, connection, target)
                assert found is None or found == VIEW.member(target)


def test_exactly_one_of_each_pair_offers() -> None:
    ids = ["gp1", "pa1", "re1", "A-1", "a_1"]
    for a in ids:
        for b in ids:
            if a != b:
                assert offers_to(a, b) != offers_to(b, a)


def test_token_bucket_spends_burst_then_refills() -> None:
    t0 = T0.timestamp()
    bucket = TokenBucket(3, 2.0, t0)
    assert [bucket.take(t0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(t0 + 0.5)
    assert not bucket.take(t0 + 0.5)


def test_token_bucket_never_exceeds_capacity_nor_mints_on_clock_step_back() -> None:
    t0 = T0.timestamp()
    bucket = TokenBucket(2, 1.0, t0)
    assert bucket.take(t0 + 3600)
    assert bucket.tokens == 1
    assert bucket.take(t0)  # the clock stepped back an hour: nothing refilled
    assert bucket.tokens == 0
    assert not bucket.take(t0 + 3600)  # back where it was: that hour is not counted twice
    assert bucket.take(t0 + 3601)
