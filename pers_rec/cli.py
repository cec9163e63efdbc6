"""The ``pers-rec`` command line: parses and checks arguments, then calls a body in ``commands``.

Every mistake a user can make in the arguments (a number out of range, an
output path that cannot be written, a missing input, a model file that is
not a safe pers_rec model) is found here, before TensorFlow is imported and
before any audio is decoded, and reported in one line with exit code 2.
Heavy libraries are imported only by the commands that need them, so
``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from pathlib import Path

from . import __version__
from .errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    ParameterError,
    PersRecError,
    ScanWarning,
    printable,
)

EXIT_CODES = f"""exit codes:
  {EXIT_OK}    everything worked
  {EXIT_SOME_FAILED}    some files failed (their rows say why); the outputs are complete for the rest
  {EXIT_USAGE}    bad arguments or bad input (a likes list, a model file, a path)
  {EXIT_NOTHING}    nothing could be ranked
  {EXIT_INTERNAL}    internal error (a bug): run with PERS_REC_DEBUG=1 for the traceback
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); finished work is kept in the feature cache"""


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions and epilogs as written, and every option's default in its help."""


def _int_at_least(lo: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {v}")
        return v

    parse.__name__ = f"integer >= {lo}"
    return parse


def _ensemble(text: str) -> int:
    v = _int_at_least(0)(text)
    if v == 1:
        raise argparse.ArgumentTypeError("an ensemble needs at least 2 fold models (0 turns it off)")
    return v


def _float_in(what: str, rule: str, ok):
    """An argparse type: a float for which ``ok(v)`` holds, else "``rule``, got ..." (``what``: what it should be)."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"{rule}, got {text}")
        return v

    parse.__name__ = what
    return parse


_fraction = _float_in("a number", "must be between 0 and 1", lambda v: 0 <= v <= 1)
_seconds = _float_in("a number of seconds", "must be 0 or more seconds", lambda v: 0 <= v < float("inf"))


def _common(cache: bool, jobs: bool) -> argparse.ArgumentParser:
    """Options subcommands share (``--cpu`` in every one, so it works before or after the subcommand)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--cpu", action="store_true", default=argparse.SUPPRESS,
                   help="never use a GPU (hides GPUs from the Keras backend)")
    if cache:
        p.add_argument("--cache", metavar="DIR", help="feature cache folder (default: ~/.cache/pers_rec)")
        p.add_argument("--no-cache", action="store_true", help="do not read or write the feature cache")
    if jobs:
        p.add_argument("--jobs", "-j", type=_int_at_least(1), default=None,
                       help="decoding worker processes (default: one per CPU core)")
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or stage summaries")
    return p


