"""The yardstick: an MFCC-statistics baseline, and the ranking metrics every system is judged by.

The baseline is logistic regression on each track's mean and standard
deviation of every coefficient and of its delta (``4 * n_features`` numbers,
80 by default), cross-validated on the same folds as the network: if it is as
good, the network is not earning its keep on that listener's data.
"""

from __future__ import annotations

import numpy as np

from .report import CVResult, Metrics


def metrics(labels: np.ndarray, scores: np.ndarray) -> Metrics:
    """ROC-AUC and average precision of ``scores`` [shape=(n,)] against 0/1 ``labels`` [shape=(n,)].

    Both are None when ``labels`` hold one class only (neither is defined then).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return Metrics(None, None)
    return Metrics(float(roc_auc_score(labels, scores)), float(average_precision_score(labels, scores)))


def summarize_folds(per_fold: list[Metrics], pooled: Metrics, epochs: int | None = None) -> CVResult:
    """Mean and standard deviation over the folds whose metrics are defined."""
    out = {}
    for k in ("roc_auc", "ap"):
        vals = [getattr(m, k) for m in per_fold if getattr(m, k) is not None]
        out[f"{k}_mean"] = float(np.mean(vals)) if vals else None
        out[f"{k}_std"] = float(np.std(vals)) if vals else None
    return CVResult(per_fold, pooled, epochs=epochs, **out)


def log_loss(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean binary cross-entropy (nats) of probabilities ``scores`` [shape=(n,)] for 0/1 ``labels`` [shape=(n,)]."""
    p = np.clip(np.asarray(scores, np.float64), 1e-7, 1 - 1e-7)
    y = np.asarray(labels, np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def track_features(M: np.ndarray) -> np.ndarray:
    """The baseline's description of one track.

    Parameters
    ----------
    M : np.ndarray [shape=(n_frames, n_features)]

    Returns
    -------
    np.ndarray [shape=(4 * n_features,)]
        Mean and standard deviation over time of each coefficient, then of its
        delta (librosa's 9-frame Savitzky-Golay derivative, edges by ``nearest``).
    """
    import librosa

    d = librosa.feature.delta(M.T, width=9, mode="nearest").T
    return np.concatenate([M.mean(0), M.std(0), d.mean(0), d.std(0)])


def cross_validate(matrices: list[np.ndarray], labels: np.ndarray, splits, seed: int) -> tuple[CVResult, np.ndarray]:
    """Out-of-fold figures and scores of the baseline on the given splits.

    Parameters
    ----------
    matrices : list of np.ndarray [shape=(n_frames_i, n_features)]
        One feature matrix per track.
    labels : np.ndarray [shape=(n_tracks,)]
    splits : list of (train_index, test_index)
    seed : int

    Returns
    -------
    result : CVResult
    oof : np.ndarray [shape=(n_tracks,)]
        Each track's score from the fold that held it out.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.stack([track_features(M) for M in matrices])
    y = np.asarray(labels)
    oof = np.zeros(len(y))
    per_fold = []
    for train_idx, val_idx in splits:
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000,
                                                                 random_state=seed))
        clf.fit(X[train_idx], y[train_idx])
        oof[val_idx] = clf.predict_proba(X[val_idx])[:, 1]
        per_fold.append(metrics(y[val_idx], oof[val_idx]))
    return summarize_folds(per_fold, metrics(y, oof)), oof
