"""Experiment: does ``pers-rec serve``'s "ask me" queue teach the model faster than asking in random order?

A simulated listener on the real-music tasks (``experiments/realmusic``): the
task's training tracks are the library, its labels answer the questions. The
listener starts with 2 likes (drawn with the seed); then each answer labels
one more track, chosen by the queue (:func:`pers_rec.library.active.ask`: uncertainty
and diversity, refitted after every answer, albums spread) or at random. After
10, 20 and 40 answers the quick learner (:func:`pers_rec.library.active.learner`,
logistic regression on the shipped encoder's track embeddings) is fitted on
the answers and scored on the task's test tracks (ROC-AUC). 3 seeds.

``python -m experiments.active`` writes ``results/active.{json,md}``.
"""

from __future__ import annotations

import argparse

import numpy as np

from experiments import realmusic_data as D
from experiments.common import RESULTS, environment, write_results

CHECKPOINTS = (10, 20, 40)


def embeddings(rows) -> dict:
    from pers_rec.audio.cache import open_cache
    from pers_rec.audio.features import FeatureConfig
    from pers_rec.learn import pretrain as P
    from pers_rec.library import embed
    from pers_rec.model import networks as Mo
    from pers_rec.model.checkpoint import SavedModel

    cfg, mcfg = FeatureConfig(), Mo.ModelConfig()
    model = Mo.build(cfg, mcfg)
    P.apply(model, P.shipped(cfg, mcfg))
    embedder = embed.Embedder(SavedModel(model, cfg, mcfg))
    paths = {r["id"]: str(D.excerpt_path(r)) for r in rows}
    cache = open_cache(D.cache_dir() / "pers_rec_cache")
    ok, V, failed, _ = embed.vectors(list(paths.values()), embedder, cache=cache, jobs=2)
    cache.close()
    by_path = dict(zip(ok, V))
    return {i: by_path[p] for i, p in paths.items() if p in by_path}


def simulate(task, vec: dict, album: dict, strategy: str, seed: int) -> dict:
    from sklearn.metrics import roc_auc_score

    from pers_rec.library import active

    pool = task.train_pos + task.train_neg
    V = np.stack([vec[i] for i in pool])
    truth = np.r_[np.ones(len(task.train_pos), int), np.zeros(len(task.train_neg), int)]
    test = task.test_pos + task.test_neg
    Vt = np.stack([vec[i] for i in test])
    yt = np.r_[np.ones(len(task.test_pos)), np.zeros(len(task.test_neg))]
    rng = np.random.default_rng(seed)
    labelled = {int(r): 1 for r in rng.choice(len(task.train_pos), size=2, replace=False)}
    order = [int(i) for i in rng.permutation(len(pool)) if int(i) not in labelled]
    groups = [album[i] for i in pool]
    out = {}
    for step in range(1, max(CHECKPOINTS) + 1):
        if strategy == "random":
            i = order.pop(0)
        else:
            i = active.ask(V, labelled, 1, groups=groups, seed=seed + step)[0]
        labelled[i] = int(truth[i])
        if step in CHECKPOINTS:
            model = active.learner(V, labelled, seed)
            out[step] = float(roc_auc_score(yt, model(Vt))) if model is not None else 0.5
    return out


def simulation_inputs(argv, description: str):
    """What a simulated-listener experiment starts from: ``(args with --seeds and --out, each track's album, each
    track's vector from the shipped encoder, the real-music tasks)``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    rows = D.read_catalog()
    return args, D.albums(rows), embeddings(rows), D.read_tasks()


def main(argv=None) -> int:
    args, album, vec, tasks = simulation_inputs(argv, __doc__.splitlines()[0])
    res = {t.name: {s: [simulate(t, vec, album, s, seed) for seed in range(args.seeds)] for s in ("queue", "random")}
           for t in tasks}
    lines = ["# Active learning: the \"ask me\" queue against random questions", "",
             f"Written by `python -m experiments.active`. A simulated listener on the real-music tasks (2 likes to "
             f"start, then one answer at a time from the task's training tracks); test ROC-AUC of the quick learner "
             f"(logistic regression on the shipped encoder's embeddings) after 10, 20, 40 answers; mean ± std over "
             f"{args.seeds} seeds.", "",
             "| task | order | " + " | ".join(f"{c} answers" for c in CHECKPOINTS) + " | answers to reach random's 40 |",
             "|---|---|" + "---|" * (len(CHECKPOINTS) + 1)]
    reached = []
    for t in tasks:
        goal = np.mean([r[40] for r in res[t.name]["random"]])
        for s in ("queue", "random"):
            cells = [f"{np.mean([r[c] for r in res[t.name][s]]):.3f} ± {np.std([r[c] for r in res[t.name][s]]):.3f}"
                     for c in CHECKPOINTS]
            first = next((c for c in CHECKPOINTS if np.mean([r[c] for r in res[t.name][s]]) >= goal - 1e-9), None)
            if s == "queue":
                reached.append(first)
            lines.append(f"| {t.name} | {s} | " + " | ".join(cells) + f" | {first if first else '> 40'} |")
    ok = sum(r is not None and r <= 20 for r in reached)
    mean = {s: {c: float(np.mean([np.mean([r[c] for r in res[t.name][s]]) for t in tasks])) for c in CHECKPOINTS}
            for s in ("queue", "random")}
    for s in ("queue", "random"):
        lines.append(f"| **mean over tasks** | {s} | " + " | ".join(f"{mean[s][c]:.3f}" for c in CHECKPOINTS) + " | |")
    lines += ["", f"- Target (the queue reaches the random order's 40-answer ROC-AUC with <= 20 answers): "
                  f"{ok} of {len(tasks)} tasks; on the mean over tasks the queue has {mean['queue'][20]:.3f} at 20 "
                  f"answers against the random order's {mean['random'][40]:.3f} at 40 ("
                  + ("met" if mean["queue"][20] >= mean["random"][40] else "not met") + ").",
              "- The quick learner is what orders the queue in the app; the network itself is retrained in the "
              "background on the same answers, which this experiment does not repeat 18 times per task."]
    write_results("active", {"env": environment(), "seeds": args.seeds, "results": res}, lines, args.out)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