def _sub(sub, name: str, help: str, example: str, cache: bool = False, jobs: bool = False) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=f"{help[0].upper()}{help[1:]}.\n\nexample:\n  {example}",
                          epilog=EXIT_CODES, formatter_class=_Formatter, parents=[_common(cache, jobs)])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pers-rec", formatter_class=_Formatter, epilog=EXIT_CODES,
                                description="Learn one listener's taste from the audio itself and rank their music library.")
    p.add_argument("--version", action="version", version=f"pers-rec {__version__}")
    p.add_argument("--cpu", action="store_true", help="never use a GPU (hides GPUs from the Keras backend)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    t = _sub(sub, "train", "learn a listener's taste from liked (and disliked or unlabelled) tracks",
             "pers-rec train --likes liked.m3u8 --library ~/Music --model taste.keras", cache=True, jobs=True)
    t.add_argument("--target", choices=["like", "genre"], default="like",
                   help="like: a taste model from --likes; genre: a genre model (Murray) of the --library's tracks, "
                        "genres from their tags or --genres")
    t.add_argument("--likes", help="liked tracks: M3U/M3U8 playlist, text list, CSV (path,label) or folder "
                                   "(required for --target like)")
    t.add_argument("--dislikes", help="disliked tracks, same formats")
    t.add_argument("--library", help="folder of the whole library: tracks not liked serve as unlabelled negatives")
    t.add_argument("--model", required=True, help="output model file (.keras); the report (.json) and curves (.png) go beside it")
    t.add_argument("--arch", choices=["cnn_lstm", "cnn", "cnn_gpool"], default="cnn_lstm", help="network architecture")
    t.add_argument("--epochs", type=_int_at_least(1), default=20, help="maximum epochs per cross-validation fold")
    t.add_argument("--folds", type=_int_at_least(2), default=5, help="cross-validation folds over tracks")
    t.add_argument("--ensemble", type=_ensemble, default=None, metavar="K",
                   help="keep the K fold models and average them (implies --folds K; default: the --folds fold models; "
                        "0: one model retrained on all tracks instead)")
    t.add_argument("--blend", choices=["auto", "stacked", "network"], default="auto",
                   help="track score: stack the network with the MFCC-statistics baseline when cross-validation "
                        "favours it (auto), always, or the network alone")
    t.add_argument("--windows-per-track", type=_int_at_least(1), default=8, help="random 8 s windows per track per epoch")
    t.add_argument("--genres", metavar="CSV", help="--target genre: a CSV with a path column and a genre column "
                                                   "(default: the files' genre tags)")
    t.add_argument("--genre-column", default="genre", help="--target genre: the CSV's genre column")
    t.add_argument("--no-pretrained", action="store_true",
                   help="do not start from the library's pre-trained weights (see pers-rec pretrain)")
    t.add_argument("--seed", type=int, default=0, help="random seed")
    t.set_defaults(run=_train)

    pt = _sub(sub, "pretrain", "pre-train the network on a whole library without labels (contrastive)",
              "pers-rec pretrain ~/Music   # then: pers-rec train --likes liked.m3u8 --library ~/Music ...",
              cache=True, jobs=True)
    pt.add_argument("library", help="music folder (scanned recursively); every track is used, none needs a label")
    pt.add_argument("--arch", choices=["cnn_lstm", "cnn", "cnn_gpool"], default="cnn_lstm",
                    help="the architecture that train will use")
    pt.add_argument("--epochs", type=_int_at_least(1), default=15, help="pre-training epochs")
    pt.add_argument("--pairs-per-track", type=_int_at_least(1), default=4, help="positive pairs per track per epoch")
    pt.add_argument("--batch-size", type=_int_at_least(2), default=64,
                    help="pairs per batch (the other pairs of a batch are the negatives)")
    pt.add_argument("--seed", type=int, default=0, help="random seed")
    pt.set_defaults(run=_pretrain)

    si = _sub(sub, "similar", "list the library's tracks that sound most like one or more tracks",
              "pers-rec similar ~/Music/a.flac --library ~/Music --n 20 --m3u like_a.m3u8", cache=True, jobs=True)
    si.add_argument("tracks", nargs="+", metavar="TRACK", help="seed track(s); several: near their mean")
    si.add_argument("--library", required=True, help="music folder to search (scanned recursively)")
    si.add_argument("--model", help="use this taste model's encoder (default: the library's pre-trained weights)")
    si.add_argument("--pooling", choices=["mean", "distinctive"], default="mean",
                    help="a track's vector: the mean of its windows', or Deej-A.I.'s TF-IDF weighting that favours "
                         "windows common in the track and rare in the library")
    si.add_argument("--n", type=_int_at_least(1), default=20, help="tracks to list")
    si.add_argument("--m3u", help="also write them as an M3U8 playlist (.m3u8 or .m3u)")
    si.add_argument("--taste-weight", type=_fraction, default=0.0,
                    help="with --model: rank by (1-w) x cosine + w x taste score, 'like this, and to my taste'")
    si.set_defaults(run=_similar)

    pl = _sub(sub, "playlist", "make a playlist that continues from a track, or travels from one track to another",
              "pers-rec playlist --library ~/Music --from a.flac --to b.flac --n 12 --m3u trip.m3u8", cache=True, jobs=True)
    pl.add_argument("--library", required=True, help="music folder to draw from (scanned recursively)")
    how = pl.add_mutually_exclusive_group(required=True)
    how.add_argument("--seed", metavar="TRACK", help="continue from this track: each next track near the last few")
    how.add_argument("--from", dest="start", metavar="A", help="join the dots from A (with --to B)")
    pl.add_argument("--to", dest="end", metavar="B", help="...to B, in small even steps")
    pl.add_argument("--n", type=_int_at_least(2), default=30, help="tracks after the seed, or in all from A to B")
    pl.add_argument("--model", help="use this taste model's encoder (default: the library's pre-trained weights)")
    pl.add_argument("--pooling", choices=["mean", "distinctive"], default="mean",
                    help="a track's vector: the mean of its windows', or Deej-A.I.'s TF-IDF weighting that favours "
                         "windows common in the track and rare in the library")
    pl.add_argument("--max-per-artist", type=_int_at_least(1), default=None,
                    help="at most this many tracks of one artist (tags; untagged tracks are never held back)")
    pl.add_argument("--no-repeat-artist", action="store_true", help="never two tracks of one artist in a row")
    pl.add_argument("--m3u", help="write the playlist as M3U8 (.m3u8 or .m3u)")
    pl.add_argument("--csv", dest="csv_out", help="write the rows with their cosine steps as CSV")
    pl.set_defaults(run=_playlist)

    mp = _sub(sub, "map", "draw the library as a 2-D map of its track embeddings (HTML page + PNG)",
              "pers-rec map ~/Music --model taste.keras --out map.html", cache=True, jobs=True)
    mp.add_argument("library", help="music folder (scanned recursively)")
    mp.add_argument("--model", help="colour by this taste model's score and mark its likes and dislikes (and use its "
                                    "encoder); default: the library's pre-trained encoder, no colours")
    mp.add_argument("--out", default="map.html", help="HTML page; the PNG is written beside it (.png)")
    mp.add_argument("--pooling", choices=["mean", "distinctive"], default="mean", help="see pers-rec similar")
    mp.add_argument("--seed", type=int, default=0, help="t-SNE's random seed")
    mp.set_defaults(run=_map)

    fi = _sub(sub, "filters", "find the tracks and 8 s windows that drive each filter of the last conv block "
              "(playlists, index.md, first-layer kernels)",
              "pers-rec filters ~/Music --model taste.keras --out filters/", cache=True, jobs=True)
    fi.add_argument("library", help="music folder (scanned recursively)")
    fi.add_argument("--model", help="a taste model (default: the library's pre-trained encoder)")
    fi.add_argument("--out", default="filters", help="output folder")
    fi.add_argument("--top", type=_int_at_least(1), default=20, help="tracks per playlist")
    fi.set_defaults(run=_filters)

    r = _sub(sub, "rank", "score every track of a folder and write the ranking",
             "pers-rec rank ~/Music --model taste.keras --out ranking.csv --m3u top50.m3u8", cache=True, jobs=True)
    r.add_argument("library", help="music folder (scanned recursively)")
    r.add_argument("--model", required=True, help="a model written by pers-rec train (.keras)")
    r.add_argument("--out", default="ranking.csv", help="ranking CSV")
    r.add_argument("--m3u", help="also write an M3U8 playlist of the top tracks (.m3u8 or .m3u, UTF-8)")
    r.add_argument("--top", type=_int_at_least(1), default=50, help="tracks in the M3U8")
    r.add_argument("--min-track-s", type=_seconds, default=30.0,
                   help="leave tracks shorter than this out of the M3U8 (jingles, effects); 0 keeps them")
    r.add_argument("--max-per-artist", type=_int_at_least(1), default=None,
                   help="at most this many tracks of one artist in the M3U8 (by the artist tag)")
    r.add_argument("--include-liked", action="store_true", help="also rank the tracks the model was trained on as likes")
    r.set_defaults(run=_rank)

    e = _sub(sub, "explain", "plot a track's window-score timeline over its MFCCs",
             "pers-rec explain song.flac --model taste.keras --out why.png", cache=True)
    e.add_argument("track", help="an audio file")
    e.add_argument("--model", required=True, help="a model written by pers-rec train (.keras)")
    e.add_argument("--out", help="PNG path (default: TRACK.explain.png in the current folder)")
    e.set_defaults(run=_explain)

    c = _sub(sub, "cache", "show, prune or clear the feature cache", "pers-rec cache info")
    c.add_argument("action", choices=["info", "prune", "clear"],
                   help="info: entries, failures, stale entries, size; prune: drop entries of gone or changed files; "
                        "clear: drop everything")
    c.add_argument("--cache", metavar="DIR", help="feature cache folder (default: ~/.cache/pers_rec)")
    c.set_defaults(run=_cache)

    f = _sub(sub, "features", "decode files and print their feature shapes and timing", "pers-rec features a.mp3 b.flac")
    f.add_argument("files", nargs="+", help="audio files")
    f.set_defaults(run=_features)

    s = _sub(sub, "synth", "write a staged probe dataset as WAV files plus labels.csv",
             "pers-rec synth 8 --out /tmp/songs --n 5")
    s.add_argument("stage", choices=[str(i) for i in range(1, 9)] + ["exp1", "exp2"], help="stage 1-8, exp1 or exp2")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--n", type=_int_at_least(1), default=10, help="clips per class (exp1 always has 10 pitches)")
    s.add_argument("--seed", type=int, default=0, help="random seed")
    s.set_defaults(run=_synth)

    d = _sub(sub, "demo", "generate a synthetic library and listener, train, rank, and report (no music needed)",
             "pers-rec demo --out demo_out", jobs=True)
    d.add_argument("--out", default="demo_out", help="output folder")
    d.add_argument("--tracks", type=_int_at_least(8), default=48, help="songs in the synthetic library")
    d.add_argument("--seed", type=int, default=0, help="random seed")
    d.set_defaults(run=_demo)
    return p


