"""Benchmark: a library's vectors and taste scores in one trunk pass against two passes.

``serve --model``, ``radio --model``, ``map --model`` and ``similar --taste-weight`` need every track's vector
(the taste model's encoder) and its score. Two passes run the first member's trunk twice per track (``embed.vectors``,
then ``rank.rank``); one pass (``workflows.vectors_and_scores``) hands the scorer's trunk output to the encoder.

On ``--tracks`` generated songs of ``--seconds`` (synth), with a model of ``--members`` averaged networks (what
``train``'s cross-validation ships), in the light runtime (``serve``'s default): both ways start from an empty
cache each time (a first analysis: decoding and features included), and from a cache holding only the features
(the network's share alone). The fastest of ``--repeats`` runs of each, alternated. The results are checked equal.
Writes ``results/bench_one_pass.{json,md}``.

    python -m experiments.bench_one_pass [--tracks 40] [--seconds 60] [--members 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from experiments.common import RESULTS, environment, write_results


def library(folder: Path, n: int, seconds: float) -> list[str]:
    from synth.io import write
    from synth.sequence import random_song

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        y, _ = random_song(22050, rng, ["flute", "guitar", "piano", "strings", "clarinet"][i % 5], seconds)
        paths.append(str(write(folder / f"song{i:03d}.flac", y, 22050)))
    return paths


def arguments(doc: str) -> argparse.ArgumentParser:
    """The options of a benchmark on a generated library ranked by a model of averaged networks."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--tracks", type=int, default=40)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--members", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--out", default=str(RESULTS))
    return p


def main(argv=None) -> int:
    args = arguments(__doc__).parse_args(argv)

    import keras

    from pers_rec.audio.cache import open_cache
    from pers_rec.audio.extract import extract_many
    from pers_rec.config import FeatureConfig, ModelConfig
    from pers_rec.library import embed, rank
    from pers_rec.library.workflows import vectors_and_scores
    from pers_rec.model import runtime
    from pers_rec.model.checkpoint import SavedModel
    from pers_rec.model.networks import build

    work = Path(tempfile.mkdtemp(prefix="bench_one_pass_"))
    try:
        paths = library(work / "music", args.tracks, args.seconds)
        cfg, mcfg = FeatureConfig(), ModelConfig()
        keras.utils.set_random_seed(0)
        saved = SavedModel(runtime.from_keras(build(cfg, mcfg, members=args.members), cfg, mcfg), cfg, mcfg)
        embedder = embed.Embedder(saved)
        features_only = work / "features"
        with open_cache(features_only) as c:  # the features alone, for the warm runs to start from
            assert all(item.ok for item in extract_many(paths, cfg, cache=c, jobs=args.jobs))

        def fresh(start: str | None) -> Path:
            folder = work / f"run{time.monotonic_ns()}"
            if start is not None:
                shutil.copytree(start, folder)
            return folder

        def two(folder):
            with open_cache(folder) as c:
                ok, V, _, _ = embed.vectors(paths, embedder, cache=c, jobs=args.jobs)
                return ok, V, rank.rank(paths, saved, cache=c, jobs=args.jobs)

        def one(folder):
            with open_cache(folder) as c:
                ok, V, _, df = vectors_and_scores(paths, saved, embedder, cache=c, jobs=args.jobs)
                return ok, V, df

        rows = []
        for start, label in ((None, "empty cache (first analysis)"), (features_only, "features cached")):
            best = {"two passes": float("inf"), "one pass": float("inf")}
            results = {}
            for _ in range(args.repeats):
                for name, fn in (("two passes", two), ("one pass", one)):
                    folder = fresh(start)
                    t0 = time.perf_counter()
                    results[name] = fn(folder)
                    best[name] = min(best[name], time.perf_counter() - t0)
                    shutil.rmtree(folder)
            (ok2, V2, df2), (ok1, V1, df1) = results["two passes"], results["one pass"]
            assert ok1 == ok2 and df1.equals(df2), "the one pass must give the two passes' table"
            rows.append({"start": label, "two_passes_s": best["two passes"], "one_pass_s": best["one pass"],
                         "speedup": best["two passes"] / best["one pass"],
                         "max_vector_diff": float(np.abs(V1 - V2).max())})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    env = environment(keras=True)
    data = {"tracks": args.tracks, "seconds": args.seconds, "members": args.members, "runtime": "light",
            "repeats": args.repeats, "rows": rows, "environment": env}
    md = ["# One pass for vectors and scores (`workflows.vectors_and_scores`)", "",
          f"{args.tracks} generated songs of {args.seconds:g} s, a model of {args.members} averaged networks "
          f"(default size), light runtime, the fastest of {args.repeats} alternated runs; "
          f"{env['cpus']} CPUs, {env['date']}. `python -m experiments.bench_one_pass`.", "",
          "| start | two passes (s) | one pass (s) | speed-up | max vector difference |", "|---|---|---|---|---|"]
    md += [f"| {r['start']} | {r['two_passes_s']:.2f} | {r['one_pass_s']:.2f} | {r['speedup']:.2f}x | "
           f"{r['max_vector_diff']:.1e} |" for r in rows]
    md += ["", "The tables are identical; the vectors differ only by float16 rounding of the cached vectors."]
    write_results("bench_one_pass", data, md, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
