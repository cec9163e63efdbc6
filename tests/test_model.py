import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

from pers_rec import features as F
from pers_rec import model as Mo
from pers_rec import scoring as S
from pers_rec.errors import ConfigMismatchError, ParameterError, PersRecError

CFG = F.FeatureConfig()
# a tiny feature config keeps these tests fast; its fps (16) still makes 1 s a multiple of stride 8
TINY = F.FeatureConfig(sr=8000, hop_length=500, n_fft=512, n_mels=32, n_mfcc=12, window_s=8)
TINY_M = {"filters": (8, 8, 8), "lstm_units": 8, "dense_units": 8}


def random_stats(cfg, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=cfg.n_features) * 5, rng.uniform(0.5, 20, cfg.n_features)


def features(n_frames, cfg, seed=0):
    rng = np.random.default_rng(seed)
    return (np.cumsum(rng.normal(size=(n_frames, cfg.n_features)), axis=0) * 0.5).astype(np.float32)


@pytest.fixture(scope="module", params=Mo.ARCHS)
def arch_model(request):
    mcfg = Mo.ModelConfig(arch=request.param)
    keras.utils.set_random_seed(1)
    model = Mo.build(CFG, mcfg, stats=random_stats(CFG))
    return Mo.SavedModel(model, CFG, mcfg)


def test_defaults_make_the_fast_path_exact():
    mcfg = Mo.ModelConfig()
    assert CFG.hop_frames % mcfg.stride == 0
    assert mcfg.trunk_length(CFG.window_frames) == 30


def test_convolutions_and_pools_run_along_time_only():
    model = Mo.build(CFG)
    trunk, _ = Mo.members(model)[0]
    convs = [la for la in trunk.layers if isinstance(la, keras.layers.Conv1D)]
    assert [tuple(c.kernel.shape) for c in convs] == [(3, 20, 32), (3, 32, 32), (3, 32, 32), (3, 32, 32)]
    pools = [la for la in trunk.layers if isinstance(la, keras.layers.MaxPooling1D)]
    assert all(p.pool_size == (2,) for p in pools)
    # frames in, time shrinks by the stride, nothing is pooled across coefficients
    assert trunk.compute_output_shape((1, 1024, 20)) == (1, Mo.ModelConfig().trunk_length(1024), 32)


@pytest.mark.parametrize("n_frames", [100, 511, 512, 513, 575, 576, 577, 1000, 3000])
def test_fast_path_equals_naive_per_window(arch_model, n_frames):
    scorer = S.Scorer(arch_model)
    assert scorer.fast
    M = features(n_frames, CFG, seed=n_frames)
    fast, naive = scorer.window_scores(M), scorer.window_scores_naive(M)
    assert fast.shape == naive.shape == (F.n_windows(max(n_frames, 1), CFG),)
    np.testing.assert_allclose(fast, naive, atol=1e-5, rtol=0)
    assert fast.std() > 0 or len(fast) == 1  # scores really vary


def test_many_tracks_share_trunk_calls_exactly(arch_model, monkeypatch):
    monkeypatch.setattr(S, "TRUNK_FRAMES", 3000)  # force several groups
    scorer = S.Scorer(arch_model)
    tracks = [features(n, CFG, seed=n) for n in (700, 100, 2500, 513, 1800, 4000, 640)]
    for got, M in zip(scorer.score_many(tracks), tracks):
        np.testing.assert_allclose(got, scorer.window_scores_naive(M), atol=1e-5, rtol=0)


def test_fallback_when_hop_is_not_a_multiple_of_the_stride():
    cfg = F.FeatureConfig(sr=24000, hop_length=480)  # 50 fps, stride 16 does not divide 50
    mcfg = Mo.ModelConfig(**TINY_M)
    saved = Mo.SavedModel(Mo.build(cfg, mcfg), cfg, mcfg)
    assert not S.Scorer(saved).fast
    with pytest.warns(UserWarning, match="not a multiple of the trunk stride"):
        scorer = S.Scorer(saved, fast=True)
    M = features(900, cfg)
    np.testing.assert_allclose(scorer.window_scores(M), scorer.window_scores_naive(M), atol=1e-6)


def test_track_summary():
    s = S.summarize(np.array([0.1, 0.9, 0.5]), CFG, duration_s=10.5)
    assert s.score == pytest.approx(0.5) and s.n_windows == 3
    assert (s.best_start_s, s.best_end_s, s.best_score) == (1.0, 9.0, 0.9)
    short = S.summarize(np.array([0.7]), CFG, duration_s=3.0)
    assert (short.best_start_s, short.best_end_s) == (0.0, 3.0)


def test_global_temporal_pooling_matches_numpy():
    x = np.random.default_rng(0).normal(size=(4, 9, 5)).astype(np.float32)
    got = np.asarray(Mo.GlobalTemporalPooling()(x))
    want = np.concatenate([x.mean(1), x.max(1), np.sqrt((x**2).mean(1))], axis=-1)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_ensemble_averages_members():
    mcfg = Mo.ModelConfig(**TINY_M)
    a, b = Mo.build(TINY, mcfg, stats=random_stats(TINY, 1)), Mo.build(TINY, mcfg, stats=random_stats(TINY, 2))
    both = Mo.ensemble([a, b], TINY, mcfg)
    X = features(TINY.window_frames * 3, TINY)[None, : TINY.window_frames].repeat(2, 0)
    want = (a.predict_on_batch(X) + b.predict_on_batch(X)) / 2
    np.testing.assert_allclose(both.predict_on_batch(X), want, atol=1e-6)
    scorer = S.Scorer(Mo.SavedModel(both, TINY, mcfg))
    M = features(400, TINY)
    np.testing.assert_allclose(scorer.window_scores(M), scorer.window_scores_naive(M), atol=1e-5)