# ---- checks and command wiring (checks first: nothing heavy is imported before they pass) ----------

def _need_dir(path, what: str) -> None:
    if not os.path.isdir(path):
        raise ParameterError(f"{what} {path}: no such folder")


def _need_input(path, what: str) -> None:
    if path is not None and not os.path.exists(path):
        raise ParameterError(f"{what} {path}: no such file or folder")


def _open_cache(args):
    from .cache import open_cache

    return open_cache(args.cache, enabled=not args.no_cache)


def _load_model(path):
    _check_backend()
    from . import checkpoint

    return checkpoint.load(path)


def _train(args) -> int:
    from .fileio import check_output

    if args.target == "genre":
        return _train_genre(args)
    if args.likes is None:
        raise ParameterError("train needs --likes (or --target genre with --library)")
    for name in ("likes", "dislikes"):
        _need_input(getattr(args, name), f"--{name}")
    if args.library is not None:
        _need_dir(args.library, "--library")
    check_output(args.model, (".keras",), "--model")
    _check_train_outputs(args)
    _check_backend()
    from . import commands, features
    from . import model as Mo
    from .train import TrainConfig

    tcfg = TrainConfig(max_epochs=args.epochs, folds=args.folds, ensemble=args.ensemble,
                       windows_per_track=args.windows_per_track, blend=args.blend, seed=args.seed)
    out = commands.TrainOutputs.beside(args.model)
    cache = _open_cache(args)
    try:
        saved = commands.train(args.likes, args.dislikes, args.library, out, features.FeatureConfig(),
                               Mo.ModelConfig(arch=args.arch), tcfg, cache=cache, jobs=args.jobs, progress=not args.quiet,
                               pretrained_dir=None if args.no_pretrained else _cache_dir(args))
    finally:
        if cache:
            cache.close()
    return commands.print_train_summary(saved, out)


