"""The ``pers-rec`` command line: wires the modules together, nothing more.

Heavy libraries (TensorFlow, librosa) are imported inside the subcommands
that need them, so ``pers-rec --help`` and ``--version`` answer at once.

Exit codes: 0 success; 1 some files failed (the run still finished, see the
``status``/``error`` columns); 2 bad arguments or input; 3 nothing could be
ranked or trained; 130 interrupted (Ctrl-C; finished work is kept).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import __version__

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_NOTHING, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _cmd_features(args) -> int:
    from . import features
    from .errors import AudioError

    cfg = features.FeatureConfig()
    failed = 0
    for path in args.files:
        t0 = time.perf_counter()
        try:
            M = features.extract(path, cfg)
        except AudioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        dt = time.perf_counter() - t0
        dur = features.duration_s(M, cfg)
        print(
            f"{path}: {dur:.1f} s -> {cfg.kind} {M.shape[0]} frames x {M.shape[1]} at {cfg.fps} fps, "
            f"{features.n_windows(M.shape[0], cfg)} windows of {cfg.window_s} s; {dt:.3f} s ({dur / dt:.0f}x real time)"
        )
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _cmd_synth(args) -> int:
    import synth
    from synth.io import write

    from .fileio import write_text

    out = Path(args.out)
    if args.stage == "exp1":
        ds = synth.exp1(seed=args.seed)
    elif args.stage == "exp2":
        ds = synth.exp2(args.n, seed=args.seed)
    else:
        ds = synth.stage(int(args.stage), args.n, seed=args.seed)
    out.mkdir(parents=True, exist_ok=True)
    for clip, name in zip(ds.clips, ds.meta["clip"]):
        write(out / f"{name}.wav", clip, ds.sr)
    meta = ds.meta.assign(path=[f"{c}.wav" for c in ds.meta["clip"]])
    write_text(out / "labels.csv", meta.to_csv(index=False))
    print(f"wrote {len(ds)} clips ({ds.labels.sum()} labelled 1: {ds.rule}) and labels.csv to {out}")
    return EXIT_OK


def _cache_args(p) -> None:
    p.add_argument("--cache", metavar="DIR", help="feature cache folder (default: ~/.cache/pers_rec)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the feature cache")
    p.add_argument("--jobs", "-j", type=int, default=None, help="decoding worker processes (default: one per CPU core)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def _open_cache(args):
    from .library import open_cache

    return open_cache(args.cache, enabled=not args.no_cache)


def _cmd_train(args) -> int:
    from . import features, train
    from . import model as Mo

    cfg = features.FeatureConfig()
    mcfg = Mo.ModelConfig(arch=args.arch)
    tcfg = train.TrainConfig(max_epochs=args.epochs, folds=args.ensemble or args.folds, ensemble=bool(args.ensemble),
                             windows_per_track=args.windows_per_track, seed=args.seed)
    cache = _open_cache(args)
    try:
        result = train.run(args.likes, args.dislikes, args.library, args.model, cfg, mcfg, tcfg, cache=cache,
                           jobs=args.jobs, progress=not args.quiet)
    finally:
        if cache:
            cache.close()
    rep = result.report
    cv = rep["cross_validation"]
    t = rep["tracks"]
    for f in rep["failed"]:
        print(f"skipped {f['path']}: {f['error']}", file=sys.stderr)
    print(f"trained {args.arch} on {t['total']} tracks ({t['liked']} liked, {t['not_liked']} not: "
          f"{t['by_source']['dislike']} disliked, {t['by_source']['unlabelled']} unlabelled) in {rep['seconds']:.0f} s")
    m, b = cv["model"], cv["baseline"]
    print(f"{cv['folds']}-fold cross-validated track ROC-AUC {m['roc_auc_mean']:.3f} +- {m['roc_auc_std']:.3f}, "
          f"AP {m['ap_mean']:.3f} (at {m['epochs']} epochs, chosen by this figure)")
    print(f"baseline (MFCC statistics + logistic regression): ROC-AUC {b['roc_auc_mean']:.3f} +- {b['roc_auc_std']:.3f}, "
          f"AP {b['ap_mean']:.3f}")
    model_path = Path(args.model)
    print(f"wrote {model_path}, {model_path.with_suffix('.json')}, {model_path.with_suffix('.png')}")
    return EXIT_SOME_FAILED if rep["failed"] else EXIT_OK


def _cmd_rank(args) -> int:
    from . import model as Mo
    from . import rank
    from .library import scan

    saved = Mo.load(args.model)
    paths = scan(args.library)
    if not paths:
        print(f"pers-rec: no audio files found under {args.library}", file=sys.stderr)
        return EXIT_NOTHING
    exclude = set() if args.include_liked else rank.liked_paths(saved)
    cache = _open_cache(args)
    try:
        df = rank.rank(paths, saved, cache=cache, jobs=args.jobs, exclude=exclude, progress=not args.quiet)
    finally:
        if cache:
            cache.close()
    rank.write_csv(df, args.out)
    ok = df[df["status"] == "ok"]
    if args.m3u:
        rank.write_m3u(df, args.m3u, top=args.top)
    n_err = len(df) - len(ok)
    print(f"ranked {len(ok)} tracks ({len(paths) - len(df)} liked tracks left out, {n_err} failed) -> {args.out}"
          + (f", top {min(args.top, len(ok))} -> {args.m3u}" if args.m3u else ""))
    for r in ok.head(10).itertuples():
        print(f"{r.rank:>4}  {r.score:.3f}  best {r.best_start_s:.0f}-{r.best_end_s:.0f} s  {r.path}")
    for r in df[df["status"] != "ok"].itertuples():
        print(f"error: {r.path}: {r.error}", file=sys.stderr)
    if ok.empty:
        return EXIT_NOTHING
    return EXIT_SOME_FAILED if n_err else EXIT_OK


def _cmd_explain(args) -> int:
    from . import model as Mo
    from . import rank

    saved = Mo.load(args.model)
    out = args.out or f"{Path(args.track).stem}.explain.png"
    cache = _open_cache(args)
    try:
        s = rank.explain(args.track, saved, out, cache=cache)
    finally:
        if cache:
            cache.close()
    print(f"{args.track}: score {s.score:.3f} over {s.n_windows} windows; best {s.best_start_s:.0f}-{s.best_end_s:.0f} s "
          f"({s.best_score:.3f}); plot -> {out}")
    return EXIT_OK


def _cmd_demo(args) -> int:
    from . import demo

    demo.run(args.out, n_tracks=args.tracks, seed=args.seed, jobs=args.jobs, quiet=args.quiet)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pers-rec",
        description="Learn one listener's taste from the audio itself and rank their music library.",
    )
    p.add_argument("--version", action="version", version=f"pers-rec {__version__}")
    p.add_argument("--cpu", action="store_true", help="never use a GPU (hides GPUs from the Keras backend)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    f = sub.add_parser("features", help="decode files and print their feature shapes and timing")
    f.add_argument("files", nargs="+", help="audio files")
    f.set_defaults(func=_cmd_features)

    s = sub.add_parser("synth", help="write a staged probe dataset as WAV files plus labels.csv")
    s.add_argument("stage", choices=[str(i) for i in range(1, 9)] + ["exp1", "exp2"], help="stage 1-8, exp1 or exp2")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--n", type=int, default=10, help="clips per class (default 10; exp1 always has 10 pitches)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_synth)

    t = sub.add_parser("train", help="learn a listener's taste from liked (and disliked or unlabelled) tracks")
    t.add_argument("--likes", required=True, help="liked tracks: M3U/M3U8 playlist, text list, CSV (path,label) or folder")
    t.add_argument("--dislikes", help="disliked tracks, same formats")
    t.add_argument("--library", help="folder of the whole library: tracks not liked serve as unlabelled negatives")
    t.add_argument("--model", required=True, help="output model file (.keras); report and curves go beside it")
    t.add_argument("--arch", choices=["cnn_lstm", "cnn", "cnn_gpool"], default="cnn_lstm")
    t.add_argument("--epochs", type=int, default=20, help="maximum epochs per cross-validation fold (default 20)")
    t.add_argument("--folds", type=int, default=5, help="cross-validation folds over tracks (default 5)")
    t.add_argument("--ensemble", type=int, metavar="K", help="keep the K fold models and average them (implies --folds K)")
    t.add_argument("--windows-per-track", type=int, default=8, help="random 8 s windows per track per epoch (default 8)")
    t.add_argument("--seed", type=int, default=0)
    _cache_args(t)
    t.set_defaults(func=_cmd_train)

    r = sub.add_parser("rank", help="score every track of a folder and write the ranking")
    r.add_argument("library", help="music folder (scanned recursively)")
    r.add_argument("--model", required=True)
    r.add_argument("--out", default="ranking.csv", help="ranking CSV (default ranking.csv)")
    r.add_argument("--m3u", help="also write an M3U playlist of the top tracks")
    r.add_argument("--top", type=int, default=50, help="tracks in the M3U (default 50)")
    r.add_argument("--include-liked", action="store_true", help="also rank the tracks the model was trained on as likes")
    _cache_args(r)
    r.set_defaults(func=_cmd_rank)

    e = sub.add_parser("explain", help="plot a track's window-score timeline over its MFCCs")
    e.add_argument("track")
    e.add_argument("--model", required=True)
    e.add_argument("--out", help="PNG path (default TRACK.explain.png in the current folder)")
    _cache_args(e)
    e.set_defaults(func=_cmd_explain)

    d = sub.add_parser("demo", help="generate a synthetic library and listener, train, rank, and report (no music needed)")
    d.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    d.add_argument("--tracks", type=int, default=48, help="songs in the synthetic library (default 48)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--jobs", "-j", type=int, default=None)
    d.add_argument("--quiet", "-q", action="store_true")
    d.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    from .errors import PersRecError

    args = build_parser().parse_args(argv)
    if args.cpu:
        from .device import force_cpu

        force_cpu()
    try:
        return args.func(args)
    except PersRecError as exc:
        print(f"pers-rec: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("pers-rec: interrupted; finished work is kept", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
