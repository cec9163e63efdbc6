"""``pers-rec pretrain``: contrastive pre-training on a whole library, no labels needed."""

from __future__ import annotations

from dataclasses import asdict

from ..config import ARCHS
from ..errors import EXIT_NOTHING, EXIT_OK, EXIT_SOME_FAILED, ModelFileError, describe
from .common import cache_dir, check_backend, feature_cache, int_at_least, library_files, say, subcommand, warn


def add_parser(sub) -> None:
    pt = subcommand(sub, "pretrain", "pre-train the network on a whole library without labels (contrastive)",
                    "pers-rec pretrain ~/Music   # then: pers-rec train --likes liked.m3u8 --library ~/Music ...",
                    cache=True, jobs=True)
    pt.add_argument("library", help="music folder (scanned recursively); every track is used, none needs a label")
    pt.add_argument("--arch", choices=ARCHS, default="cnn_lstm", help="the architecture that train will use")
    pt.add_argument("--epochs", type=int_at_least(1), default=15, help="pre-training epochs")
    pt.add_argument("--pairs-per-track", type=int_at_least(1), default=4, help="positive pairs per track per epoch")
    pt.add_argument("--batch-size", type=int_at_least(2), default=64,
                    help="pairs per batch (the other pairs of a batch are the negatives)")
    pt.add_argument("--seed", type=int, default=0, help="random seed")
    pt.set_defaults(run=run)


def run(args) -> int:
    from ..config import FeatureConfig, ModelConfig, PretrainConfig

    paths = library_files(args.library)
    check_backend()
    pcfg = PretrainConfig(epochs=args.epochs, pairs_per_track=args.pairs_per_track, batch_size=args.batch_size,
                          seed=args.seed)
    with feature_cache(args) as cache:
        return pretrain(paths, args.library, cache_dir(args), FeatureConfig(), ModelConfig(arch=args.arch), pcfg,
                        cache=cache, jobs=args.jobs, progress=not args.quiet)


def pretrain(paths, library_dir, out_dir, cfg, mcfg, pcfg, *, cache=None, jobs=None, progress: bool = False) -> int:
    """Contrastive pre-training on every track of a library (``paths``, its scan), stored in ``out_dir``.

    Returns the exit code: 0, or 1 when some files could not be used.
    """
    from .. import pretrain as P
    from ..extract import extract_many
    from ..progress import bar

    target = P.stored_path(out_dir, P.library_key(paths, cfg, mcfg))
    try:
        stored = P.load(target) if target.exists() else None
    except ModelFileError:
        stored = None
        say(f"replacing damaged pre-trained weights: {target}")
    if stored is not None:
        if stored.info.get("pretrain_config") == asdict(pcfg):
            say(f"already pre-trained for this library and these settings: {target}")
            return EXIT_OK
        say(f"replacing the library's pre-trained weights made with other settings: {target}")
    matrices, failed = [], 0
    with bar(len(paths), "features", "track", progress) as b:
        for item in extract_many(paths, cfg, cache=cache, jobs=jobs, on_done=b.update):
            if item.ok:
                matrices.append(item.features)
            else:
                failed += 1
                warn(f"skipped {item.path}: {describe(item.error)}")
    if not matrices:
        warn(f"no track of {library_dir} could be read")
        return EXIT_NOTHING
    pre = P.pretrain(matrices, cfg, mcfg, pcfg, progress=progress)
    P.save(target, pre)
    info = pre.info
    say(f"pre-trained {mcfg.arch} on {info['tracks']} tracks in {info.get('elapsed_s', info.get('seconds', 0)):.0f} s: contrastive loss "
        f"{info['losses'][0]:.3f} -> {info['losses'][-1]:.3f} (chance {info['chance_loss']:.3f})")
    say(f"wrote {target}; pers-rec train --library {library_dir} starts from it")
    return EXIT_SOME_FAILED if failed else EXIT_OK
