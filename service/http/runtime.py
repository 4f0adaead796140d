"""Process-wide tuning for serving: how often Python's garbage collector runs.

A busy server (thousands of sockets, each with messages in flight) allocates objects far faster
than the collector's default threshold of 700 expects. Measured with 2,000 signalling
connections (docs/benchmarks.md), the hub spent about 5–10 µs of every relayed message in the
collector, and each full collection stopped the process for 0.1–0.25 s. Most of those objects
die young, so the young generation is collected less often; and what exists when serving
starts (modules, the app) never becomes garbage, so it is frozen out of every collection.
"""

from __future__ import annotations

import gc


def tune_garbage_collector(young_threshold: int) -> None:
    """Collect the youngest generation every `young_threshold` net allocations (the older
    generations keep their ratios) and freeze the objects that exist now."""
    if young_threshold < 1:
        raise ValueError("the threshold must be positive")
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, oldest)
    gc.freeze()
