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
    _atomic_csv(meta, out / "labels.csv")
    print(f"wrote {len(ds)} clips ({ds.labels.sum()} labelled 1: {ds.rule}) and labels.csv to {out}")
    return EXIT_OK


def _atomic_csv(df, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.part")
    df.to_csv(tmp, index=False)
    tmp.replace(path)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pers-rec",
        description="Learn one listener's taste from the audio itself and rank their music library.",
    )
    p.add_argument("--version", action="version", version=f"pers-rec {__version__}")
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
    return p


def main(argv: list[str] | None = None) -> int:
    from .errors import PersRecError

    args = build_parser().parse_args(argv)
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
