"""A ``.keras`` archive's network read without Keras, for the light runtime (:mod:`runtime`).

The archive is checked first by ``checkpoint.read_meta`` (a zip and nothing else, members bounded, the
configuration typed). Here its ``config.json`` must describe exactly the network its pers_rec configuration
gives (:func:`check_layers`: every layer's class and settings, an edited ``pool_size`` or another activation
refused, as Keras's loader refuses them through ``checkpoint.check_network``), and the weights are read from
``model.weights.h5`` with h5py. Keras names a weight group after its layer's class, numbered by repeats in layer
order (``layers/functional_2/layers/lstm/cell/vars/0``); :func:`_h5_names` follows that rule, and
``tests/test_runtime.py`` compares the result with Keras on every architecture, so a Keras that changed the rule
would fail there, not in a listener's ranking.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from ..config import FeatureConfig, ModelConfig
from ..errors import ModelFileError
from . import runtime

#: Keras' names for the layer classes pers_rec builds, as its weights file names their groups.
_H5_NAMES = {"InputLayer": "input_layer", "Functional": "functional", "Standardize": "standardize",
             "Conv1D": "conv1d", "BatchNormalization": "batch_normalization", "ReLU": "re_lu",
             "MaxPooling1D": "max_pooling1d", "LSTM": "lstm", "Dense": "dense", "Dropout": "dropout",
             "Flatten": "flatten", "GlobalTemporalPooling": "global_temporal_pooling", "Average": "average"}


def read(path, cfg: FeatureConfig, mcfg: ModelConfig) -> runtime.Network:
    """The network of a ``.keras`` file (checked with ``checkpoint.read_meta`` first), read with h5py alone.

    Raises
    ------
    ModelFileError
        The archive's network is not the one its configuration describes, or a weight is not finite.
    """
    import h5py

    try:
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
            with zf.open("model.weights.h5") as raw:
                data = raw.read()
        pairs = _member_groups(config)
        for (_, trunk_layers, _), (_, head_layers) in pairs:
            check_layers(trunk_layers + head_layers, cfg, mcfg)
        with h5py.File(io.BytesIO(data), "r") as h5:
            members = [(_group_weights(h5, f"layers/{t}", tl), _group_weights(h5, f"layers/{h}", hl), eps)
                       for (t, tl, eps), (h, hl) in pairs]
        net = runtime.build(cfg, mcfg, members)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    except Exception as exc:  # a hostile or foreign archive: json, zip, h5py and shape errors alike
        raise ModelFileError(f"{path}: the network cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None
    for trunk, head in net.pairs:
        if not all(np.isfinite(w).all() for w in trunk.weights() + head.weights()):
            raise ModelFileError(f"{path}: refused: a weight holds NaN or infinite values")
    return net


def expected_layers(cfg: FeatureConfig, mcfg: ModelConfig) -> list[tuple[str, dict]]:
    """Every layer of one member (trunk then head) as ``(class, settings)``: what ``model.build`` makes of
    ``cfg`` and ``mcfg``, in the form of a ``.keras`` file's ``config.json``."""
    k, p = mcfg.kernel_size, mcfg.pool_size
    out = [("InputLayer", {})] + ([("Standardize", {})] if cfg.norm == "standardize" else [])
    for f in mcfg.filters:
        out.append(("Conv1D", {"filters": f, "kernel_size": [k], "strides": [1], "padding": "valid",
                               "dilation_rate": [1], "groups": 1, "activation": "linear",
                               "use_bias": not mcfg.batchnorm, "data_format": "channels_last"}))
        if mcfg.batchnorm:
            out.append(("BatchNormalization", {"axis": -1, "center": True, "scale": True}))
        out.append(("ReLU", {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}))
        out.append(("MaxPooling1D", {"pool_size": [p], "strides": [p], "padding": "valid",
                                     "data_format": "channels_last"}))
    out.append(("InputLayer", {}))
    if mcfg.arch == "cnn_lstm":
        out.append(("LSTM", {"units": mcfg.lstm_units, "activation": "tanh", "recurrent_activation": "sigmoid",
                             "use_bias": True, "return_sequences": False, "go_backwards": False}))
    else:
        out += [("Flatten" if mcfg.arch == "cnn" else "GlobalTemporalPooling", {}), ("Dropout", {}),
                ("Dense", {"units": mcfg.dense_units, "activation": "relu", "use_bias": True})]
    width = max(1, len(mcfg.classes))
    return out + [("Dropout", {}), ("Dense", {"units": width, "activation": "softmax" if mcfg.classes else "sigmoid",
                                              "use_bias": True})]


