"""Benchmark: what stacking the start encoder's vectors (``train --blend encoder``) costs ``rank``.

A model that stacks the start encoder's regression needs each track's vector by that encoder, frozen: one more
trunk and LSTM pass per track beside the model's own members, unless the vector is already in the cache (``similar``
and ``map`` with the shipped encoder put it there; ``rank`` keeps what it computes). On ``--tracks`` generated songs
of ``--seconds`` (synth) with a model of ``--members`` averaged networks (what ``train`` ships) in the light runtime,
from a cache holding the features: the network alone, the encoder stack with the vectors to compute, and the
encoder stack with the vectors cached. The fastest of ``--repeats`` alternated runs of each; the stacked tables are
checked equal. Writes ``results/bench_encoder_stack.{json,md}``.

    python -m experiments.bench_encoder_stack [--tracks 40] [--seconds 60] [--members 5] [--repeats 3]
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from experiments.bench_one_pass import arguments, library
from experiments.common import environment, write_results


def main(argv=None) -> int:
    args = arguments(__doc__).parse_args(argv)

    import keras

    from pers_rec.audio.cache import open_cache
    from pers_rec.audio.extract import extract_many
    from pers_rec.config import FeatureConfig, ModelConfig
    from pers_rec.learn import pretrain
    from pers_rec.library import embed, rank
    from pers_rec.model import runtime
    from pers_rec.model.baseline import BaselineModel
    from pers_rec.model.checkpoint import SavedModel
    from pers_rec.model.networks import build
    from pers_rec.model.report import Blend

    work = Path(tempfile.mkdtemp(prefix="bench_encoder_stack_"))
    try:
        paths = library(work / "music", args.tracks, args.seconds)
        cfg, mcfg = FeatureConfig(), ModelConfig()
        start = pretrain.shipped(cfg, mcfg)
        keras.utils.set_random_seed(0)
        network = runtime.from_keras(build(cfg, mcfg, members=args.members), cfg, mcfg)
        dim = mcfg.lstm_units
        reg = BaselineModel([0.0] * dim, [1.0] * dim, list(np.linspace(-1, 1, dim)), 0.0)
        blend = Blend("encoder", "benchmark", {}, [1.0, 1.0], 0.0, asdict(reg), None, asdict(reg))
        alone = SavedModel(network, cfg, mcfg)
        stacked = SavedModel(network, cfg, mcfg, SimpleNamespace(blend=blend), start)
        features = work / "features"
        with open_cache(features) as c:  # the features alone
            assert all(item.ok for item in extract_many(paths, cfg, cache=c, jobs=args.jobs))
        with_vectors = work / "vectors"
        shutil.copytree(features, with_vectors)
        with open_cache(with_vectors) as c:  # as `similar` with the shipped encoder leaves it
            embed.vectors(paths, embed.Embedder.of_weights(start, cfg, mcfg), cache=c, jobs=args.jobs)

        cases = {"network alone": (alone, features), "encoder stack, vectors computed": (stacked, features),
                 "encoder stack, vectors cached": (stacked, with_vectors)}
        best, tables = dict.fromkeys(cases, float("inf")), {}
        for _ in range(args.repeats):
            for name, (saved, start_from) in cases.items():
                folder = work / f"run{time.monotonic_ns()}"
                shutil.copytree(start_from, folder)
                with open_cache(folder) as c:
                    t0 = time.perf_counter()
                    tables[name] = rank.rank(paths, saved, cache=c, jobs=args.jobs)
                    best[name] = min(best[name], time.perf_counter() - t0)
                shutil.rmtree(folder)
        a, b = tables["encoder stack, vectors computed"], tables["encoder stack, vectors cached"]
        assert a.equals(b), "cached vectors must give the computed vectors' table"
        assert (a["score"] != a["network_score"]).any(), "the stack must be applied"
        rows = [{"case": k, "rank_s": v, "ratio": v / best["network alone"]} for k, v in best.items()]
        for r in rows:
            print(json.dumps(r), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    env = environment(keras=True)
    data = {"tracks": args.tracks, "seconds": args.seconds, "members": args.members, "runtime": "light",
            "repeats": args.repeats, "rows": rows, "environment": env}
    md = ["# What the encoder stack costs `rank` (`train --blend encoder`)", "",
          f"{args.tracks} generated songs of {args.seconds:g} s, features cached, a model of {args.members} averaged "
          f"networks (default size), light runtime, the fastest of {args.repeats} alternated runs; {env['cpus']} "
          f"CPUs, {env['date']}. `python -m experiments.bench_encoder_stack`.", "",
          "| case | rank (s) | against the network alone |", "|---|---|---|"]
    md += [f"| {r['case']} | {r['rank_s']:.2f} | {r['ratio']:.2f}x |" for r in rows]
    md += ["", "The two stacked tables are identical: a vector read from the cache is the one computed."]
    write_results("bench_encoder_stack", data, md, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
