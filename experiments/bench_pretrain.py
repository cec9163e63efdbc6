"""Benchmark: contrastive pre-training (``pers-rec pretrain``) of a 1,000-track library of 4-minute tracks.

Pre-training's cost does not depend on what the features hold, only on how
many pairs an epoch draws (tracks x ``pairs_per_track``), so the library here
is 1,000 random-walk feature matrices of 4 minutes (MFCC-like, the shape real
tracks have at the default 64 fps); no audio is decoded. In the same run, as
the reference the ratio is taken against: one epoch of supervised training of
the taste model over the same number of windows.

Decoding the library is a separate cost: the line "features" uses the cold
ranking throughput that ``experiments.bench_rank`` measured on this machine
(``results/bench_rank.json``), when present.

``python -m experiments.bench_pretrain`` writes ``results/bench_pretrain.{json,md}``;
with ``--name bench_pretrain_gpu`` (on a GPU machine, ``KERAS_BACKEND=jax``) the GPU figures.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from experiments.common import RESULTS, environment, write_results


def library(n: int, frames: int, n_features: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(np.cumsum(rng.normal(size=(frames, n_features)), axis=0, dtype=np.float32) * 0.1
             + rng.normal(size=n_features).astype(np.float32) * 5) for _ in range(n)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tracks", type=int, default=1000)
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument("--epochs", type=int, default=None, help="default: PretrainConfig's")
    p.add_argument("--name", default="bench_pretrain")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)

    from pers_rec.audio import features
    from pers_rec.audio.features import FeatureConfig
    from pers_rec.learn import dataset
    from pers_rec.learn import pretrain as P
    from pers_rec.model import networks as Mo

    cfg, mcfg = FeatureConfig(), Mo.ModelConfig()
    pcfg = P.PretrainConfig(**({"epochs": args.epochs} if args.epochs else {}))
    t0 = time.perf_counter()
    mats = library(args.tracks, int(args.minutes * 60 * cfg.fps) + 1, cfg.n_features)
    t_make = time.perf_counter() - t0
    print(f"{len(mats)} feature matrices ready in {t_make:.0f} s", flush=True)

    t0 = time.perf_counter()
    pre = P.pretrain(mats, cfg, mcfg, pcfg)
    t_pre = time.perf_counter() - t0
    n_pairs = len(mats) * pcfg.pairs_per_track // pcfg.batch_size * pcfg.batch_size
    print(f"pre-training: {t_pre:.1f} s, loss {pre.info['losses'][0]:.3f} -> {pre.info['losses'][-1]:.3f}", flush=True)

    # reference: supervised epochs of the taste model over as many windows as one pre-training epoch encodes
    tracks = [dataset.Track(str(i), i % 2, "like", M) for i, M in enumerate(mats)]
    model = Mo.build_compiled(cfg, mcfg, learning_rate=1e-3, stats=features.feature_stats(mats[:50]))
    rng = np.random.default_rng(0)
    per = max(1, 2 * n_pairs // len(tracks))
    X, y, w = dataset.sample_windows(tracks, cfg, np.ones(len(tracks)), per_track=per, gain_db=6.0, rng=rng)
    model.fit(X[:64], y[:64], batch_size=32, epochs=1, verbose=0)  # trace once, as pre-training's first epoch does
    t0 = time.perf_counter()
    model.fit(X, y, sample_weight=w, batch_size=32, epochs=1, verbose=0)
    t_sup = time.perf_counter() - t0
    per_epoch = t_pre / pcfg.epochs

    feat_rate = None
    bench_rank = RESULTS / "bench_rank.json"
    env = environment(keras=True)
    if bench_rank.exists() and env["device"] == "cpu":  # its figure was measured on the CPU machine
        feat_rate = json.loads(bench_rank.read_text()).get("cold_tracks_per_s")
    res = {"env": env, "tracks": len(mats), "minutes": args.minutes, "pretrain_config": pcfg.__dict__,
           "pairs_per_epoch": n_pairs, "pretrain_s": t_pre, "pretrain_epoch_s": per_epoch,
           "losses": pre.info["losses"], "chance_loss": pre.info["chance_loss"],
           "supervised_epoch_same_windows_s": t_sup, "ratio_pretrain_epoch_over_supervised_epoch": per_epoch / t_sup,
           "features_tracks_per_s_from_bench_rank": feat_rate}
    total = t_pre + (len(mats) / feat_rate if feat_rate else 0)
    lines = [
        f"# Pre-training benchmark ({env['device']})",
        "",
        f"Written by `python -m experiments.bench_pretrain --name {args.name}` on {env['cpus']} CPUs, {env['machine']}, "
        f"Keras backend {env['backend']} on {env['device']}. Library: {len(mats):,} tracks of {args.minutes:g} minutes "
        f"(random-walk MFCC-like features, {cfg.fps} fps; the cost depends only on the pairs drawn). Defaults: "
        f"{pcfg.epochs} epochs, {pcfg.pairs_per_track} pairs per track per epoch ({n_pairs:,} pairs, "
        f"{2 * n_pairs:,} windows per epoch), batches of {pcfg.batch_size} pairs.",
        "",
        "| what | seconds |",
        "|---|---|",
        f"| pre-training, all {pcfg.epochs} epochs | **{t_pre:.0f}** |",
        f"| one pre-training epoch | {per_epoch:.1f} |",
        f"| reference, same run: one supervised epoch of the taste model over {len(X):,} windows | {t_sup:.1f} |",
    ]
    if feat_rate:
        lines.append(f"| decoding + features of {len(mats):,} 4-minute MP3s, at the {feat_rate:.1f} tracks/s of "
                     f"`bench_rank` (cold cache, this machine) | {len(mats) / feat_rate:.0f} |")
    lines += [
        "",
        f"A pre-training epoch costs {per_epoch / t_sup:.2f}x a supervised epoch over as many windows (two views per "
        f"pair, a projection head and the batch's similarity matrix). Contrastive loss {pre.info['losses'][0]:.3f} -> "
        f"{pre.info['losses'][-1]:.3f} (chance {pre.info['chance_loss']:.3f})."
        + (f" Pre-training a 1,000-track library from scratch, decoding included: about {total / 60:.1f} min "
           "(target on 2 cores: <= 15 min)." if feat_rate else ""),
    ]
    write_results(args.name, res, lines, args.out)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
