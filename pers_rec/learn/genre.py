"""Genres for the genre head (Murray): where each track's genre comes from, and how well the head learned them.

``pers-rec train --target genre`` reads one genre per track from the files'
``genre`` tags (mutagen; nothing is ever written into an audio file) or from
a CSV column, trains the head (:func:`train`) on the library's tracks that have
one, and writes beside the model a JSON report (:class:`GenreReport`) and a
PNG of the two confusion matrices: the network's and the MFCC-statistics
baseline's, both out-of-fold on the same folds (grouped by artist or album).

Spellings are merged case-insensitively ("Rock", "rock ", "ROCK" are one
genre, named as first seen). A genre with fewer than ``min_tracks`` tracks is
left out (and named in the report), since it can be neither learned nor
cross-validated.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ParameterError


def _clean(genre) -> str | None:
    if genre is None or (isinstance(genre, float) and np.isnan(genre)):
        return None
    g = " ".join(str(genre).split())
    return g or None


def read_genres(paths: list[str], csv_path: str | os.PathLike | None = None, column: str = "genre"
                ) -> dict[str, str]:
    """``{path: genre}`` for those of ``paths`` that have one: from the CSV's ``path`` and ``column`` columns
    (paths relative to the CSV's folder), else from each file's ``genre`` tag."""
    raw: dict[str, str | None] = {}
    if csv_path is not None:
        import pandas as pd

        try:
            df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file: name it
            raise ParameterError(f"--genres {csv_path}: not a readable CSV ({type(exc).__name__}: {exc})") from None
        for col in ("path", column):
            if col not in df.columns:
                raise ParameterError(f"--genres {csv_path}: no {col!r} column (columns: {', '.join(df.columns)})")
        base = Path(csv_path).resolve().parent
        listed = {os.path.normpath(str(base / p)): g for p, g in zip(df["path"], df[column])}
        raw = {p: listed.get(os.path.normpath(os.path.abspath(p))) for p in paths}
    else:
        from ..audio.tags import read

        raw = {p: read(p).get("genre") for p in paths}
    names: dict[str, str] = {}  # case-folded -> first spelling seen
    out = {}
    for p in paths:
        g = _clean(raw.get(p))
        if g is not None:
            out[p] = names.setdefault(g.casefold(), g)
    return out


def choose_classes(genres: dict[str, str], min_tracks: int) -> tuple[list[str], dict[str, int]]:
    """The genres with at least ``min_tracks`` tracks (sorted), and the left-out ones with their counts."""
    counts: dict[str, int] = {}
    for g in genres.values():
        counts[g] = counts.get(g, 0) + 1
    keep = sorted(g for g, n in counts.items() if n >= min_tracks)
    return keep, {g: n for g, n in sorted(counts.items()) if n < min_tracks}


def confusion(labels: np.ndarray, pred: np.ndarray, n: int) -> list[list[int]]:
    """``C[i][j]``: tracks of genre ``i`` predicted as ``j``."""
    C = np.zeros((n, n), int)
    np.add.at(C, (labels, pred), 1)
    return C.tolist()


@dataclass
class GenreTraining:
    """What :func:`train` returns: the model and what cross-validation measured.

    Attributes
    ----------
    saved : SavedModel
        Its ``mcfg.classes`` are the genres; no :class:`TrainReport` (see :class:`GenreReport`).
    splits_how : str
        How the folds were grouped.
    folds, best_epoch : int
    final_kind : str
    train_config : dict
    curves : dict
        Mean held-out ``accuracy`` and ``val_loss`` per epoch.
    network_oof, baseline_oof : np.ndarray [shape=(n_tracks, n_genres)]
        Out-of-fold genre probabilities of the network and of the baseline.
    splits : list of (train indices, held-out indices)
    """

    saved: object
    splits_how: str
    folds: int
    best_epoch: int
    final_kind: str
    train_config: dict
    curves: dict
    network_oof: np.ndarray
    baseline_oof: np.ndarray
    splits: list


@dataclass
class Accuracies:
    """Out-of-fold accuracies and confusion matrix of one genre classifier."""

    accuracy: float
    balanced_accuracy: float
    per_fold_accuracy: list[float]
    confusion: list[list[int]]

    @classmethod
    def of(cls, labels: np.ndarray, probs: np.ndarray, splits) -> Accuracies:
        pred = probs.argmax(axis=1)
        recall = [float(np.mean(pred[labels == c] == c)) for c in np.unique(labels)]
        per_fold = [float(np.mean(pred[va] == labels[va])) for _, va in splits]
        return cls(float(np.mean(pred == labels)), float(np.mean(recall)), per_fold,
                   confusion(labels, pred, probs.shape[1]))


@dataclass
class GenreReport:
    """What ``train --target genre`` measured (written as JSON beside the model)."""

    pers_rec_version: str
    created: str
    elapsed_s: float
    classes: list[str]
    counts: dict[str, int]
    left_out_genres: dict[str, int]
    tracks_without_genre: int
    folds: int
    splits_how: str
    best_epoch: int
    final_kind: str
    network: Accuracies
    baseline: Accuracies
    curves: dict
    train_config: dict
    tracks: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)

    def to_json(self) -> str:
        import json

        from ..fileio import json_default

        return json.dumps(asdict(self), indent=2, default=json_default) + "\n"


def plot(report: GenreReport, path: str | os.PathLike) -> None:
    """The network's and the baseline's out-of-fold confusion matrices side by side, as a PNG (atomically)."""
    from ..plots import figure

    n = len(report.classes)
    with figure(path, figsize=(4 + 1.2 * n, 2.5 + 0.5 * n), constrained_layout=True) as fig:
        draw_confusions(report, fig.subplots(1, 2))


def draw_confusions(report: GenreReport, axes) -> None:
    """Draw the network's and the baseline's confusion matrices on two Axes."""
    n = len(report.classes)
    for ax, (name, sc) in zip(axes, (("network", report.network), ("baseline (MFCC statistics)", report.baseline))):
        C = np.array(sc.confusion)
        ax.imshow(C / np.maximum(C.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(C[i, j]), ha="center", va="center", fontsize=8)
        ax.set_xticks(range(n), report.classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(n), report.classes, fontsize=8)
        ax.set(xlabel="predicted", ylabel="genre", title=f"{name}: accuracy {sc.accuracy:.3f}")


def make_report(tracks, classes, cv: GenreTraining, elapsed_s: float, left_out: dict, n_without: int, failed
                ) -> GenreReport:
    from .. import __version__

    labels = np.array([t.label for t in tracks])
    return GenreReport(
        pers_rec_version=__version__, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), elapsed_s=round(elapsed_s, 2),
        classes=list(classes), counts={c: int((labels == i).sum()) for i, c in enumerate(classes)},
        left_out_genres=left_out, tracks_without_genre=n_without, folds=cv.folds, splits_how=cv.splits_how,
        best_epoch=cv.best_epoch, final_kind=cv.final_kind,
        network=Accuracies.of(labels, cv.network_oof, cv.splits),
        baseline=Accuracies.of(labels, cv.baseline_oof, cv.splits), curves=cv.curves,
        train_config=cv.train_config, tracks=[{"path": t.path, "genre": classes[t.label]} for t in tracks],
        failed=[{"path": p, "error": e} for p, e in failed])


def train(tracks: list, classes: list[str], cfg, mcfg=None,
                tcfg=None, *, progress: bool = False, pretrained=None) -> GenreTraining:
    """A genre model (Murray): the same trunk and LSTM, a softmax head over ``classes``, trained as the taste
    model is (cross-validated fold models at the chosen epoch, averaged), with the multi-class baseline on the
    same folds.

    Parameters
    ----------
    tracks : list of Track
        ``label`` is the index of the track's genre in ``classes``; every genre has at least 2 tracks.

    Returns
    -------
    GenreTraining
    """
    from dataclasses import asdict, replace

    from ..config import TrainConfig
    from ..model import networks
    from ..model.baseline import cross_validate_classes
    from ..model.checkpoint import SavedModel
    from ..progress import bar
    from .dataset import track_weights
    from .train import choose_epoch, cross_validate, deterministic, final_model, make_splits, nan_list

    mcfg, tcfg = replace(mcfg or networks.ModelConfig(), classes=tuple(classes)), tcfg or TrainConfig()
    labels = np.array([t.label for t in tracks])
    counts = np.bincount(labels, minlength=len(classes))
    if len(classes) < 2 or counts.min() < 2:
        raise ParameterError("a genre model needs 2 or more genres with 2 or more tracks each, got "
                             + ", ".join(f"{c} ({n})" for c, n in zip(classes, counts)))
    k = int(min(tcfg.folds, counts.min()))
    if tcfg.ensemble:
        tcfg = replace(tcfg, ensemble=k)
    deterministic(tcfg.seed)
    splits, how = make_splits(tracks, labels, k, tcfg.seed, names={i: f"{c!r}" for i, c in enumerate(classes)},
                              artists_of_all=True)
    weights = track_weights(tracks, 1.0)
    with bar(k * tcfg.max_epochs + 1, "training genres", "epoch", progress) as b:
        curves = cross_validate(tracks, splits, weights, cfg, mcfg, tcfg, b, pretrained, metrics=metrics)
        best_epoch = choose_epoch(np.nanmean(curves.metric, axis=0), np.nanmean(curves.val_loss, axis=0))
        final, _ = final_model(tracks, weights, curves, best_epoch, cfg, mcfg, tcfg, pretrained)
        b.update(1)
    base_oof = cross_validate_classes([t.features for t in tracks], labels, splits, tcfg.seed)
    kind = f"ensemble of {k} fold models" if tcfg.ensemble else "trained on all tracks"
    return GenreTraining(SavedModel(final, cfg, mcfg), how, k, best_epoch, kind, asdict(tcfg),
                         {"accuracy": nan_list(np.nanmean(curves.metric, axis=0)),
                          "val_loss": nan_list(np.nanmean(curves.val_loss, axis=0))},
                         curves.oof[best_epoch - 1], base_oof, splits)


def metrics(labels: np.ndarray, probs: np.ndarray) -> tuple[float, float, float]:
    """Held-out accuracy, balanced accuracy (mean recall over the genres present) and log-loss of genre
    probabilities."""
    pred = probs.argmax(axis=1)
    recall = [np.mean(pred[labels == c] == c) for c in np.unique(labels)]
    loss = -np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)))
    return float(np.mean(pred == labels)), float(np.mean(recall)), float(loss)
