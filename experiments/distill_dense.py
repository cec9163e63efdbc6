"""A student distilled on dense targets, with production augmentation, measured on sources it never heard.

    python -m experiments.distill_dense [--epochs 10] [--filters 32] [--lstm 32] [--no-augment] [--ship]

Data: every track of the distillation catalogs (``experiments/distill_data.py``: the allowed Debian soundtracks
and music rendered from music21's corpus) whose teacher vectors are cached. **Dense targets**: every 8 s window
slid by 1 s gets the mean of musicnn's (MSD) vectors of the 3 s patches inside it (``distill_probe.window_targets``),
about 10x the windows per hour of the shipped encoder's every-10-s targets, for no extra teacher time.
**Augmentation** (the student's input only; the teacher heard the clean audio), applied to MFCC windows exactly
where the log-mel domain allows: a gain (+-12 dB), a spectral tilt (+-3 dB per octave about 1 kHz) and, half the
time, a codec-like low-pass (cut-off 4-11 kHz, 24 dB per octave), each a fixed curve over the mel bands whose
DCT is added to the window; and a tempo change of +-5 % (frames resampled along time).

**Held-out sources**: a quarter of the sources (whole packages; the renderings one source) never reach the
student; the others train it. Measured on the held-out sources: the student's own prediction of the teacher's
vector (R^2, centred cosine per window and per track), and, for the new student, the shipped encoder and MFCC
window statistics, a ridge probe fitted on the training sources' windows (as ``distill_probe``).

Writes ``results/distill_dense.{json,md}``; ``--ship`` also writes the student as ``pers_rec/data/encoder.npz``
with its provenance in ``encoder.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import time

import numpy as np

from experiments.common import ROOT, environment, write_results
from experiments.distill_data import HERE, cache_dir, read_csv, teacher_file
from experiments.distill_probe import scores, tracks

HOLDOUT_SHARE = 0.25


def spectral_curves(cfg) -> tuple[np.ndarray, np.ndarray]:
    """``(log2(f / 1 kHz) per mel band, DCT matrix)``: a curve ``H`` in dB over the bands adds ``H @ dct`` to
    a window's MFCC (the log-mel is in dB and the DCT is linear)."""
    from pers_rec.audio import features as F

    mel, _, dct = F.analysis_arrays(cfg)
    freqs = np.linspace(0, cfg.sr / 2, mel.shape[1])
    centres = (mel @ freqs) / np.maximum(mel.sum(axis=1), 1e-12)
    return np.log2(np.maximum(centres, 20.0) / 1000.0).astype(np.float32), dct


def augment_batch(M_list, starts, cfg, curves, rng) -> np.ndarray:
    """Augmented windows [shape=(n, window_frames, n_mfcc)] starting at frame ``starts[i]`` of ``M_list[i]``."""
    octaves, dct = curves
    W = cfg.window_frames
    out = np.empty((len(starts), W, dct.shape[1]), np.float32)
    for i, (M, t0) in enumerate(zip(M_list, starts)):
        r = rng.uniform(0.95, 1.05)
        idx = t0 + np.minimum(np.round(np.arange(W) * r).astype(int), len(M) - 1 - t0)
        X = M[idx].astype(np.float32)
        H = rng.uniform(-12, 12) + rng.uniform(-3, 3) * octaves
        if rng.random() < 0.5:
            cutoff = np.log2(rng.uniform(4000, 11000) / 1000.0)
            H = H - np.minimum(24.0 * np.maximum(octaves - cutoff, 0.0), 60.0)
        out[i] = X + (H @ dct)[None, :]
    return out


