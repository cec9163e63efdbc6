"""The training report: a typed contract that survives JSON, and the figures drawn from it."""

import json

import numpy as np
from helpers import TINY, features

from pers_rec.library.rank import liked_paths
from pers_rec.model import report as R
from pers_rec.model.checkpoint import SavedModel


def small_report() -> R.TrainReport:
    m = R.Metrics(0.9, 0.8)
    cv = R.CVResult([m, R.Metrics(None, None)], m, 0.9, 0.0, 0.8, 0.0, epochs=2)
    curves = R.EpochCurves([0.8, 0.9], [0.1, 0.0], [0.7, 0.8], [0.6, 0.5], [0.5, 0.4], [[0.8, 0.9], [None, None]])
    return R.TrainReport(
        pers_rec_version="0", created="2026-01-01T00:00:00", elapsed_s=1.5, versions={"keras": "3"},
        feature_config=TINY.to_dict(), model_config={"arch": "cnn_lstm"}, train_config={"seed": 0}, params=10,
        tracks=[R.TrackEntry("/m/a.wav", 1, "like", 100), R.TrackEntry("/m/b.wav", 0, "dislike", 90),
                R.TrackEntry("/m/c.wav", 0, "unlabelled", 80), R.TrackEntry("/m/d.wav", 1, "like", 70)],
        windows_per_epoch=32, class_weight_total={"liked": 2.0, "not_liked": 2.0},
        cross_validation=R.CrossValidation(2, curves, cv, cv), final_kind="trained on all tracks",
        final_train_loss=[0.6, 0.5], failed=[R.FailedTrack("/m/e.wav", 1, "DecodeError: not audio")])


def test_json_round_trip_is_exact():
    rep = small_report()
    text = rep.to_json()
    assert json.loads(text)["cross_validation"]["model"]["epochs"] == 2
    assert R.TrainReport.from_json(text) == rep


def test_counts_and_liked_paths():
    rep = small_report()
    assert (rep.n_liked, rep.n_not_liked, rep.by_source("unlabelled")) == (2, 2, 1)
    assert rep.liked_paths() == {"/m/a.wav", "/m/d.wav"}
    assert liked_paths(SavedModel(None, TINY, None, rep)) == {"/m/a.wav", "/m/d.wav"}
    assert liked_paths(SavedModel(None, TINY, None, None)) == set()


def test_unknown_keys_from_a_newer_version_are_ignored():
    d = small_report().to_dict()
    d["something_new"] = 1
    assert R.TrainReport.from_dict(d) == small_report()


def _image(path):
    import matplotlib.image

    return matplotlib.image.imread(path)


def test_curves_plot_the_folds_the_mean_and_the_baseline(tmp_path):
    from matplotlib.figure import Figure

    rep = small_report()
    a1, a2 = Figure().subplots(1, 2)
    R.draw_curves(rep, a1, a2)
    pe = rep.cross_validation.per_epoch
    ys = [list(line.get_ydata()) for line in a1.get_lines()]
    for fold in pe.roc_auc_per_fold:
        if None not in fold:  # a fold with no figure draws NaN, which equals nothing
            assert list(np.array(fold, float)) in ys
    assert list(np.array(pe.roc_auc_mean, float)) in ys
    assert [rep.cross_validation.baseline.roc_auc_mean] * 2 in ys  # the baseline's horizontal line
    assert list(np.array(pe.train_loss_mean, float)) in [list(line.get_ydata()) for line in a2.get_lines()]
    img = _image(R.plot_curves(rep, tmp_path / "c.png"))
    assert img.shape[0] > 200 and img.std() > 0.05  # a drawn figure, not a blank page


def test_explain_plots_the_window_scores_at_their_centres_and_the_score(tmp_path):
    from matplotlib.figure import Figure

    from pers_rec.model.scoring import summarize

    M = features(TINY.window_frames * 2, TINY)
    s = summarize(np.linspace(0, 1, 9), TINY, 16.0)
    a1, a2 = Figure().subplots(2, 1)
    R.draw_explain(M, s, TINY, "cost $5 and $6.wav", a1, a2)
    timeline = a2.get_lines()[0]
    np.testing.assert_allclose(timeline.get_ydata(), s.window_scores)
    np.testing.assert_allclose(timeline.get_xdata(), s.starts_s + TINY.window_s / 2)
    assert list(a2.get_lines()[1].get_ydata()) == [s.score] * 2
    assert a1.get_title().startswith("cost $5 and $6.wav: track score 0.500")
    np.testing.assert_allclose(a1.get_images()[0].get_array().shape, (TINY.n_features, len(M)))
    img = _image(R.plot_explain(M, s, TINY, "x.wav", tmp_path / "e.png"))
    assert img.std() > 0.05
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.png"]


def test_reports_written_before_durations_were_named_s_still_load():
    d = small_report().to_dict()
    d["seconds"] = d.pop("elapsed_s")
    assert R.TrainReport.from_dict(d) == small_report()


def test_the_blend_is_described_in_one_vocabulary():
    from pers_rec.model.report import Blend, describe_blend

    words = {c: Blend(c, "", {}, [1.0, 0.0], 0.0, {}).describe() for c in ("stacked", "teacher", "network")}
    assert words == {"stacked": "network stacked with the baseline", "teacher": "network stacked with the teacher",
                     "network": "network alone"}
    assert describe_blend(None) == "network alone"
