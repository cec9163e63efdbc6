"""The teacher's port (MSD_musicnn in keras.ops) against the original's outputs, and its absence handled."""

import os

import numpy as np
import pytest

from pers_rec import teacher as T
from pers_rec.errors import ParameterError

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
