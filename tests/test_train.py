"""Cross-validation, the training length, the final model and the ensemble."""

import re
from dataclasses import replace

import numpy as np
import pytest

from pers_rec.audio import features as F
from pers_rec.errors import ParameterError
from pers_rec.learn import train as T
from pers_rec.learn.dataset import Track
from pers_rec.model import networks as Mo
from pers_rec.model.report import Blend
from pers_rec.model.scoring import Scorer

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
    auc = np.ones(5)
    loss = np.array([0.5, 0.4, 0.3, 0.2, 0.1])  # smoothed: 0.45 0.4 0.3 0.2 0.15
    assert T.choose_epoch(auc, loss) == 5


def test_choose_epoch_ignores_a_lone_spike():
    """The raw argmax (epoch 3) is one noisy epoch; the 3-epoch smoothed curve peaks late."""
    auc = np.array([0.5, 0.6, 0.95, 0.6, 0.7, 0.8, 0.85, 0.86, 0.85])
    assert int(np.argmax(auc)) + 1 == 3
    assert T.choose_epoch(auc, np.zeros(9)) == 8  # smoothed 0.853 (epoch 8) and 0.855 (epoch 9) tie; the first wins
    assert T.choose_epoch(auc, np.zeros(9), tol=0.0) == 9


def test_smooth_is_a_centred_moving_average():
    x = np.array([1.0, 2.0, np.nan, 4.0, 8.0])
    assert np.allclose(T.smooth(x), [1.5, 1.5, 3.0, 6.0, 6.0])


def test_train_reports_cross_validation_and_baseline():
    ts = tracks()
    tcfg = T.TrainConfig(max_epochs=3, folds=3, ensemble=0, windows_per_track=3, seed=1)
    saved = T.train(ts, TINY, TINY_M, tcfg)
    rep = saved.report
    cv = rep.cross_validation
    assert cv.folds == 3 and 1 <= cv.model.epochs <= 3
    assert len(cv.per_epoch.roc_auc_mean) == 3 and len(cv.per_epoch.roc_auc_per_fold) == 3
    assert cv.baseline.roc_auc_mean > 0.9  # separable by a mean: the baseline must see it
    assert rep.n_liked == 10 and rep.by_source("dislike") == 10
    assert rep.final_kind == "trained on all tracks" and len(rep.final_train_loss) == cv.model.epochs
    assert rep.params == saved.model.count_params() and rep.windows_per_epoch == 60
    assert cv.teacher is None  # no teacher vectors given
    # a reference on given track vectors (the teacher's, in use): one that knows the labels, one that is noise
    labels = np.array([t.label for t in ts], float)
    noise = np.random.default_rng(0).normal(size=(len(ts), 6))
    again = T.train(ts, TINY, TINY_M, tcfg, teacher_vectors=np.c_[labels, noise])  # reproducible with a seed
    assert again.report.cross_validation.per_epoch.roc_auc_mean == cv.per_epoch.roc_auc_mean
    assert again.report.cross_validation.teacher.roc_auc_mean > 0.9  # the labels are one of its columns
    back = type(rep).from_json(again.report.to_json())
    assert back.cross_validation.teacher == again.report.cross_validation.teacher


def test_ensemble_members_hold_the_fold_weights_at_the_chosen_epoch(monkeypatch):
    """The ensemble's members are exactly the fold models after the chosen epoch, and it averages them."""
    snapshots = {}
    real = T.cross_validate

    def spy(*args, **kw):
        curves = real(*args, **kw)
        snapshots["w"] = curves.fold_weights
        return curves

    monkeypatch.setattr(T, "cross_validate", spy)
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


def test_splits_never_put_one_album_on_both_sides():
    ts = tracks(12, 12)
    for i, t in enumerate(ts):  # likes in 6 album folders, others in 4
        t.path = f"/lib/{'L' if t.label else 'N'}{i % (6 if t.label else 4)}/{i}.wav"
    labels = np.array([t.label for t in ts])
    splits, how = T.make_splits(ts, labels, 3, seed=0)
    album = np.array([t.path.rsplit("/", 1)[0] for t in ts])
    assert how == "folds: likes by album; other tracks by album" and len(splits) == 3
    for tr, va in splits:
        assert not set(album[tr]) & set(album[va]) and labels[va].sum() > 0
    assert sorted(np.concatenate([va for _, va in splits])) == list(range(24))


