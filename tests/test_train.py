"""Cross-validation, the training length, the final model and the ensemble."""

import numpy as np
import pytest

from pers_rec import features as F
from pers_rec import model as Mo
from pers_rec import train as T
from pers_rec.dataset import Track
from pers_rec.errors import ParameterError
from pers_rec.scoring import Scorer

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
        out.append(Track(f"/t/{seed}_{i}.wav", label, "like" if label else source, M))
    return out


def test_choose_epoch_breaks_auc_ties_by_log_loss():
    auc = np.array([0.8, 1.0, 1.0, 0.999, 0.9])
    loss = np.array([0.6, 0.5, 0.3, 0.1, 0.05])
    assert T.choose_epoch(auc, loss) == 4  # within 0.005 of the best AUC, lowest loss
    assert T.choose_epoch(auc, loss, tol=0.0) == 3


def test_train_reports_cross_validation_and_baseline():
    ts = tracks()
    tcfg = T.TrainConfig(max_epochs=3, folds=3, windows_per_track=3, seed=1)
    saved = T.train(ts, TINY, TINY_M, tcfg)
    rep = saved.report
    cv = rep.cross_validation
    assert cv.folds == 3 and 1 <= cv.model.epochs <= 3
    assert len(cv.per_epoch.roc_auc_mean) == 3 and len(cv.per_epoch.roc_auc_per_fold) == 3
    assert cv.baseline.roc_auc_mean > 0.9  # separable by a mean: the baseline must see it
    assert rep.n_liked == 10 and rep.by_source("dislike") == 10
    assert rep.final_kind == "trained on all tracks" and len(rep.final_train_loss) == cv.model.epochs
    assert rep.params == saved.model.count_params() and rep.windows_per_epoch == 60
    again = T.train(ts, TINY, TINY_M, tcfg)  # reproducible with a seed
    assert again.report.cross_validation.per_epoch.roc_auc_mean == cv.per_epoch.roc_auc_mean


def test_ensemble_members_hold_the_fold_weights_at_the_chosen_epoch(monkeypatch):
    """The ensemble's members are exactly the fold models after the chosen epoch, and it averages them."""
    snapshots = {}
    real = T._cross_validate

    def spy(*args, **kw):
        curves = real(*args, **kw)
        snapshots["w"] = curves.fold_weights
        return curves

    monkeypatch.setattr(T, "_cross_validate", spy)
    ts = tracks()
    saved = T.train(ts, TINY, TINY_M, T.TrainConfig(max_epochs=3, ensemble=3, windows_per_track=2))
    e = saved.report.cross_validation.model.epochs
    members = Mo.members(saved.model)
    assert len(members) == 3 and saved.report.final_kind == "ensemble of 3 fold models"
    X = np.stack([F.fit_to_window(t.features, TINY)[: TINY.window_frames] for t in ts[:6]])
    outs = []
    for f, (trunk, head) in enumerate(members):
        fold = Mo.build(TINY, TINY_M)
        fold.set_weights(snapshots["w"][f][e - 1])
        ft, fh = Mo.members(fold)[0]
        for a, b in zip(trunk.get_weights() + head.get_weights(), ft.get_weights() + fh.get_weights()):
            np.testing.assert_array_equal(a, b)
        outs.append(np.asarray(fold.predict_on_batch(X)))
    np.testing.assert_allclose(saved.model.predict_on_batch(X), np.mean(outs, axis=0), atol=1e-6)
    scorer = Scorer(saved)
    assert np.isfinite(scorer.mean_scores([t.features for t in ts])).all()


def test_too_few_tracks():
    with pytest.raises(ParameterError, match="at least 2 liked"):
        T.train(tracks(1, 5), TINY, TINY_M)


@pytest.mark.parametrize("kw, match", [({"ensemble": 1}, "ensemble"), ({"ensemble": -2}, "ensemble"),
                                       ({"max_epochs": 0}, "max_epochs"), ({"windows_per_track": 0}, "windows_per_track"),
                                       ({"folds": 1}, "folds")])
def test_invalid_train_configs(kw, match):
    with pytest.raises(ParameterError, match=match):
        T.TrainConfig(**kw)
    assert T.TrainConfig(ensemble=4).folds == 4
