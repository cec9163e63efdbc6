"""Benchmark: shared-trunk sliding-window scoring against naive per-window scoring.

For each architecture, both paths score the same set of 4-minute tracks
(random features: the cost does not depend on the values) after an identical
warm-up pass, so graph tracing/compilation is excluded from both. Writes
``results/bench_scoring.{json,md}``.

    python -m experiments.bench_scoring [--tracks 16] [--repeats 3] [--out results]

Run with ``KERAS_BACKEND=jax`` (or ``torch``) to measure another backend; the
backend and device are recorded in the output.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys

import numpy as np

from experiments.common import RESULTS, best_of, environment, write_results
from pers_rec.audio import features as F
from pers_rec.model import networks as Mo
from pers_rec.model import scoring as S
from pers_rec.model.checkpoint import SavedModel


def bench(arch: str, n_tracks: int, repeats: int, seconds: float = 240.0) -> dict:
    cfg = F.FeatureConfig()
    mcfg = Mo.ModelConfig(arch=arch)
    model = Mo.build(cfg, mcfg)
    scorer = S.Scorer(SavedModel(model, cfg, mcfg))
    rng = np.random.default_rng(0)
    n_frames = 1 + int(seconds * cfg.sr) // cfg.hop_length
    tracks = [rng.normal(size=(n_frames, cfg.n_features)).astype(np.float32) for _ in range(n_tracks)]
    n_win = sum(F.n_windows(n_frames, cfg) for _ in tracks)

    def fast():
        return list(scorer.score_many(tracks))

    def naive():
        return [scorer.window_scores_naive(M) for M in tracks]

    a, b = fast(), naive()  # warm-up: traces/compiles every shape both paths use
    max_diff = max(float(np.abs(x - y).max()) for x, y in zip(a, b))
    t_fast, t_naive = best_of(fast, repeats)[0], best_of(naive, repeats)[0]
    return {
        "arch": arch,
        "params": int(model.count_params()),
        "trunk_stride": mcfg.stride,
        "head_steps": scorer.steps,
        "tracks": n_tracks,
        "track_s": seconds,
        "windows": n_win,
        "naive_s": t_naive,
        "fast_s": t_fast,
        "naive_windows_per_s": n_win / t_naive,
        "fast_windows_per_s": n_win / t_fast,
        "naive_tracks_per_s": n_tracks / t_naive,
        "fast_tracks_per_s": n_tracks / t_fast,
        "speedup": t_naive / t_fast,
        "max_abs_diff": max_diff,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tracks", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--archs", nargs="+", default=list(Mo.ARCHS))
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--tag", default="", help="suffix for the output files (e.g. _gpu)")
    args = p.parse_args(argv)
    rows = []
    for arch in args.archs:
        rows.append(bench(arch, args.tracks, args.repeats))
        print(json.dumps(rows[-1]), flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    env = {**environment(keras=True), "peak_rss_mb": peak_mb}
    lines = [
        f"# Scoring benchmark{args.tag.replace('_', ' ')}",
        "",
        f"Written by `experiments/bench_scoring.py`. Backend **{env['backend']}** on **{env['device']}** "
        f"({env['cpus']} CPUs), Keras {env['keras']}, Python {env['python']}. "
        f"{args.tracks} tracks of 4 minutes (233 windows of 8 s slid by 1 s each), random features, default "
        f"FeatureConfig (64 fps, 20 MFCCs) and each architecture's default ModelConfig. Both paths get the same "
        f"warm-up pass (tracing excluded); times are the best of {args.repeats}. "
        f"Peak RSS of the whole run: {peak_mb:.0f} MB.",
        "",
        "| arch | params | trunk stride | head steps | naive windows/s | shared-trunk windows/s | naive tracks/s | shared-trunk tracks/s | speed-up | max abs diff |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['arch']} | {r['params']:,} | {r['trunk_stride']} | {r['head_steps']} | {r['naive_windows_per_s']:,.0f} | "
            f"{r['fast_windows_per_s']:,.0f} | {r['naive_tracks_per_s']:.1f} | {r['fast_tracks_per_s']:.1f} | "
            f"**{r['speedup']:.2f}x** | {r['max_abs_diff']:.1e} |"
        )
    write_results(f"bench_scoring{args.tag}", {"env": env, "rows": rows}, lines, args.out)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