def _train_genre(args) -> int:
    from .fileio import check_output

    if args.library is None:
        raise ParameterError("--target genre needs --library (the tracks to learn genres from)")
    if args.likes is not None or args.dislikes is not None:
        raise ParameterError("--likes and --dislikes are for --target like; a genre model learns from --library")
    _need_dir(args.library, "--library")
    _need_input(args.genres, "--genres")
    check_output(args.model, (".keras",), "--model")
    _check_train_outputs(args)
    _check_backend()
    from . import commands, features
    from . import model as Mo
    from .train import TrainConfig

    tcfg = TrainConfig(max_epochs=args.epochs, folds=args.folds, ensemble=args.ensemble,
                       windows_per_track=args.windows_per_track, seed=args.seed)
    cache = _open_cache(args)
    try:
        return commands.train_genre(args.library, commands.TrainOutputs.beside(args.model), features.FeatureConfig(),
                                    Mo.ModelConfig(arch=args.arch), tcfg, genres_csv=args.genres,
                                    genre_column=args.genre_column, cache=cache, jobs=args.jobs,
                                    progress=not args.quiet,
                                    pretrained_dir=None if args.no_pretrained else _cache_dir(args))
    finally:
        if cache:
            cache.close()


def _check_train_outputs(args) -> None:
    """The model, its report and its curves must not overwrite the likes, dislikes or genres list (or each other)."""
    from .commands import TrainOutputs
    from .fileio import check_not_inputs

    out = TrainOutputs.beside(args.model)
    check_not_inputs({"--model": out.model, "--model's report": out.report, "--model's curves": out.curves},
                     {"--likes": args.likes, "--dislikes": args.dislikes, "--genres": args.genres})


