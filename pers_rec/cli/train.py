"""``pers-rec train``: learn a listener's taste (or a genre model) from their tracks."""

from __future__ import annotations

import time

from ..config import ARCHS, BLENDS, TARGETS
from ..errors import EXIT_OK, EXIT_SOME_FAILED, ParameterError, describe
from ..library.encoders import start_weights
from ..library.workflows import TrainOutputs, train_to_files
from .common import cache_dir as stored_in
from .common import (
    check_backend,
    ensemble,
    feature_cache,
    fmt,
    int_at_least,
    library_files,
    need_dir,
    need_input,
    say,
    subcommand,
    warn,
)


def add_parser(sub) -> None:
    t = subcommand(sub, "train", "learn a listener's taste from liked (and disliked or unlabelled) tracks",
                   "pers-rec train --likes liked.m3u8 --library ~/Music --model taste.keras", cache=True, jobs=True)
    t.add_argument("--target", choices=TARGETS, default="like",
                   help="like: a taste model from --likes; genre: a genre model (Murray) of the --library's tracks, "
                        "genres from their tags or --genres")
    t.add_argument("--likes", help="liked tracks: M3U/M3U8 playlist, text list, CSV (path,label) or folder "
                                   "(required for --target like)")
    t.add_argument("--dislikes", help="disliked tracks, same formats")
    t.add_argument("--library", help="folder of the whole library: tracks not liked serve as unlabelled negatives")
    t.add_argument("--model", required=True,
                   help="output model file (.keras); the report (.json) and curves (.png) go beside it")
    t.add_argument("--arch", choices=ARCHS, default="cnn_lstm", help="network architecture")
    t.add_argument("--epochs", type=int_at_least(1), default=20, help="maximum epochs per cross-validation fold")
    t.add_argument("--folds", type=int_at_least(2), default=5, help="cross-validation folds over tracks")
    t.add_argument("--ensemble", type=ensemble, default=None, metavar="K",
                   help="keep the K fold models and average them (implies --folds K; default: the --folds fold models; "
                        "0: one model retrained on all tracks instead)")
    t.add_argument("--blend", choices=BLENDS, default="auto",
                   help="track score: stack the network with the MFCC-statistics baseline when cross-validation "
                        "favours it (auto), always (stacked), or the network alone; encoder: stack it with a logistic "
                        "regression on the start encoder's own track vectors (frozen; kept in the model file); "
                        "teacher: with the musicnn teacher's vectors + logistic regression (ranking then needs the "
                        "teacher). auto reports both stacks but chooses neither: on real music letting it choose "
                        "them lowered the average (docs/evaluation.md); auto+encoder, auto+teacher let one compete")
    t.add_argument("--windows-per-track", type=int_at_least(1), default=8,
                   help="random 8 s windows per track per epoch")
    t.add_argument("--augment", action="store_true",
                   help="also mask a random time span and band of coefficients and tilt the spectrum of every "
                        "training window (measured on real music: within the seeds' spread, see docs/evaluation.md)")
    t.add_argument("--genres", metavar="CSV", help="--target genre: a CSV with a path column and a genre column "
                                                   "(default: the files' genre tags)")
    t.add_argument("--genre-column", default="genre", help="--target genre: the CSV's genre column")
    t.add_argument("--no-teacher", action="store_true",
                   help="do not measure the teacher's reference (musicnn's vectors + logistic regression), which "
                        "is reported beside the MFCC baseline whenever musicnn's weights are installed")
    t.add_argument("--no-pretrained", action="store_true",
                   help="do not start from the library's pre-trained weights (see pers-rec pretrain)")
    t.add_argument("--seed", type=int, default=0, help="random seed")
    t.set_defaults(run=run)