@pytest.mark.parametrize("arch", Mo.ARCHS)
def test_train_save_load_predict(tmp_path, arch):
    mcfg = Mo.ModelConfig(arch=arch, **TINY_M)
    keras.utils.set_random_seed(0)
    model = Mo.build(TINY, mcfg, stats=random_stats(TINY))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, TINY.window_frames, TINY.n_features)).astype(np.float32)
    y = (X[:, :, 0].mean(axis=1) > 0).astype(np.float32)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    path = Mo.save(tmp_path / "m.keras", model, TINY, mcfg, {"note": "unit test", "auc": np.float32(0.5)})
    assert not list(tmp_path.glob(".*tmp*"))
    loaded = Mo.load(path, expect=TINY)
    assert loaded.model_config == mcfg and loaded.info["note"] == "unit test"
    np.testing.assert_allclose(loaded.model.predict_on_batch(X), model.predict_on_batch(X), atol=1e-6)


def test_mismatched_feature_config_is_refused(tmp_path):
    mcfg = Mo.ModelConfig(**TINY_M)
    path = Mo.save(tmp_path / "m.keras", Mo.build(TINY, mcfg), TINY, mcfg)
    with pytest.raises(ConfigMismatchError, match="n_mfcc: model has 12, asked for 13"):
        Mo.load(path, expect=F.FeatureConfig(sr=8000, hop_length=500, n_fft=512, n_mels=32, n_mfcc=13))


def test_not_a_model_file(tmp_path):
    (tmp_path / "x.keras").write_text("hello")
    with pytest.raises(PersRecError, match="not a pers_rec model file"):
        Mo.load(tmp_path / "x.keras")
    with pytest.raises(PersRecError, match="no such model file"):
        Mo.load(tmp_path / "missing.keras")
    with pytest.raises(ParameterError, match="must end in .keras"):
        Mo.save(tmp_path / "m.h5", Mo.build(TINY, Mo.ModelConfig(**TINY_M)), TINY, Mo.ModelConfig(**TINY_M))


def test_loading_uses_safe_mode(tmp_path):
    """A model file smuggling a Python lambda is refused, not executed."""
    inp = keras.Input((4,))
    out = keras.layers.Lambda(lambda x: x * 2)(inp)
    path = tmp_path / "evil.keras"
    keras.Model(inp, out).save(path)
    with zipfile.ZipFile(path, "a") as zf:
        meta = {"feature_config": TINY.to_dict(), "model_config": Mo.ModelConfig().to_dict()}
        zf.writestr("pers_rec.json", json.dumps(meta))
    with pytest.raises(ValueError, match="(?i)safe"):
        Mo.load(path)


def test_invalid_model_configs():
    with pytest.raises(ParameterError):
        Mo.ModelConfig(arch="transformer")
    with pytest.raises(ParameterError):
        Mo.ModelConfig(dropout=1.0)
    with pytest.raises(ParameterError, match="too short"):
        Mo.build(TINY, Mo.ModelConfig(filters=(8,) * 8))


_OTHER_BACKEND = """
import json, sys
import numpy as np
import keras
from pers_rec import model as Mo
from pers_rec import scoring as S
X, M = np.load(sys.argv[1]), np.load(sys.argv[2])
out = {"backend": keras.backend.backend()}
for path in sys.argv[3:]:
    saved = Mo.load(path)
    out[path] = {"pred": np.asarray(saved.model.predict_on_batch(X)).ravel().tolist(),
                 "track": S.Scorer(saved).window_scores(M).tolist()}
print(json.dumps(out))
"""


def test_same_predictions_under_jax_backend(tmp_path):
    """One saved file per architecture, loaded under JAX in a subprocess: same outputs to 1e-4."""
    pytest.importorskip("jax")
    X = features(TINY.window_frames * 4, TINY)[: TINY.window_frames * 4].reshape(4, TINY.window_frames, -1)
    M = features(700, TINY, seed=5)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "M.npy", M)
    expected = {}
    for arch in Mo.ARCHS:
        mcfg = Mo.ModelConfig(arch=arch, **TINY_M)
        keras.utils.set_random_seed(3)
        model = Mo.build(TINY, mcfg, stats=random_stats(TINY))
        path = str(Mo.save(tmp_path / f"{arch}.keras", model, TINY, mcfg))
        expected[path] = (model.predict_on_batch(X).ravel(), S.Scorer(Mo.SavedModel(model, TINY, mcfg)).window_scores(M))
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", _OTHER_BACKEND, str(tmp_path / "X.npy"), str(tmp_path / "M.npy"), *expected],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["backend"] == "jax"
    for path, (pred, track) in expected.items():
        np.testing.assert_allclose(got[path]["pred"], pred, atol=1e-4)
        np.testing.assert_allclose(got[path]["track"], track, atol=1e-4)
