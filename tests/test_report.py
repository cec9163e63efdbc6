"""The training report: a typed contract that survives JSON, and the figures drawn from it."""

import json

import numpy as np
from helpers import TINY, features

from pers_rec import report as R
from pers_rec.checkpoint import SavedModel
from pers_rec.rank import liked_paths


def small_report() -> R.TrainReport:
    m = R.Metrics(0.9, 0.8)
    cv = R.CVResult([m, R.Metrics(None, None)], m, 0.9, 0.0, 0.8, 0.0, epochs=2)
    curves = R.EpochCurves([0.8, 0.9], [0.1, 0.0], [0.7, 0.8], [0.6, 0.5], [0.5, 0.4], [[0.8, 0.9], [None, None]])
    return R.TrainReport(
        pers_rec_version="0", created="2026-01-01T00:00:00", seconds=1.5, versions={"keras": "3"},
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


def test_figures_are_written(tmp_path):
    from pers_rec.scoring import summarize

    assert R.plot_curves(small_report(), tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    M = features(TINY.window_frames * 2, TINY)
    s = summarize(np.linspace(0, 1, 9), TINY, 16.0)
    assert R.plot_explain(M, s, TINY, "x.wav", tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "e.png"]
