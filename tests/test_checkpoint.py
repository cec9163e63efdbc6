"""Model files: save and load round trips, and every kind of bad or hostile file refused with ModelFileError."""

import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
from helpers import TINY, TINY_M, features, random_stats

from pers_rec.audio import features as F
from pers_rec.errors import ConfigMismatchError, ModelFileError, ParameterError
from pers_rec.model import checkpoint as C
from pers_rec.model import networks as Mo
from pers_rec.model import scoring as S


def _save(tmp_path, name="m.keras", cfg=TINY, report=None, **mcfg):
    mcfg = Mo.ModelConfig(**{**TINY_M, **mcfg})
    return C.save(tmp_path / name, C.SavedModel(Mo.build(cfg, mcfg, stats=random_stats(cfg)), cfg, mcfg, report))


@pytest.mark.parametrize("arch", Mo.ARCHS)
def test_train_save_load_predict(tmp_path, arch):
    mcfg = Mo.ModelConfig(arch=arch, **TINY_M)
    model = Mo.build_compiled(TINY, mcfg, learning_rate=1e-3, stats=random_stats(TINY))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, TINY.window_frames, TINY.n_features)).astype(np.float32)
    y = (X[:, :, 0].mean(axis=1) > 0).astype(np.float32)
    before = [w.copy() for w in model.get_weights()]
    model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    path = C.save(tmp_path / "m.keras", C.SavedModel(model, TINY, mcfg))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]  # no temporary left behind
    loaded = C.load(path, expect=TINY)
    assert loaded.mcfg == mcfg and loaded.cfg == TINY and loaded.report is None
    np.testing.assert_allclose(loaded.model.predict_on_batch(X), model.predict_on_batch(X), atol=1e-6)


def test_mismatched_feature_config_is_refused(tmp_path):
    path = _save(tmp_path)
    with pytest.raises(ConfigMismatchError, match="n_mfcc: model has 12, asked for 13"):
        C.load(path, expect=F.FeatureConfig(sr=8000, hop_length=500, n_fft=512, n_mels=32, n_mfcc=13))


def test_not_a_model_file(tmp_path):
    (tmp_path / "x.keras").write_text("hello")
    with pytest.raises(ModelFileError, match="not a .keras zip archive"):
        C.load(tmp_path / "x.keras")
    with pytest.raises(ModelFileError, match="no such model file"):
        C.load(tmp_path / "missing.keras")
    with pytest.raises(ModelFileError, match="must end in .keras"):
        C.load(tmp_path / "x.h5")
    mcfg = Mo.ModelConfig(**TINY_M)
    with pytest.raises(ParameterError, match="must end in .keras"):
        C.save(tmp_path / "m.h5", C.SavedModel(Mo.build(TINY, mcfg), TINY, mcfg))
    with zipfile.ZipFile(tmp_path / "plain.keras", "w") as zf:
        zf.writestr("config.json", "{}")
    with pytest.raises(ModelFileError, match="no pers_rec.json inside"):
        C.load(tmp_path / "plain.keras")


def _with_meta(tmp_path, meta_text: str, name="bad.keras"):
    src = _save(tmp_path, "good.keras")
    out = tmp_path / name
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, meta_text if item.filename == C.META_NAME else zin.read(item.filename))
    return out


@pytest.mark.parametrize("meta", ["{not json", "[]", '{"feature_config": 3, "model_config": {}}',
                                  json.dumps({"feature_config": {"sr": -5}, "model_config": {}}),
                                  json.dumps({"feature_config": {}, "model_config": {"arch": "transformer"}}),
                                  json.dumps({"feature_config": {"bogus": 1}, "model_config": {}})])
def test_malformed_meta_is_a_model_file_error(tmp_path, meta):
    with pytest.raises(ModelFileError, match="malformed pers_rec.json"):
        C.load(_with_meta(tmp_path, meta))


def test_network_and_feature_config_must_agree(tmp_path):
    """A pers_rec.json claiming other features than the network takes is found at load, not at the first batch."""
    meta = json.loads(zipfile.ZipFile(_save(tmp_path, "x.keras")).read(C.META_NAME))
    meta["feature_config"]["n_mfcc"] = 13
    with pytest.raises(ModelFileError, match="inputs of shape"):
        C.load(_with_meta(tmp_path, json.dumps(meta)))


def test_loading_uses_safe_mode(tmp_path):
    """A model file smuggling a Python lambda is refused, and its code never runs."""
    marker = tmp_path / "ran"
    inp = keras.Input((TINY.window_frames, TINY.n_features))
    payload = eval(f"lambda x: (open({str(marker)!r}, 'w'), x)[1]")  # the path as a constant: nothing to serialise
    out = keras.layers.Lambda(payload)(inp)
    path = tmp_path / "evil.keras"
    keras.Model(inp, out).save(path)
    marker.unlink(missing_ok=True)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(C.META_NAME, json.dumps({"feature_config": TINY.to_dict(), "model_config": Mo.ModelConfig().to_dict()}))
    with pytest.raises(ModelFileError, match="(?i)safe"):
        C.load(path)
    assert not marker.exists()


