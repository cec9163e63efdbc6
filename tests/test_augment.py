"""Augmentation in the MFCC domain: the gain touches c0 only, masks touch only their spans."""

import numpy as np
from helpers import TINY, features

from pers_rec.audio import features as F
from pers_rec.audio.augment import augment
from pers_rec.config import PretrainConfig


def test_augment_masks_gain_and_tilt_within_their_ranges():
    rng = np.random.default_rng(1)
    X = features(TINY.window_frames * 6, TINY).reshape(6, TINY.window_frames, TINY.n_features)
    only_gain = PretrainConfig(gain_db=6.0, tilt=0, time_mask=0, coef_mask=0)
    Y = augment(X, TINY, only_gain, 1.0, rng)
    d = Y - X
    assert np.allclose(d[:, :, 1:], 0) and np.allclose(d[:, :, :1], d[:, :1, :1])  # c0 only, constant in time
    assert np.abs(d[:, 0, 0]).max() <= float(np.abs(F.gain_offset(TINY, 6.0)[0])) + 1e-5
    only_masks = PretrainConfig(gain_db=0, tilt=0, time_mask=0.25, coef_mask=2)
    Y = augment(X, TINY, only_masks, 1.0, rng)
    mean = X.mean(axis=1, keepdims=True)
    changed = ~np.isclose(Y, X)
    assert np.allclose(Y[changed], np.broadcast_to(mean, X.shape)[changed])  # masked values are the window's mean
    assert Y.dtype == np.float32 and Y.shape == X.shape and not np.shares_memory(X, Y)