def load(rows, cfg, jobs, teachers=("msd",)):
    """Per track: (source, feature matrix float16, window targets [n_windows, 200 x teachers] with NaN rows, audio
    path)."""
    return [(source, M.astype(np.float16), T, path) for source, M, T, path in tracks(rows, cfg, jobs, teachers)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--windows-per-epoch", type=int, default=60000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--filters", type=int, default=32)
    ap.add_argument("--lstm", type=int, default=32)
    ap.add_argument("--n-mfcc", type=int, default=20, help="cepstral coefficients of the student's input (the "
                    "shipped encoder's and the MFCC row's stay at 20 when this differs)")
    ap.add_argument("--teachers", default="msd", help="whose vectors the student learns, joined (msd or msd,mtt); "
                    "every figure is measured on the MSD part")
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ship", action="store_true", help="write the student as pers_rec/data/encoder.npz")
    ap.add_argument("--name", default="distill_dense")
    ap.add_argument("--ship-from", metavar="NAME", help="ship the student of an earlier run (results/NAME.json)")
    args = ap.parse_args(argv)
    if args.ship_from:
        return ship_from(args.ship_from)
    import keras

    from pers_rec.audio.features import feature_stats, windows
    from pers_rec.config import FeatureConfig, ModelConfig
    from pers_rec.learn import distill
    from pers_rec.learn import pretrain as P
    from pers_rec.learn.pretrain import Pretrained
    from pers_rec.library.embed import Embedder
    from pers_rec.model import networks as Mo
    from pers_rec.model import runtime
    from pers_rec.model.checkpoint import SavedModel

    t0 = time.perf_counter()
    cfg = FeatureConfig(n_mfcc=args.n_mfcc)
    mcfg = ModelConfig(filters=(args.filters,) * 4, lstm_units=args.lstm)
    rows = [r for name in ("recordings.csv", "rendered.csv") if (HERE / name).is_file() for r in read_csv(HERE / name)]
    rows = [r for r in rows if teacher_file(r).is_file()]
    teachers = tuple(args.teachers.split(","))
    if teachers[0] != "msd":
        raise SystemExit("distill_dense: --teachers starts with msd (the figures are measured on its part)")
    data = load(rows, cfg, args.jobs, teachers)
    sources = sorted({d[0] for d in data})
    rng = np.random.default_rng(args.seed)
    held = {str(s) for s in rng.permutation(sources)[: max(1, int(round(HOLDOUT_SHARE * len(sources))))]}
    train = [d for d in data if d[0] not in held]
    test = [d for d in data if d[0] in held]
    pairs = [(i, k) for i, d in enumerate(train) for k in np.flatnonzero(np.isfinite(d[2]).all(axis=1))]
    Y_all = np.concatenate([d[2][np.isfinite(d[2]).all(axis=1)] for d in train])
    mean, std = Y_all.mean(0), Y_all.std(0) + 1e-6
    hours = {"train": len(pairs) / 3600, "test": sum(np.isfinite(d[2]).all(axis=1).sum() for d in test) / 3600}
    print(f"distill_dense: {len(train)} training tracks ({hours['train']:.1f} h of windows), {len(test)} held-out "
          f"tracks ({hours['test']:.1f} h) from {sorted(held)}", flush=True)
    curves = spectral_curves(cfg)
    hop = cfg.hop_frames

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(args.seed)

        def __len__(self):
            return args.windows_per_epoch // args.batch

        def __getitem__(self, _):
            pick = self.rng.integers(0, len(pairs), args.batch)
            chosen = [pairs[j] for j in pick]
            Ms = [train[i][1] for i, _ in chosen]
            starts = [k * hop for _, k in chosen]
            if args.no_augment:
                X = np.stack([M[s:s + cfg.window_frames] for M, s in zip(Ms, starts)]).astype(np.float32)
            else:
                X = augment_batch(Ms, starts, cfg, curves, self.rng)
            Y = np.stack([train[i][2][k] for i, k in chosen])
            return X, (Y - mean) / std

    keras.utils.set_random_seed(args.seed)
    from pers_rec.config import DistillConfig

    dcfg = DistillConfig(epochs=args.epochs, seed=args.seed, every_s=1)
    stats = feature_stats([d[1].astype(np.float32) for d in train[:200]])
    taste, student = distill.student(cfg, mcfg, dcfg, stats, Y_all.shape[1])
    hist = student.fit(Batches(), epochs=args.epochs, verbose=2)
    trunk, head = Mo.members(taste)[0]
    pre = Pretrained(trunk.get_weights(), {n: head.get_layer(n).get_weights() for n in Mo.encoder_layers(mcfg)},
                     {"method": f"distilled from musicnn {' + '.join(t.upper() + '_musicnn' for t in teachers)} "
                                "(200-d penultimates, joined), dense 1 s targets",
                      "losses": [float(v) for v in hist.history["loss"]], "feature_config": cfg.to_dict(),
                      "model_config": mcfg.to_dict()})

    # ---- measured on the held-out sources ----
    def windows_of(d):
        ok = np.isfinite(d[2]).all(axis=1)
        return windows(d[1].astype(np.float32), cfg)[ok], d[2][ok]

    Xs, Ts, track = [], [], []
    for j, d in enumerate(test):
        X, T = windows_of(d)
        Xs.append(X)
        Ts.append(T)
        track.append(np.full(len(T), j))
    msd = slice(0, 200)  # every figure on the MSD teacher's part, comparable across runs
    Tt, track = np.concatenate(Ts)[:, msd], np.concatenate(track)
    direct = (np.concatenate([student.predict(X, batch_size=512, verbose=0) for X in Xs]) * std + mean)[:, msd]
    res = {"student, its own head (200-d)": scores(direct, Tt, mean[msd], track),
           "training mean": scores(np.tile(mean[msd], (len(Tt), 1)), Tt, mean[msd], track)}
    new = Embedder(SavedModel(runtime.from_pretrained(cfg, mcfg, pre), cfg, mcfg))
    base_cfg, base_fcfg = ModelConfig(), FeatureConfig()
    shipped = Embedder(SavedModel(runtime.from_pretrained(base_fcfg, base_cfg, P.shipped(base_fcfg, base_cfg)),
                                  base_fcfg, base_cfg))
    if cfg != base_fcfg:  # the shipped encoder and the MFCC row hear the default features: read them as well
        base_data = {m[3]: m[1] for m in load(rows, base_fcfg, args.jobs)}
    else:
        base_data = {d[3]: d[1] for d in data}
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    step = 4  # the probe fits on every 4th training window (the ridge needs no more)
    for name, enc in ((f"new student, ridge probe ({args.lstm}-d)", new), ("shipped encoder, ridge probe (32-d)", shipped),
                      ("MFCC window statistics, ridge probe (40-d)", None)):
        def vecs(d, ok, enc=enc):
            if enc is not new:
                M = base_data[d[3]].astype(np.float32)
                if enc is None:
                    W = windows(M, base_fcfg)[ok]
                    return np.concatenate([W.mean(axis=1), W.std(axis=1)], axis=1)
                return enc.window_vectors(M)[ok]
            return enc.window_vectors(d[1].astype(np.float32))[ok]

        Xtr = np.concatenate([vecs(d, np.isfinite(d[2]).all(axis=1))[::step] for d in train])
        Ytr = np.concatenate([d[2][np.isfinite(d[2]).all(axis=1)][::step, msd] for d in train])
        sc = StandardScaler().fit(Xtr)
        ridge = Ridge(alpha=10.0).fit(sc.transform(Xtr), Ytr)
        Xte = np.concatenate([vecs(d, np.isfinite(d[2]).all(axis=1)) for d in test])
        res[name] = scores(ridge.predict(sc.transform(Xte)), Tt, mean[msd], track)
    wall = time.perf_counter() - t0
    out_dir = cache_dir() / "students"
    out_dir.mkdir(parents=True, exist_ok=True)
    mfcc = f"_m{args.n_mfcc}" if args.n_mfcc != 20 else ""
    saved = P.save(out_dir / f"{args.name}_f{args.filters}_l{args.lstm}{mfcc}{'_noaug' if args.no_augment else ''}.npz",
                   pre)
    lines = [f"# A student distilled on dense targets ({args.name})", "",
             f"`python -m experiments.distill_dense --epochs {args.epochs} --filters {args.filters} --lstm {args.lstm}"
             f"{' --no-augment' if args.no_augment else ''}{f' --n-mfcc {args.n_mfcc}' if args.n_mfcc != 20 else ''}"
             f"{f' --teachers {args.teachers}' if args.teachers != 'msd' else ''}` on {environment()['date']}: {len(train)} training "
             f"tracks ({hours['train']:.1f} h of 1 s windows) from {len(sources) - len(held)} sources; measured on "
             f"{len(test)} tracks ({hours['test']:.1f} h) of {len(held)} sources it never heard: "
             f"{', '.join(sorted(held))}. {args.epochs} epochs of {args.windows_per_epoch} windows, augmentation "
             f"{'off' if args.no_augment else 'on'}; {wall / 60:.0f} min in all.", "",
             "| predictor of the teacher's window vector | R^2 | centred cosine, window | centred cosine, track |",
             "|---|---:|---:|---:|"]
    lines += [f"| {k} | {v['r2']:.3f} | {v['cos_window']:.3f} | {v['cos_track']:.3f} |" for k, v in res.items()]
    lines += ["", "Targets of issue 29: R^2 >= 0.5 and centred cosine >= 0.7 on held-out sources.",
              f"Loss per epoch (standardised MSE): {', '.join(f'{v:.3f}' for v in pre.info['losses'])}."]
    write_results(args.name, {"env": environment(keras=True), "held_out": sorted(held), "hours": hours,
                              "tracks": {"train": len(train), "test": len(test)}, "args": vars(args), "results": res,
                              "losses": pre.info["losses"], "student": str(saved), "wall_s": wall}, lines)
    print("\n".join(lines))
    if args.ship:
        ship_from(args.name)
    return 0


