"""The light runtime (numpy) against Keras: window scores, track vectors and whole outputs within 1e-5 for every
architecture, ensembles, genre heads and blends, under TensorFlow and JAX; its refusals; and a scoring command
that never imports TensorFlow."""

import os
import subprocess
import sys

import numpy as np
import pytest

from pers_rec.config import FeatureConfig, ModelConfig
from pers_rec.model import checkpoint as C
from pers_rec.model import runtime

CFG = FeatureConfig(window_s=4)
CASES = [
    (ModelConfig(filters=(8, 8), lstm_units=8), 1, CFG),
    (ModelConfig(filters=(8, 8), lstm_units=8), 3, CFG),  # an ensemble
    (ModelConfig(arch="cnn", filters=(8, 6), dense_units=5), 1, CFG),
    (ModelConfig(arch="cnn_gpool", filters=(8,), dense_units=5, classes=("folk", "jazz", "rock")), 2, CFG),
    (ModelConfig(filters=(6, 8, 8), lstm_units=4, batchnorm=False, kernel_size=5), 1, CFG),
    (ModelConfig(filters=(8, 8), lstm_units=8), 1, FeatureConfig(window_s=4, norm="none", n_mfcc=13)),
]


def keras_model(mcfg, members, cfg, seed=0):
    """A Keras network with every weight random (batch-norm statistics and standardisation too)."""
    from pers_rec.model.networks import build

    rng = np.random.default_rng(seed)
    model = build(cfg, mcfg, members=members,
                  stats=(rng.normal(size=cfg.n_features), rng.uniform(0.3, 3, size=cfg.n_features)))
    model.set_weights([rng.uniform(0.2, 2.0, w.shape).astype("float32") if "variance" in w.path
                       else (rng.normal(size=w.shape) * 0.4).astype("float32") for w in model.weights])
    return model


@pytest.mark.parametrize("case", range(len(CASES)))
def test_light_network_equals_keras(tmp_path, case):
    """Whole outputs, window scores through the shared-trunk scorer, and encoder vectors: read from the saved
    file (no Keras) and converted in memory, each within 1e-5 of Keras."""
    from pers_rec.library.embed import Embedder
    from pers_rec.model.scoring import Scorer

    mcfg, k, cfg = CASES[case]
    model = keras_model(mcfg, k, cfg, seed=case)
    path = C.save(tmp_path / "m.keras", C.SavedModel(model, cfg, mcfg))
    light = C.load(path, runtime="light")
    assert isinstance(light.model, runtime.Network) and light.mcfg == mcfg
    rng = np.random.default_rng(case)
    X = (rng.normal(size=(37, cfg.window_frames, cfg.n_features)) * 2).astype("float32")
    want = np.asarray(model.predict_on_batch(X))
    for net in (light.model, runtime.from_keras(model, cfg, mcfg)):
        assert np.abs(net.predict_on_batch(X) - want).max() < 1e-5
    tracks = [(rng.normal(size=(n, cfg.n_features)) * 2).astype("float32") for n in (cfg.window_frames * 3 + 17, 90, 1000, 20000)]  # 20000: chunked
    heavy, lite = Scorer(C.SavedModel(model, cfg, mcfg)), Scorer(light)
    for a, b, M in zip(heavy.score_many(tracks), lite.score_many(tracks), tracks):
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-5
        assert np.abs(b - heavy.window_scores_naive(M)).max() < 1e-5  # and against each window alone
    e_keras, e_light = Embedder(C.SavedModel(model, cfg, mcfg)), Embedder(light)
    assert e_keras.identity == e_light.identity and e_keras.dim == e_light.dim  # one cache key for both runtimes
    for M in tracks:
        a, b = e_keras.window_vectors(M), e_light.window_vectors(M)  # unbounded (ReLU): float32's relative precision
        assert np.abs(a - b).max() < 1e-5 * max(1.0, np.abs(a).max())
        assert np.abs(e_keras.track_vector(M) - e_light.track_vector(M)).max() < 1e-5  # L2-normalised


