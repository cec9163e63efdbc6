"""The MFCC-statistics baseline and the ranking metrics, against independent computations."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from pers_rec import baseline as B


def test_track_features_are_mean_and_std_of_coefficients_and_deltas():
    M = np.cumsum(np.random.default_rng(0).normal(size=(100, 12)), axis=0).astype(np.float32)
    f = B.track_features(M)
    assert f.shape == (48,)
    # independent delta: Savitzky-Golay first derivative over 9 frames (weights -4..4 / 60), edges repeated
    padded = np.pad(M.astype(np.float64), ((4, 4), (0, 0)), mode="edge")
    d = sum(k * padded[4 + k : 4 + k + len(M)] for k in range(-4, 5)) / 60.0
    want = np.concatenate([M.mean(0), M.std(0), d.mean(0), d.std(0)])
    np.testing.assert_allclose(f, want, rtol=1e-4, atol=1e-4)


def test_metrics_need_both_classes():
    assert B.metrics(np.array([1, 1]), np.array([0.2, 0.4])).roc_auc is None
    y, s = np.array([0, 1, 0, 1, 1]), np.array([0.1, 0.8, 0.4, 0.3, 0.9])
    m = B.metrics(y, s)
    assert m.roc_auc == pytest.approx(roc_auc_score(y, s)) and m.ap == pytest.approx(average_precision_score(y, s))


def test_log_loss_and_fold_summary():
    assert B.log_loss(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(np.log(2))
    s = B.summarize_folds([B.metrics(np.array([0, 1]), np.array([0.1, 0.9])), B.metrics(np.array([1]), np.array([0.3]))],
                          B.metrics(np.array([0, 1]), np.array([0.1, 0.9])))
    assert (s.roc_auc_mean, s.roc_auc_std) == (1.0, 0.0)  # the one-class fold is left out


def test_cross_validation_scores_every_track_out_of_fold():
    rng = np.random.default_rng(0)
    y = np.array([1] * 8 + [0] * 8)
    mats = [rng.normal(size=(50, 4)).astype(np.float32) + 2 * lab for lab in y]
    splits = [(np.arange(16) % 4 != k, np.arange(16) % 4 == k) for k in range(4)]
    splits = [(np.flatnonzero(a), np.flatnonzero(b)) for a, b in splits]
    res, oof = B.cross_validate(mats, y, splits, seed=0)
    assert oof.shape == (16,) and res.roc_auc_mean == 1.0 and len(res.per_fold) == 4
