"""Benchmark: the taste model against the MFCC-statistics baseline on real music (game soundtracks).

``make realmusic`` (``python -m experiments.realmusic``). The data, the tasks and
how they were made are described in ``experiments/realmusic_data.py``; the
excerpts are built on first use into a cache folder outside the repository.

For every task (train on its training likes and others, rank its test library)
and seed, all in one run on this machine:

- **metadata only** (leakage control): logistic regression on the original
  files' duration, sample rate and format; what a system could get without
  listening if the excerpts were not normalised. The systems below only ever
  see the normalised excerpts, whose metadata are identical.
- **baseline**: MFCC mean/std (+ deltas) and logistic regression (``baseline.fit``).
- **default ``pers-rec train``** (cnn_lstm, grouped 5-fold cross-validation,
  fold models averaged, ``--blend auto``), ranked with ``rank.rank`` exactly as
  ``pers-rec rank`` does; and from the same trained model, as ablations: the
  network alone (no stacking), always stacked, and one fold model (no averaging).
- the other architectures (``cnn``, ``cnn_gpool``) with the same defaults.

Metrics are track-level ROC-AUC and average precision on the test library;
mean +- std over seeds. Each trained run is appended to a progress file in the
cache folder, so an interrupted benchmark resumes where it stopped.
Writes ``results/realmusic.{md,json,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from experiments import realmusic_data as D
from experiments.common import RESULTS, environment, write_results


def metadata_control(task: D.Task, rows: dict) -> dict:
    """ROC-AUC/AP of a logistic regression on the original files' duration, rate and format."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from pers_rec.model import baseline as B

    formats = sorted({r["format"] for r in rows.values()})
    rates = sorted({r["orig_sr"] for r in rows.values()})

    def x(i):
        r = rows[i]
        return [np.log(r["duration_s"])] + [r["orig_sr"] == s for s in rates] + [r["format"] == f for f in formats]

    Xtr = np.array([x(i) for i in task.train_pos + task.train_neg], float)
    ytr = np.r_[np.ones(len(task.train_pos)), np.zeros(len(task.train_neg))]
    clf = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000)).fit(Xtr, ytr)
    s = clf.predict_proba(np.array([x(i) for i in task.test_pos + task.test_neg], float))[:, 1]
    m = B.metrics(_y_test(task), s)
    return {"roc_auc": m.roc_auc, "ap": m.ap}


def _y_test(task: D.Task) -> np.ndarray:
    return np.r_[np.ones(len(task.test_pos)), np.zeros(len(task.test_neg))]