def test_likes_from_one_album_are_split_by_track():
    ts = tracks(6, 9)
    for i, t in enumerate(ts):
        t.path = f"/lib/{'likes' if t.label else f'N{i % 3}'}/{i}.wav"
    labels = np.array([t.label for t in ts])
    splits, how = T.make_splits(ts, labels, 3, seed=0)
    assert how == "folds: likes by track (they come from 1 album); other tracks by album"
    album = np.array([t.path.rsplit("/", 1)[0] for t in ts])
    for tr, va in splits:
        assert labels[va].sum() == 2 and not set(album[tr][labels[tr] == 0]) & set(album[va][labels[va] == 0])


def test_stacked_score_is_the_reported_combination_of_network_and_baseline():
    from pers_rec.model import baseline as B

    saved = T.train(tracks(), TINY, TINY_M, T.TrainConfig(max_epochs=2, folds=2, windows_per_track=2, blend="stacked"))
    blend = saved.report.blend
    assert blend.chosen == "stacked" and set(blend.cv_roc_auc) == {"network", "baseline", "stacked"}
    sc = Scorer(saved)
    mats = [t.features for t in tracks(3, 3, seed=5)]
    net = sc.mean_scores(mats)
    base = B.BaselineModel(**blend.baseline)
    manual = B.stack_apply(blend.weights, blend.intercept, net, np.array([base.score(M) for M in mats]))
    assert np.allclose(sc.final_scores(mats), manual, atol=1e-9)
    alone = T.train(tracks(), TINY, TINY_M, T.TrainConfig(max_epochs=2, folds=2, windows_per_track=2, blend="network"))
    assert np.allclose(Scorer(alone).final_scores(mats), Scorer(alone).mean_scores(mats))


def test_auto_blend_follows_the_cross_validated_comparison():
    saved = T.train(tracks(), TINY, TINY_M, T.TrainConfig(max_epochs=2, folds=2, windows_per_track=2))
    auc = saved.report.blend.cv_roc_auc
    assert saved.report.blend.chosen == ("stacked" if auc["stacked"] >= auc["network"] else "network")
    assert "out-of-fold ROC-AUC" in saved.report.blend.why


def test_too_few_likes_per_fold_model_retrains_one_model():
    saved = T.train(tracks(2, 6), TINY, TINY_M, T.TrainConfig(max_epochs=2, folds=2, windows_per_track=2))
    assert saved.report.final_kind.startswith("trained on all tracks (with 2 likes in 2 folds")
    assert len(Mo.members(saved.model)) == 1


def test_auto_reports_the_start_encoder_stack_and_the_encoder_is_kept_only_when_it_is_chosen(monkeypatch):
    """Start-encoder vectors that know the labels: ``auto`` cross-validates and reports the encoder stack but
    chooses between the network and the baseline stack; ``auto+encoder`` lets it compete (it wins here) and keeps
    the start encoder in the model; ``--blend encoder`` without a start encoder is a clear error before any
    training."""
    from helpers import start_encoder

    ts = tracks(8, 8)
    for t in ts:  # the network and the MFCC baseline see no difference; the encoder's vectors do
        t.features[:, 1:7] -= 1.5 * t.label
    labels = np.array([t.label for t in ts], float)
    vecs = np.c_[labels, np.random.default_rng(1).normal(size=(len(ts), 4))]
    pre = start_encoder(TINY, TINY_M, [t.features for t in ts])
    tcfg = T.TrainConfig(max_epochs=2, folds=2, windows_per_track=2)
    auto = T.train(ts, TINY, TINY_M, tcfg, pretrained=pre, encoder_vectors=vecs)
    assert set(auto.report.blend.cv_roc_auc) == {"network", "baseline", "stacked", "encoder", "encoder_stacked"}
    assert auto.report.blend.chosen in ("network", "stacked") and auto.start is None
    saved = T.train(ts, TINY, TINY_M, replace(tcfg, blend="auto+encoder"), pretrained=pre, encoder_vectors=vecs)
    blend = saved.report.blend
    assert blend.cv_roc_auc["encoder_stacked"] > 0.9 and blend.chosen == "encoder" and saved.start is pre
    assert "network stacked with the encoder" in blend.why and blend.describe() == Blend.WORDS["encoder"]
    back = type(saved.report).from_json(saved.report.to_json())
    assert back.blend == blend and back.cross_validation == saved.report.cross_validation
    assert saved.report.cross_validation.encoder.pooled.roc_auc > 0.9  # the reference the command prints
    monkeypatch.setattr(T, "cross_validate", lambda *a, **k: 1 / 0)  # said before any training
    for forced in ("encoder", "auto+encoder"):
        with pytest.raises(ParameterError, match=f"--blend {re.escape(forced)} needs a start encoder"):
            T.train(ts, TINY, TINY_M, replace(tcfg, blend=forced), encoder_vectors=vecs)