def check_layers(layers: list[dict], cfg: FeatureConfig, mcfg: ModelConfig) -> None:
    """The archive's layers must be the ones its configuration describes (an edited ``pool_size`` or ``arch``, or
    another activation, would score differently from what every command says it is).

    Raises
    ------
    ModelFileError
    """
    want = expected_layers(cfg, mcfg)
    got = [(la.get("class_name"), la.get("config") or {}) for la in layers]
    names, wanted = [str(g[0])[:40] for g in got], [w[0] for w in want]
    if names != wanted:
        i = next((i for i, (a, b) in enumerate(zip(names, wanted)) if a != b), min(len(names), len(wanted)))
        has, gives = names[i] if i < len(names) else "missing", wanted[i] if i < len(wanted) else "none"
        raise ModelFileError(f"the network is not the one its configuration describes (arch {mcfg.arch}, "
                             f"{len(mcfg.filters)} conv blocks): layer {i} is {has} where the configuration gives "
                             f"{gives}")
    for (name, conf), (_, settings) in zip(got, want):
        for key, value in settings.items():
            if conf.get(key) != value:
                raise ModelFileError(f"the network is not the one its configuration describes: {name} has "
                                     f"{key} {str(conf.get(key))[:40]} where the configuration gives {value}")


def _h5_names(layers: list[dict]) -> list[str]:
    """Each layer's group name in the weights file: its class in snake case, numbered by repeats (Keras' rule)."""
    used: dict[str, int] = {}
    names = []
    for la in layers:
        base = _H5_NAMES.get(la.get("class_name"))
        if base is None:
            raise ModelFileError(f"not a pers_rec network (a {str(la.get('class_name'))[:40]} layer)")
        used[base] = used.get(base, -1) + 1
        names.append(base if used[base] == 0 else f"{base}_{used[base]}")
    return names


def _member_groups(config: dict):
    """``[((trunk group, trunk layers, batch-norm epsilon), (head group, head layers))]`` in member order."""
    layers = config["config"]["layers"]
    groups = dict(zip((la["config"]["name"] for la in layers), zip(_h5_names(layers), layers)))
    pairs, i = [], 0
    while f"trunk_{i}" in groups:
        (t, tconf), (h, hconf) = groups[f"trunk_{i}"], groups[f"head_{i}"]
        tl, hl = tconf["config"]["layers"], hconf["config"]["layers"]
        eps = [la["config"]["epsilon"] for la in tl if la["class_name"] == "BatchNormalization"]
        pairs.append(((t, tl, float(eps[0]) if eps else 1e-3), (h, hl)))
        i += 1
    if not pairs:
        raise ModelFileError("not a pers_rec network (no trunk/head members)")
    return pairs


def _group_weights(h5, prefix: str, layers: list[dict]) -> list[np.ndarray]:
    """A sub-model's weights in ``get_weights`` order, from its layers' ``vars`` groups."""
    out = []
    for name in _h5_names(layers):
        group = h5[f"{prefix}/layers/{name}"]
        group = group["cell"] if "cell" in group else group
        if "vars" in group:
            out += [np.asarray(group["vars"][str(k)]) for k in range(len(group["vars"]))]
    return out
