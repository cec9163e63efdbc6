"""``pers-rec features``, ``synth`` and ``demo``: look at files, make probe datasets, run the demo."""

from __future__ import annotations

from pathlib import Path

from ..errors import EXIT_NOTHING, EXIT_OK, EXIT_SOME_FAILED
from .common import check_backend, int_at_least, say, subcommand, warn


def add_parser(sub) -> None:
    f = subcommand(sub, "features", "decode files and print their feature shapes and timing",
                   "pers-rec features a.mp3 b.flac")
    f.add_argument("files", nargs="+", help="audio files")
    f.set_defaults(run=lambda args: features(args.files))

    s = subcommand(sub, "synth", "write a staged probe dataset as WAV files plus labels.csv",
                   "pers-rec synth 8 --out /tmp/songs --n 5")
    s.add_argument("stage", choices=[str(i) for i in range(1, 9)] + ["exp1", "exp2"], help="stage 1-8, exp1 or exp2")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--n", type=int_at_least(1), default=10, help="clips per class (exp1 always has 10 pitches)")
    s.add_argument("--seed", type=int, default=0, help="random seed")
    s.set_defaults(run=lambda args: synth_dataset(args.stage, args.out, args.n, args.seed))

    d = subcommand(sub, "demo", "generate a synthetic library and listener, train, rank, and report (no music needed)",
                   "pers-rec demo --out demo_out", jobs=True)
    d.add_argument("--out", default="demo_out", help="output folder")
    d.add_argument("--tracks", type=int_at_least(8), default=48, help="songs in the synthetic library")
    d.add_argument("--seed", type=int, default=0, help="random seed")
    d.set_defaults(run=_demo)


def _demo(args) -> int:
    check_backend()
    from . import demo

    summary = demo.run(args.out, n_tracks=args.tracks, seed=args.seed, jobs=args.jobs, quiet=args.quiet)
    return EXIT_OK if summary["heldout_roc_auc"] is not None else EXIT_SOME_FAILED


def features(files) -> int:
    """Decode files and print their feature shapes and speed."""
    import time

    from ..audio.features import duration_s, extract, fit_to_window, n_windows
    from ..config import FeatureConfig
    from ..errors import AudioError

    cfg = FeatureConfig()
    failed = 0
    for path in files:
        t0 = time.perf_counter()
        try:
            M = extract(path, cfg)
            fit_to_window(M, cfg, path)
        except AudioError as exc:
            warn(f"error: {exc}")
            failed += 1
            continue
        dt = time.perf_counter() - t0
        dur = duration_s(M, cfg)
        say(f"{path}: {dur:.1f} s -> {cfg.kind} {M.shape[0]} frames x {M.shape[1]} at {cfg.fps} fps, "
            f"{n_windows(M.shape[0], cfg)} windows of {cfg.window_s} s; {dt:.3f} s ({dur / dt:.0f}x real time)")
    if failed == len(files):
        return EXIT_NOTHING
    return EXIT_SOME_FAILED if failed else EXIT_OK


def synth_dataset(stage: str, out, n: int, seed: int) -> int:
    """A staged probe dataset as WAV files plus ``labels.csv``."""
    import synth
    from synth.io import write

    from ..fileio import write_text

    out = Path(out)
    if stage == "exp1":
        ds = synth.exp1(seed=seed)
    elif stage == "exp2":
        ds = synth.exp2(n, seed=seed)
    else:
        ds = synth.stage(int(stage), n, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    for clip, name in zip(ds.clips, ds.meta["clip"]):
        write(out / f"{name}.wav", clip, ds.sr)
    meta = ds.meta.assign(path=[f"{c}.wav" for c in ds.meta["clip"]])
    write_text(out / "labels.csv", meta.to_csv(index=False))
    say(f"wrote {len(ds)} clips ({ds.labels.sum()} labelled 1: {ds.rule}) and labels.csv to {out}")
    return EXIT_OK
