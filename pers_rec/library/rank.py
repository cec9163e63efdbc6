"""Ranking a library with a trained model: the table of every track's score, and one track's timeline.

Workers decode and compute features (``extract.extract_many``) while this
process scores finished tracks in large batches with the shared-trunk scorer
(``scoring.Scorer``), so inference overlaps decoding. A file that fails is a
row with ``status=error`` and its reason; it never stops the run. Nothing is
written here: :func:`csv_text` and :func:`playlist_entries` give the command
line what to write.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..audio import features, tags
from ..audio.cache import FeatureCache
from ..audio.extract import Extracted, extract_many
from ..errors import AudioError, InvalidScoreError, ParameterError, describe
from ..model import scoring, teacher
from ..model.checkpoint import SavedModel
from ..progress import bar
from .embed import Embedder, StartVectors, as_stored, cache_key, keep

if TYPE_CHECKING:
    import pandas as pd

#: Columns of the ranking, in order. ``artist``, ``album``, ``title``: the file's tags (empty when untagged).
#: ``short``: the track is shorter than one window (it was looped). ``genre``, ``genre_probability``: with a
#: genre model, the predicted genre (the highest mean of the windows' genre probabilities) and that mean, which is
#: then also the ``score``; empty with a taste model.
COLUMNS = ["rank", "score", "path", "artist", "album", "title", "duration_s", "n_windows", "best_start_s", "best_end_s",
           "best_score", "short", "network_score", "genre", "genre_probability", "status", "error"]


def liked_paths(saved: SavedModel) -> set[str]:
    """Paths of the tracks the model was trained on as likes (from its training report; none if it has none)."""
    return saved.report.liked_paths() if saved.report is not None else set()


def not_excluded(paths: Iterable[str | os.PathLike], exclude: set[str]) -> list:
    """The ``paths`` that ``exclude`` (e.g. :func:`liked_paths`) does not name, by the path as given or its real
    path (a like recorded through a symlink is the same file), in order; every engine ranks these."""
    return [p for p in paths if str(p) not in exclude and os.path.realpath(p) not in exclude]


def rank(paths: Iterable[str | os.PathLike], saved: SavedModel, *, cache: FeatureCache | None = None,
         jobs: int | None = None, exclude: set[str] = frozenset(), progress: bool = False,
         embedder: Embedder | None = None, vectors: dict | None = None) -> pd.DataFrame:
    """Score every file and return the ranking, best first.

    Parameters
    ----------
    paths : iterable of paths
    saved : SavedModel
    cache : FeatureCache or None
    jobs : int or None
        Decoding worker processes (None: one per core).
    exclude : set of str
        Absolute paths to leave out (e.g. the liked tracks the model was trained on); a path is
        also left out when its real path (symlinks resolved) is in the set.
    progress : bool
        Show a progress bar on stderr.
    embedder, vectors : Embedder of ``saved``, dict
        Also each ranked track's vector (``embed.vectors``' mean pooling), from the same trunk pass as its scores
        (:meth:`scoring.Scorer.score_and_embed`): put in ``vectors`` (path -> float32 vector, as the cache stores
        it) and in the cache, where ``embed.vectors`` then finds it.

    Returns
    -------
    pd.DataFrame
        Columns :data:`COLUMNS`. Scored tracks first, by descending score
        (``rank`` 1, 2, ...); failed files after them with ``status="error"``.
    """
    cfg = saved.cfg
    scorer = scoring.Scorer(saved)
    partners = stack_vectors(saved, scorer, cache)
    todo = [Path(p) for p in not_excluded(paths, exclude)]
    if partners is not None:
        partners.prefetch([str(p) for p in todo])  # the cached teacher (or start-encoder) vectors in one query
    rows: list[dict] = []
    batch: list[Extracted] = []
    frames = 0
    key = f"scores:{scorer.identity()}" if cache is not None else None
    known = cache.get_vectors_many([str(p) for p in todo], key, np.float64) if key else {}  # a re-rank: one query
    vectors = {} if vectors is None else vectors
    if embedder is not None and cache is not None:
        stored = cache.get_vectors_many([str(p) for p in todo], cache_key(embedder))
        vectors.update({p: v[0].astype(np.float32) for p, v in stored.items()})

    def flush():
        need = [b for b in batch if str(b.path) not in known]
        if embedder is None:
            fresh = dict(zip((str(b.path) for b in need), scorer.score_many([b.features for b in need])))
        else:
            fresh = {}
            for b, (s, W) in zip(need, scorer.score_and_embed([b.features for b in need], embedder)):
                fresh[str(b.path)] = s
                keep_vector(b, W)
            for b in batch:
                if str(b.path) not in vectors:  # scores kept from an earlier rank, the vector not
                    keep_vector(b, embedder.window_vectors(b.features))
        for item in batch:
            s = fresh.get(str(item.path))
            if s is None:
                s = known[str(item.path)]
                s = s[:, 0] if s.shape[1] == 1 else s
            elif key is not None:
                store_scores(cache, item.path, key, s)
            rows.append(track_row(item, s, scorer, partners))
        batch.clear()

    def keep_vector(item: Extracted, W: np.ndarray) -> None:
        if str(item.path) in vectors:
            return
        v = vectors[str(item.path)] = as_stored(W)
        if cache is not None:
            keep(cache, item.path, cache_key(embedder), v[None], np.float16)

    with bar(len(todo), "ranking", "track", progress) as b:
        for item in extract_many(todo, cfg, cache=cache, jobs=jobs, on_done=b.update):
            if not item.ok:
                rows.append(error_row(item.path, item.error))
                continue
            batch.append(item)
            frames += len(item.features)
            if frames >= scoring.TRUNK_FRAMES:
                flush()
                frames = 0
        flush()
    return ranking_table(rows)


def store_scores(cache: FeatureCache, path, key: str, window_scores: np.ndarray) -> None:
    """Keep a track's window scores under the model's identity (:meth:`scoring.Scorer.identity`), so that ranking
    the same files with the same model again reads them instead of running the network; a changed file (size or
    mtime) or another model is a miss."""
    S = np.asarray(window_scores, np.float64)
    keep(cache, path, key, S[:, None] if S.ndim == 1 else S, np.float64)


def stack_vectors(saved: SavedModel, scorer: scoring.Scorer, cache: FeatureCache | None):
    """Where the tracks' vectors come from when the model stacks a regression on them (else None): the teacher's
    (:class:`teacher.TrackVectors`) or the start encoder's (:class:`embed.StartVectors`); both ``prefetch(paths)``
    and give a track's vector from ``(path, features)``.

    Raises
    ------
    ParameterError
        The model needs the teacher and its weights are not installed.
    """
    if scorer.needs_encoder:
        return StartVectors(saved.start, saved.cfg, saved.mcfg, cache)
    if not scorer.needs_teacher:
        return None
    if teacher.checkpoint_dir() is None:
        raise ParameterError("this model stacks the musicnn teacher's score (train --blend auto chose it), and the "
                             f"teacher is not installed: {teacher.HOW}, or retrain with --blend stacked")
    return teacher.TrackVectors(cache)


def _final(scorer: scoring.Scorer, window_scores, item: Extracted, vectors) -> float:
    """The track's final score (:meth:`scoring.Scorer.final_score`), with its teacher or start-encoder vector when
    needed (:func:`stack_vectors`)."""
    v = None if vectors is None else vectors(str(item.path), item.features)
    final = scorer.final_score(window_scores, item.features, v)
    if not np.isfinite(final):
        raise InvalidScoreError(item.path, "the stacked score is not a finite number")
    return final


def track_row(item: Extracted, window_scores: np.ndarray, scorer: scoring.Scorer, vectors=None) -> dict:
    cfg = scorer.cfg
    if not np.isfinite(window_scores).all():
        return error_row(item.path, InvalidScoreError(item.path, "the model's score is not a finite number"))
    duration = features.duration_s(item.features, cfg)
    window_scores, g = timeline(window_scores)
    genre = {} if g is None else {"genre": scorer.mcfg.classes[g],
                                  "genre_probability": round(float(window_scores.mean()), 6)}
    s = scoring.summarize(window_scores, cfg, duration)
    try:
        final = _final(scorer, window_scores, item, vectors)
    except AudioError as exc:
        return error_row(item.path, exc)
    t = tags.read(item.path)
    return {"score": round(final, 6), "network_score": round(s.score, 6), "path": str(item.path),
            "artist": t.get("artist", ""), "album": t.get("album", ""), "title": t.get("title", ""),
            "duration_s": round(duration, 3),
            "n_windows": s.n_windows, "best_start_s": s.best_start_s, "best_end_s": round(s.best_end_s, 3),
            "best_score": round(s.best_score, 6), "short": duration < cfg.window_s, "status": "ok", "error": "",
            **genre}


def timeline(window_scores: np.ndarray) -> tuple[np.ndarray, int | None]:
    """The scores a track is summarised by, and a genre model's predicted genre (index) or None.

    A taste model's window scores are its timeline. A genre model's windows carry a probability per
    genre [shape=(n_windows, n_genres)]: the predicted genre has the highest mean, and its
    probabilities are the timeline.
    """
    if window_scores.ndim == 1:
        return window_scores, None
    g = int(np.argmax(window_scores.mean(axis=0)))
    return window_scores[:, g], g


def error_row(path: Path, error: AudioError) -> dict:
    return {"path": str(path), "status": "error", "error": describe(error)}


def ranking_table(rows: list[dict]) -> pd.DataFrame:
    import pandas as pd  # here, not at the top: `explain` needs no pandas (0.4 s of its start-up)

    # sorted here, and text kept in object columns: pandas 3 sorts and stores text as Arrow strings, which
    # cannot hold a file name's undecodable bytes (surrogates); the numbers are made numeric below
    good = sorted((r for r in rows if r.get("status") == "ok"), key=lambda r: (-r["score"], r["path"]))
    rows = good + sorted((r for r in rows if r.get("status") != "ok"), key=lambda r: r["path"])
    df = pd.DataFrame(rows, columns=COLUMNS, dtype=object)
    for c in ("score", "network_score", "duration_s", "best_start_s", "best_end_s", "best_score", "genre_probability"):
        df[c] = pd.to_numeric(df[c]).astype(float)
    ok = df["status"] == "ok"
    df["rank"] = pd.array([*range(1, int(ok.sum()) + 1)] + [pd.NA] * int((~ok).sum()), dtype="Int64")
    df["n_windows"] = df["n_windows"].astype("Int64")  # stays an integer column beside error rows
    df["short"] = df["short"].astype("boolean")
    for c in ("artist", "album", "title", "genre", "error"):
        df[c] = [v if isinstance(v, str) else "" for v in df[c]]  # a text column even when every row failed
    return df.reset_index(drop=True)


#: A cell starting with one of these is a formula to a spreadsheet (OWASP, "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A text cell a spreadsheet shows as text: one that starts like a formula gets a leading ``'`` (OWASP's
    advice); anything else, and every non-text value, is returned as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(df: pd.DataFrame, raw: tuple[str, ...] = ("path",)) -> str:
    """The table as CSV text; every field that needs it is quoted (a name may hold a comma, quote, CR or LF).

    Text taken from tags (artist, album, title, genre) and error messages is made :func:`spreadsheet_safe`,
    so a title ``=HYPERLINK(...)`` is never evaluated by a spreadsheet; the ``raw`` columns (the path, which
    tools and ``train --likes`` read back) are written unaltered.
    """
    import pandas as pd

    df = df.copy()
    for col in df.columns:
        if col not in raw and (df[col].dtype == object or pd.api.types.is_string_dtype(df[col])):
            df[col] = df[col].map(spreadsheet_safe)
    buf = io.StringIO()
    df.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    return buf.getvalue()


def playlist_entries(df: pd.DataFrame, top: int | None = None, min_track_s: float = 0.0,
                     max_per_artist: int | None = None) -> list[tuple[str, float, str]]:
    """``(path, duration_s, title)`` of the ``top`` best-ranked tracks for an M3U8 (all if None).

    Tracks shorter than ``min_track_s`` seconds (jingles, sound effects, which
    a looped short clip can score highly) are left out before taking the top,
    and so are an artist's tracks after its best ``max_per_artist`` (untagged
    tracks are never left out by that rule).
    """
    ok = df[(df["status"] == "ok") & (df["duration_s"] >= min_track_s)]
    ok = ok[tags.artist_caps([tags.artist_key({"artist": a}) if a else None for a in ok["artist"]], max_per_artist)]
    if top is not None:
        ok = ok.head(top)
    return [(r.path, float(r.duration_s), f"{tags.label(r.path, row_tags(r))} (score {r.score:.3f})")
            for r in ok.itertuples()]


def row_tags(r) -> dict[str, str]:
    """The non-empty tag columns of a ranking row."""
    return {k: getattr(r, k) for k in ("artist", "album", "title") if isinstance(getattr(r, k), str) and getattr(r, k)}


def explain(path: str | os.PathLike, saved: SavedModel, *, cache: FeatureCache | None = None
            ) -> tuple[np.ndarray, scoring.TrackScore]:
    """One track's features [shape=(n_frames, n_features)] and its window-score timeline (a genre model's:
    the probability of the track's predicted genre).

    Raises
    ------
    AudioError
        The file cannot be decoded, or its score is not finite.
    """
    item = next(extract_many([path], saved.cfg, cache=cache, jobs=0))  # in-process: a worker costs ~1 s to start
    if not item.ok:
        raise item.error
    scorer = scoring.Scorer(saved)
    vectors = stack_vectors(saved, scorer, cache)
    window_scores = scorer.window_scores(item.features)
    if not np.isfinite(window_scores).all():
        raise InvalidScoreError(path, "the model's score is not a finite number")
    window_scores, _ = timeline(window_scores)
    s = scoring.summarize(window_scores, saved.cfg, features.duration_s(item.features, saved.cfg))
    final = _final(scorer, window_scores, item, vectors)
    return item.features, replace(s, score=final, network_score=s.score)