def _cache_dir(args):
    from .cache import default_cache_dir

    return args.cache or default_cache_dir()


def _pretrain(args) -> int:
    _need_dir(args.library, "library")
    _check_backend()
    from . import commands, features
    from . import model as Mo
    from .pretrain import PretrainConfig

    pcfg = PretrainConfig(epochs=args.epochs, pairs_per_track=args.pairs_per_track, batch_size=args.batch_size,
                          seed=args.seed)
    cache = _open_cache(args)
    try:
        return commands.pretrain(args.library, _cache_dir(args), features.FeatureConfig(), Mo.ModelConfig(arch=args.arch),
                                 pcfg, cache=cache, jobs=args.jobs, progress=not args.quiet)
    finally:
        if cache:
            cache.close()


def _similar(args) -> int:
    for t in args.tracks:
        if not os.path.isfile(t):
            raise ParameterError(f"TRACK {t}: no such file")
    if args.taste_weight > 0 and not args.model:
        raise ParameterError("--taste-weight needs --model (the taste model that gives the scores)")
    return _with_embedder(args, lambda commands, embedder, cache: commands.similar(
        args.tracks, args.library, embedder, n=args.n, m3u=args.m3u, cache=cache, jobs=args.jobs,
        taste=embedder.saved if args.taste_weight > 0 else None, taste_weight=args.taste_weight, pooling=args.pooling,
        progress=not args.quiet))


def _playlist(args) -> int:
    from .fileio import check_output

    if (args.start is None) != (args.end is None):
        raise ParameterError("--from and --to go together")
    for t in (args.seed, args.start, args.end):
        if t is not None and not os.path.isfile(t):
            raise ParameterError(f"{t}: no such file")
    if args.start is not None and os.path.realpath(args.start) == os.path.realpath(args.end):
        raise ParameterError("--from and --to are the same track")
    if args.csv_out:
        check_output(args.csv_out, (".csv",), "--csv")
    from .fileio import check_not_inputs

    check_not_inputs({"--m3u": args.m3u, "--csv": args.csv_out},
                     {"--seed": args.seed, "--from": args.start, "--to": args.end, "--model": args.model})
    return _with_embedder(args, lambda commands, embedder, cache: commands.playlist(
        args.library, embedder, seed=args.seed, start=args.start, end=args.end, n=args.n, m3u=args.m3u,
        csv_out=args.csv_out, max_per_artist=args.max_per_artist, not_in_a_row=args.no_repeat_artist,
        pooling=args.pooling, cache=cache, jobs=args.jobs, progress=not args.quiet))


def _map(args) -> int:
    from .fileio import check_output

    check_output(args.out, (".html", ".htm"), "--out")
    args.m3u = None
    return _with_embedder(args, lambda commands, embedder, cache: commands.map_library(
        args.library, embedder, args.out, taste=embedder.saved if args.model else None, pooling=args.pooling,
        seed=args.seed, cache=cache, jobs=args.jobs, progress=not args.quiet), library_flag="library")


def _filters(args) -> int:
    from .fileio import check_output

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ParameterError(f"--out {args.out}: not a folder")
    check_output(os.path.join(args.out, "index.md"), (".md",), "--out")
    args.m3u = None
    return _with_embedder(args, lambda commands, embedder, cache: commands.filters(
        args.library, embedder, args.out, top=args.top, model_name=os.path.basename(args.model or ""), cache=cache,
        jobs=args.jobs, progress=not args.quiet), library_flag="library")


def _with_embedder(args, run, library_flag: str = "--library") -> int:
    """Checks shared by the embedding commands (library, --m3u, --model), then ``run(commands, embedder, cache)``."""
    from .fileio import check_output

    _need_dir(args.library, library_flag)
    if args.m3u:
        check_output(args.m3u, (".m3u8", ".m3u"), "--m3u")
    if args.model:
        from .checkpoint import check_file

        check_file(args.model)
    _check_backend()
    from . import commands, features

    cache = _open_cache(args)
    try:
        return run(commands, commands.encoder_for(args.library, args.model, _cache_dir(args), features.FeatureConfig()),
                   cache)
    finally:
        if cache:
            cache.close()


