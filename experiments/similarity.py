"""Experiment: do the track embeddings put like with like? Synthetic leads and real-music styles.

Two measurements, each against the MFCC-statistics cosine baseline (the
baseline's track features, z-scored over the library) and, as Deej-A.I. did, a
trunk with random weights (what the architecture alone gives):

1. **Synthetic songs.** ``--songs`` random songs (``synth.random_song``: the
   lead cycles through the five instruments; key, mode, tempo and accompaniment
   drawn at random), 30 s each. For each song, the fraction of its 10 nearest
   neighbours (cosine) that share its lead instrument. The embedding is the
   encoder pre-trained on these songs (``pers-rec pretrain``'s recipe, no labels).
2. **Real music** (``experiments.realmusic_data``'s 176 excerpts, when built):
   precision@10 of same-style neighbours over the excerpts with a style of
   medium or high confidence (orchestral, electronic, cartoon), with the
   encoder pre-trained on all 176 excerpts without labels (the same weights
   ``experiments.realmusic`` uses). Games' soundtracks share their production,
   so the table also counts only neighbours from *other* packages (sources).

Each embedding row is the mean +- std over ``--seeds`` pre-training seeds, with
mean pooling and with Deej-A.I.'s distinctive-window weighting.

``python -m experiments.similarity`` writes ``results/similarity.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from experiments.common import RESULTS, environment, write_results

LEADS = ("flute", "guitar", "piano", "strings", "clarinet")


def knn_agreement(V: np.ndarray, labels: np.ndarray, k: int = 10, groups: np.ndarray | None = None) -> float:
    """Mean over items of the fraction of their ``k`` nearest neighbours (cosine, self excluded) sharing the label;
    with ``groups``, neighbours from the item's own group are not candidates."""
    V = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
    C = V @ V.T
    np.fill_diagonal(C, -np.inf)
    if groups is not None:
        C[groups[:, None] == groups[None, :]] = -np.inf
    nn = np.argsort(-C, axis=1, kind="stable")[:, :k]
    return float((labels[nn] == labels[:, None]).mean())


def mfcc_stats(mats: list[np.ndarray]) -> np.ndarray:
    """The baseline's track features, z-scored over the library (so cosine weighs every statistic alike)."""
    from pers_rec.model import baseline as B

    X = np.stack([B.track_features(M) for M in mats])
    return (X - X.mean(0)) / np.maximum(X.std(0), 1e-9)


def embeddings(mats: list[np.ndarray], seed: int, pretrained=None) -> dict[str, np.ndarray]:
    """Track vectors (mean and distinctive pooling) from pre-trained weights, or from random weights if None."""
    import keras

    from pers_rec.audio import features
    from pers_rec.audio.features import FeatureConfig
    from pers_rec.learn import pretrain as P
    from pers_rec.library import embed as E
    from pers_rec.model import networks as Mo
    from pers_rec.model.checkpoint import SavedModel

    cfg, mcfg = FeatureConfig(), Mo.ModelConfig()
    keras.utils.set_random_seed(seed)
    model = Mo.build(cfg, mcfg, stats=features.feature_stats(mats))
    if pretrained is not None:
        P.apply(model, pretrained)
    emb = E.Embedder(SavedModel(model, cfg, mcfg))
    Ws = [emb.window_vectors(M) for M in mats]
    ref = E.IdfReference.build(Ws)
    return {"mean": np.stack([E.normalise(W.mean(0)) for W in Ws]), "distinctive": np.stack([ref.pool(W) for W in Ws])}


