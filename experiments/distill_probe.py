"""How much of the teacher does an encoder hold? A linear probe, measured on sources it never heard.

For every track of the distillation catalogs (``experiments/distill_data.py``: the allowed Debian soundtracks and
music rendered from music21's corpus) whose teacher vectors are cached, every 8 s window slid by 1 s gets a
target: the mean of musicnn's (MSD) vectors of the 3 s patches inside it. A ridge regression maps an encoder's
window vectors to those targets; it is fitted on some sources and measured on the others (**whole packages held
out**, 4 folds, the rendered music one source among them), never on held-out tracks of a package it saw.

Reported, per encoder, mean over folds: R^2 (variance of the teacher's vector explained, per dimension,
averaged) and the cosine after centring (prediction and target minus the training mean), per window and per
track (windows averaged). Encoders: the shipped one (its 32-d LSTM state), MFCC statistics of the window (mean
and standard deviation of each coefficient, 40 numbers: the baseline), and the training mean (R^2 0).

``python -m experiments.distill_probe`` writes ``results/distill_probe.{json,md}``.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from experiments.common import environment, write_results
from experiments.distill_data import HERE, cache_dir, read_csv, teacher_file

PATCH_S, WINDOW_S, FOLDS = 3.0, 8, 4


def window_targets(patches: np.ndarray, n_windows: int) -> np.ndarray:
    """Window ``k`` (``[k, k + 8)`` s) -> the mean of the 3 s patches inside it [shape=(n_windows, 200)]; a window
    with none (past the last patch) is NaN."""
    out = np.full((n_windows, patches.shape[1]), np.nan, np.float32)
    for k in range(n_windows):
        j0, j1 = int(np.ceil(k / PATCH_S)), int(np.floor((k + WINDOW_S) / PATCH_S))  # patches [3j, 3j+3) inside
        if j1 > j0 and j1 <= len(patches):
            out[k] = patches[j0:j1].astype(np.float32).mean(axis=0)
    return out


def tracks(rows, cfg, jobs: int, teachers=("msd",)):
    """Per catalogued track whose features exist, in the order they finish: (source, feature matrix fitted to a
    window, the window targets [shape=(n_windows, 200 x len(teachers))]: the ``teachers``' vectors joined, NaN
    rows where no patch lies inside, its audio path). A track without every teacher's patches is left out."""
    from pers_rec.audio import features as F
    from pers_rec.audio.cache import open_cache
    from pers_rec.audio.extract import extract_many

    by_audio = {r["audio"]: r for r in rows}
    cache = open_cache(cache_dir() / "pers_rec_cache")
    try:
        for item in extract_many(list(by_audio), cfg, cache=cache, jobs=jobs):
            if item.features is None:
                continue
            row = by_audio[str(item.path)]
            with np.load(teacher_file(row)) as z:
                if not all(t in z.files for t in teachers):
                    continue
                patches = [z[t] for t in teachers]
            M = F.fit_to_window(item.features, cfg)
            n = F.n_windows(len(M), cfg)
            yield (row.get("package") or row["kind"], M, np.concatenate([window_targets(p, n) for p in patches], 1),
                   str(item.path))
    finally:
        cache.close()


def collect(rows, jobs: int):
    """Per track: (source, encoder window vectors, MFCC window statistics, teacher window targets)."""
    from pers_rec.audio import features as F
    from pers_rec.config import FeatureConfig, ModelConfig
    from pers_rec.learn import pretrain
    from pers_rec.library.embed import Embedder
    from pers_rec.model import runtime
    from pers_rec.model.checkpoint import SavedModel

    cfg, mcfg = FeatureConfig(), ModelConfig()
    embedder = Embedder(SavedModel(runtime.from_pretrained(cfg, mcfg, pretrain.shipped(cfg, mcfg)), cfg, mcfg))
    out = []
    for source, M, T, _ in tracks(rows, cfg, jobs):
        W = F.windows(M, cfg)
        stats = np.concatenate([W.mean(axis=1), W.std(axis=1)], axis=1)
        ok = np.isfinite(T).all(axis=1)
        if ok.any():
            out.append((source, embedder.window_vectors(M)[ok], stats[ok], T[ok]))
    return out


