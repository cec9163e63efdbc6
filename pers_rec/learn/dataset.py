"""A listener's labelled tracks, and the windows an epoch trains on.

Likes (label 1) and dislikes (label 0) come from :func:`playlists.read_labelled`
sources; a CSV may carry both. With a library folder, tracks below it that are
neither liked nor disliked are *unlabelled*: ``unlabelled_per_like`` of them per
liked track found are drawn at random (seeded) and used as negatives with a
lower weight, because some of them are songs the listener would like.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import numpy as np

from ..audio.features import FeatureConfig, fit_to_window, gain_offset
from ..audio.tags import read as tags
from ..errors import ParameterError, describe
from ..model.report import FailedTrack


@dataclass
class Track:
    """One labelled training track.

    Attributes
    ----------
    path : str
        Absolute path.
    label : int
        1 like, 0 not.
    source : str
        ``"like"``, ``"dislike"`` or ``"unlabelled"``.
    features : np.ndarray [shape=(n_frames, n_features), float32]
    weight : float
        Confidence in the label (``pers-rec likes``: grows with the log of the play count), relative within its class.
    signal : str
        Where the label came from (``"starred"``, ``"rating"``, ``"plays"``, ...; empty for a hand-made list).
    """

    path: str
    label: int
    source: str
    features: np.ndarray = field(repr=False)
    weight: float = 1.0
    signal: str = ""


def _missing_message(what: str, missing: list[str], total: int) -> str:
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    return f"{len(missing)} of {total} {what} not found: {shown}"


def labelled_paths(likes, dislikes, extras: dict | None = None) -> tuple[dict[str, int], list[str]]:
    """``{absolute path: label}`` from the likes and dislikes sources, and the listed paths that do not exist
    (``extras`` is filled with the CSVs' ``{path: (weight, signal)}``).

    Missing entries are reported on stderr (the first few and the count) and left out.

    Raises
    ------
    ParameterError
        A track is both liked and disliked, or no listed like exists.
    """
    from ..players.playlists import read_labelled

    labelled: dict[str, int] = {}
    missing: list[str] = []
    extras = {} if extras is None else extras
    for source, default, what in ((likes, 1, "liked tracks"), (dislikes, 0, "disliked tracks")):
        if source is None:
            continue
        if isinstance(source, dict):  # labels in memory (a retrain's judgements): {path: (label, weight, signal)}
            entries = [(os.path.realpath(p), int(v[0])) for p, v in source.items()]
            extras.update({os.path.realpath(p): (float(v[1]), str(v[2])) for p, v in source.items()})
            source = "the judgements"
        else:
            entries = read_labelled(source, default, extras)
        gone = [p for p, _ in entries if not os.path.isfile(p)]
        gone_set = set(gone)  # a set: 1,000,000 listed files that do not exist cost seconds, not hours
        if gone:
            print(f"pers-rec: warning: {source}: {_missing_message(what, gone, len(entries))}", file=sys.stderr)
        missing += gone
        for path, label in entries:
            if path in gone_set:
                continue
            if labelled.get(path, label) != label:
                raise ParameterError(f"{path}: listed both as a like and as a dislike")
            labelled[path] = label
    if likes is not None and not any(labelled.values()):
        raise ParameterError(f"{likes}: no liked track to learn from"
                             + (f" ({_missing_message('listed tracks', missing, len(missing))})" if missing else
                                " (the list holds no like: a CSV needs label 1 or a rating of 4-5)"))
    return labelled, missing


def gather(likes, dislikes, library_dir, cfg: FeatureConfig, *, unlabelled_per_like: float = 3.0, seed: int = 0,
           cache=None, jobs: int | None = None, progress: bool = False) -> tuple[list[Track], list[FailedTrack]]:
    """The labelled tracks of a training run, with their features, and the files that failed.

    Parameters
    ----------
    likes, dislikes : path, dict or None
        Sources for :func:`playlists.read_labelled`, or labels in memory: ``{path: (label, weight, signal)}``
        (``likes`` only; the labels are the dict's).
    library_dir : path or None
        Library folder for unlabelled negatives.
    cfg : FeatureConfig
    unlabelled_per_like : float
        Unlabelled tracks drawn per like that exists.
    seed : int
        Seeds the draw.
    cache, jobs, progress
        As for :func:`extract.extract_many`; ``progress`` shows a bar on stderr.

    Returns
    -------
    tracks : list of Track
        Sorted by path (completion order varies; training must not).
    failed : list of FailedTrack

    Raises
    ------
    ParameterError
        A track is both liked and disliked, no like exists, or there are no negatives at all.
    """
    from ..audio.extract import extract_many
    from ..audio.scan import scan
    from ..progress import bar

    extras: dict = {}
    labelled, _ = labelled_paths(likes, dislikes, extras)
    sources = {p: ("like" if lab else "dislike") for p, lab in labelled.items()}
    if library_dir is not None:
        pool = [str(p) for p in scan(library_dir) if os.path.realpath(p) not in labelled]
        n = min(len(pool), max(2, int(round(unlabelled_per_like * sum(labelled.values())))))
        for p in np.random.default_rng(seed).choice(pool, size=n, replace=False) if n else []:
            labelled[str(p)], sources[str(p)] = 0, "unlabelled"
    if not any(v == 0 for v in labelled.values()):
        raise ParameterError("no negatives: give --dislikes, a CSV with 0 labels, or --library with tracks you have "
                             "not liked")
    tracks, failed = [], []
    with bar(len(labelled), "features", "track", progress) as b:
        for item in extract_many(sorted(labelled), cfg, cache=cache, jobs=jobs, on_done=b.update):
            p = str(item.path)
            if item.ok:
                tracks.append(Track(p, labelled[p], sources[p], item.features, *extras.get(p, (1.0, ""))))
            else:
                failed.append(FailedTrack(p, labelled[p], describe(item.error)))
    tracks.sort(key=lambda t: t.path)
    return tracks, failed


def track_weights(tracks: list[Track], unlabelled_weight: float) -> np.ndarray:
    """Per-track sample weights [shape=(n_tracks,)]: each track's ``weight``, times ``unlabelled_weight`` for an
    unlabelled negative, then
    each class is rescaled so that every class has the same total weight (``n_tracks / n_classes`` each;
    two classes for likes, one per genre for a genre model)."""
    w = np.array([(unlabelled_weight if t.source == "unlabelled" else 1.0) * t.weight for t in tracks])
    labels = np.array([t.label for t in tracks])
    classes = np.unique(labels)
    for c in classes:
        w[labels == c] *= len(tracks) / (len(classes) * w[labels == c].sum())
    return w


def sample_windows(tracks: list[Track], cfg: FeatureConfig, weights: np.ndarray, *, per_track: int, gain_db: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One epoch's training windows: ``per_track`` random offsets and gains per track.

    Offsets are any frame (not only the 1 s grid); a gain of up to
    +-``gain_db`` dB is added as :func:`features.gain_offset` (exact for MFCCs).

    Returns
    -------
    X : np.ndarray [shape=(n_tracks * per_track, window_frames, n_features), float32]
    y : np.ndarray [shape=(n_tracks * per_track,)]  labels
    w : np.ndarray [shape=(n_tracks * per_track,)]  each window's track weight
    """
    W = cfg.window_frames
    X = np.empty((len(tracks) * per_track, W, cfg.n_features), np.float32)
    y = np.empty(len(X), np.float32)
    w = np.empty(len(X), np.float32)
    i = 0
    for t, tw in zip(tracks, weights):
        M = fit_to_window(t.features, cfg, t.path)
        starts = rng.integers(0, len(M) - W + 1, per_track)
        gains = rng.uniform(-gain_db, gain_db, per_track) if gain_db else np.zeros(len(starts))
        for s, g in zip(starts, gains):
            X[i] = M[s : s + W] + gain_offset(cfg, g)
            y[i], w[i] = t.label, tw
            i += 1
    return X, y, w


def fold_groups(tracks: list[Track], artists_of_all: bool = False) -> tuple[list[tuple[str, str]], str]:
    """The group of each track for cross-validation, and the rule used, in words.

    A track's album is its ``album`` tag (with the album artist), else its
    parent folder. When the likes (``artists_of_all``: the tracks of any
    label, as for genres) carry at least two artist tags, tracks are grouped
    by artist (album where untagged), so that no artist has tracks on both
    sides of a fold; otherwise by album.
    """
    info = [tags(t.path) for t in tracks]
    albums = [f"{i.get('albumartist', '')}\x00{i['album']}" if "album" in i else os.path.dirname(t.path)
              for t, i in zip(tracks, info)]
    liked_artists = {i["artist"] for t, i in zip(tracks, info) if (artists_of_all or t.label == 1) and "artist" in i}
    if len(liked_artists) >= 2:
        return [("artist", i["artist"]) if "artist" in i else ("album", a) for i, a in zip(info, albums)], "artist"
    return [("album", a) for a in albums], "album"
