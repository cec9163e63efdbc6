"""Contrastive pre-training: augmentations, the loss going down, storage, the key, and weights reaching training."""

import numpy as np
import pytest
from helpers import TINY, TINY_M, features

from pers_rec.errors import ModelFileError, ParameterError
from pers_rec.learn import pretrain as P
from pers_rec.model import networks as Mo

FAST = P.PretrainConfig(epochs=4, pairs_per_track=4, batch_size=8, learning_rate=3e-3)


def library(n=12, frames=200):
    """Tracks that differ in timbre (a per-track offset of the coefficients), so windows can be matched to their track."""
    rng = np.random.default_rng(0)
    return [features(frames, TINY, seed=i) * 0.2 + rng.normal(size=TINY.n_features).astype(np.float32) * 3
            for i in range(n)]


def test_pairs_are_whole_batches_of_two_windows_of_one_track():
    mats = [np.full((100, TINY.n_features), i, np.float32) for i in range(5)]
    cfg = P.PretrainConfig(pairs_per_track=3, batch_size=4, gain_db=0, tilt=0, time_mask=0, coef_mask=0)
    A, B = P.sample_pairs(mats, TINY, cfg, 1.0, np.random.default_rng(0))
    assert len(A) == 12 and A.shape == B.shape == (12, TINY.window_frames, TINY.n_features)  # 15 pairs cut to 3 batches
    assert np.array_equal(A[:, 0, 0], B[:, 0, 0])  # the same track on both sides


def test_pretraining_lowers_the_contrastive_loss():
    pre = P.pretrain(library(), TINY, Mo.ModelConfig(**TINY_M), FAST)
    losses = pre.info["losses"]
    assert len(losses) == 4 and losses[-1] < losses[0] and losses[-1] < pre.info["chance_loss"]
    assert set(pre.encoder) == {"lstm"}


def test_saved_weights_load_exactly_and_reach_every_member(tmp_path):
    mcfg = Mo.ModelConfig(**TINY_M)
    pre = P.pretrain(library(8), TINY, mcfg, P.PretrainConfig(epochs=1, batch_size=8))
    path = P.save(tmp_path / "p" / "w.npz", pre)
    back = P.load(path)
    assert all(np.array_equal(a, b) for a, b in zip(pre.trunk, back.trunk))
    assert back.info == pre.info and path.with_suffix(".json").exists()
    model = Mo.build(TINY, mcfg, members=2)
    before_dense = [h.get_layer("like").get_weights() for _, h in Mo.members(model)]
    P.apply(model, back)
    for (trunk, head), dense in zip(Mo.members(model), before_dense):
        assert all(np.array_equal(a, b) for a, b in zip(trunk.get_weights(), pre.trunk))
        assert all(np.array_equal(a, b) for a, b in zip(head.get_layer("lstm").get_weights(), pre.encoder["lstm"]))
        assert all(np.array_equal(a, b) for a, b in zip(head.get_layer("like").get_weights(), dense))  # not touched


def test_key_follows_the_files_and_the_configs(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.write_bytes(b"1")
    b.write_bytes(b"2")
    mcfg = Mo.ModelConfig(**TINY_M)
    k = P.library_key([a, b], TINY, mcfg)
    assert k == P.library_key([b, a], TINY, mcfg)  # order does not matter
    assert k != P.library_key([a], TINY, mcfg)
    assert k != P.library_key([a, b], TINY, Mo.ModelConfig(**{**TINY_M, "lstm_units": 4}))
    b.write_bytes(b"22")
    assert k != P.library_key([a, b], TINY, mcfg)


def test_bad_weights_and_configs_are_clear_errors(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="x.npz"):
        P.load(tmp_path / "x.npz")
    with pytest.raises(ParameterError, match="batch_size"):
        P.PretrainConfig(batch_size=1)
    with pytest.raises(ParameterError, match="pairs per epoch"):
        P.pretrain(library(2), TINY, Mo.ModelConfig(**TINY_M), P.PretrainConfig(batch_size=64, pairs_per_track=1))


def test_the_shipped_encoder_loads_and_is_the_one_its_provenance_names():
    import hashlib
    import json

    from pers_rec.audio.features import FeatureConfig

    assert P.SHIPPED.exists(), "pers_rec/data/encoder.npz is missing: python -m experiments.distill makes it"
    prov = json.loads(P.SHIPPED.with_suffix(".json").read_text())
    assert hashlib.sha256(P.SHIPPED.read_bytes()).hexdigest() == prov["sha256"]
    assert P.SHIPPED.stat().st_size <= 5 << 20 and prov["teacher"].startswith("musicnn")
    pre = P.shipped(FeatureConfig(), Mo.ModelConfig())
    assert pre is not None and pre.info["provenance"]["commit"] == prov["commit"]
    model = Mo.build(FeatureConfig(), Mo.ModelConfig())
    P.apply(model, pre)
    trunk, head = Mo.members(model)[0]
    for got, want in zip(trunk.get_weights(), pre.trunk):
        np.testing.assert_array_equal(got, want)
    assert P.shipped(FeatureConfig(n_mfcc=13), Mo.ModelConfig()) is None  # made for the default features only
