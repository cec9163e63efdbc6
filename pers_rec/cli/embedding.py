"""What the embedding commands (``similar``, ``playlist``, ``map``, ``filters``) share: the encoder they use,
the library's vectors, and a taste model's scores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ..config import POOLINGS
from ..errors import ParameterError, describe
from .common import cache_dir, check_backend, feature_cache, warn


@contextmanager
def embedder_and_cache(args, library_flag: str = "--library") -> Iterator[tuple]:
    """Checks shared by the embedding commands (library, ``--m3u``, ``--model``), then ``(embedder, cache)``."""
    from ..fileio import check_output
    from .common import need_dir

    need_dir(args.library, library_flag)
    if getattr(args, "m3u", None):
        check_output(args.m3u, (".m3u8", ".m3u"), "--m3u")
    if args.model:
        from ..model.checkpoint import read_meta

        read_meta(args.model)  # the file and its configuration, before TensorFlow
    if args.runtime == "keras":
        check_backend()
    from ..config import FeatureConfig
    from ..library.encoders import encoder_for

    embedder = encoder_for(args.library, args.model, cache_dir(args), FeatureConfig(), runtime=args.runtime)
    with feature_cache(args) as cache:
        yield embedder, cache


def library_vectors(library_dir, embedder, cache, jobs, progress, pooling: str = "mean"):
    """The library's track vectors: ``(paths, V [shape=(n, dim)], failed, IDF reference)``; failures warned."""
    from ..library import embed
    from .common import library_files

    paths, V, failed, ref = embed.vectors(library_files(library_dir, "--library"), embedder, pooling=pooling,
                                          cache=cache, jobs=jobs, progress=progress)
    warn_failed(failed)
    return paths, V, failed, ref


def warn_failed(failed) -> None:
    for path, err in failed:
        warn(f"skipped {path}: {describe(err)}")


def scored_library(library_dir, embedder, taste, cache, jobs, progress, pooling: str = "mean"):
    """The library's track vectors and ``taste``'s scores of them: ``(paths, V, failed, reference, scores,
    genres)`` (see :func:`model_scores`); with mean pooling :func:`workflows.vectors_and_scores` (one pass over the
    library when ``taste`` embeds it, so each track's trunk runs once for both)."""
    from ..library.workflows import vectors_and_scores
    from .common import library_files

    if pooling != "mean":
        paths, V, failed, ref = library_vectors(library_dir, embedder, cache, jobs, progress, pooling)
        return (paths, V, failed, ref, *model_scores(taste, paths, cache, jobs, progress))
    paths, V, failed, df = vectors_and_scores(library_files(library_dir, "--library"), taste, embedder, cache=cache,
                                              jobs=jobs, progress=progress)
    warn_failed(failed)
    return (paths, V, failed, None, *table_scores(df, paths))


def given_and_library(given, library_dir, embedder, cache, jobs, progress, pooling: str = "mean", taste=None):
    """Vectors of the tracks named on the command line (each must work) and of the library (failures warned), and
    with a ``taste`` model its scores of the library (else None). With ``distinctive`` pooling the library's
    windows are the reference of the given tracks' weights too."""
    from ..library import embed

    given = [os.path.abspath(g) for g in given]  # printed beside the library's paths, which the scan makes absolute
    if taste is None:
        paths, V, failed, ref = library_vectors(library_dir, embedder, cache, jobs, progress, pooling)
        scores = None
    else:
        paths, V, failed, ref, scores, _ = scored_library(library_dir, embedder, taste, cache, jobs, progress, pooling)
    # the named tracks are decoded in this process (jobs=0): starting a worker for one or two files costs seconds
    given_paths, given_vecs, bad, _ = embed.vectors(given, embedder, pooling=pooling, reference=ref, cache=cache,
                                                    jobs=0)
    if bad:
        raise ParameterError(f"{bad[0][0]}: {describe(bad[0][1])}")
    return given_paths, given_vecs, paths, V, failed, scores


def model_scores(saved, paths, cache, jobs, progress) -> tuple[np.ndarray, list[str]]:
    """The model's final track ``score`` of each path (the ranking's; NaN where it failed: such a track is never
    ranked first), and a genre model's predicted genre of each ("" otherwise)."""
    from ..library import rank
    return table_scores(rank.rank(paths, saved, cache=cache, jobs=jobs, progress=progress), paths)


def table_scores(df, paths) -> tuple[np.ndarray, list[str]]:
    """:func:`model_scores` read from a ranking table."""
    df = df.set_index("path")
    scores = np.array([df["score"].get(str(p), np.nan) for p in paths], np.float64)
    return scores, [df["genre"].get(str(p), "") or "" for p in paths]


def add_pooling(p) -> None:
    """``--pooling``, shared by the embedding commands."""
    p.add_argument("--pooling", choices=POOLINGS, default="mean",
                   help="a track's embedding: the mean of its windows', or Deej-A.I.'s TF-IDF weighting that favours "
                        "windows common in the track and rare in the library")