def _rank(args) -> int:
    from .fileio import check_not_inputs, check_output

    _need_dir(args.library, "library")
    check_output(args.out, (".csv",), "--out")
    if args.m3u:
        check_output(args.m3u, (".m3u8", ".m3u"), "--m3u")
    check_not_inputs({"--out": args.out, "--m3u": args.m3u}, {"--model": args.model})
    from .checkpoint import check_file

    check_file(args.model)
    saved = _load_model(args.model)
    from . import commands
    from .library import scan

    paths = scan(args.library)
    if not paths:
        print(f"pers-rec: no audio files found under {args.library}", file=sys.stderr)
        return EXIT_NOTHING
    cache = _open_cache(args)
    try:
        df = commands.rank(saved, paths, out_csv=args.out, m3u=args.m3u, top=args.top, min_track_s=args.min_track_s,
                           include_liked=args.include_liked, max_per_artist=args.max_per_artist, cache=cache,
                           jobs=args.jobs, progress=not args.quiet)
    finally:
        if cache:
            cache.close()
    return commands.print_rank_summary(df, len(paths), args.out, args.m3u, args.top)


def _explain(args) -> int:
    from .fileio import check_output

    _need_input(args.track, "track")
    out = args.out or f"{Path(args.track).stem}.explain.png"
    check_output(out, (".png",), "--out")
    from .checkpoint import check_file

    check_file(args.model)
    saved = _load_model(args.model)
    from . import commands

    cache = _open_cache(args)
    try:
        return commands.explain(args.track, saved, out, cache=cache)
    finally:
        if cache:
            cache.close()


def _cache(args) -> int:
    from . import commands

    return commands.cache_command(args.action, args.cache)


def _features(args) -> int:
    from . import commands

    return commands.features(args.files)


def _synth(args) -> int:
    from . import commands

    return commands.synth_dataset(args.stage, args.out, args.n, args.seed)


def _demo(args) -> int:
    _check_backend()
    from . import demo

    summary = demo.run(args.out, n_tracks=args.tracks, seed=args.seed, jobs=args.jobs, quiet=args.quiet)
    return EXIT_OK if summary["heldout_roc_auc"] is not None else EXIT_SOME_FAILED


def _check_backend() -> None:
    """A Keras backend that is not installed is a one-line error, not an ImportError traceback."""
    import importlib.util

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}.get(backend)
    if module is None:
        raise ParameterError(f"KERAS_BACKEND={backend!r} is not a Keras backend (tensorflow, jax or torch)")
    if importlib.util.find_spec(module) is None:
        raise ParameterError(f"KERAS_BACKEND={backend} but {module} is not installed (pip install {module})")


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt  # the same clean-up as Ctrl-C: temporary files removed, finished work kept


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "cpu", False):
        from .device import force_cpu

        force_cpu()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    warned = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", ScanWarning)
            warnings.showwarning = lambda message, category, *rest: _show_warning(message, category, warned)
            code = args.run(args)
        return EXIT_SOME_FAILED if code == EXIT_OK and warned else code
    except PersRecError as exc:
        print(f"pers-rec: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        kept = "; finished work is kept in the feature cache" if not getattr(args, "no_cache", True) else ""
        print(f"\npers-rec: interrupted{kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one line, the traceback on request
        if os.environ.get("PERS_REC_DEBUG"):
            raise
        print(f"pers-rec: internal error: {type(exc).__name__}: {_one_line(exc)} "
              "(run with PERS_REC_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        signal.signal(signal.SIGTERM, previous)


def _show_warning(message, category, warned: list) -> None:
    """A warning as one escaped line on stderr; a :class:`ScanWarning` (files left out) turns exit 0 into 1."""
    print(f"pers-rec: warning: {_one_line(message)}", file=sys.stderr)
    if issubclass(category, ScanWarning):
        warned.append(message)


def _one_line(exc: BaseException) -> str:
    return printable(" ".join(str(exc).split()))


if __name__ == "__main__":
    sys.exit(main())
