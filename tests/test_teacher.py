"""The teacher's port (MSD_musicnn in keras.ops) against the original's outputs, and its absence handled."""

import os

import numpy as np
import pytest

from pers_rec.errors import ParameterError
from pers_rec.model import teacher as T

REFERENCE = os.path.join(os.path.dirname(__file__), "data", "teacher_reference.npz")


def _installed():
    if T.checkpoint_dir() is None:
        if os.environ.get("CI"):
            pytest.fail("musicnn's weights are missing: `make test` installs them (pip install --no-deps musicnn==0.1.0)")
        pytest.skip("musicnn's weights are not installed (pip install --no-deps musicnn==0.1.0)")


def test_the_port_matches_the_original_on_its_reference_patches():
    """tests/data/teacher_reference.npz: patches the original extractor fed its TF1 network, and what it gave
    (written by experiments/teacher.py, which ran the original in its own environment)."""
    _installed()
    ref = np.load(REFERENCE)
    pen, tags = T.Teacher()(ref["input"])
    assert pen.shape == (len(ref["input"]), T.DIM) and tags.shape == (len(ref["input"]), len(T.TAGS))
    np.testing.assert_allclose(pen, ref["penultimate"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(tags, ref["tags"], atol=1e-4, rtol=0)


def test_input_patches_and_short_tracks():
    mel = np.arange(400 * T.N_MELS, dtype=np.float32).reshape(400, T.N_MELS)
    P = T.patches(mel)
    assert P.shape == (2, T.PATCH_FRAMES, T.N_MELS) and np.array_equal(P[1], mel[187:374])
    assert T.patches(mel[:100]).shape == (0, T.PATCH_FRAMES, T.N_MELS)
    y = np.sin(np.arange(T.SR * 4) / 7).astype(np.float32)
    L = T.logmel(y)
    assert L.shape[1] == T.N_MELS and 245 <= len(L) <= 252 and L.dtype == np.float32 and (L >= 0).all()


def test_without_musicnn_it_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(T, "checkpoint_dir", lambda model="MSD_musicnn": None)
    with pytest.raises(ParameterError, match="pip install --no-deps musicnn==0.1.0"):
        T.read_weights()


def _teacher_stacked_model(dim=T.DIM):
    """A tiny untrained model whose blend stacks the teacher's regression (weights made up, not fitted)."""
    from types import SimpleNamespace

    from helpers import saved_model

    from pers_rec.model.report import Blend

    saved = saved_model()
    rng = np.random.default_rng(3)
    reg = {"mean": rng.normal(size=dim).tolist(), "scale": rng.uniform(0.5, 2, dim).tolist(),
           "coef": (rng.normal(size=dim) / 10).tolist(), "intercept": 0.1}
    saved.report = SimpleNamespace(blend=Blend("teacher", "test", {}, [0.7, 1.3], -0.2, reg, reg))
    return saved


def test_ranking_with_a_teacher_stacked_model_uses_each_tracks_cached_teacher_vector(tmp_path, write_audio):
    """rank's final score is the stack of the window mean and the regression's score of the track's teacher
    vector, computed independently here; the vectors are then in the cache and need no network."""
    from conftest import tone

    from pers_rec.audio.cache import open_cache
    from pers_rec.audio.decode import load
    from pers_rec.library import rank as R
    from pers_rec.model import baseline as B

    _installed()
    saved = _teacher_stacked_model()
    paths = [write_audio(f"{f}.wav", tone(f, 4.0, 22050), 22050) for f in (220, 880)]
    cache = open_cache(tmp_path / "cache")
    df = R.rank(paths, saved, cache=cache, jobs=0).set_index("path")
    teacher, blend = T.Teacher(), saved.report.blend
    reg = B.BaselineModel(**blend.teacher)
    for p in paths:
        v = T.track_vector(load(p, T.SR), teacher)
        want = B.stack_apply(blend.weights, blend.intercept, df.loc[str(p), "network_score"], reg.score_features(v))
        assert abs(df.loc[str(p), "score"] - want) < 1e-5
    again = T.TrackVectors(cache)
    assert set(again.prefetch([str(p) for p in paths])) == {str(p) for p in paths}
    again(str(paths[0]))
    assert again.model is None  # read from the cache: no network built


def test_a_teacher_stacked_model_without_the_teacher_says_how_to_get_it(monkeypatch, tmp_path, write_audio):
    from conftest import tone

    from pers_rec.library import rank as R

    monkeypatch.setattr(T, "checkpoint_dir", lambda model="MSD_musicnn": None)
    path = write_audio("a.wav", tone(440, 3.0, 22050), 22050)
    with pytest.raises(ParameterError, match="musicnn==0.1.0.*--blend stacked"):
        R.rank([path], _teacher_stacked_model(), jobs=0)