def ship_from(name: str) -> int:
    """``pers_rec/data/encoder.npz`` from the student of run ``name`` (``results/NAME.json``), and its provenance
    in ``encoder.json``: what went in, how it was measured."""
    from experiments.common import RESULTS
    from pers_rec.config import FeatureConfig, ModelConfig
    from pers_rec.learn import pretrain as P

    run = json.loads((RESULTS / f"{name}.json").read_text())
    pre = P.load(run["student"])
    a = run["args"]
    mcfg = ModelConfig(filters=(a["filters"],) * 4, lstm_units=a["lstm"])
    pre.info.update(feature_config=FeatureConfig().to_dict(), model_config=mcfg.to_dict())
    out = ROOT / "pers_rec" / "data"
    npz = P.save(out / "encoder.npz", pre)
    (out / "encoder.json").unlink(missing_ok=True)  # P.save writes its info beside it: replaced by the provenance
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    rows = [r for f in ("recordings.csv", "rendered.csv") if (HERE / f).is_file() for r in read_csv(HERE / f)]
    used = [r for r in rows if teacher_file(r).is_file() and (r.get("package") or r["kind"]) not in run["held_out"]]
    provenance = {
        "what": "the trunk and LSTM of pers_rec's cnn_lstm network, distilled from musicnn's MSD_musicnn on dense "
                "(every 1 s window) targets, the student's input augmented (gain, tilt, low-pass, tempo)",
        "teacher": "musicnn 0.1.0, MSD_musicnn, 200-d penultimate layer (Pons & Serra 2019; ISC licence)",
        "data": {"sources": {s: sum((r.get("package") or r["kind"]) == s for r in used)
                             for s in sorted({r.get("package") or r["kind"] for r in used})},
                 "tracks": run["tracks"]["train"], "hours": round(run["hours"]["train"], 2),
                 "held_out_sources": run["held_out"], "held_out_hours": round(run["hours"]["test"], 2)},
        "made_by": f"python -m experiments.distill_dense (run {name}), shipped with --ship-from", "commit": commit,
        "heldout": run["results"], "losses": run["losses"], "model_config": mcfg.to_dict(),
        "distill_config": {"targets": "mean of the 3 s teacher patches inside each 8 s window, every 1 s",
                           "loss": "mse on standardised targets", "epochs": a["epochs"],
                           "windows_per_epoch": a["windows_per_epoch"], "augment": not a["no_augment"]},
        "sha256": hashlib.sha256(npz.read_bytes()).hexdigest(), "bytes": npz.stat().st_size,
        "wall_s": round(run["wall_s"], 1),
    }
    (out / "encoder.json").write_text(json.dumps(provenance, indent=1) + "\n")
    print(json.dumps(provenance, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