def test_polyglot_hdf5_zip_is_refused(tmp_path):
    """A file that is both HDF5 and a zip carrying pers_rec.json never reaches Keras."""
    good = _save(tmp_path, "good.keras").read_bytes()
    evil = tmp_path / "poly.keras"
    at = 512
    while at < len(good):
        at *= 2  # where HDF5 looks for its superblock: 0, 512, 1024, 2048, ...
    evil.write_bytes(good + b"\0" * (at - len(good)) + b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    assert zipfile.is_zipfile(evil)
    with pytest.raises(ModelFileError, match="both a zip archive and an HDF5 file"):
        C.load(evil)


def test_report_travels_in_the_model(tmp_path):
    from test_report import small_report

    path = _save(tmp_path, report=small_report())
    loaded = C.load(path)
    assert loaded.report == small_report()


_OTHER_BACKEND = """
import json, sys
import numpy as np
import keras
from pers_rec.model import checkpoint
from pers_rec.model import scoring as S
X, M = np.load(sys.argv[1]), np.load(sys.argv[2])
out = {"backend": keras.backend.backend()}
for path in sys.argv[3:]:
    saved = checkpoint.load(path)
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
        path = str(C.save(tmp_path / f"{arch}.keras", C.SavedModel(model, TINY, mcfg)))
        expected[path] = (model.predict_on_batch(X).ravel(), S.Scorer(C.SavedModel(model, TINY, mcfg)).window_scores(M))
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


@pytest.fixture(scope="module")
def one_model(tmp_path_factory):
    """One small saved model, shared by the tests that copy it with other metadata."""
    return _save(tmp_path_factory.mktemp("one_model"))


def _with_model_config(src, dst, **changes):
    """A copy of model file ``src`` whose metadata's model_config has ``changes``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == C.META_NAME:
                meta = json.loads(data)
                meta["model_config"].update(changes)
                data = json.dumps(meta).encode()
            zout.writestr(item, data)
    return dst


@pytest.mark.parametrize("changes", [{"lstm_units": "32"}, {"filters": [10**9] * 4}, {"filters": "abc"},
                                     {"dropout": "x"}, {"batchnorm": "yes"}, {"arch": ["cnn"]},
                                     {"kernel_size": 3.5}, {"classes": [1, 2]}, {"dense_units": True}])
def test_bad_model_config_values_are_refused_before_tensorflow(tmp_path, changes, one_model):
    bad = _with_model_config(one_model, tmp_path / "bad.keras", **changes)
    with pytest.raises(ModelFileError, match="malformed"):
        C.read_meta(bad)
    if "lstm_units" not in changes:
        return  # one case through the command line is enough to show TensorFlow is never loaded
    music = tmp_path / "music"
    music.mkdir()
    (music / "a.wav").write_bytes(b"RIFF")
    code = ("import sys; from pers_rec.cli import main; code = main(['rank', sys.argv[1], '--model', sys.argv[2], "
            "'--out', sys.argv[3]]); print('keras' in sys.modules, code)")
    r = subprocess.run([sys.executable, "-c", code, str(music), str(bad), str(tmp_path / "r.csv")],
                       capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["False", "2"], (r.stdout, r.stderr)  # refused, and TensorFlow never loaded
    assert len(r.stderr.strip().splitlines()) == 1 and "bad.keras" in r.stderr


def test_rank_option_mistakes_are_said_before_tensorflow(tmp_path, one_model):
    """--parquet without --engine ray, and a teacher-stacked model where the teacher is not installed (either
    engine): one line, exit 2, Keras never imported."""
    teacher_stacked = tmp_path / "stacked.keras"
    with zipfile.ZipFile(one_model) as zin, zipfile.ZipFile(teacher_stacked, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == C.META_NAME:
                meta = json.loads(data)
                meta["report"] = {"blend": {"chosen": "teacher"}}
                data = json.dumps(meta).encode()
            zout.writestr(item, data)
    music = tmp_path / "music"
    music.mkdir()
    (music / "a.wav").write_bytes(b"RIFF")
    code = ("import sys; from pers_rec.model import teacher; teacher.checkpoint_dir = lambda *a: None; "
            "from pers_rec.cli import main; code = main(['rank', *sys.argv[1:]]); print('keras' in sys.modules, code)")
    for extra, expected in (([str(music), "--model", str(one_model), "--parquet", str(tmp_path / "pq")], "--parquet"),
                            ([str(music), "--model", str(teacher_stacked), "--engine", "ray"], "teacher is not installed"),
                            ([str(music), "--model", str(teacher_stacked)], "pip install --no-deps musicnn")):
        r = subprocess.run([sys.executable, "-c", code, *extra, "--out", str(tmp_path / "r.csv")], capture_output=True,
                           text=True, timeout=120)
        assert r.stdout.split() == ["False", "2"] and expected in r.stderr, (r.stdout, r.stderr)