def test_light_encoder_from_pretrained_weights_equals_keras():
    """The shipped encoder (or a library's pre-trained one) run light gives Keras's vectors."""
    from pers_rec.learn import pretrain
    from pers_rec.library.embed import Embedder
    from pers_rec.model.networks import build

    cfg, mcfg = FeatureConfig(), ModelConfig()
    pre = pretrain.shipped(cfg, mcfg)
    assert pre is not None
    network = build(cfg, mcfg)
    pretrain.apply(network, pre)
    heavy = Embedder(C.SavedModel(network, cfg, mcfg))
    light = Embedder(C.SavedModel(runtime.from_pretrained(cfg, mcfg, pre), cfg, mcfg))
    M = np.random.default_rng(1).normal(size=(cfg.fps * 30, cfg.n_features)).astype("float32") * 10
    assert heavy.identity == light.identity
    assert np.abs(heavy.track_vector(M) - light.track_vector(M)).max() < 1e-5


def test_light_network_equals_keras_under_jax(tmp_path):
    """The same file written under the JAX backend, read light, gives JAX's outputs."""
    pytest.importorskip("jax")
    code = ("import sys, numpy as np\n"
            "from pers_rec.model.networks import build, members\n"
            "from pers_rec.model import checkpoint as C, runtime\n"
            "from pers_rec.config import FeatureConfig, ModelConfig\n"
            "cfg, mcfg = FeatureConfig(window_s=4), ModelConfig(filters=(8, 8), lstm_units=8)\n"
            "rng = np.random.default_rng(0)\n"
            "m = build(cfg, mcfg, members=2, stats=(rng.normal(size=20), rng.uniform(0.5, 2, size=20)))\n"
            "m.set_weights([rng.uniform(0.2, 1.5, w.shape).astype('float32') for w in m.weights])\n"
            "C.save(sys.argv[1], C.SavedModel(m, cfg, mcfg))\n"
            "X = rng.normal(size=(9, cfg.window_frames, 20)).astype('float32')\n"
            "light = C.load(sys.argv[1], runtime='light').model\n"
            "print(float(np.abs(np.asarray(m.predict_on_batch(X)) - light.predict_on_batch(X)).max()))\n")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "j.keras")], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert float(r.stdout.split()[-1]) < 1e-5


@pytest.mark.slow
def test_rank_and_explain_run_without_tensorflow_and_agree_with_keras(tmp_path, write_audio):
    """``rank`` and ``explain`` (default --runtime light) never import TensorFlow or Keras, and write the scores
    ``--runtime keras`` writes (within 1e-5)."""
    import pandas as pd
    from conftest import tone

    mcfg, cfg = ModelConfig(filters=(8, 8), lstm_units=8), FeatureConfig()
    model = C.save(tmp_path / "m.keras", C.SavedModel(keras_model(mcfg, 2, cfg), cfg, mcfg))
    (tmp_path / "music").mkdir()
    for i in range(3):
        write_audio(f"music/t{i}.wav", tone(220 * (i + 1), 12.0 + 3 * i, 22050), 22050)
    music = tmp_path / "music"
    code = ("import sys; from pers_rec.cli import main; code = main(sys.argv[1:]); "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules, code)")
    light = tmp_path / "light.csv"
    r = subprocess.run([sys.executable, "-c", code, "rank", str(music), "--model", str(model), "--out", str(light),
                        "--no-cache", "-j", "1", "-q"], capture_output=True, text=True, timeout=300)
    assert r.stdout.split()[-2:] == ["False", "0"], (r.stdout, r.stderr)  # light, the default: no framework
    from pers_rec.cli import main  # Keras is already loaded in this process: the reference runs here

    assert main(["rank", str(music), "--model", str(model), "--out", str(tmp_path / "keras.csv"), "--no-cache",
                 "-j", "1", "-q", "--runtime", "keras"]) == 0
    got, want = (pd.read_csv(p).set_index("path")["score"] for p in (light, tmp_path / "keras.csv"))
    assert np.abs(got - want.loc[got.index]).max() < 1e-5
    r = subprocess.run([sys.executable, "-c", code, "explain", str(music / "t1.wav"), "--model", str(model), "--out",
                        str(tmp_path / "why.png"), "--no-cache"], capture_output=True, text=True, timeout=300)
    assert r.stdout.split()[-2:] == ["False", "0"] and (tmp_path / "why.png").stat().st_size > 1000, r.stderr


def test_a_light_network_goes_back_to_keras_unchanged():
    """``to_keras`` (what Ray's workers are sent) gives back the Keras network's weights and outputs."""
    mcfg, cfg = CASES[1][0], CFG
    model = keras_model(mcfg, 3, cfg)
    back = runtime.to_keras(runtime.from_keras(model, cfg, mcfg), cfg, mcfg)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), back.get_weights()))