def synthetic(n_songs: int, seeds: int, duration_s: float) -> dict:
    import synth
    from pers_rec.audio import features as F
    from pers_rec.learn import pretrain as P
    from pers_rec.model import networks as Mo

    cfg = F.FeatureConfig()
    rng = np.random.default_rng(0)
    mats, leads = [], []
    for i in range(n_songs):
        y, meta = synth.random_song(cfg.sr, rng, LEADS[i % len(LEADS)], duration_s)
        mats.append(F.compute(y * float(10 ** (rng.uniform(-9, 0) / 20)), cfg))
        leads.append(meta["lead"])
    leads = np.array(leads)
    out = {"songs": n_songs, "duration_s": duration_s, "mfcc_stats": knn_agreement(mfcc_stats(mats), leads)}
    for seed in range(seeds):
        t0 = time.perf_counter()
        pre = P.pretrain(mats, cfg, Mo.ModelConfig(), P.PretrainConfig(seed=seed))
        for name, pretrained in (("pretrained", pre), ("random", None)):
            for pooling, V in embeddings(mats, seed, pretrained).items():
                out.setdefault(f"{name}/{pooling}", []).append(knn_agreement(V, leads))
        print(f"synthetic seed {seed}: {time.perf_counter() - t0:.0f} s "
              f"{ {k: round(v[-1], 3) for k, v in out.items() if isinstance(v, list)} }", flush=True)
    return out


def styled_excerpts(rows: list[dict]) -> tuple:
    """The real excerpts' features and paths, their ids in order, and the indices, styles and packages of those
    with a confident style (the ones neighbours are judged on)."""
    from experiments import realmusic as RM
    from experiments import realmusic_data as D
    from pers_rec.audio.cache import open_cache

    feats, paths = RM.load_features(rows, open_cache(D.cache_dir() / "pers_rec_cache"))
    ids = sorted(feats)
    by_id = {r["id"]: r for r in rows}
    keep = [i for i, x in enumerate(ids) if by_id[x]["confidence"] in ("medium", "high")
            and by_id[x]["style"] in ("orchestral", "electronic", "cartoon")]
    return (feats, paths, ids, keep, np.array([by_id[ids[i]]["style"] for i in keep]),
            np.array([by_id[ids[i]]["package"] for i in keep]))


def real(seeds: int) -> dict | None:
    from experiments import realmusic as RM
    from experiments import realmusic_data as D

    rows = D.read_catalog()
    if not all(D.excerpt_path(r).exists() for r in rows):
        print("real music: excerpts not built (python -m experiments.realmusic_data); skipped", flush=True)
        return None
    feats, _, ids, keep, styles, packages = styled_excerpts(rows)
    mats = [feats[x] for x in ids]

    def score(V):
        V = V[keep]
        return {"any": knn_agreement(V, styles), "other_package": knn_agreement(V, styles, groups=packages)}

    def chance(other_only: bool) -> float:
        """Expected precision of neighbours drawn at random from each query's candidates."""
        same = styles[:, None] == styles[None, :]
        cand = ~np.eye(len(styles), dtype=bool) & ((packages[:, None] != packages[None, :]) if other_only else True)
        return float(np.mean([same[i, cand[i]].mean() for i in range(len(styles))]))

    out = {"excerpts": len(keep), "styles": {s: int((styles == s).sum()) for s in sorted(set(styles))},
           "chance": {"any": chance(False), "other_package": chance(True)},
           "packages": {s: sorted(set(packages[styles == s])) for s in sorted(set(styles))},
           "mfcc_stats": score(mfcc_stats(mats))}
    for seed in range(seeds):
        pre, _ = RM.pretrained_for(seed, feats)
        for name, pretrained in (("pretrained", pre), ("random", None)):
            for pooling, V in embeddings(mats, seed, pretrained).items():
                for k, v in score(V).items():
                    out.setdefault(f"{name}/{pooling}", {}).setdefault(k, []).append(v)
        print(f"real seed {seed} done", flush=True)
    return out


def _ms(v) -> str:
    v = np.atleast_1d(v)
    return f"{v.mean():.3f}" + (f" +- {v.std():.3f}" if len(v) > 1 else "")


