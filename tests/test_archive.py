"""Reading a model archive without Keras: what is not the network its configuration describes is refused."""

import json
import zipfile

import numpy as np
import pytest
from test_runtime import CFG, keras_model

from pers_rec.config import ModelConfig
from pers_rec.errors import ModelFileError
from pers_rec.model import checkpoint as C


def _rewrite(src, dst, edit_config=None, edit_weights=None):
    """A copy of a model archive with its config.json or weights changed."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "config.json" and edit_config:
                config = json.loads(data)
                edit_config(config)
                data = json.dumps(config).encode()
            if item.filename == "model.weights.h5" and edit_weights:
                data = edit_weights(data, dst)
            zout.writestr(item, data)
    return dst


def test_light_runtime_refuses_what_is_not_a_pers_rec_network(tmp_path):
    """A layer pers_rec never builds, an LSTM with other activations, a NaN weight: refused, naming the file."""
    import h5py

    mcfg, cfg = ModelConfig(filters=(8, 8), lstm_units=8), CFG
    path = C.save(tmp_path / "m.keras", C.SavedModel(keras_model(mcfg, 1, cfg), cfg, mcfg))

    def lambda_layer(config):
        config["config"]["layers"][1]["config"]["layers"][2]["class_name"] = "Lambda"

    def hard_sigmoid(config):
        head = next(la for la in config["config"]["layers"] if la["config"]["name"] == "head_0")
        head["config"]["layers"][1]["config"]["recurrent_activation"] = "hard_sigmoid"

    def nan_weight(data, dst):
        tmp = dst.with_suffix(".h5")
        tmp.write_bytes(data)
        with h5py.File(tmp, "r+") as h5:
            h5["layers/functional/layers/conv1d/vars/0"][0, 0, 0] = np.nan
        return tmp.read_bytes()

    for name, kwargs, reason in (("lambda", {"edit_config": lambda_layer}, "Lambda"),
                                 ("hard", {"edit_config": hard_sigmoid}, "recurrent_activation"),
                                 ("nan", {"edit_weights": nan_weight}, "NaN")):
        bad = _rewrite(path, tmp_path / f"{name}.keras", **kwargs)
        with pytest.raises(ModelFileError, match=reason) as err:
            C.load(bad, runtime="light")
        assert str(bad) in str(err.value)
    with pytest.raises(Exception, match="runtime"):
        C.load(path, runtime="onnx")


def test_an_edited_setting_is_refused_light_as_in_keras(tmp_path):
    """A pool size, kernel or width edited in config.json (the weights' shapes unchanged where they can be)."""
    mcfg = ModelConfig(filters=(8, 8), lstm_units=8)
    path = C.save(tmp_path / "m.keras", C.SavedModel(keras_model(mcfg, 1, CFG), CFG, mcfg))

    def pool(config):
        config["config"]["layers"][1]["config"]["layers"][5]["config"]["pool_size"] = [3]

    bad = _rewrite(path, tmp_path / "pool.keras", edit_config=pool)
    with pytest.raises(ModelFileError, match="pool_size"):
        C.load(bad, runtime="light")
