"""``pers-rec pretrain``: contrastive pre-training on a whole library, no labels needed."""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from ..config import ARCHS, DISTILL_LOSSES
from ..errors import EXIT_NOTHING, EXIT_OK, EXIT_SOME_FAILED, ModelFileError, describe
from .common import cache_dir, check_backend, feature_cache, int_at_least, library_files, say, subcommand, warn


def add_parser(sub) -> None:
    pt = subcommand(sub, "pretrain", "pre-train the network on a whole library without labels (contrastive)",
                    "pers-rec pretrain ~/Music   # then: pers-rec train --likes liked.m3u8 --library ~/Music ...",
                    cache=True, jobs=True)
    pt.add_argument("library", help="music folder (scanned recursively); every track is used, none needs a label")
    pt.add_argument("--arch", choices=ARCHS, default="cnn_lstm", help="the architecture that train will use")
    pt.add_argument("--epochs", type=int_at_least(1), default=None,
                    help="pre-training epochs (default: 15 contrastive, 30 distilling)")
    pt.add_argument("--pairs-per-track", type=int_at_least(1), default=4, help="positive pairs per track per epoch")
    pt.add_argument("--batch-size", type=int_at_least(2), default=64,
                    help="pairs per batch (the other pairs of a batch are the negatives)")
    pt.add_argument("--teacher", choices=["musicnn"], default=None,
                    help="instead of contrastive pre-training, distil a pre-trained tagger: the network learns to "
                         "predict musicnn's 200-d vector of every window (needs: pip install --no-deps musicnn==0.1.0)")
    pt.add_argument("--distill-loss", choices=DISTILL_LOSSES, default="mse",
                    help="with --teacher: MSE on standardised vectors, or cosine to the teacher's vector")
    pt.add_argument("--seed", type=int, default=0, help="random seed")
    pt.add_argument("--engine", choices=["local", "ray"], default="local",
                    help="where the feature pass runs: this machine's workers and the cache, or a Ray cluster "
                         "(--ray-address; pip install 'pers_rec[ray]')")
    pt.add_argument("--ray-address", metavar="ADDR", help="with --engine ray: the cluster (default: a local one)")
    pt.set_defaults(run=run)


def run(args) -> int:
    from ..config import FeatureConfig, ModelConfig, PretrainConfig

    paths = library_files(args.library)
    check_backend()
    engine = (args.engine, args.ray_address)
    if args.teacher:
        from ..model.teacher import read_weights

        weights = read_weights()  # says how to install the teacher, before any audio is decoded
        from ..config import DistillConfig

        dcfg = DistillConfig(epochs=args.epochs or DistillConfig.epochs, loss=args.distill_loss, seed=args.seed)
        with feature_cache(args) as cache:
            return distill(paths, args.library, cache_dir(args), FeatureConfig(), ModelConfig(arch=args.arch), dcfg,
                           weights, cache=cache, jobs=args.jobs, progress=not args.quiet, engine=engine)
    pcfg = PretrainConfig(epochs=args.epochs or PretrainConfig.epochs, pairs_per_track=args.pairs_per_track,
                          batch_size=args.batch_size, seed=args.seed)
    with feature_cache(args) as cache:
        return pretrain(paths, args.library, cache_dir(args), FeatureConfig(), ModelConfig(arch=args.arch), pcfg,
                        cache=cache, jobs=args.jobs, progress=not args.quiet, engine=engine)


def pretrain(paths, library_dir, out_dir, cfg, mcfg, pcfg, *, cache=None, jobs=None, progress: bool = False,
             engine=("local", None)) -> int:
    """Contrastive pre-training on every track of a library (``paths``, its scan), stored in ``out_dir``.

    Returns the exit code: 0, or 1 when some files could not be used.
    """
    from ..learn import pretrain as pretraining
    target = pretraining.stored_path(out_dir, pretraining.library_key(paths, cfg, mcfg))
    try:
        stored = pretraining.load(target) if target.exists() else None
    except ModelFileError:
        stored = None
        say(f"replacing damaged pre-trained weights: {target}")
    if stored is not None:
        if stored.info.get("pretrain_config") == asdict(pcfg):
            say(f"already pre-trained for this library and these settings: {target}")
            return EXIT_OK
        say(f"replacing the library's pre-trained weights made with other settings: {target}")
    feats, failed = library_features(paths, cfg, cache, jobs, progress, engine)
    matrices = list(feats.values())
    if not matrices:
        warn(f"no track of {library_dir} could be read")
        return EXIT_NOTHING
    pre = pretraining.pretrain(matrices, cfg, mcfg, pcfg, progress=progress)
    pretraining.save(target, pre)
    info = pre.info
    took = info.get("elapsed_s", info.get("seconds", 0))
    say(f"pre-trained {mcfg.arch} on {info['tracks']} tracks in {took:.0f} s: contrastive loss "
        f"{info['losses'][0]:.3f} -> {info['losses'][-1]:.3f} (chance {info['chance_loss']:.3f})")
    say(f"wrote {target}; pers-rec train --library {library_dir} starts from it")
    return EXIT_SOME_FAILED if failed else EXIT_OK