#: name -> (architecture, TrainConfig changes, how the network starts: None (fresh), "contrastive" (the library's
#: contrastive pre-training) or "distilled" (distilled from the musicnn teacher on the library))
VARIANTS = {
    "cnn_lstm": ("cnn_lstm", {}, None),
    "cnn": ("cnn", {}, None),
    "cnn_gpool": ("cnn_gpool", {}, None),
    "cnn_lstm+pretrained": ("cnn_lstm", {}, "contrastive"),
    "cnn_lstm+augment": ("cnn_lstm", {"augment": True}, None),
    "cnn_lstm+distilled": ("cnn_lstm", {}, "distilled"),
    "cnn_lstm+distilled-cosine": ("cnn_lstm", {}, "distilled-cosine"),
    "cnn_lstm+shipped": ("cnn_lstm", {}, "shipped"),
    "cnn_lstm+shipped+teacher": ("cnn_lstm", {"blend": "auto+teacher"}, "shipped"),
    "cnn_lstm+candidate": ("cnn_lstm", {}, "candidate"),
    "cnn_lstm+shipped+encoder": ("cnn_lstm", {"blend": "auto+encoder"}, "shipped"),
    "cnn_lstm+candidate+encoder": ("cnn_lstm", {"blend": "encoder"}, "candidate"),
    "cnn_lstm+shipped+encoder-always": ("cnn_lstm", {"blend": "encoder"}, "shipped"),
    # the distillation sweep's students (experiments.distill_dense, ~/.cache/pers_rec/distill/students) as the start
    "cnn_lstm+student-f64": ("cnn_lstm", {}, "student:distill_dense_f64_l64_e40_f64_l64"),
    "cnn_lstm+student-m40": ("cnn_lstm", {}, "student:distill_dense_m40_e40_f32_l32_m40"),
}
LABELS = {
    "cnn": "architecture `cnn` (defaults otherwise)",
    "cnn_gpool": "architecture `cnn_gpool` (defaults otherwise)",
    "cnn_lstm+pretrained": "default + contrastive pre-training on the library (`pers-rec pretrain`)",
    "cnn_lstm+augment": "default + time/coefficient masking and tilt while training",
    "cnn_lstm+distilled": "default + distilled from musicnn on the library (`pers-rec pretrain --teacher musicnn`, MSE)",
    "cnn_lstm+distilled-cosine": "default + distilled from musicnn on the library, cosine loss",
    "cnn_lstm+shipped": "default + the encoder shipped until 2026-12-03 (these runs were made with it: 7.7 h of the "
                        "soundtracks' full tracks + synth songs, a target every 10 s; it has heard the test audio, "
                        "unlabelled)",
    "cnn_lstm+candidate": "default + the encoder shipped since 2026-12-03, measured as a candidate "
                          "($PERS_REC_CANDIDATE_ENCODER): `experiments.distill_dense`, dense targets on 25 h, "
                          "augmented; it has heard some of these soundtracks (not SuperTux's nor FreedroidRPG's), "
                          "unlabelled",
    "cnn_lstm+shipped+encoder": "the encoder shipped since 2026-12-03 with `--blend auto+encoder`: the network "
                                "stacked with a logistic regression on the frozen encoder's own track vectors also "
                                "competes",
    "cnn_lstm+candidate+encoder": "a candidate encoder (`$PERS_REC_CANDIDATE_ENCODER`), always stacked with its own "
                                  "vectors' regression (`--blend encoder`)",
    "cnn_lstm+student-f64": "the sweep's 64/64 student (64 filters, 64 LSTM units; 0.3 MB) as the start, default "
                            "blend",
    "cnn_lstm+student-m40": "the sweep's 40-MFCC student as the start (features of 40 coefficients), default blend",
    "cnn_lstm+shipped+encoder-always": "the encoder shipped since 2026-12-03, always stacked with its own vectors' "
                                       "regression (`--blend encoder`)",
    "cnn_lstm+shipped+teacher": "the encoder shipped until 2026-12-03 with `--blend auto+teacher`: the teacher's "
                                "vectors + logistic regression also a stacking partner when cross-validation favours "
                                "it (plain `auto` only reports that stack, after this row)",
}


BLISS_ROW = "peer: bliss-rs's 23 descriptors (`bliss-audio`) + logistic regression"


def variant_of(run: dict) -> str:
    return run.get("variant", run["arch"])


def pretrained_for(seed: int, feats: dict) -> tuple:
    """The library's pre-trained weights for ``seed`` (all excerpts, no labels), made once and kept in the cache."""
    from pers_rec.audio.features import FeatureConfig
    from pers_rec.learn import pretrain as P
    from pers_rec.model import networks as Mo

    path = D.cache_dir() / f"pretrained_seed{seed}.npz"
    if not path.exists():
        pre = P.pretrain([feats[i] for i in sorted(feats)], FeatureConfig(), Mo.ModelConfig(), P.PretrainConfig(seed=seed))
        P.save(path, pre)
    pre = P.load(path)
    return pre, pre.info.get("elapsed_s", pre.info.get("seconds"))


