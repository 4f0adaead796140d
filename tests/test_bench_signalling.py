"""The signalling benchmark drives its servers from several client processes and counts right."""

from __future__ import annotations

import argparse
import math

import pytest

from bench.signalling import BURST, Phase, Result, measure, report


@pytest.mark.parametrize("kind", ["hub", "relay"])
async def test_two_client_processes_relay_through_the_server(kind: str) -> None:
    result = await measure(kind, 16, 4, seconds=0.5, interval=0.25, clients=2)
    assert (result.kind, result.connections, result.clients) == (kind, 16, 2)
    assert len(result.saturated) == 1
    for phase in (*result.saturated, result.paced):
        assert phase.messages_per_second > 0
        assert 0 < phase.median_ms <= phase.p99_ms < 5000
        assert phase.server_cpu_ms_per_1000 > 0
        assert phase.client_cpu_cores > 0
    # Paced: 16 participants, one burst each per 0.25 s.
    assert math.isclose(result.paced.messages_per_second, 16 * BURST / 0.25, rel_tol=0.35)


def test_the_report_compares_throughput_and_cpu_per_message() -> None:
    def phase(rate: float, cpu: float) -> Phase:
        return Phase(rate, 1.0, 2.0, cpu, 0.5, 0.9)

    hub = Result("hub", 2000, 2, 20.0, [phase(12_000, 40), phase(9_000, 42)], phase(4_000, 45))
    echo = Result("echo", 2000, 2, 15.0, [phase(20_000, 20), phase(20_000, 21)], phase(4_000, 25))
    args = argparse.Namespace(interval=4.0, room_size=4, seconds=10.0)
    text = report([hub, echo], args)
    assert "load from 2 client processes per server" in text
    assert "| signalling hub | saturated, round 2 | 9,000 |" in text
    assert "round by round: 60%, 45% (target" in text
    assert "hub 40, 42 µs; echo 20, 21 µs" in text