def library_features(paths, cfg, cache, jobs, progress: bool, engine=("local", None)) -> tuple[dict, int]:
    """``{path: features}`` of the tracks that could be read, in scan order, and how many could not (warned);
    ``engine`` is ``(name, Ray address)``: ``"ray"`` computes them on a Ray cluster (no feature cache)."""
    from ..audio.extract import extract_many
    from ..progress import bar

    feats, failed = {}, 0
    if engine[0] == "ray":
        from ..library import distributed
        distributed.start(engine[1], num_cpus=jobs)
        for r in distributed.features(paths, cfg).iter_rows():
            if r["error"]:
                failed += 1
                warn(f"skipped {r['path']}: {r['error']}")
            else:
                feats[r["path"]] = distributed.matrix(r, cfg.n_features)
    else:
        with bar(len(paths), "features", "track", progress) as b:
            for item in extract_many(paths, cfg, cache=cache, jobs=jobs, on_done=b.update):
                if item.ok:
                    feats[str(item.path)] = item.features
                else:
                    failed += 1
                    warn(f"skipped {item.path}: {describe(item.error)}")
    order = {str(p): i for i, p in enumerate(paths)}
    return dict(sorted(feats.items(), key=lambda kv: order[kv[0]])), failed


def teacher_key(cfg, dcfg) -> str:
    """The cache key of a track's teacher targets: the features' key and where the windows and patches are."""
    return f"teacher:musicnn-msd:{cfg.key()}:{dcfg.every_s}:{','.join(f'{o:g}' for o in dcfg.patch_offsets_s)}"


def distill(paths, library_dir, out_dir, cfg, mcfg, dcfg, weights, *, cache=None, jobs=None,
            progress: bool = False, engine=("local", None)) -> int:
    """``pretrain --teacher musicnn``: the teacher's targets for every track (cached per file, so an interrupted
    run resumes), then the encoder distilled from them, stored where ``train`` and ``similar`` find it."""
    import os

    from ..audio import decode
    from ..audio.features import n_windows
    from ..errors import AudioError
    from ..learn import pretrain as pretraining
    from ..learn.distill import distill as run_distillation
    from ..learn.distill import targets
    from ..model.teacher import SR, Teacher
    from ..progress import bar

    target = pretraining.stored_path(out_dir, pretraining.library_key(paths, cfg, mcfg))
    feats, failed = library_features(paths, cfg, cache, jobs, progress, engine)
    if len(feats) < 2:
        warn(f"fewer than 2 tracks of {library_dir} could be read")
        return EXIT_NOTHING
    key = teacher_key(cfg, dcfg)
    goals = cache.get_vectors_many(list(feats), key) if cache is not None else {}
    goals = {p: v.astype(np.float32) for p, v in goals.items()}
    teacher, t0 = Teacher(weights), time.perf_counter()
    with bar(len(feats), "teacher", "track", progress) as b:
        for p, M in feats.items():
            if p not in goals:
                try:
                    goals[p] = targets(decode.load(p, SR), n_windows(len(M), cfg), cfg, dcfg, teacher)
                except AudioError as exc:
                    warn(f"skipped {p}: {describe(exc)}")
                    continue
                if cache is not None:
                    cache.put_vectors(p, key, os.stat(p), goals[p])
            b.update(1)
    teacher_s = time.perf_counter() - t0
    ok = [p for p in feats if p in goals]
    pre = run_distillation([feats[p] for p in ok], [goals[p] for p in ok], cfg, mcfg, dcfg, progress=progress)
    pre.info["teacher_s"] = round(teacher_s, 2)
    pretraining.save(target, pre)
    info = pre.info
    say(f"distilled musicnn into {mcfg.arch} on {info['tracks']} tracks ({info['windows']} windows) in "
        f"{info['elapsed_s']:.0f} s, teacher {teacher_s:.0f} s: loss {info['losses'][0]:.3f} -> "
        f"{info['losses'][-1]:.3f}"
        + (f"; held-out cosine to the teacher {info['heldout_cosine']:.3f} (its mean vector: "
           f"{info['heldout_cosine_of_the_mean_target']:.3f})" if "heldout_cosine" in info else ""))
    say(f"wrote {target}; pers-rec train --library {library_dir} starts from it")
    return EXIT_SOME_FAILED if failed else EXIT_OK
