"""Augmentation in the MFCC domain, for pre-training pairs and (``train --augment``) training windows."""

from __future__ import annotations

import numpy as np

from ..config import PretrainConfig
from . import features


def augment(X: np.ndarray, cfg: features.FeatureConfig, pcfg: PretrainConfig, c1_std: float, rng: np.random.Generator
            ) -> np.ndarray:
    """Augmented copies of windows ``X`` [shape=(n, window_frames, n_features)] (see the module docstring)."""
    X = X.copy()
    n, W, C = X.shape
    if pcfg.gain_db:
        X += features.gain_offset(cfg, rng.uniform(-pcfg.gain_db, pcfg.gain_db, n))[:, None, :]
    if pcfg.tilt and C > 1:
        X[:, :, 1] += (rng.uniform(-pcfg.tilt, pcfg.tilt, n) * c1_std).astype(np.float32)[:, None]
    mean = X.mean(axis=1, keepdims=True)
    if pcfg.time_mask:
        lengths = rng.integers(0, int(pcfg.time_mask * W) + 1, n)
        starts = rng.integers(0, W - lengths + 1)
        t = np.arange(W)[None, :]
        mask = (t >= starts[:, None]) & (t < (starts + lengths)[:, None])
        X = np.where(mask[:, :, None], mean, X)
    if pcfg.coef_mask:
        widths = rng.integers(0, pcfg.coef_mask + 1, n)
        starts = rng.integers(0, C - widths + 1)
        c = np.arange(C)[None, :]
        mask = (c >= starts[:, None]) & (c < (starts + widths)[:, None])
        X = np.where(mask[:, None, :], mean, X)
    return X.astype(np.float32)
