"""The MFCC-statistics baseline and the ranking metrics, against independent computations."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from pers_rec.model import baseline as B


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


def test_fitted_baseline_equals_scikit_learns_pipeline():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(3)
    mats = [rng.normal(loc=i % 2, size=(80, 5)).astype(np.float32) for i in range(12)]
    y = np.array([i % 2 for i in range(12)])
    model = B.fit(mats, y, seed=0)
    X = np.stack([B.track_features(M) for M in mats])
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000,
                                                             random_state=0)).fit(X, y)
    assert np.allclose([model.score(M) for M in mats], ref.predict_proba(X)[:, 1], atol=1e-9)


def test_stacking_equals_the_manual_combination():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(10), np.zeros(30)]
    net = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, 40), 0.01, 0.99)
    base = np.clip(0.5 + 0.1 * (y - 0.5) + rng.normal(0, 0.2, 40), 0.01, 0.99)
    w, b = B.stack_fit(net, base, y)
    manual = 1 / (1 + np.exp(-(w[0] * np.log(net / (1 - net)) + w[1] * np.log(base / (1 - base)) + b)))
    assert np.allclose(B.stack_apply(w, b, net, base), manual, atol=1e-12)
    assert w[0] > w[1]  # the better-separating score weighs more


def test_stacker_is_cross_validated_on_the_other_folds_only():
    y = np.r_[np.ones(6), np.zeros(6)]
    net, base = np.linspace(0.2, 0.8, 12), np.linspace(0.8, 0.2, 12)
    splits = [(np.r_[1:6, 7:12], np.array([0, 6])), (np.r_[0, 2:6, 6, 8:12], np.array([1, 7]))]
    out = B.stack_cross_validate(net, base, y, splits)
    for tr, va in splits:
        w, b = B.stack_fit(net[tr], base[tr], y[tr])
        assert np.allclose(out[va], B.stack_apply(w, b, net[va], base[va]))


def test_ndcg_at_10_rewards_likes_at_the_top():
    from pers_rec.model.baseline import metrics

    labels = np.array([0] * 20 + [1, 1])
    best = metrics(labels, np.r_[np.zeros(20), 1.0, 0.9])
    worst = metrics(labels, np.r_[np.ones(20), 0.0, 0.1])
    assert best.ndcg10 == pytest.approx(1.0) and worst.ndcg10 == pytest.approx(0.0)
    # one like at rank 1, the other at rank 3: (1 + 1/log2(4)) / (1 + 1/log2(3))
    mid = metrics(np.array([1, 0, 1, 0]), np.array([4.0, 3.0, 2.0, 1.0]))
    assert mid.ndcg10 == pytest.approx((1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3)))
