"""Helpers shared by the benchmark and experiment scripts: timing, the environment, writing results.

Run every script as a module from the repository root (``python -m experiments.bench_rank``); the
scripts import ``pers_rec`` and ``synth`` as installed (``pip install -e .``), never by editing ``sys.path``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from pers_rec.fileio import write_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
#: Generated audio the benchmarks reuse between runs (not committed).
CACHE = ROOT / "experiments" / ".cache"


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


def environment(keras: bool = False) -> dict:
    """Where a result was measured: Python, machine, CPU count, and (``keras=True``) the backend and device."""
    env = {"python": platform.python_version(), "machine": platform.machine(), "processor": platform.processor(),
           "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}
    if keras:
        import keras as K

        from pers_rec.device import describe

        env.update(keras=K.__version__, backend=K.backend.backend(), device=describe())
    return env


def write_results(name: str, data: dict, markdown: list[str], out: str | os.PathLike = RESULTS) -> Path:
    """Write ``out/NAME.json`` (``data``) and ``out/NAME.md`` (the lines), each atomically."""
    out = Path(out)
    write_text(out / f"{name}.json", json.dumps(data, indent=2, default=str) + "\n")
    return write_text(out / f"{name}.md", "\n".join(markdown) + "\n")