def arguments(doc: str) -> argparse.ArgumentParser:
    """The options of the experiments on synthetic songs and the real-music excerpts (this one and ``genre``)."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--songs", type=int, default=150, help="synthetic songs")
    p.add_argument("--duration", type=float, default=30.0, help="seconds per synthetic song")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--skip-real", action="store_true", help="synthetic songs only")
    p.add_argument("--out", default=str(RESULTS))
    return p


def main(argv=None) -> int:
    args = arguments(__doc__).parse_args(argv)
    t0 = time.perf_counter()
    syn = synthetic(args.songs, args.seeds, args.duration)
    rm = None if args.skip_real else real(args.seeds)
    env = environment(keras=True)
    names = {"pretrained/mean": "pre-trained encoder, mean of windows (default)",
             "pretrained/distinctive": "pre-trained encoder, distinctive windows (Deej-A.I. TF-IDF)",
             "random/mean": "random-weight encoder, mean of windows (control)",
             "random/distinctive": "random-weight encoder, distinctive windows (control)"}
    lines = [
        "# Similar tracks: do the embeddings put like with like?",
        "",
        f"Written by `python -m experiments.similarity` ({time.perf_counter() - t0:.0f} s on {env['cpus']} CPUs, "
        f"Keras {env['backend']} on {env['device']}). Embedding rows: mean +- std over {args.seeds} pre-training seeds "
        "(`pers-rec pretrain`'s defaults; the random-weight control uses the same seeds). Cosine neighbours, the "
        "track itself excluded. Baseline: cosine of the MFCC-statistics track features (mean, std and deltas of each "
        "coefficient) z-scored over the library.",
        "",
        f"## Synthetic songs: same lead instrument among the 10 nearest ({syn['songs']} songs of {syn['duration_s']:g} s, "
        f"{len(LEADS)} leads; chance {1 / len(LEADS):.2f})",
        "",
        "| track vector | 10-NN same lead |",
        "|---|---|",
        f"| MFCC statistics, cosine (baseline) | {syn['mfcc_stats']:.3f} |",
    ] + [f"| {names[k]} | {_ms(syn[k])} |" for k in names]
    if rm is not None:
        lines += [
            "",
            f"## Real music: precision@10 of same-style neighbours ({rm['excerpts']} excerpts: "
            + ", ".join(f"{n} {s} from {len(rm['packages'][s])} packages" for s, n in rm["styles"].items()) + ")",
            "",
            "'any': every other excerpt is a candidate; 'other sources': only excerpts from another game's package "
            "(same-package neighbours share production, not only style). 'chance': the precision of neighbours "
            "drawn at random from each excerpt's candidates.",
            "",
            "| track vector | P@10, any | P@10, other sources |",
            "|---|---|---|",
            f"| chance | {rm['chance']['any']:.3f} | {rm['chance']['other_package']:.3f} |",
            f"| MFCC statistics, cosine (baseline) | {rm['mfcc_stats']['any']:.3f} | "
            f"{rm['mfcc_stats']['other_package']:.3f} |",
        ] + [f"| {names[k]} | {_ms(rm[k]['any'])} | {_ms(rm[k]['other_package'])} |" for k in names]
    write_results("similarity", {"env": env, "synthetic": syn, "real": rm}, lines, args.out)
    print("\n".join(lines))
    return 0


def teacher_main(argv=None) -> int:
    """``python -m experiments.similarity_teacher``-style entry (``--teacher``): real-music P@10 of the teacher's own
    track vectors and of encoders distilled from it, beside MFCC statistics; writes ``results/similarity_teacher``."""
    from experiments import realmusic as RM
    from experiments import realmusic_data as D

    p = argparse.ArgumentParser(description="P@10 same style: the teacher and the distilled encoders")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    feats, paths, ids, keep, styles, packages = styled_excerpts(D.read_catalog())

    def score(V):
        V = np.asarray(V)[keep]
        return {"any": knn_agreement(V, styles), "other_package": knn_agreement(V, styles, groups=packages)}

    mats = [feats[x] for x in ids]
    tv = RM.teacher_tracks(paths)
    out = {"excerpts": len(keep), "mfcc_stats": score(mfcc_stats(mats)),
           "teacher": score(np.stack([tv[x] for x in ids])), "teacher_z": score(mfcc_z(np.stack([tv[x] for x in ids])))}
    from pers_rec.audio.features import FeatureConfig
    from pers_rec.learn import pretrain as P
    from pers_rec.model import networks as Mo

    ship = P.shipped(FeatureConfig(), Mo.ModelConfig())
    if ship is not None:
        out["shipped"] = score(embeddings(mats, 0, ship)["mean"])
    if os.environ.get("PERS_REC_CANDIDATE_ENCODER"):  # a candidate encoder, as realmusic measures one
        cand, _ = RM.candidate()
        out["candidate"] = score(embeddings(mats, 0, cand)["mean"])
        out["candidate_file"] = os.path.basename(os.environ["PERS_REC_CANDIDATE_ENCODER"])
    for seed in range(args.seeds):
        pre, _ = RM.distilled_for(seed, feats, paths, "mse")
        for k, v in score(embeddings(mats, seed, pre)["mean"]).items():
            out.setdefault("distilled", {}).setdefault(k, []).append(v)
    env = environment(keras=True)
    lines = ["# Similar tracks on real music: the teacher, and encoders distilled from it", "",
             f"Written by `python -m experiments.similarity --teacher` ({time.perf_counter() - t0:.0f} s on "
             f"{env['cpus']} CPUs). Precision@10 of same-style neighbours among {out['excerpts']} real excerpts, as in "
             "[similarity.md](similarity.md) (cosine; 'other sources': neighbours from another game only). The "
             "distilled encoders are `pretrain --teacher musicnn` (MSE) on all 176 excerpts, mean +- std over "
             f"{args.seeds} seeds; the teacher's vector of a track is the mean of its 3 s patches' 200-d vectors.", "",
             "| track vector | P@10, any | P@10, other sources |", "|---|---|---|",
             f"| MFCC statistics, z-scored (baseline) | {out['mfcc_stats']['any']:.3f} | "
             f"{out['mfcc_stats']['other_package']:.3f} |",
             f"| musicnn teacher's vectors | {out['teacher']['any']:.3f} | {out['teacher']['other_package']:.3f} |",
             f"| musicnn teacher's vectors, z-scored | {out['teacher_z']['any']:.3f} | "
             f"{out['teacher_z']['other_package']:.3f} |",
             f"| encoder distilled from the teacher on these 176 excerpts (mean of windows) | "
             f"{_ms(out['distilled']['any'])} | {_ms(out['distilled']['other_package'])} |"]
    if "shipped" in out:
        lines.append(f"| the shipped encoder, no labels, no pre-training (`pers_rec/data/encoder.npz`) | "
                     f"{out['shipped']['any']:.3f} | {out['shipped']['other_package']:.3f} |")
    if "candidate" in out:
        lines.append(f"| candidate encoder `{out['candidate_file']}` ($PERS_REC_CANDIDATE_ENCODER), no labels | "
                     f"{out['candidate']['any']:.3f} | {out['candidate']['other_package']:.3f} |")
    bar = out["teacher"]["other_package"] - 0.02

    def verdict(name):
        got = out[name]["other_package"]
        return f"{name} {got:.3f} ({'met' if got >= bar else f'missed by {bar - got:.3f}'})"

    lines += ["", f"Target (issue 29): an encoder's P@10 among other sources >= the teacher's own - 0.02 = {bar:.3f}: "
              + ", ".join(verdict(n) for n in ("shipped", "candidate") if n in out) + "."]
    lines += ["", "The shipped encoder and the distilled ones have heard these excerpts' soundtracks while distilling "
              "(unlabelled): read their rows as optimistic for music they have never heard."]
    write_results("similarity_teacher", {"env": env, "real": out}, lines, args.out)
    print("\n".join(lines))
    return 0


def mfcc_z(X: np.ndarray) -> np.ndarray:
    """Columns z-scored over the library (so cosine weighs every dimension alike)."""
    return (X - X.mean(0)) / np.maximum(X.std(0), 1e-9)


if __name__ == "__main__":
    import sys

    raise SystemExit(teacher_main(sys.argv[2:]) if sys.argv[1:2] == ["--teacher"] else main())
