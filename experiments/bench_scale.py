"""Benchmark: a big synthetic library: scan, cold rank with the local engine and with ``--engine ray``, memory, cache.

The library (``--tracks``, default 10,000 FLAC files of ``--seconds`` each, a few
random partials and noise, 22.05 kHz mono) is made once into
``experiments/.cache/scale_library``. Each run below is ``pers-rec rank`` in a
fresh process on the same 2 cores, so its own peak memory (VmHWM) is read at
its end; the largest worker's comes from ``RUSAGE_CHILDREN``:

- scan only (``pers_rec.audio.scan``);
- cold rank, local engine (an empty feature cache), on the first 1,000 and on all tracks: is the main process's
  peak independent of the library's size?
- cold rank, ``--engine ray`` (a local Ray cluster started by the command, no feature cache): the engine's
  overhead on one machine.

``python -m experiments.bench_scale`` writes ``results/bench_scale.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from experiments.common import CACHE, RESULTS, environment, write_results

LIB = CACHE / "scale_library"
SR = 22050

RUNNER = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
from pers_rec.cli import main
code = main(sys.argv[1:])
wall = time.perf_counter() - t0
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("BENCH " + json.dumps({"code": code, "wall_s": wall, "main_peak_mb": int(hwm) / 1024, "child_peak_mb": child / 1024}))
"""


def _make(i: int, seconds: float) -> str:
    import soundfile as sf

    path = LIB / f"{i // 1000:02d}" / f"t{i:05d}.flac"
    if not path.exists():
        rng = np.random.default_rng(i)
        t = np.arange(int(seconds * SR)) / SR
        y = sum(rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * rng.uniform(80, 3000) * t) for _ in range(4))
        y = (y + 0.02 * rng.normal(size=len(t))).astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, y, SR)
    return str(path)


def make_library(n: int, seconds: float, jobs: int) -> list[str]:
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(_make, range(n), [seconds] * n, chunksize=64))


def run_rank(folder, model, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        args = ["rank", str(folder), "--model", str(model), "--out", os.path.join(tmp, "r.csv"), "--quiet",
                "--cache", os.path.join(tmp, "cache"), *extra]
        out = subprocess.run([sys.executable, "-c", RUNNER, *args], capture_output=True, text=True,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH ")), None)
        if line is None:
            raise SystemExit(f"bench_scale: rank failed: {out.stderr[-2000:]}")
        res = json.loads(line[6:])
        cache = os.path.join(tmp, "cache", "features.sqlite")
        res["cache_mb"] = os.path.getsize(cache) / 1e6 if os.path.exists(cache) else None
        return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tracks", type=int, default=10000)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--small", type=int, default=1000, help="the smaller library the memory is compared with")
    p.add_argument("--no-ray", action="store_true")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    jobs = os.cpu_count()
    t0 = time.perf_counter()
    paths = make_library(args.tracks, args.seconds, jobs)
    t_make = time.perf_counter() - t0
    small = LIB.parent / f"scale_library_first{args.small}"
    if not small.exists():  # the first --small tracks, as links: the same files
        for src in paths[: args.small]:
            dst = small / os.path.relpath(src, LIB)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(src, dst)
    from pers_rec.audio.features import FeatureConfig
    from pers_rec.audio.scan import scan
    from pers_rec.model import networks as Mo
    from pers_rec.model.checkpoint import SavedModel, save

    model = CACHE / "scale_model.keras"
    if not model.exists():
        cfg, mcfg = FeatureConfig(), Mo.ModelConfig()
        save(model, SavedModel(Mo.build(cfg, mcfg), cfg, mcfg))
    t0 = time.perf_counter()
    n_scanned = len(scan(LIB))
    t_scan = time.perf_counter() - t0
    k_small, k_all, k_ray = (f"local, first {args.small}", f"local, all {args.tracks}",
                             f"ray (local cluster), all {args.tracks}")
    rows = {k_small: run_rank(small, model, ["--jobs", str(jobs)]), k_all: run_rank(LIB, model, ["--jobs", str(jobs)])}
    if not args.no_ray:
        rows[k_ray] = run_rank(LIB, model, ["--engine", "ray", "--jobs", str(jobs)])
    env = environment(keras=True)
    local = rows[k_all]
    lines = ["# A big library: scan, cold rank, memory, cache", "",
             f"Written by `python -m experiments.bench_scale` on this machine ({env['cpus']} CPUs). Library: "
             f"{args.tracks} FLAC files of {args.seconds:g} s (22.05 kHz mono, partials and noise; made in "
             f"{t_make:.0f} s, cached). Scanning it: {t_scan:.1f} s ({n_scanned} files). Each rank is a fresh "
             f"process with {jobs} workers; the model is the default `cnn_lstm`.", "",
             "| run | wall (s) | tracks/s | main process peak (MB) | largest worker peak (MB) | cache (MB) |",
             "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        n = args.small if "first" in name else args.tracks
        lines.append(f"| {name} | {r['wall_s']:.0f} | {n / r['wall_s']:.1f} | {r['main_peak_mb']:.0f} | "
                     f"{r['child_peak_mb']:.0f} | " + ("" if r["cache_mb"] is None else f"{r['cache_mb']:.0f}") + " |")
    small_r = rows[k_small]
    growth = local["main_peak_mb"] / small_r["main_peak_mb"] - 1
    lines += ["", f"- Main-process peak, {args.tracks} tracks against {args.small}: {growth:+.0%} "
                  f"(target: within 10 %: {'met' if abs(growth) <= 0.10 else 'not met'}).",
              f"- Cache per 4 minutes of audio: {local['cache_mb'] / (args.tracks * args.seconds / 240):.2f} MB."]
    ray_row = next((r for k, r in rows.items() if k.startswith("ray")), None)
    if ray_row:
        ratio = ray_row["wall_s"] / local["wall_s"]
        lines.append(f"- Ray on the same cores: {ratio:.2f}x the local engine's time (target <= 1.3x: "
                     f"{'met' if ratio <= 1.3 else 'not met'}); its workers' memory is Ray's, not in the table.")
    write_results("bench_scale", {"env": env, "tracks": args.tracks, "seconds": args.seconds, "make_s": t_make,
                                  "scan_s": t_scan, "rows": rows}, lines, args.out)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
