"""The architectures: time-only convolutions and pools, pooling layers, ensembles, configuration checks."""

import keras
import numpy as np
import pytest
from helpers import TINY, TINY_M, features, random_stats

from pers_rec.audio import features as F
from pers_rec.errors import ParameterError
from pers_rec.model import networks as Mo
from pers_rec.model import scoring as S
from pers_rec.model.checkpoint import SavedModel

cfg = F.FeatureConfig()


def test_convolutions_and_pools_run_along_time_only():
    model = Mo.build(cfg)
    trunk, _ = Mo.members(model)[0]
    convs = [la for la in trunk.layers if isinstance(la, keras.layers.Conv1D)]
    assert [tuple(c.kernel.shape) for c in convs] == [(3, 20, 32), (3, 32, 32), (3, 32, 32), (3, 32, 32)]
    pools = [la for la in trunk.layers if isinstance(la, keras.layers.MaxPooling1D)]
    assert all(p.pool_size == (2,) for p in pools)
    # frames in, time shrinks by the stride, nothing is pooled across coefficients
    assert trunk.compute_output_shape((1, 1024, 20)) == (1, Mo.ModelConfig().trunk_length(1024), 32)


def test_global_temporal_pooling_matches_numpy():
    x = np.random.default_rng(0).normal(size=(4, 9, 5)).astype(np.float32)
    got = keras.ops.convert_to_numpy(Mo.GlobalTemporalPooling()(x))  # a GPU tensor under torch has no __array__
    want = np.concatenate([x.mean(1), x.max(1), np.sqrt((x**2).mean(1))], axis=-1)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_ensemble_averages_members():
    mcfg = Mo.ModelConfig(**TINY_M)
    a, b = Mo.build(TINY, mcfg, stats=random_stats(TINY, 1)), Mo.build(TINY, mcfg, stats=random_stats(TINY, 2))
    both = Mo.ensemble([a, b], TINY, mcfg)
    X = features(TINY.window_frames * 3, TINY)[None, : TINY.window_frames].repeat(2, 0)
    want = (a.predict_on_batch(X) + b.predict_on_batch(X)) / 2
    np.testing.assert_allclose(both.predict_on_batch(X), want, atol=1e-6)
    scorer = S.Scorer(SavedModel(both, TINY, mcfg))
    M = features(400, TINY)
    np.testing.assert_allclose(scorer.window_scores(M), scorer.window_scores_naive(M), atol=1e-5)


def test_invalid_model_configs():
    with pytest.raises(ParameterError):
        Mo.ModelConfig(arch="transformer")
    with pytest.raises(ParameterError):
        Mo.ModelConfig(dropout=1.0)
    with pytest.raises(ParameterError, match="too short"):
        Mo.build(TINY, Mo.ModelConfig(filters=(8,) * 8))
