"""Benchmark: what ``pers-rec pretrain LIBRARY --teacher musicnn`` costs, phase by phase, scaled to 1,000 tracks.

The run takes ``--tracks`` full tracks of the real-music catalog (Debian game
soundtracks, their own lengths and formats) and times, in one process, what
the command does:

- **decode only** (the reference the other rows are a ratio of): every file
  decoded to mono at the feature rate, nothing else;
- **features**: the cold MFCC pass (``extract_many`` into an empty cache, the
  worker processes ``pretrain`` uses);
- **teacher**: every track decoded at 16 kHz, its log-mel and musicnn's
  3 s patches at the distillation windows (``distill.targets``);
- **distillation**: the student trained for the default number of epochs on
  those targets (``distill.distill``).

Each phase's cost grows with the minutes of audio (the first three) or with
the number of windows (the last), so the figure for 1,000 four-minute tracks
is each phase's measured rate times 4,000 minutes: an extrapolation from the
measured tracks, said so in the table.

``python -m experiments.bench_distill [--tracks 24]`` writes ``results/bench_distill.{json,md}``
(needs the catalog's packages installed: ``python -m experiments.realmusic_data``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from experiments import realmusic_data as D
from experiments.common import RESULTS, environment, write_results

#: The library the targets are stated for: 1,000 tracks of 4 minutes.
TARGET_MINUTES = 1000 * 4.0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tracks", type=int, default=24)
    p.add_argument("--jobs", type=int, default=None, help="decoding workers (default: one per core)")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)

    from pers_rec.audio import decode as audio
    from pers_rec.audio.cache import open_cache
    from pers_rec.audio.extract import extract_many
    from pers_rec.audio.features import FeatureConfig, n_windows
    from pers_rec.config import DistillConfig
    from pers_rec.learn import distill as Di
    from pers_rec.model import networks as Mo
    from pers_rec.model import teacher as Te

    if Te.checkpoint_dir() is None:
        raise SystemExit(f"bench_distill: the teacher is not installed ({Te.HOW})")
    rows = [r for r in D.read_catalog() if Path(r["path"]).exists() and float(r["duration_s"]) >= 90]  # songs, not jingles
    rows = sorted(rows, key=lambda r: r["id"])[:: max(1, len(rows) // args.tracks)][: args.tracks]
    if not rows:
        raise SystemExit("bench_distill: no catalog track is installed (python -m experiments.realmusic_data)")
    paths = [r["path"] for r in rows]
    cfg, mcfg, dcfg = FeatureConfig(), Mo.ModelConfig(), DistillConfig()
    t = {}

    t0 = time.perf_counter()
    minutes = sum(len(audio.load(p, cfg.sr)) for p in paths) / cfg.sr / 60
    t["decode only"] = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        cache = open_cache(Path(tmp) / "cache")
        t0 = time.perf_counter()
        feats = {str(i.path): i.features for i in extract_many(paths, cfg, cache=cache, jobs=args.jobs) if i.ok}
        t["features (cold, workers)"] = time.perf_counter() - t0
        cache.close()

    teacher = Te.Teacher()
    t0 = time.perf_counter()
    goals = {p: Di.targets(audio.load(p, Te.SR), n_windows(len(M), cfg), cfg, dcfg, teacher) for p, M in feats.items()}
    t["teacher targets"] = time.perf_counter() - t0
    patches = sum(len(g) for g in goals.values()) * len(dcfg.patch_offsets_s)

    t0 = time.perf_counter()
    pre = Di.distill(list(feats.values()), list(goals.values()), cfg, mcfg, dcfg)
    t["distillation"] = time.perf_counter() - t0
    windows = pre.info["windows"]

    scale = TARGET_MINUTES / minutes
    total = sum(v for k, v in t.items() if k != "decode only")
    env = environment(keras=True)
    lines = [
        "# Library distillation (`pers-rec pretrain --teacher musicnn`): cost by phase",
        "",
        f"Written by `python -m experiments.bench_distill --tracks {args.tracks}` on this machine ({env['cpus']} CPUs, "
        f"Keras backend {env['backend']} on {env['device']}). Measured on {len(feats)} full tracks of the real-music "
        f"catalog ({minutes:.1f} min of audio, OGG/FLAC/WAV as shipped), {windows} distillation windows (a window "
        f"every {dcfg.every_s:g} s, teacher patches at {', '.join(f'{o:g}' for o in dcfg.patch_offsets_s)} s in each: "
        f"{patches} patches), {dcfg.epochs} epochs. The last column multiplies each phase's measured rate by "
        f"{TARGET_MINUTES:.0f} minutes of audio (1,000 four-minute tracks): an extrapolation, not a run.",
        "",
        "| phase | measured (s) | × decode only | per minute of audio (s) | 1,000 × 4 min (min, extrapolated) |",
        "|---|---|---|---|---|",
    ]
    for k, v in t.items():
        lines.append(f"| {k} | {v:.1f} | {v / t['decode only']:.2f} | {v / minutes:.3f} | {v * scale / 60:.1f} |")
    lines += [f"| **pretrain --teacher, all phases** | {total:.1f} | {total / t['decode only']:.2f} | "
              f"{total / minutes:.3f} | **{total * scale / 60:.1f}** |",
              "",
              "- Target: <= 30 min for 1,000 four-minute tracks on 2 cores: "
              + ("met" if total * scale / 60 <= 30 else f"not met, by {total * scale / 60 - 30:.1f} min") + ".",
              f"- The teacher's share: {t['teacher targets'] / total:.0%} ({patches / t['teacher targets']:.1f} "
              "patches/s).",
              f"- Distillation: {windows / t['distillation'] * dcfg.epochs:.0f} windows/s over {dcfg.epochs} epochs."]
    write_results("bench_distill", {"env": env, "tracks": len(feats), "minutes": minutes, "windows": windows,
                                    "patches": patches, "seconds": t, "extrapolated_min": total * scale / 60,
                                    "distill_config": {"every_s": dcfg.every_s, "epochs": dcfg.epochs}},
                  lines, args.out)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
