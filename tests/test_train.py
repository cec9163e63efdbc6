import numpy as np
import pytest

from pers_rec import features as F
from pers_rec import model as Mo
from pers_rec import train as T
from pers_rec.errors import ParameterError

TINY = F.FeatureConfig(sr=8000, hop_length=500, n_fft=512, n_mels=32, n_mfcc=12, window_s=4, min_s=1.0)
TINY_M = Mo.ModelConfig(filters=(8, 8, 8), lstm_units=8, dense_units=8)


def tracks(n_pos=10, n_neg=10, seed=0, source="dislike"):
    """Separable fake feature matrices: likes have raised coefficients 1-6 (a brighter timbre)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_pos + n_neg):
        label = int(i < n_pos)
        M = rng.normal(size=(int(rng.integers(60, 200)), TINY.n_features)).astype(np.float32)
        M[:, 1:7] += 1.5 * label
        out.append(T.Track(f"/t/{i}.wav", label, "like" if label else source, M))
    return out


def test_choose_epoch_breaks_auc_ties_by_log_loss():
    auc = np.array([0.8, 1.0, 1.0, 0.999, 0.9])
    loss = np.array([0.6, 0.5, 0.3, 0.1, 0.05])
    assert T.choose_epoch(auc, loss) == 4  # within 0.005 of the best AUC, lowest loss
    assert T.choose_epoch(auc, loss, tol=0.0) == 3


def test_track_weights_balance_classes_and_downweight_unlabelled():
    ts = tracks(2, 0) + tracks(0, 2, seed=1) + tracks(0, 4, seed=2, source="unlabelled")
    w = T._track_weights(ts, T.TrainConfig(unlabelled_weight=0.5))
    labels = np.array([t.label for t in ts])
    assert w[labels == 1].sum() == pytest.approx(w[labels == 0].sum())
    assert w[2] == pytest.approx(2 * w[4])  # a dislike weighs twice an unlabelled track


def test_window_sampling_augments_offsets_and_gain():
    ts = tracks(1, 1)
    tcfg = T.TrainConfig(windows_per_track=5, gain_db=6.0)
    X, y, w = T._sample_windows(ts, TINY, tcfg, np.random.default_rng(0), np.ones(2))
    assert X.shape == (10, TINY.window_frames, TINY.n_features) and list(y) == [1] * 5 + [0] * 5
    # every window is a (looped) slice of its track plus a constant on coefficient 0 only
    M = F.fit_to_window(ts[0].features, TINY)
    for x in X[:5]:
        diffs = [np.abs((x - M[s : s + len(x)])[:, 1:]).max() for s in range(len(M) - len(x) + 1)]
        s = int(np.argmin(diffs))
        assert diffs[s] < 1e-5
        offset = x[:, 0] - M[s : s + len(x), 0]
        assert np.ptp(offset) < 1e-3 and abs(offset[0]) <= 6.0 * np.sqrt(TINY.n_mels) + 1e-3


def test_baseline_features():
    M = np.random.default_rng(0).normal(size=(100, 12)).astype(np.float32)
    f = T.baseline_features(M)
    assert f.shape == (48,)
    np.testing.assert_allclose(f[:12], M.mean(0), atol=1e-6)


def test_train_reports_cross_validation_and_baseline():
    ts = tracks()
    tcfg = T.TrainConfig(max_epochs=3, folds=3, windows_per_track=3, seed=1)
    res = T.train(ts, TINY, TINY_M, tcfg)
    cv = res.report["cross_validation"]
    assert cv["folds"] == 3 and 1 <= cv["model"]["epochs"] <= 3
    assert len(cv["per_epoch"]["roc_auc_mean"]) == 3 and len(cv["per_epoch"]["roc_auc_per_fold"]) == 3
    assert cv["baseline"]["roc_auc_mean"] > 0.9  # separable by a mean: the baseline must see it
    assert res.report["tracks"]["liked"] == 10 and res.report["tracks"]["by_source"]["dislike"] == 10
    assert res.report["final"]["kind"] == "trained on all tracks"
    assert len(res.report["final"]["train_loss"]) == cv["model"]["epochs"]
    again = T.train(ts, TINY, TINY_M, tcfg)  # reproducible with a seed
    assert again.report["cross_validation"]["per_epoch"]["roc_auc_mean"] == cv["per_epoch"]["roc_auc_mean"]


def test_ensemble_keeps_fold_models():
    res = T.train(tracks(), TINY, TINY_M, T.TrainConfig(max_epochs=2, folds=3, ensemble=True, windows_per_track=2))
    assert len(Mo.members(res.saved.model)) == 3 and res.report["final"]["kind"] == "ensemble of 3 fold models"


def test_too_few_tracks():
    with pytest.raises(ParameterError, match="at least 2 liked"):
        T.train(tracks(1, 5), TINY, TINY_M)
