"""Benchmark: the compact feature cache on real music: bytes per 4-minute track, and scores against float32.

On the real-music excerpts (``experiments/realmusic``; 176 normalised 120 s
excerpts of game soundtracks), a taste model is trained the default way on one
task (``orchestral-within``, seed 0), then every excerpt is ranked three times:
from features in float32 (no cache: the exact path), cold into a compact cache,
and warm from it. The table gives the cache's size per 4 minutes of audio and
the largest score difference.

``python -m experiments.bench_cache`` writes ``results/bench_cache.{json,md}``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from experiments import realmusic_data as D
from experiments.common import RESULTS, environment, write_results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="orchestral-within")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    from pers_rec.audio.cache import FeatureCache, open_cache
    from pers_rec.audio.extract import extract_many
    from pers_rec.audio.features import FeatureConfig
    from pers_rec.learn import train as T
    from pers_rec.learn.dataset import Track
    from pers_rec.library import rank as R

    rows = D.read_catalog()
    paths = {r["id"]: str(D.excerpt_path(r)) for r in rows}
    if not all(Path(x).exists() for x in paths.values()):
        raise SystemExit("bench_cache: build the excerpts first (python -m experiments.realmusic_data)")
    cfg = FeatureConfig()
    exact = {str(e.path): e.features for e in extract_many(list(paths.values()), cfg, jobs=2) if e.ok}
    task = next(t for t in D.read_tasks() if t.name == args.task)
    tracks = ([Track(paths[i], 1, "like", exact[paths[i]]) for i in task.train_pos]
              + [Track(paths[i], 0, "dislike", exact[paths[i]]) for i in task.train_neg])
    t0 = time.perf_counter()
    saved = T.train(tracks, cfg, tcfg=T.TrainConfig(seed=0))
    t_train = time.perf_counter() - t0
    everything = list(paths.values())
    with tempfile.TemporaryDirectory() as tmp:
        ref = R.rank(everything, saved, jobs=2).set_index("path")["score"]
        cache = open_cache(Path(tmp))
        cold = R.rank(everything, saved, cache=cache, jobs=2).set_index("path")["score"]
        warm = R.rank(everything, saved, cache=cache, jobs=2).set_index("path")["score"]
        info = cache.info()
        cache.close()
        f32 = FeatureCache(Path(tmp) / "f32.sqlite", compact=False)
        list(extract_many(everything, cfg, cache=f32, jobs=2))
        f32_info = f32.info()
        f32.close()
    d_cold = float(np.abs(cold - ref.loc[cold.index]).max())
    d_warm = float(np.abs(warm - ref.loc[warm.index]).max())
    per4 = info.feature_bytes / info.frames * cfg.fps * 240 / 1e6
    per4_f32 = f32_info.feature_bytes / f32_info.frames * cfg.fps * 240 / 1e6
    file4 = info.bytes / info.frames * cfg.fps * 240 / 1e6
    lines = ["# The compact feature cache on real music", "",
             f"Written by `python -m experiments.bench_cache`. {len(everything)} real-music excerpts (120 s each, "
             f"{info.frames / cfg.fps / 3600:.1f} h of audio); a default taste model trained on `{args.task}` "
             f"(seed 0, {t_train:.0f} s) ranks them from float32 features (the exact path), then cold into the "
             "compact cache and warm from it.", "",
             "| storage | feature data per 4 minutes of audio (MB) | cache file per 4 minutes (MB) |", "|---|---|---|",
             f"| float32 (`compact=False`, the old format) | {per4_f32:.3f} | {f32_info.bytes / f32_info.frames * cfg.fps * 240 / 1e6:.3f} |",
             f"| compact (8 bits, delta, deflate: the default) | {per4:.3f} | {file4:.3f} |", "",
             f"- Largest score difference against float32: cold {d_cold:.5f}, warm {d_warm:.5f} (target <= 0.002: "
             + ("met" if max(d_cold, d_warm) <= 0.002 else "not met") + "); cold and warm agree exactly: "
             + ("yes" if (cold == warm.loc[cold.index]).all() else "no") + ".",
             f"- Target <= 0.3 MB per 4-minute track: {'met' if file4 <= 0.3 else 'not met'} ({file4:.3f} MB "
             "with SQLite's own overhead)."]
    write_results("bench_cache", {"env": environment(keras=True), "tracks": len(everything), "max_diff_cold": d_cold,
                                  "max_diff_warm": d_warm, "mb_per_4min_data": per4, "mb_per_4min_file": file4,
                                  "mb_per_4min_float32": per4_f32}, lines, args.out)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
