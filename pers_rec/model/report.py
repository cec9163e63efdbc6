"""The training report as a type, and the figures drawn from results: training curves and ``explain``.

:class:`TrainReport` is the contract between training, the model file, the
command line and the demo: a dataclass with documented fields, written to
JSON with :meth:`TrainReport.to_json` and read back with
:meth:`TrainReport.from_json`, never a nested dict read by string keys.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np


@dataclass
class TrackEntry:
    """One training track: absolute ``path``, ``label`` (1 like, 0 not), ``source``
    (``"like"``, ``"dislike"`` or ``"unlabelled"``), its number of feature ``frames``, and the label's
    confidence ``weight`` and ``signal`` (``pers-rec likes``: ``"starred"``, ``"rating"``, ``"plays"``, ...)."""

    path: str
    label: int
    source: str
    frames: int
    weight: float = 1.0
    signal: str = ""


@dataclass
class FailedTrack:
    """A listed track that could not be used: its ``path``, ``label`` and the ``error`` (``"Type: reason"``)."""

    path: str
    label: int
    error: str


@dataclass
class Metrics:
    """Track-level ranking quality: ROC-AUC, average precision and NDCG of the top 10 (None when a set holds one
    class only; ``ndcg10`` also None in reports written before it was measured)."""

    roc_auc: float | None
    ap: float | None
    ndcg10: float | None = None


@dataclass
class CVResult:
    """One system's cross-validated figures.

    Attributes
    ----------
    per_fold : list of Metrics
        On each fold's held-out tracks.
    pooled : Metrics
        Over all out-of-fold scores together.
    roc_auc_mean, roc_auc_std, ap_mean, ap_std : float or None
        Over the folds with both classes.
    epochs : int or None
        The chosen training length (the network only).
    """

    per_fold: list[Metrics]
    pooled: Metrics
    roc_auc_mean: float | None
    roc_auc_std: float | None
    ap_mean: float | None
    ap_std: float | None
    epochs: int | None = None

    @classmethod
    def from_dict(cls, d: dict) -> CVResult:
        return cls(**{**d, "per_fold": [Metrics(**m) for m in d["per_fold"]], "pooled": Metrics(**d["pooled"])})


@dataclass
class EpochCurves:
    """Cross-validation curves, one value per epoch (index 0 = after epoch 1); NaN written as None."""

    roc_auc_mean: list[float | None]
    roc_auc_std: list[float | None]
    ap_mean: list[float | None]
    train_loss_mean: list[float | None]
    val_track_log_loss_mean: list[float | None]
    roc_auc_per_fold: list[list[float | None]]


@dataclass
class CrossValidation:
    """How well the network and the baseline did on held-out tracks, on the same folds."""

    folds: int
    per_epoch: EpochCurves
    model: CVResult
    baseline: CVResult
    note: str = ("the model's figures are at the epoch chosen on them (slightly optimistic); "
                 "the baseline has no such choice")
    #: The teacher's track vectors + logistic regression on the same folds (when the teacher was installed).
    teacher: CVResult | None = None
    #: The start encoder's own track vectors, frozen, + logistic regression on the same folds (when there was one).
    encoder: CVResult | None = None

    @classmethod
    def from_dict(cls, d: dict) -> CrossValidation:
        return cls(d["folds"], EpochCurves(**d["per_epoch"]), CVResult.from_dict(d["model"]),
                   CVResult.from_dict(d["baseline"]), d.get("note", cls.note),
                   *(CVResult.from_dict(d[k]) if d.get(k) else None for k in ("teacher", "encoder")))


@dataclass
class Blend:
    """How a track's final score is made from the network's and the baseline's.

    Attributes
    ----------
    chosen : str
        ``"stacked"`` (logistic stacking of the network and the baseline), ``"encoder"`` (of the network and a
        logistic regression on the track vectors of the encoder the network started from, frozen), ``"teacher"``
        (of the network and a logistic regression on the musicnn teacher's track vectors) or ``"network"``.
    why : str
        The cross-validated comparison behind the choice, in words.
    cv_roc_auc : dict
        Out-of-fold ROC-AUC of ``"network"``, ``"baseline"`` and ``"stacked"`` (the
        stacker itself cross-validated over the same folds), ``"encoder"`` and ``"encoder_stacked"`` when the
        start encoder's vectors were there, ``"teacher"`` and ``"teacher_stacked"`` when the teacher's were.
    weights : list of float
        ``[w_network, w_other]`` on the logits of the two scores of the chosen stack.
    intercept : float
    baseline : dict
        The baseline fitted on every training track (``baseline.BaselineModel`` fields).
    teacher : dict or None
        The logistic regression on the teacher's track vectors, fitted on every training track
        (``baseline.BaselineModel`` fields); None when the teacher was not there.
    encoder : dict or None
        The logistic regression on the start encoder's track vectors, fitted on every training track; None when
        the network started from no encoder.
    """

    chosen: str
    why: str
    cv_roc_auc: dict
    weights: list[float]
    intercept: float
    baseline: dict
    teacher: dict | None = None
    encoder: dict | None = None

    #: How each choice makes a track's score, in the words every command prints.
    WORDS = {"stacked": "network stacked with the baseline", "teacher": "network stacked with the teacher",
             "encoder": "network stacked with the start encoder's vectors", "network": "network alone"}

    def describe(self) -> str:
        """How a track's final score is made, in words: the one description every command prints."""
        return self.WORDS.get(self.chosen, self.chosen)


def describe_blend(blend: Blend | None) -> str:
    """:meth:`Blend.describe` of a model's blend; a model without one scores with the network alone."""
    return Blend.WORDS["network"] if blend is None else blend.describe()


@dataclass
class TrainReport:
    """Everything about one training run (saved inside the model and as ``MODEL.json``).

    Attributes
    ----------
    pers_rec_version, created : str
    seconds : float
        Wall time of training (cross-validation and final model), not of feature extraction.
    versions : dict
        Library versions, Keras backend and device.
    feature_config, model_config, train_config : dict
        The configurations, as their ``to_dict``/``asdict``.
    params : int
        Parameters of the final model.
    tracks : list of TrackEntry
    windows_per_epoch : int
    class_weight_total : dict
        Total sample weight of the ``"liked"`` and ``"not_liked"`` tracks (equal: balanced).
    cross_validation : CrossValidation
    final_kind : str
        ``"trained on all tracks"`` or ``"ensemble of K fold models"``.
    final_train_loss : list of float or None
        Per epoch, for a model trained on all tracks.
    failed : list of FailedTrack
        Listed tracks that could not be used.
    blend : Blend or None
        How track scores combine the network and the baseline (None in models
        from before stacking: the network alone).
    """

    pers_rec_version: str
    created: str
    elapsed_s: float
    versions: dict
    feature_config: dict
    model_config: dict
    train_config: dict
    params: int
    tracks: list[TrackEntry]
    windows_per_epoch: int
    class_weight_total: dict
    cross_validation: CrossValidation
    final_kind: str
    final_train_loss: list[float] | None
    failed: list[FailedTrack] = field(default_factory=list)
    blend: Blend | None = None

    @property
    def n_liked(self) -> int:
        return sum(t.label for t in self.tracks)

    @property
    def n_not_liked(self) -> int:
        return len(self.tracks) - self.n_liked

    def by_source(self, source: str) -> int:
        """Training tracks from ``source`` (``"like"``, ``"dislike"`` or ``"unlabelled"``)."""
        return sum(t.source == source for t in self.tracks)

    def liked_paths(self) -> set[str]:
        """Paths of the tracks trained on as likes."""
        return {t.path for t in self.tracks if t.source == "like"}

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        from ..fileio import json_default

        return json.dumps(self.to_dict(), indent=2, default=json_default, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict) -> TrainReport:
        known = {f.name for f in fields(cls)}
        if "seconds" in d and "elapsed_s" not in d:  # reports written before durations were all named *_s
            d = {**d, "elapsed_s": d["seconds"]}
        d = {k: v for k, v in d.items() if k in known}
        return cls(**{**d, "tracks": [TrackEntry(**t) for t in d["tracks"]],
                      "failed": [FailedTrack(**f) for f in d.get("failed", [])],
                      "cross_validation": CrossValidation.from_dict(d["cross_validation"]),
                      "blend": Blend(**d["blend"]) if d.get("blend") else None})

    @classmethod
    def from_json(cls, text: str) -> TrainReport:
        return cls.from_dict(json.loads(text))


def plot_curves(report: TrainReport, path: str | os.PathLike) -> Path:
    """Training-curve PNG: cross-validated ROC-AUC per epoch (mean +- std, each fold) beside the baseline, and loss."""
    from ..plots import figure

    with figure(path, figsize=(11, 4), constrained_layout=True) as fig:
        draw_curves(report, *fig.subplots(1, 2))
    return Path(path)


def draw_curves(report: TrainReport, a1, a2) -> None:
    """Draw the training curves on two Axes: cross-validated ROC-AUC per epoch (``a1``) and the losses (``a2``)."""
    cv = report.cross_validation
    pe = cv.per_epoch
    epochs = np.arange(1, len(pe.roc_auc_mean) + 1)
    mean = np.array(pe.roc_auc_mean, float)
    std = np.array(pe.roc_auc_std, float)
    for fold in pe.roc_auc_per_fold:
        a1.plot(epochs, np.array(fold, float), color="0.75", lw=0.8)
    a1.plot(epochs, mean, color="C0", lw=2, label=f"model, {cv.folds}-fold mean")
    a1.fill_between(epochs, mean - std, mean + std, color="C0", alpha=0.2)
    b = cv.baseline.roc_auc_mean
    if b is not None:
        a1.axhline(b, color="C3", ls="--", label=f"baseline (MFCC stats + logistic regression) {b:.3f}")
    a1.axvline(cv.model.epochs, color="k", ls=":", label=f"chosen: {cv.model.epochs} epochs")
    a1.set(xlabel="epoch", ylabel="track-level ROC-AUC (held-out folds)", ylim=(0, 1.02), title="cross-validation")
    a1.legend(loc="lower right", fontsize=8)
    a2.plot(epochs, np.array(pe.train_loss_mean, float), color="C1", label="fold training loss (mean)")
    if report.final_train_loss:
        a2.plot(np.arange(1, len(report.final_train_loss) + 1), report.final_train_loss, color="C2",
                label="final model")
    a2.set(xlabel="epoch", ylabel="weighted binary cross-entropy", title="training loss")
    a2.legend(fontsize=8)


def plot_explain(M: np.ndarray, score, cfg, title: str, path: str | os.PathLike, blend: Blend | None = None) -> Path:
    """PNG of one track's window-score timeline over its features, the best segment marked.

    Parameters
    ----------
    M : np.ndarray [shape=(n_frames, n_features)]
        The track's features (shown standardised per coefficient, else c0's range hides the rest).
    score : scoring.TrackScore
    cfg : FeatureConfig
    title : str
        Usually the file name.
    """
    from ..plots import figure

    with figure(path, figsize=(12, 6), constrained_layout=True) as fig:
        draw_explain(M, score, cfg, title, *fig.subplots(2, 1, sharex=True, height_ratios=[2, 1.2]), blend=blend)
    return Path(path)


def draw_explain(M: np.ndarray, score, cfg, title: str, a1, a2, blend: Blend | None = None) -> None:
    """Draw :func:`plot_explain`'s two panels on ``a1`` (features, best segment) and ``a2`` (window scores)."""
    dur = max(len(M) - 1, 0) / cfg.fps
    shown = (M - M.mean(0)) / (M.std(0) + 1e-6)
    shown = shown[:: max(1, len(shown) // 2000)]  # ~1,000 pixels wide: drawing 15,000 columns costs a second
    a1.imshow(shown.T, origin="lower", aspect="auto", cmap="viridis", vmin=-3, vmax=3,
              extent=(0, len(M) / cfg.fps, -0.5, M.shape[1] - 0.5))
    a1.set_ylabel(("MFCC" if cfg.kind == "mfcc" else "mel band") + " (standardised)")
    a1.axvspan(score.best_start_s, score.best_end_s, color="white", alpha=0.25, lw=0)
    how = "mean of" if abs(score.network_score - score.score) <= 1e-9 else f"{describe_blend(blend)}; network mean over"
    a1.set_title(f"{title}: track score {score.score:.3f} ({how} {score.n_windows} windows); "
                 f"best {score.best_start_s:.0f}-{score.best_end_s:.0f} s at {score.best_score:.3f}")
    centres = score.starts_s + min(cfg.window_s, dur) / 2
    a2.plot(centres, score.window_scores, marker="o", ms=3, color="C1",
            label=f"window score ({cfg.window_s} s window, hop {cfg.hop_s} s)")
    a2.axhline(score.score, color="C0", ls="--", label="track score")
    if score.network_score is not None and abs(score.network_score - score.score) > 1e-9:
        a2.axhline(score.network_score, color="C0", ls=":", label="mean of the windows (before stacking)")
    a2.axvspan(score.best_start_s, score.best_end_s, color="C1", alpha=0.15, lw=0, label="best segment")
    a2.set(xlabel="time (s)", ylabel="like", ylim=(-0.02, 1.02), xlim=(0, max(dur, cfg.window_s)))
    a2.legend(loc="upper right", fontsize=8)