def scores(pred: np.ndarray, target: np.ndarray, mean: np.ndarray, track: np.ndarray) -> dict:
    from sklearn.metrics import r2_score

    def cos(a, b):
        a, b = a - mean, b - mean
        return float(np.mean(np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)))

    per_track = [(pred[track == t].mean(0), target[track == t].mean(0)) for t in np.unique(track)]
    P, Tt = np.array([p for p, _ in per_track]), np.array([t for _, t in per_track])
    return {"r2": float(r2_score(target, pred)), "cos_window": cos(pred, target), "cos_track": cos(P, Tt)}


def probe(data, which: int, alpha: float, seed: int = 0) -> list[dict]:
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    sources = sorted({d[0] for d in data})
    rng = np.random.default_rng(seed)
    fold_of = {s: i % FOLDS for i, s in enumerate(rng.permutation(sources))}
    out = []
    for f in range(FOLDS):
        tr = [d for d in data if fold_of[d[0]] != f]
        te = [(i, d) for i, d in enumerate(data) if fold_of[d[0]] == f]
        Y = np.concatenate([d[3] for d in tr])
        mean = Y.mean(axis=0)
        Tt = np.concatenate([d[3] for _, d in te])
        track = np.concatenate([np.full(len(d[3]), i) for i, d in te])
        if which < 0:  # the training mean
            pred = np.tile(mean, (len(Tt), 1))
        else:
            X = np.concatenate([d[which] for d in tr])
            sc = StandardScaler().fit(X)
            model = Ridge(alpha=alpha).fit(sc.transform(X), Y)
            pred = model.predict(sc.transform(np.concatenate([d[which] for _, d in te])))
        out.append({"held_out": sorted(s for s in sources if fold_of[s] == f), "windows": len(Tt),
                    **scores(pred, Tt, mean, track)})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--alpha", type=float, default=10.0)
    args = ap.parse_args(argv)
    rows = [r for name in ("recordings.csv", "rendered.csv") if (HERE / name).is_file() for r in read_csv(HERE / name)]
    rows = [r for r in rows if teacher_file(r).is_file()]
    data = collect(rows, args.jobs)
    per_source = defaultdict(int)
    for d in data:
        per_source[d[0]] += 1
    hours = sum(len(d[3]) for d in data) / 3600  # one window per second
    res = {name: probe(data, which, args.alpha) for name, which in
           (("shipped encoder (32-d)", 1), ("MFCC window statistics (40-d)", 2), ("training mean", -1))}
    avg = {k: {m: float(np.mean([f[m] for f in v])) for m in ("r2", "cos_window", "cos_track")} for k, v in res.items()}
    lines = ["# How much of the teacher an encoder holds, on sources it never heard", "",
             f"`python -m experiments.distill_probe`: {len(data)} tracks ({hours:.1f} h of windows, one per second) "
             f"from {len(per_source)} sources (Debian soundtrack packages, and music21 renderings as one source), "
             f"whole sources held out in {FOLDS} folds. A ridge regression (alpha {args.alpha:g}, standardised "
             "inputs) maps each encoder's window vectors to the teacher's (musicnn MSD, 200-d, mean of the 3 s "
             "patches inside the window); mean over folds.", "",
             "| encoder | R^2 | centred cosine, window | centred cosine, track |", "|---|---:|---:|---:|"]
    lines += [f"| {k} | {v['r2']:.3f} | {v['cos_window']:.3f} | {v['cos_track']:.3f} |" for k, v in avg.items()]
    lines += ["", "Targets of issue 29 for a new student: R^2 >= 0.5 and centred cosine >= 0.7 on held-out sources.",
              "", "Folds (held-out sources):", ""]
    lines += [f"- fold {i + 1}: {', '.join(f['held_out'])} ({f['windows']} windows)"
              for i, f in enumerate(res["training mean"])]
    write_results("distill_probe", {"env": environment(), "sources": dict(per_source), "results": res, "mean": avg},
                  lines)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
