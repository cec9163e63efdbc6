"""Experiment: the genre head (``pers-rec train --target genre``) against the MFCC-statistics baseline.

Cross-validated accuracy, balanced accuracy and the confusion matrices that
``train --target genre`` reports, on two sets, ``--seeds`` seeds each (the
baseline is deterministic):

1. **Synthetic songs**: ``--songs`` random songs of 30 s (``synth.random_song``),
   the genre being the lead instrument (5 of them); accompaniment, key, mode
   and tempo drawn at random.
2. **Real music** (``experiments.realmusic_data``'s excerpts, when built): the
   109 excerpts with an orchestral, electronic or cartoon style of medium or
   high confidence. Folds are grouped by album (each game's package is one
   anonymous album folder); the cartoon style comes from a single package, so
   its excerpts are split by track, and the report says so.

``python -m experiments.genre`` writes ``results/genre.{json,md}``.
"""

from __future__ import annotations

import time

import numpy as np

from experiments.common import environment, write_results
from experiments.similarity import LEADS, arguments


def run(tracks, classes, seeds: int, label: str) -> dict:
    from pers_rec.audio.features import FeatureConfig
    from pers_rec.config import TrainConfig
    from pers_rec.learn import genre as G

    out = {"classes": classes, "tracks": len(tracks), "runs": []}
    labels = np.array([t.label for t in tracks])
    for seed in range(seeds):
        t0 = time.perf_counter()
        cv = G.train(tracks, classes, FeatureConfig(), tcfg=TrainConfig(seed=seed))
        net = G.Accuracies.of(labels, cv.network_oof, cv.splits)
        base = G.Accuracies.of(labels, cv.baseline_oof, cv.splits)
        out["runs"].append({"seed": seed, "seconds": time.perf_counter() - t0, "best_epoch": cv.best_epoch,
                            "splits_how": cv.splits_how, "network": net.__dict__, "baseline": base.__dict__})
        print(f"{label} seed {seed}: network {net.accuracy:.3f}, baseline {base.accuracy:.3f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def synthetic(n_songs: int, duration_s: float) -> tuple[list, list[str]]:
    import synth
    from pers_rec.audio import features as F
    from pers_rec.learn.dataset import Track

    cfg = F.FeatureConfig()
    rng = np.random.default_rng(1)
    tracks = []
    for i in range(n_songs):
        lead = LEADS[i % len(LEADS)]
        y, _ = synth.random_song(cfg.sr, rng, lead, duration_s)
        M = F.compute(y * float(10 ** (rng.uniform(-9, 0) / 20)), cfg)
        tracks.append(Track(f"/synthetic/song{i:03d}.wav", sorted(LEADS).index(lead), "genre", M))
    return tracks, sorted(LEADS)


def real() -> tuple[list, list[str]] | None:
    from experiments import realmusic as RM
    from experiments import realmusic_data as D
    from pers_rec.audio.cache import open_cache
    from pers_rec.learn.dataset import Track

    rows = D.read_catalog()
    if not all(D.excerpt_path(r).exists() for r in rows):
        print("real music: excerpts not built (python -m experiments.realmusic_data); skipped", flush=True)
        return None
    feats, paths = RM.load_features(rows, open_cache(D.cache_dir() / "pers_rec_cache"))
    keep = [r for r in rows if r["confidence"] in ("medium", "high") and r["style"] in ("orchestral", "electronic",
                                                                                       "cartoon")]
    classes = sorted({r["style"] for r in keep})
    return [Track(paths[r["id"]], classes.index(r["style"]), "genre", feats[r["id"]]) for r in keep], classes


def _ms(xs) -> str:
    xs = np.asarray(xs)
    return f"{xs.mean():.3f} +- {xs.std():.3f}" if len(xs) > 1 else f"{xs.mean():.3f}"


def section(title: str, res: dict) -> list[str]:
    runs, classes = res["runs"], res["classes"]
    net = {k: [r["network"][k] for r in runs] for k in ("accuracy", "balanced_accuracy")}
    base = {k: [r["baseline"][k] for r in runs] for k in ("accuracy", "balanced_accuracy")}
    counts = np.array(runs[0]["network"]["confusion"]).sum(axis=1)
    conf = {w: np.sum([r[w]["confusion"] for r in runs], axis=0) for w in ("network", "baseline")}
    lines = [f"## {title}", "",
             f"{res['tracks']} tracks: " + ", ".join(f"{c} {n}" for c, n in zip(classes, counts))
             + f"; chance (the largest genre) {counts.max() / counts.sum():.3f}. {runs[0]['splits_how']}.", "",
             f"Mean +- std over {len(runs)} seeds (each seed draws its own folds; both classifiers use the seed's folds).",
             "", "| classifier | accuracy | balanced accuracy |", "|---|---|---|",
             f"| MFCC statistics + multinomial logistic regression (baseline) | {_ms(base['accuracy'])} | "
             f"{_ms(base['balanced_accuracy'])} |",
             f"| genre head (cnn_lstm, fold-averaged) | {_ms(net['accuracy'])} | {_ms(net['balanced_accuracy'])} |", "",
             f"Confusion matrices summed over the {len(runs)} seeds (rows: true genre, columns: predicted):",
             "", "| genre | " + " | ".join(f"net: {c}" for c in classes) + " | " + " | ".join(f"base: {c}" for c in classes)
             + " |", "|---" * (1 + 2 * len(classes)) + "|"]
    for i, c in enumerate(classes):
        lines.append(f"| {c} | " + " | ".join(str(x) for x in conf["network"][i]) + " | "
                     + " | ".join(str(x) for x in conf["baseline"][i]) + " |")
    return lines + [""]


def write(res: dict, args, seconds: float) -> list[str]:
    env = res["env"]
    lines = ["# Genre head (Murray) against the MFCC-statistics baseline", "",
             f"Written by `python -m experiments.genre` ({seconds:.0f} s on {env['cpus']} CPUs, Keras "
             f"{env['backend']} on {env['device']}). Both classifiers are scored out-of-fold on the same folds, as "
             "`pers-rec train --target genre` prints them (default settings: up to 20 epochs, 5 folds, the epoch "
             "chosen by cross-validated accuracy, fold models averaged).", ""]
    syn = res["synthetic"]
    lines += section(f"Synthetic songs: genre = lead instrument ({syn['tracks']} songs of {args.duration:g} s)", syn)
    if res.get("real"):
        lines += section("Real music: style of the game soundtrack excerpts", res["real"])
    write_results("genre", res, lines, args.out)
    return lines


def main(argv=None) -> int:
    p = arguments(__doc__)
    p.add_argument("--summary-only", action="store_true", help="rewrite the Markdown from results/genre.json")
    args = p.parse_args(argv)
    if args.summary_only:
        import json
        from pathlib import Path

        res = json.loads((Path(args.out) / "genre.json").read_text())
        print("\n".join(write(res, args, res.get("seconds", 0.0))))
        return 0
    t0 = time.perf_counter()
    res = {"synthetic": run(*synthetic(args.songs, args.duration), args.seeds, "synthetic")}
    got = None if args.skip_real else real()
    if got is not None:
        res["real"] = run(*got, args.seeds, "real")
    res["env"], res["seconds"] = environment(keras=True), time.perf_counter() - t0
    print("\n".join(write(res, args, res["seconds"])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