def teacher_targets(feats: dict, paths: dict, dcfg) -> dict:
    """Each excerpt's distillation targets (``pers_rec.learn.distill.targets``), computed once and kept in the cache."""
    from pers_rec.audio import decode as audio
    from pers_rec.audio.features import FeatureConfig, n_windows
    from pers_rec.learn import distill
    from pers_rec.model import teacher as T

    path = D.cache_dir() / f"teacher_targets_every{dcfg.every_s}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    cfg, teacher, t0 = FeatureConfig(), T.Teacher(), time.perf_counter()
    out = {i: distill.targets(audio.load(paths[i], T.SR), n_windows(len(feats[i]), cfg), cfg, dcfg, teacher)
           for i in sorted(feats)}
    np.savez(path, **out)
    print(f"teacher targets of {len(out)} excerpts in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def distilled_for(seed: int, feats: dict, paths: dict, loss: str = "mse") -> tuple:
    """The encoder distilled from the teacher on all excerpts for ``seed`` and ``loss`` (no labels), made once, kept."""
    from pers_rec.audio.features import FeatureConfig
    from pers_rec.learn import distill
    from pers_rec.learn import pretrain as P
    from pers_rec.model import networks as Mo

    path = D.cache_dir() / f"distilled_{loss}_seed{seed}.npz"
    from pers_rec.config import DistillConfig

    dcfg = DistillConfig(every_s=5, seed=seed, loss=loss)
    if not path.exists():
        goals = teacher_targets(feats, paths, dcfg)
        ids = sorted(feats)
        pre = distill.distill([feats[i] for i in ids], [goals[i] for i in ids], FeatureConfig(), Mo.ModelConfig(), dcfg)
        P.save(path, pre)
        print(f"distilled seed {seed}: held-out cosine {pre.info.get('heldout_cosine', float('nan')):.3f} "
              f"(mean target {pre.info.get('heldout_cosine_of_the_mean_target', float('nan')):.3f})", flush=True)
    pre = P.load(path)
    return pre, pre.info.get("elapsed_s")


def shipped() -> tuple:
    """The encoder shipped in ``pers_rec/data`` (``experiments.distill``)."""
    from pers_rec.audio.features import FeatureConfig
    from pers_rec.learn import pretrain as P
    from pers_rec.model import networks as Mo

    pre = P.shipped(FeatureConfig(), Mo.ModelConfig())
    if pre is None:
        raise SystemExit("realmusic: no shipped encoder (python -m experiments.distill)")
    return pre, pre.info.get("elapsed_s")


def candidate() -> tuple:
    """A candidate encoder (``$PERS_REC_CANDIDATE_ENCODER``: weights as ``pretrain.save`` writes them, e.g. a student
    of ``experiments.distill_dense``), measured as the shipped one is before it may replace it."""
    import os

    from pers_rec.learn import pretrain as P

    path = os.environ.get("PERS_REC_CANDIDATE_ENCODER")
    if not path:
        raise SystemExit("realmusic: the candidate variant needs $PERS_REC_CANDIDATE_ENCODER (an .npz of weights)")
    return P.load(path), None


def student(name: str) -> tuple:
    """A student of the distillation sweep (``experiments.distill_dense`` keeps each in the distillation cache)."""
    from experiments import distill_data
    from pers_rec.learn import pretrain as P

    path = distill_data.cache_dir() / "students" / f"{name}.npz"
    if not path.exists():
        raise SystemExit(f"realmusic: no student {path} (python -m experiments.distill_dense makes it)")
    return P.load(path), None


def teacher_tracks(paths: dict) -> dict:
    """Each excerpt's teacher vector (mean over its 3 s patches), computed once and kept in the cache."""
    from pers_rec.audio import decode as audio
    from pers_rec.model import teacher as T

    path = D.cache_dir() / "teacher_tracks.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    teacher, t0 = T.Teacher(), time.perf_counter()
    out = {i: teacher.track(audio.load(p, T.SR))[0].mean(0) for i, p in sorted(paths.items())}
    np.savez(path, **out)
    print(f"teacher vectors of {len(out)} excerpts in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def bliss_tracks(paths: dict) -> dict | None:
    """Each excerpt's bliss-rs analysis (``bliss-audio``, the MIT Python binding: 23 descriptors of tempo, timbre,
    loudness and chroma), computed once and kept in the cache; None when bliss-audio is not installed (it is a
    peer to compare with, never a dependency: ``pip install bliss-audio``)."""
    try:
        import bliss_audio
    except ImportError:
        print("realmusic: no bliss row (pip install bliss-audio)", flush=True)
        return None
    path = D.cache_dir() / "bliss_tracks.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    t0, out = time.perf_counter(), {}
    for i, p in sorted(paths.items()):
        try:
            out[i] = np.asarray(bliss_audio.Song(p).analysis, np.float64)
        except Exception as exc:  # noqa: BLE001 (bliss raises its own error types)
            raise SystemExit(f"realmusic: {p}: bliss-rs could not analyse it ({exc})") from None
    np.savez(path, **out)
    print(f"bliss analysis of {len(out)} excerpts in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def vectors_control(task: D.Task, vectors: dict) -> dict:
    """ROC-AUC/AP/NDCG@10 of a logistic regression (standardised, balanced) on given track vectors: what a
    listener could get from a pre-trained tagger's vectors (the teacher's), or from a descriptor set (bliss-rs's),
    alone."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from pers_rec.model import baseline as B

    Xtr = np.array([vectors[i] for i in task.train_pos + task.train_neg])
    ytr = np.r_[np.ones(len(task.train_pos)), np.zeros(len(task.train_neg))]
    clf = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000)).fit(Xtr, ytr)
    s = clf.predict_proba(np.array([vectors[i] for i in task.test_pos + task.test_neg]))[:, 1]
    m = B.metrics(_y_test(task), s)
    return {"roc_auc": m.roc_auc, "ap": m.ap, "ndcg10": m.ndcg10}


def run_one(task: D.Task, variant: str, seed: int, feats: dict, paths: dict, cache) -> dict:
    """Train ``variant`` with ``seed``, rank the test library, and score every ablation."""
    from pers_rec.audio.features import FeatureConfig
    from pers_rec.learn import train as T
    from pers_rec.learn.dataset import Track
    from pers_rec.library import rank as R
    from pers_rec.model import baseline as B
    from pers_rec.model import networks as Mo
    from pers_rec.model.scoring import Scorer

    cfg = FeatureConfig()
    arch, changes, start = VARIANTS[variant]
    pre, pretrain_s = (pretrained_for(seed, feats) if start == "contrastive" else
                       distilled_for(seed, feats, paths, "cosine" if start.endswith("cosine") else "mse")
                       if start and start.startswith("distilled") else shipped() if start == "shipped"
                       else candidate() if start == "candidate" else student(start.split(":", 1)[1])
                       if start and start.startswith("student:") else (None, None))
    mcfg = Mo.ModelConfig(arch=arch)
    if start == "candidate" or start and start.startswith("student:"):  # a sweep point's student: its own width and MFCC count (features extracted for it)
        mcfg = Mo.ModelConfig(**pre.info["model_config"])
        if pre.info["feature_config"] != cfg.to_dict():
            cfg = FeatureConfig.from_dict(pre.info["feature_config"])
            feats = load_features(D.read_catalog(), cache, cfg)[0]
    tracks = ([Track(paths[i], 1, "like", feats[i]) for i in task.train_pos]
              + [Track(paths[i], 0, "dislike", feats[i]) for i in task.train_neg])
    vectors = None
    if variant.endswith("+teacher"):  # as `pers-rec train` does with the teacher installed (a patch every 10 s)
        from pers_rec.model import teacher as Te

        tv = Te.TrackVectors(cache)
        tv.prefetch([t.path for t in tracks])
        vectors = np.stack([tv(t.path) for t in tracks])
    start = None
    if pre is not None:  # as `pers-rec train` does: the start encoder's own vectors, a stacking partner (lever 6)
        from pers_rec.library.embed import StartVectors

        start = StartVectors(pre, cfg, mcfg, cache)
    t0 = time.perf_counter()
    saved = T.train(tracks, cfg, mcfg, T.TrainConfig(seed=seed, **changes), pretrained=pre, teacher_vectors=vectors,
                    encoder_vectors=None if start is None else start.of_tracks(tracks))
    t_train = time.perf_counter() - t0
    test = task.test_pos + task.test_neg
    y = _y_test(task)
    t0 = time.perf_counter()
    df = R.rank([paths[i] for i in test], saved, cache=cache, jobs=2)
    t_rank = time.perf_counter() - t0
    by_path = df.set_index("path")
    final = np.array([by_path.loc[paths[i], "score"] for i in test], float)
    net = np.array([by_path.loc[paths[i], "network_score"] for i in test], float)
    blend = saved.report.blend
    base = B.BaselineModel(**blend.baseline)
    stacked = (final if blend.chosen in ("teacher", "encoder") else  # (then "always stacked" is not this run's)
               B.stack_apply(blend.weights, blend.intercept, net, np.array([base.score(feats[i]) for i in test])))
    one = Scorer(saved)
    one.members = one.members[:1]
    single = one.mean_scores([feats[i] for i in test])
    windows = list(Scorer(saved).score_many([feats[i] for i in test]))
    mean_logit = np.array([B.logit(w).mean() for w in windows])
    top10 = np.array([np.sort(w)[-10:].mean() for w in windows])
    cv = saved.report.cross_validation

    def m(s):
        r = B.metrics(y, s)
        return {"roc_auc": r.roc_auc, "ap": r.ap, "ndcg10": r.ndcg10}

    encoder_lr = None
    if blend.encoder is not None:  # the start encoder's regression alone, on the test tracks
        reg = B.BaselineModel(**blend.encoder)
        encoder_lr = m([reg.score_features(start(paths[i], feats[i])) for i in test])
    return {"task": task.name, "arch": arch, "variant": variant, "seed": seed, "train_s": t_train, "rank_s": t_rank,
            "encoder_lr": encoder_lr,
            "pretrain_s": pretrain_s, "default": m(final), "network": m(net), "stacked": m(stacked),
            "one_fold_model": m(single), "mean_logit": m(mean_logit), "top10_windows": m(top10),
            "blend_chosen": blend.chosen, "blend_cv": blend.cv_roc_auc, "epochs": cv.model.epochs,
            "cv_roc_auc": blend.cv_roc_auc[{"stacked": "stacked", "teacher": "teacher_stacked",
                                            "encoder": "encoder_stacked"}.get(blend.chosen, "network")],
            "cv_note": cv.note}


def load_features(rows: list[dict], cache, cfg=None) -> tuple[dict, dict]:
    """Every excerpt's features (``cfg``: the defaults) by id, and its path by id."""
    from pers_rec.audio import extract
    from pers_rec.audio.features import FeatureConfig

    paths = {r["id"]: str(D.excerpt_path(r)) for r in rows}
    feats = {}
    for item in extract.extract_many(list(paths.values()), cfg or FeatureConfig(), cache=cache, jobs=os.cpu_count()):
        if not item.ok:
            raise SystemExit(f"realmusic: {item.path}: {item.error}")
        feats[item.path.stem] = item.features
    return feats, paths


def summarize(runs: list[dict], tasks: list[D.Task], controls: dict, baselines: dict, variants: list[str],
              teacher: dict | None = None, bliss: dict | None = None) -> list:
    rows = [("metadata only (leakage control)", {t.name: [controls[t.name]] for t in tasks}),
            ("baseline: MFCC statistics + logistic regression", {t.name: [baselines[t.name]] for t in tasks})]
    if teacher:
        rows.append(("reference: musicnn teacher's vectors + logistic regression",
                     {t.name: [teacher[t.name]] for t in tasks}))
    if bliss:
        rows.append((BLISS_ROW, {t.name: [bliss[t.name]] for t in tasks}))
    default = [r for r in runs if variant_of(r) == "cnn_lstm"]
    labels = {"default": "**default, from scratch** (cnn_lstm, fold-averaged, blend auto; `train --no-pretrained`)",
              "network": "ablation: network alone (no stacking)",
              "stacked": "ablation: always stacked with the baseline",
              "one_fold_model": "ablation: one fold model (no averaging)",
              "mean_logit": "aggregation: mean of window logits (network alone)",
              "top10_windows": "aggregation: mean of the 10 best windows (network alone)"}
    for key, label in labels.items():
        rows.append((label, {t.name: [r[key] for r in default if r["task"] == t.name and key in r] for t in tasks}))
    for v in variants:
        if v != "cnn_lstm":
            rows.append((LABELS[v], {t.name: [r["default"] for r in runs if variant_of(r) == v and r["task"] == t.name]
                                     for t in tasks}))
    table = []
    for label, per_task in rows:
        cells = {}
        for t in tasks:
            ms = per_task[t.name]
            auc = np.array([m["roc_auc"] for m in ms], float)
            ap = np.array([m["ap"] for m in ms], float)
            cells[t.name] = {"roc_auc_mean": float(auc.mean()) if len(auc) else None,
                             "roc_auc_std": float(auc.std()) if len(auc) else None,
                             "ap_mean": float(ap.mean()) if len(ap) else None, "n": len(ms)}
        table.append({"system": label, "tasks": cells})
    return table


def _cell(c: dict) -> str:
    if c["roc_auc_mean"] is None:
        return "-"
    if c["n"] == 1:
        return f"{c['roc_auc_mean']:.3f} ({c['ap_mean']:.2f})"
    return f"{c['roc_auc_mean']:.3f} ± {c['roc_auc_std']:.3f} ({c['ap_mean']:.2f})"


def plot(table: list[dict], tasks: list[D.Task], out) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(13, 6.5), constrained_layout=True)
    n = len(table)
    colours = plt.get_cmap("tab20").colors
    width = 0.8 / n
    for j, row in enumerate(table):
        means = [row["tasks"][t.name]["roc_auc_mean"] or np.nan for t in tasks]
        stds = [row["tasks"][t.name]["roc_auc_std"] or 0 for t in tasks]
        ax.bar(np.arange(len(tasks)) + (j - n / 2 + 0.5) * width, means, width, yerr=stds, capsize=2,
               color=colours[j % len(colours)], label=row["system"].replace("**", "").replace("`", ""))
    ax.set_xticks(np.arange(len(tasks)), [t.name.replace("-to-", "\n-> ") for t in tasks], fontsize=8)
    ax.set(ylim=(0.3, 1.0), ylabel="test ROC-AUC (mean ± std over seeds)", title="real-music benchmark")
    ax.axhline(0.5, color="k", lw=0.5)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=3)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--tasks", nargs="*", help="task names (default: all)")
    p.add_argument("--fresh", action="store_true", help="ignore the progress file of an earlier run")
    p.add_argument("--summary-only", action="store_true", help="train nothing: write up the runs already made")
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--import-runs", metavar="JSON",
                   help="start the progress file from the runs of an earlier results file (e.g. results/realmusic.json)")
    args = p.parse_args(argv)
    t_start = time.perf_counter()
    D.main(["--jobs", str(os.cpu_count())])
    from pers_rec.audio.cache import open_cache

    rows = D.read_catalog()
    by_id = {r["id"]: r for r in rows}
    tasks = [t for t in D.read_tasks() if not args.tasks or t.name in args.tasks]
    cache = open_cache(D.cache_dir() / "pers_rec_cache")
    feats, paths = load_features(rows, cache)
    print(f"features of {len(feats)} excerpts ready ({time.perf_counter() - t_start:.0f} s)", flush=True)

    from pers_rec.model import baseline as B

    controls = {t.name: metadata_control(t, by_id) for t in tasks}
    baselines = {}
    for t in tasks:
        labels = np.r_[np.ones(len(t.train_pos)), np.zeros(len(t.train_neg))]
        base = B.fit([feats[i] for i in t.train_pos + t.train_neg], labels, 0)
        m = B.metrics(_y_test(t), [base.score(feats[i]) for i in t.test_pos + t.test_neg])
        baselines[t.name] = {"roc_auc": m.roc_auc, "ap": m.ap}

    teacher = None
    from pers_rec.model import teacher as T

    if T.checkpoint_dir() is not None:
        vectors = teacher_tracks(paths)
        teacher = {t.name: vectors_control(t, vectors) for t in tasks}
    bliss_vectors = bliss_tracks(paths)
    bliss = None if bliss_vectors is None else {t.name: vectors_control(t, bliss_vectors) for t in tasks}
    progress = D.cache_dir() / "realmusic_runs.jsonl"
    if args.import_runs and not progress.exists():
        earlier = json.loads(open(args.import_runs).read())["runs"]
        progress.write_text("".join(json.dumps(r) + "\n" for r in earlier))
    done = [] if args.fresh or not progress.exists() else [json.loads(x) for x in progress.read_text().splitlines() if x]
    done = list({(r["task"], variant_of(r), r["seed"]): r for r in reversed(done)}.values())[::-1]  # one per key
    key = {(r["task"], variant_of(r), r["seed"]) for r in done}
    runs = [r for r in done if r["task"] in {t.name for t in tasks} and variant_of(r) in args.variants
            and r["seed"] < args.seeds]
    if args.fresh and progress.exists():
        progress.unlink()
    for variant in args.variants:
        for t in tasks:
            for seed in range(args.seeds):
                if (t.name, variant, seed) in key or args.summary_only:
                    continue
                r = run_one(t, variant, seed, feats, paths, cache)
                runs.append(r)
                with open(progress, "a") as f:
                    f.write(json.dumps(r) + "\n")
                print(f"{t.name} {variant} seed {seed}: default {r['default']['roc_auc']:.3f} network "
                      f"{r['network']['roc_auc']:.3f} (baseline {baselines[t.name]['roc_auc']:.3f}), "
                      f"train {r['train_s']:.0f} s, {time.perf_counter() - t_start:.0f} s so far", flush=True)
    cache.close()
    wall = time.perf_counter() - t_start
    table = summarize(runs, tasks, controls, baselines, args.variants, teacher, bliss)
    write_up(table, runs, tasks, baselines, wall, args, teacher, bliss)
    return 0


