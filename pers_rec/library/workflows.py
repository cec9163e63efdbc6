"""The library's end-to-end workflows, from inputs to files: train a taste model from a listener's lists and write
it with its report and curves; rank a library with a model and write the table and its playlist.

``pers-rec train`` and ``rank``, the demo, the benchmarks and a notebook call these with explicit arguments; the
command line only parses, checks and prints (issue: one library core, thin faces).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TrainOutputs:
    """Where :func:`train_to_files` writes: the model, its JSON report and its training-curve PNG."""

    model: Path
    report: Path
    curves: Path

    @classmethod
    def beside(cls, model_path) -> TrainOutputs:
        model_path = Path(model_path)
        return cls(model_path, model_path.with_suffix(".json"), model_path.with_suffix(".png"))


def train_to_files(likes, dislikes, library_dir, out: TrainOutputs, cfg, mcfg, tcfg, *, cache=None, jobs=None,
                   progress: bool = False, pretrained_dir=None, teacher: bool = False,
                   log: Callable[[str], None] | None = None, warn: Callable[[str], None] | None = None):
    """Gather tracks, cross-validate and train, write the model, report and curves. With ``teacher``, the teacher's
    reference (its track vectors + logistic regression, same folds) is measured too; ``log`` is told where the
    starting weights came from (with ``progress``), ``warn`` why a reference is left out.

    Returns
    -------
    SavedModel
        With its :class:`report.TrainReport`.
    """
    from ..audio.scan import scan
    from ..fileio import write_text
    from ..learn import dataset, train
    from ..library.encoders import start_weights
    from ..model import checkpoint
    from ..model.report import plot_curves

    paths = scan(library_dir) if library_dir is not None and pretrained_dir is not None else None
    pre, tcfg = start_weights(paths, pretrained_dir, cfg, mcfg, tcfg, log=log if progress else None)
    tracks, failed = dataset.gather(likes, dislikes, library_dir, cfg, unlabelled_per_like=tcfg.unlabelled_per_like,
                                    seed=tcfg.seed, cache=cache, jobs=jobs, progress=progress)
    vectors = teacher_vectors([t.path for t in tracks], cache, progress, warn) if teacher else None
    saved = train.train(tracks, cfg, mcfg, tcfg, progress=progress, failed=failed, pretrained=pre,
                        teacher_vectors=vectors, encoder_vectors=start_vectors(tracks, pre, cfg, mcfg, cache))
    checkpoint.save(out.model, saved)
    write_text(out.report, saved.report.to_json())
    plot_curves(saved.report, out.curves)
    return saved


def start_vectors(tracks, pre, cfg, mcfg, cache):
    """Each training track's vector by the start encoder ``pre``, frozen [shape=(n, dim)] (``embed.StartVectors``:
    cached, shared with ``similar``), for the encoder stack ``train`` cross-validates; None without a start."""
    if pre is None:
        return None
    from .embed import StartVectors

    return StartVectors(pre, cfg, mcfg, cache).of_tracks(tracks)


def teacher_vectors(paths: list[str], cache, progress: bool, log: Callable[[str], None] | None = None):
    """Each track's teacher vector [shape=(n, 200)], from the cache or computed (and stored); None when one
    cannot be decoded at 16 kHz (then the reference is left out, and ``log`` says why)."""
    from ..errors import AudioError, describe
    from ..model.teacher import TrackVectors
    from ..progress import bar

    vectors = TrackVectors(cache)
    got = vectors.prefetch(paths)
    with bar(len(paths), "teacher", "track", progress) as b:
        for p in paths:
            if p not in got:
                try:
                    got[p] = vectors(p)
                except AudioError as exc:
                    if log is not None:
                        log(f"pers-rec: warning: no teacher reference ({describe(exc)})")
                    return None
            b.update(1)
    return np.stack([got[p] for p in paths])


def rank_to_files(paths, saved, *, out_csv, m3u=None, top: int = 50, min_track_s: float = 30.0,
                  include_liked: bool = False, max_per_artist: int | None = None, cache=None, jobs=None,
                  progress: bool = False):
    """Rank ``paths`` with ``saved`` (the liked tracks it was trained on left out unless ``include_liked``), write
    the CSV and, with ``m3u``, the top of it as an M3U8.

    Returns
    -------
    pd.DataFrame
        The ranking (see :data:`rank.COLUMNS`).
    """
    from ..fileio import write_text
    from ..players import playlists
    from . import rank

    exclude = set() if include_liked else rank.liked_paths(saved)
    df = rank.rank(paths, saved, cache=cache, jobs=jobs, exclude=exclude, progress=progress)
    write_text(out_csv, rank.csv_text(df), errors="surrogateescape")
    if m3u:
        playlists.write_m3u(m3u, rank.playlist_entries(df, top=top, min_track_s=min_track_s,
                                                       max_per_artist=max_per_artist))
    return df


def vectors_and_scores(paths, saved, embedder, *, cache=None, jobs=None, progress: bool = False):
    """Every track's vector (``embed.vectors``, mean pooling) and its ranking row with ``saved``, in one pass when
    ``embedder`` is ``saved``'s own (``Embedder(saved)``: its first member's trunk runs once per track for both),
    else in two (another encoder, e.g. the library's pre-trained one, embeds).

    Returns
    -------
    ok : list of str
        The files that have a vector, in the order given.
    V : np.ndarray [shape=(len(ok), dim), float32]
    failed : list of (path, AudioError)
        The files that could not be analysed.
    ranking : pd.DataFrame
        ``rank.rank``'s table of every file (error rows included).
    """
    from ..errors import from_description
    from . import embed, rank

    paths = [str(p) for p in paths]
    if embedder.saved is saved:
        got: dict = {}
        df = rank.rank(paths, saved, cache=cache, jobs=jobs, progress=progress, embedder=embedder, vectors=got)
        ok = [p for p in paths if p in got]
        V = np.stack([got[p] for p in ok]) if ok else np.zeros((0, embedder.dim), np.float32)
        failed = [(r.path, from_description(r.path, r.error)) for r in df[df["status"] == "error"].itertuples()]
        return ok, V, failed, df
    ok, V, failed, _ = embed.vectors(paths, embedder, cache=cache, jobs=jobs, progress=progress)
    return ok, V, failed, rank.rank(paths, saved, cache=cache, jobs=jobs, progress=progress)
