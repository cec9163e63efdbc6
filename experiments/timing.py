"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import time


def best_of(fn, repeats: int = 3):
    """Run ``fn`` ``repeats`` times; return (the fastest wall time in seconds, the last result).

    The minimum is the least disturbed by other work on a shared machine.
    """
    best, out = float("inf"), None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out