def write_up(table, runs, tasks, baselines, wall, args, teacher=None, bliss=None) -> None:
    from pathlib import Path

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(table, tasks, out / "realmusic.png")
    env = environment(keras=True)
    default = [r for r in runs if variant_of(r) == "cnn_lstm"]
    pre_s = sorted({r["pretrain_s"] for r in runs if r.get("pretrain_s")})
    lines = [
        "# Real-music benchmark",
        "",
        f"Written by `python -m experiments.realmusic` (`make realmusic`) on this machine ({env['cpus']} CPUs, "
        f"Keras backend {env['backend']} on {env['device']}). Its {len(runs)} trainings took "
        f"{sum(r['train_s'] + r['rank_s'] for r in runs) / 60:.0f} min of training and ranking in all (each run is "
        "kept in a progress file in the cache folder, so the benchmark can be resumed and spread over processes; "
        "timings of runs made while another ran beside them are inflated). "
        f"Data: {sum(1 for _ in D.read_catalog())} tracks from Debian game-soundtrack packages "
        "(`experiments/realmusic/catalog.csv`), each reduced to a normalised excerpt (middle 120 s, mono 24 kHz, "
        "RMS -20 dBFS, anonymous names), so length, rate, format and loudness are the same for every track. "
        "Styles were assigned from the game and music folder, not by listening (the catalog says how confident). "
        f"Splits by track in `experiments/realmusic/tasks.json`. Seeds: {args.seeds}.",
        "",
        "Cells: test ROC-AUC mean ± std over seeds (average precision in brackets). The baseline and the "
        "metadata control are deterministic (one value).",
        "",
        "| system | " + " | ".join(f"{t.name} ({t.kind}, {len(t.train_pos)} likes)" for t in tasks) + " |",
        "|---|" + "---|" * len(tasks),
    ]
    lines += [f"| {row['system']} | " + " | ".join(_cell(row["tasks"][t.name]) for t in tasks) + " |" for row in table]
    d = next(r for r in table if r["system"].startswith("**default"))
    ran_default = all(d["tasks"][t.name]["roc_auc_mean"] is not None for t in tasks)
    if not ran_default:  # a subset of --variants: the rows it ran, no targets
        lines += ["", "The default `train` was not among the variants run: no targets section."]
    else:
        wins = [t.name for t in tasks if d["tasks"][t.name]["roc_auc_mean"] > baselines[t.name]["roc_auc"]]
        cross = [t for t in tasks if t.kind == "cross-source"]
        margin = {t.name: d["tasks"][t.name]["roc_auc_mean"] - baselines[t.name]["roc_auc"] for t in tasks}
        worst_std = max(d["tasks"][t.name]["roc_auc_std"] for t in tasks)
        gaps = [r["cv_roc_auc"] - r["default"]["roc_auc"] for r in default if r["cv_roc_auc"] is not None]
        lines += [
            "",
            "## Against the targets",
            "",
            f"- Default beats the baseline (mean over seeds) on {len(wins)} of {len(tasks)} tasks"
            + (f" (not on: {', '.join(t.name for t in tasks if t.name not in wins)})" if len(wins) < len(tasks) else "")
            + ". Margins: " + ", ".join(f"{k} {v:+.3f}" for k, v in margin.items()) + ".",
            "- Cross-source margin target (>= +0.03 on each): "
            + ("met" if all(margin[t.name] >= 0.03 for t in cross) else "not met") + ".",
            f"- Seed-to-seed std of the default, worst task: {worst_std:.3f} (target <= 0.02: "
            + ("met" if worst_std <= 0.02 else "not met") + ").",
            f"- Training time of the default, mean {np.mean([r['train_s'] for r in default]):.0f} s per task "
            f"({min(r['train_s'] for r in default):.0f}-{max(r['train_s'] for r in default):.0f} s, 70-90 training tracks "
            f"of 120 s); ranking the test library (about 90 tracks, features cached) "
            f"{np.mean([r['rank_s'] for r in default]):.1f} s.",
            f"- The report's cross-validated ROC-AUC minus the test ROC-AUC, default runs: mean {np.mean(gaps):+.3f}, "
            f"range {min(gaps):+.3f} to {max(gaps):+.3f}. The folds are grouped by album, but in every task the training "
            "likes come from one album (one game), so the likes are still split by track and the report cannot see a "
            "change of source; on the cross-source tasks it stays optimistic.",
            ("- Contrastive pre-training on all excerpts (no labels; 15 epochs), once per seed: "
             + ", ".join(f"{x:.0f} s" for x in pre_s) + "." if pre_s else "- Pre-training was not run."),
            f"- Stacking was chosen by cross-validation in {sum(r['blend_chosen'] == 'stacked' for r in default)} of "
            f"{len(default)} default runs.",
        ]
        lines += listener_targets(runs, table, tasks, baselines, teacher, bliss)
    lines += ["", "## Each row against the default", "",
              "Mean over tasks of (row - default) test ROC-AUC, and on how many tasks the row's mean is higher. "
              "A difference smaller than the seeds' spread is not evidence either way.", "",
              "| row | mean difference | tasks higher |", "|---|---|---|"]
    for row in table if ran_default else []:
        if row is d or row["tasks"][tasks[0].name]["roc_auc_mean"] is None:
            continue
        diffs = [row["tasks"][t.name]["roc_auc_mean"] - d["tasks"][t.name]["roc_auc_mean"] for t in tasks
                 if row["tasks"][t.name]["roc_auc_mean"] is not None]
        lines.append(f"| {row['system']} | {np.mean(diffs):+.3f} | {sum(x > 0 for x in diffs)} of {len(diffs)} |")
    write_results("realmusic", {"env": env, "wall_s": wall, "seeds": args.seeds, "table": table, "runs": runs,
                                "baseline": baselines, "tasks": [t.name for t in tasks]}, lines, args.out)
    print("\n".join(lines))