def run(args) -> int:
    from ..config import FeatureConfig, ModelConfig, TrainConfig
    from ..fileio import check_not_inputs, check_output

    if args.target == "genre":
        if args.library is None:
            raise ParameterError("--target genre needs --library (the tracks to learn genres from)")
        if args.likes is not None or args.dislikes is not None:
            raise ParameterError("--likes and --dislikes are for --target like; a genre model learns from --library")
        need_dir(args.library, "--library")
        need_input(args.genres, "--genres")
    else:
        if args.likes is None:
            raise ParameterError("train needs --likes (or --target genre with --library)")
        for name in ("likes", "dislikes"):
            need_input(getattr(args, name), f"--{name}")
        if args.library is not None:
            need_dir(args.library, "--library")
    check_output(args.model, (".keras",), "--model")
    out = TrainOutputs.beside(args.model)
    check_not_inputs({"--model": out.model, "--model's report": out.report, "--model's curves": out.curves},
                     {"--likes": args.likes, "--dislikes": args.dislikes, "--genres": args.genres})
    check_backend()
    tcfg = TrainConfig(max_epochs=args.epochs, folds=args.folds, ensemble=args.ensemble,
                       windows_per_track=args.windows_per_track, blend=args.blend, augment=args.augment,
                       seed=args.seed)
    pretrained_dir = None if args.no_pretrained else stored_in(args)
    with feature_cache(args) as cache:
        if args.target == "genre":
            return train_genre(args.library, out, FeatureConfig(), ModelConfig(arch=args.arch), tcfg,
                               genres_csv=args.genres, genre_column=args.genre_column, cache=cache, jobs=args.jobs,
                               progress=not args.quiet, pretrained_dir=pretrained_dir)
        from ..model.teacher import checkpoint_dir

        teacher = not args.no_teacher and checkpoint_dir() is not None
        saved = train_to_files(args.likes, args.dislikes, args.library, out, FeatureConfig(),
                               ModelConfig(arch=args.arch), tcfg, cache=cache, jobs=args.jobs, progress=not args.quiet,
                               pretrained_dir=pretrained_dir, teacher=teacher, log=say, warn=warn)
    return print_summary(saved, out)


def print_summary(saved, out: TrainOutputs) -> int:
    """The taste model's training summary: tracks, cross-validated figures beside the baseline's, outputs."""
    rep = saved.report
    cv = rep.cross_validation
    for f in rep.failed:
        warn(f"skipped {f.path}: {f.error}")
    say(f"trained {saved.mcfg.arch} on {len(rep.tracks)} tracks ({rep.n_liked} liked, {rep.n_not_liked} not: "
        f"{rep.by_source('dislike')} disliked, {rep.by_source('unlabelled')} unlabelled) in {rep.elapsed_s:.0f} s")
    signals = sorted({(t.label, t.signal) for t in rep.tracks if t.signal})
    if signals:
        say("labels by signal: " + ", ".join(
            f"{'like' if lab else 'dislike'} from {sig} {sum(t.label == lab and t.signal == sig for t in rep.tracks)}"
            for lab, sig in signals))
    m, b = cv.model, cv.baseline
    say(f"{cv.folds}-fold cross-validated track ROC-AUC {fmt(m.roc_auc_mean)} +- {fmt(m.roc_auc_std)}, "
        f"AP {fmt(m.ap_mean)} (at {m.epochs} epochs, chosen by this figure)")
    say(f"baseline (MFCC statistics + logistic regression): ROC-AUC {fmt(b.roc_auc_mean)} +- {fmt(b.roc_auc_std)}, "
        f"AP {fmt(b.ap_mean)}")
    for what, ref in (("musicnn teacher's vectors", cv.teacher), ("the start encoder's own vectors", cv.encoder)):
        if ref is not None:
            say(f"reference ({what} + logistic regression): ROC-AUC {fmt(ref.roc_auc_mean)} +- "
                f"{fmt(ref.roc_auc_std)}, AP {fmt(ref.ap_mean)}")
    if m.pooled.ndcg10 is not None:
        say(f"the top 10 of all held-out tracks: NDCG@10 {fmt(m.pooled.ndcg10)} (baseline {fmt(b.pooled.ndcg10)})")
    if rep.blend is not None:
        say(f"track score: {rep.blend.describe()} ({rep.blend.why})")
    say(f"wrote {out.model}, {out.report}, {out.curves}")
    return EXIT_SOME_FAILED if rep.failed else EXIT_OK


