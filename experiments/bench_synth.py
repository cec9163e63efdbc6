"""Benchmark: seconds of wall time to generate one minute of audio, per synth stage (one process, one core).

Writes ``results/bench_synth.{json,md}``.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import synth  # noqa: E402
from experiments.common import environment, write_results  # noqa: E402

GENERATORS = {f"stage {k}": (lambda n, k=k: synth.stage(k, n=n)) for k in range(1, 9)}
GENERATORS["experiment 1"] = lambda n: synth.exp1(per_pitch=max(1, n // 10))
GENERATORS["experiment 2"] = lambda n: synth.exp2(n=n)


def main() -> int:
    rows = []
    for name, make in GENERATORS.items():
        make(1)  # warm-up (imports, filter designs)
        t0 = time.perf_counter()
        ds = make(8)
        dt = time.perf_counter() - t0
        audio_s = sum(len(c) for c in ds.clips) / ds.sr
        rows.append({"generator": name, "clips": len(ds), "audio_s": audio_s, "wall_s": dt, "s_per_audio_min": dt / audio_s * 60})
        print(rows[-1], flush=True)
    lines = [
        "# Synth benchmark",
        "",
        "Written by `python -m experiments.bench_synth`: wall time to generate each dataset (16 clips, or 20 for",
        "experiment 1) in one process with one thread, after a warm-up call, at 24 kHz.",
        "",
        "| generator | clips | audio (s) | wall (s) | seconds per minute of audio |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r['generator']} | {r['clips']} | {r['audio_s']:.0f} | {r['wall_s']:.2f} | **{r['s_per_audio_min']:.2f}** |" for r in rows]
    worst = max(rows, key=lambda r: r["s_per_audio_min"])
    lines += ["", f"Slowest: {worst['generator']} at {worst['s_per_audio_min']:.2f} s per minute of audio."]
    write_results("bench_synth", {"env": environment(), "rows": rows}, lines)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