def listener_targets(runs, table, tasks, baselines, teacher, bliss=None) -> list[str]:
    """The issue's targets for what a listener gets with no options: the shipped encoder, without and with the
    teacher installed, and with its own vectors' stack weighed (``pers-rec train``'s ``auto``)."""
    lines = []
    for v in ("cnn_lstm+candidate", "cnn_lstm+shipped+encoder-always", "cnn_lstm+shipped+encoder", "cnn_lstm+shipped",
              "cnn_lstm+shipped+teacher"):
        row = next((r for r in table if r["system"] == LABELS[v]), None)
        mine = [r for r in runs if variant_of(r) == v]
        if row is None or not mine or any(row["tasks"][t.name]["roc_auc_mean"] is None for t in tasks):
            continue
        mean = {t.name: row["tasks"][t.name]["roc_auc_mean"] for t in tasks}
        over = {t.name: mean[t.name] - baselines[t.name]["roc_auc"] for t in tasks if t.kind == "cross-source"}
        worst = max(row["tasks"][t.name]["roc_auc_std"] for t in tasks)
        lines += ["", f"## Against the targets: `{v}`", "", LABELS[v] + ".", "",
                  "- Over the MFCC baseline on the cross-source tasks (target >= +0.03 on each): "
                  + ", ".join(f"{k} {x:+.3f}" for k, x in over.items())
                  + (" (met)." if all(x >= 0.03 for x in over.values()) else " (not met).")]
        if teacher:
            gap = np.mean([mean[t.name] for t in tasks]) - np.mean([teacher[t.name]["roc_auc"] for t in tasks])
            lines.append(f"- Mean over tasks minus teacher + LR (target >= -0.02): {gap:+.3f}"
                         + (" (met)." if gap >= -0.02 else " (not met)."))
        if bliss:
            over_bliss = {t.name: mean[t.name] - bliss[t.name]["roc_auc"] for t in tasks}
            lines.append("- Over the bliss row on every task (target >= 0): "
                         + ", ".join(f"{k} {x:+.3f}" for k, x in over_bliss.items())
                         + (" (met)." if all(x >= 0 for x in over_bliss.values()) else " (not met)."))
        lines += [f"- Worst seed-to-seed std (target <= 0.02): {worst:.3f}" + (" (met)." if worst <= 0.02 else " (not met)."),
                  f"- Training time per task: mean {np.mean([r['train_s'] for r in mine]):.0f} s, "
                  f"{min(r['train_s'] for r in mine):.0f}-{max(r['train_s'] for r in mine):.0f} s (target <= 180 s; "
                  "70-90 training tracks of 120 s; the teacher's vectors, cached, not included)."]
        chosen = [r["blend_chosen"] for r in mine]
        lines.append("- Blend chosen by cross-validation: " + ", ".join(f"{c} {chosen.count(c)}" for c in sorted(set(chosen)))
                     + f" of {len(chosen)} runs.")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