def train_genre(library_dir, out: TrainOutputs, cfg, mcfg, tcfg, *, genres_csv=None, genre_column: str = "genre",
                cache=None, jobs=None, progress: bool = False, pretrained_dir=None) -> int:
    """``train --target genre``: read genres, cross-validate and train the genre head, write the model, its report
    (JSON) and its confusion matrices (PNG), print the summary."""
    from ..audio.extract import extract_many
    from ..fileio import write_text
    from ..learn import genre
    from ..learn.dataset import Track
    from ..model import checkpoint
    from ..progress import bar

    t0 = time.time()
    paths = [str(p) for p in library_files(library_dir, "--library")]
    genres = genre.read_genres(paths, genres_csv, genre_column)
    classes, left_out = genre.choose_classes(genres, min_tracks=2)
    source = f"column {genre_column!r} of {genres_csv}" if genres_csv else "genre tags"
    if len(classes) < 2:
        raise ParameterError(f"{library_dir}: {len(genres)} of {len(paths)} tracks have a genre ({source}), in "
                             f"{len(classes)} genre(s) with 2 or more tracks; a genre model needs at least 2")
    for g, n in left_out.items():
        warn(f"left out genre {g!r}: {n} track (a genre needs 2 or more)")
    index = {c: i for i, c in enumerate(classes)}
    todo = [p for p in paths if genres.get(p) in index]
    tracks, failed = [], []
    with bar(len(todo), "features", "track", progress) as b:
        for item in extract_many(todo, cfg, cache=cache, jobs=jobs, on_done=b.update):
            if item.ok:
                tracks.append(Track(str(item.path), index[genres[str(item.path)]], "genre", item.features))
            else:
                failed.append((str(item.path), describe(item.error)))
                warn(f"skipped {item.path}: {describe(item.error)}")
    if progress:
        say(f"{len(tracks)} tracks in {len(classes)} genres ({source}); {len(paths) - len(genres)} without a genre")
    pre, tcfg = start_weights(paths, pretrained_dir, cfg, mcfg, tcfg,  # the scan above, not a second one
                              log=say if progress else None)
    result = genre.train(tracks, classes, cfg, mcfg, tcfg, progress=progress, pretrained=pre)
    report = genre.make_report(tracks, classes, result, time.time() - t0, left_out, len(paths) - len(genres), failed)
    checkpoint.save(out.model, result.saved)
    write_text(out.report, report.to_json())
    genre.plot(report, out.curves)
    n, b = report.network, report.baseline
    say(f"trained a {len(classes)}-genre {result.saved.mcfg.arch} model on {len(tracks)} tracks in "
        f"{report.elapsed_s:.0f} s")
    say(f"{report.folds}-fold cross-validated accuracy {n.accuracy:.3f} (balanced {n.balanced_accuracy:.3f}) at "
        f"{report.best_epoch} epochs; baseline (MFCC statistics + logistic regression): {b.accuracy:.3f} "
        f"(balanced {b.balanced_accuracy:.3f}); chance {max(report.counts.values()) / len(tracks):.3f}")
    width = max(len(c) for c in classes)
    say("confusion (rows: genre, columns: predicted; network | baseline):")
    for i, c in enumerate(classes):
        say(f"  {c:<{width}}  " + " ".join(f"{x:3d}" for x in n.confusion[i]) + "  |  "
            + " ".join(f"{x:3d}" for x in b.confusion[i]))
    say(f"wrote {out.model}, {out.report}, {out.curves}")
    return EXIT_SOME_FAILED if failed else EXIT_OK


__all__ = ["add_parser", "print_summary", "run", "train_genre"]