def test_every_model_starts_from_the_pretrained_weights(monkeypatch):
    from pers_rec.learn import pretrain as P

    mats = [t.features for t in tracks(8, 8, seed=3)]
    pre = P.pretrain(mats, TINY, TINY_M, P.PretrainConfig(epochs=1, batch_size=8))
    starts = []
    real = T._fresh

    def spy(*args, **kw):
        model = real(*args, **kw)
        starts.append([w.copy() for w in Mo.members(model)[0][0].get_weights()])
        return model

    monkeypatch.setattr(T, "_fresh", spy)
    T.train(tracks(), TINY, TINY_M, T.TrainConfig(max_epochs=1, folds=2, windows_per_track=2), pretrained=pre)
    assert len(starts) == 2
    for s in starts:
        assert all(np.array_equal(a, b) for a, b in zip(s, pre.trunk))


def test_the_teacher_stack_is_reported_by_auto_and_used_when_asked_for():
    """Teacher vectors that know the labels: ``auto`` reports the teacher stack's cross-validated ROC-AUC but
    chooses between the network and the baseline stack; ``--blend teacher`` uses it, and the final score is
    exactly that stack of the window mean and the regression's score of the track's vector."""
    from pers_rec.model import baseline as B

    ts = tracks(8, 8)
    for t in ts:  # the network and the MFCC baseline see no difference; the teacher's vectors do
        t.features[:, 1:7] -= 1.5 * t.label
    labels = np.array([t.label for t in ts], float)
    vecs = np.c_[labels, np.random.default_rng(1).normal(size=(len(ts), 4))]
    tcfg = T.TrainConfig(max_epochs=2, folds=2, windows_per_track=2)
    auto = T.train(ts, TINY, TINY_M, tcfg, teacher_vectors=vecs).report.blend
    assert set(auto.cv_roc_auc) == {"network", "baseline", "stacked", "teacher", "teacher_stacked"}
    assert auto.cv_roc_auc["teacher_stacked"] > 0.9 and auto.chosen in ("network", "stacked")
    both = T.train(ts, TINY, TINY_M, replace(tcfg, blend="auto+teacher"), teacher_vectors=vecs).report.blend
    assert both.chosen == "teacher" and "network stacked with the teacher" in both.why
    saved = T.train(ts, TINY, TINY_M, replace(tcfg, blend="teacher"), teacher_vectors=vecs)
    blend = saved.report.blend
    assert blend.chosen == "teacher"
    sc = Scorer(saved)
    assert sc.needs_teacher
    mats, new = [t.features for t in tracks(3, 3, seed=5)], np.c_[[1, 1, 1, 0, 0, 0], np.zeros((6, 4))]
    reg = B.BaselineModel(**blend.teacher)
    manual = B.stack_apply(blend.weights, blend.intercept, sc.mean_scores(mats),
                           np.array([1 / (1 + np.exp(-((v - reg.mean) / reg.scale @ reg.coef + reg.intercept))) for v in new]))
    assert np.allclose(sc.final_scores(mats, new), manual, atol=1e-9)
    with pytest.raises(ValueError, match="teacher vector"):
        sc.final_scores(mats)
    back = type(saved.report).from_json(saved.report.to_json())
    assert back.blend == blend
    with pytest.raises(ParameterError, match="--blend teacher"):
        T.train(ts, TINY, TINY_M, T.TrainConfig(max_epochs=1, folds=2, windows_per_track=2, blend="teacher"))
