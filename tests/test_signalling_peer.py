"""Pure parts of the Python peer: backoff, and candidates moved between SDP and messages."""

from __future__ import annotations

import pytest

from signalling.peer import (
    FINAL_CLOSE_CODES,
    ReconnectPolicy,
    parse_trickled_candidate,
    split_candidates,
)

SDP = """v=0
o=- 1 1 IN IP4 0.0.0.0
s=-
t=0 0
m=audio 9 UDP/TLS/RTP/SAVPF 111
a=mid:0
a=candidate:1 1 udp 2130706431 192.0.2.2 50000 typ host
a=end-of-candidates
m=video 9 UDP/TLS/RTP/SAVPF 96
a=mid:1
a=candidate:2 1 udp 2130706431 192.0.2.2 50001 typ host
a=end-of-candidates
""".replace("\n", "\r\n")


def test_backoff_doubles_up_to_the_ceiling_with_full_jitter() -> None:
    policy = ReconnectPolicy(initial=0.5, maximum=10.0)
    assert [policy.delay(n, rng=lambda: 1.0) for n in range(7)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        10.0,
        10.0,
    ]
    assert policy.delay(3, rng=lambda: 0.25) == 1.0
    assert policy.delay(3, rng=lambda: 0.0) == 0.0


def test_no_reconnect_after_leave_replaced_removed_or_abuse() -> None:
    assert {1000, 4001, 4002, 4003} <= FINAL_CLOSE_CODES
    assert not {1001, 1006, 4004, 4013, 4029} & FINAL_CLOSE_CODES


def test_split_candidates_keeps_the_rest_of_the_sdp() -> None:
    bare, candidates = split_candidates(SDP)
    assert "a=candidate" not in bare and "a=end-of-candidates" not in bare
    assert "a=mid:1" in bare and bare.endswith("\r\n")
    assert [(c.sdpMid, c.sdpMLineIndex) for c in candidates] == [("0", 0), ("1", 1)]
    assert candidates[1].candidate == "candidate:2 1 udp 2130706431 192.0.2.2 50001 typ host"


def test_trickled_candidate_is_parsed_with_its_mid() -> None:
    candidate = parse_trickled_candidate(
        "candidate:842163049 1 udp 1677729535 192.0.2.7 46154 typ srflx raddr 10.0.0.2 rport 46154",
        "0",
        0,
    )
    assert candidate is not None
    assert (candidate.ip, candidate.port, candidate.type) == (
        "192.0.2.7",
        46154,
        "srflx",
    )
    assert (candidate.sdpMid, candidate.sdpMLineIndex) == ("0", 0)


@pytest.mark.parametrize("text", ["", "  "])
def test_final_empty_candidate_is_skipped(text: str) -> None:
    assert parse_trickled_candidate(text, "0", 0) is None
