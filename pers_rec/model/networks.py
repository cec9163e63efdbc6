"""The networks: a time-only CNN trunk with an LSTM, flatten or global-pooling head.

Written with Keras 3 layers and ``keras.ops`` only, so the same code (and the
same saved file) runs on the TensorFlow (default), JAX and PyTorch backends;
Keras places work on a GPU when the backend sees one. To force the CPU, hide
the GPUs before Keras is imported: ``CUDA_VISIBLE_DEVICES= pers-rec ...`` or
``pers-rec --cpu ...``.

Every model has one layout, whatever its architecture::

    input (window_frames, n_features)
      -> member_i:  trunk_i  -> head_i      (i = 0 .. K-1)
      -> average over members               (K > 1: an ensemble)

``trunk_i``: optional per-coefficient standardisation, then ``n_blocks`` blocks
of Conv1D (kernels span **time only**; the MFCCs are channels, never
convolved across) -> BatchNorm -> ReLU -> MaxPool1D (along time only), all
with ``valid`` padding. ``head_i`` is one of:

- ``cnn_lstm``: LSTM over the trunk's time sequence -> sigmoid (the seed's model)
- ``cnn``: flatten -> dense -> sigmoid (the seed's CNN; position-dependent)
- ``cnn_gpool``: mean, max and L2 pooling over time -> dense -> sigmoid (Dieleman)

Keeping trunk and head as separate sub-models is what lets ``scoring`` run the
trunk once per track and the head once per window.
"""

from __future__ import annotations

import os
import re

# TensorFlow's C++ logs (e.g. "failed call to cuInit" on machines without a GPU) are noise for users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


#: Lines TensorFlow's C++ start-up prints before any log setting applies (absl's banner, info lines, the CUDA probe
#: on machines without a GPU, the CPU-instructions notice): dropped by :func:`_import_keras_quietly`.
TF_NOISE = re.compile(r"WARNING: All log messages before absl::InitializeLog|I\d{4} [\d:.]+ +\d+ \S+:\d+\]|"
                      r"[WE]\d{4} [\d:.]+ +\d+ \S+:\d+\] .*(cuda|cuInit|TensorRT|GPU)|To enable the following "
                      r"instructions|.*cuda drivers|.*rebuild TensorFlow with the appropriate compiler flags")


def _import_keras_quietly():
    """Import Keras without TensorFlow's start-up banner (:data:`TF_NOISE`, dropped by
    :func:`progress.filtered_stderr`; every other line a thread prints meanwhile, a busy port or a warning, still
    reaches the terminal). ``PERS_REC_TF_LOGS=1`` keeps the banner too."""
    if os.environ.get("PERS_REC_TF_LOGS") or os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        import keras

        return keras
    import signal
    import threading

    from ..progress import filtered_stderr

    main = threading.current_thread() is threading.main_thread()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)} if main else {}
    with filtered_stderr(TF_NOISE):
        import keras
    for sig, handler in handlers.items():  # TensorFlow's absl takes SIGTERM (a stack dump, then abort): give it back
        if handler is not None:
            signal.signal(sig, handler)
    return keras


keras = _import_keras_quietly()
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

from ..config import ARCHS, FeatureConfig, ModelConfig  # noqa: E402, F401 (re-exported)
from ..errors import ParameterError  # noqa: E402

if keras.backend.backend() == "tensorflow":  # retracing warnings for new batch shapes are expected here
    import tensorflow as _tf

    _tf.get_logger().setLevel("ERROR")

@keras.saving.register_keras_serializable(package="pers_rec")
class GlobalTemporalPooling(layers.Layer):
    """Mean, max and L2 norm over time, concatenated (Dieleman's global temporal pooling).

    Input ``(batch, time, channels)`` -> output ``(batch, 3 * channels)``.
    """

    def call(self, x):
        mean = ops.mean(x, axis=1)
        peak = ops.max(x, axis=1)
        l2 = ops.sqrt(ops.mean(ops.square(x), axis=1) + 1e-12)
        return ops.concatenate([mean, peak, l2], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 3 * input_shape[-1])


@keras.saving.register_keras_serializable(package="pers_rec")
class Standardize(layers.Layer):
    """``(x - mean) / sqrt(variance)`` per feature channel, with the statistics as (non-trainable) weights.

    Being weights, the statistics are saved, loaded and copied with the rest of
    the model (Keras' ``Normalization`` keeps constructor statistics in its
    config instead, where ``set_weights`` cannot reach them).
    """

    def build(self, input_shape):
        n = input_shape[-1]
        self.mean = self.add_weight(shape=(n,), initializer="zeros", trainable=False, name="mean")
        self.scale = self.add_weight(shape=(n,), initializer="ones", trainable=False, name="scale")

    def call(self, x):
        return (x - ops.cast(self.mean, x.dtype)) * ops.cast(self.scale, x.dtype)

    def set_stats(self, mean: np.ndarray, variance: np.ndarray) -> None:
        """Set the statistics.

        Parameters
        ----------
        mean, variance : np.ndarray [shape=(n_features,)]
            Per-coefficient mean and variance over the training frames (variance
            floored at 1e-8, so a constant coefficient does not divide by zero).
        """
        self.mean.assign(np.asarray(mean, "float32"))
        self.scale.assign(1.0 / np.sqrt(np.maximum(np.asarray(variance, "float32"), 1e-8)))


def _trunk(cfg: FeatureConfig, mcfg: ModelConfig, name: str, stats) -> keras.Model:
    inp = keras.Input((None, cfg.n_features), name=f"{name}_frames")
    x = inp
    if cfg.norm == "standardize":
        standardize = Standardize(name="standardize")
        x = standardize(x)
        if stats is not None:
            standardize.set_stats(*stats)
    for i, n_filters in enumerate(mcfg.filters):
        x = layers.Conv1D(n_filters, mcfg.kernel_size, padding="valid", use_bias=not mcfg.batchnorm,
                          name=f"conv{i + 1}")(x)
        if mcfg.batchnorm:
            x = layers.BatchNormalization(name=f"bn{i + 1}")(x)
        x = layers.ReLU(name=f"relu{i + 1}")(x)
        x = layers.MaxPooling1D(mcfg.pool_size, padding="valid", name=f"pool{i + 1}")(x)
    return keras.Model(inp, x, name=name)


def _head(cfg: FeatureConfig, mcfg: ModelConfig, name: str) -> keras.Model:
    steps = mcfg.trunk_length(cfg.window_frames)
    inp = keras.Input((steps, mcfg.filters[-1]), name=f"{name}_steps")
    if mcfg.arch == "cnn_lstm":
        x = layers.LSTM(mcfg.lstm_units, name="lstm")(inp)
    else:
        x = layers.Flatten(name="flatten")(inp) if mcfg.arch == "cnn" else GlobalTemporalPooling(name="gpool")(inp)
        x = layers.Dropout(mcfg.dropout)(x)
        x = layers.Dense(mcfg.dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(mcfg.dropout)(x)
    if mcfg.classes:
        out = layers.Dense(len(mcfg.classes), activation="softmax", name="genre")(x)
    else:
        out = layers.Dense(1, activation="sigmoid", name="like")(x)
    return keras.Model(inp, out, name=name)


def build(cfg: FeatureConfig, mcfg: ModelConfig | None = None, *, members: int = 1, stats=None) -> keras.Model:
    """Build an untrained model for windows of ``cfg``.

    Parameters
    ----------
    cfg : FeatureConfig
        Input length is ``cfg.window_frames``, channels ``cfg.n_features``.
    mcfg : ModelConfig
        Architecture; default ``ModelConfig()`` (``cnn_lstm``).
    members : int
        Number of independently initialised members whose outputs are averaged.
    stats : (mean, variance) of np.ndarray [shape=(n_features,)] or None
        Per-coefficient statistics for ``cfg.norm == "standardize"``.

    Returns
    -------
    keras.Model
        ``(batch, window_frames, n_features)`` -> ``(batch, 1)`` like-probability.
    """
    mcfg = mcfg or ModelConfig()
    if mcfg.trunk_length(cfg.window_frames) < 1:
        raise ParameterError(f"a {cfg.window_s} s window is too short for {len(mcfg.filters)} conv blocks")
    inp = keras.Input((cfg.window_frames, cfg.n_features), name="window")
    outs = []
    for i in range(members):
        trunk, head = _trunk(cfg, mcfg, f"trunk_{i}", stats), _head(cfg, mcfg, f"head_{i}")
        outs.append(head(trunk(inp)))
    out = outs[0] if members == 1 else layers.Average(name="ensemble")(outs)
    return keras.Model(inp, out, name=f"pers_rec_{mcfg.arch}")


def members(model: keras.Model) -> list[tuple[keras.Model, keras.Model]]:
    """The ``(trunk, head)`` sub-models of every member, in order."""
    trunks = sorted((la for la in model.layers if la.name.startswith("trunk_")), key=lambda la: int(la.name[6:]))
    heads = {la.name[5:]: la for la in model.layers if la.name.startswith("head_")}
    return [(t, heads[t.name[6:]]) for t in trunks]


def ensemble(models: list[keras.Model], cfg: FeatureConfig, mcfg: ModelConfig) -> keras.Model:
    """One model averaging several trained models' outputs (weights copied)."""
    model = build(cfg, mcfg, members=sum(len(members(m)) for m in models))
    pairs = [p for m in models for p in members(m)]
    for (trunk, head), (src_t, src_h) in zip(members(model), pairs):
        trunk.set_weights(src_t.get_weights())
        head.set_weights(src_h.get_weights())
    return model


def build_compiled(cfg: FeatureConfig, mcfg: ModelConfig, *, learning_rate: float, stats=None, seed: int = 0,
                   run_eagerly: bool = False) -> keras.Model:
    """A fresh model (see :func:`build`), seeded and compiled for training with Adam and binary cross-entropy
    (sparse categorical cross-entropy for a genre model).

    The one place that decides how a pers_rec model is trained, used by
    ``train`` and the staged experiments alike.
    """
    keras.utils.set_random_seed(seed)
    model = build(cfg, mcfg, stats=stats)
    loss = "sparse_categorical_crossentropy" if mcfg.classes else "binary_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, weighted_metrics=[],
                  run_eagerly=run_eagerly, jit_compile=jit_compile())
    return model


def jit_compile():
    """``compile``'s ``jit_compile``: off under TensorFlow, where XLA's compile time per new model (about 2.5 s
    on 2 cores) is more than the training steps it speeds up, since every fold builds a new model; Keras'
    default elsewhere (JAX without jit runs op by op, about 30x slower)."""
    return False if keras.backend.backend() == "tensorflow" else "auto"


def encoder_layers(mcfg: ModelConfig) -> list[str]:
    """Names of the head's layers that pre-training trains (the rest of the head starts fresh)."""
    return ["lstm"] if mcfg.arch == "cnn_lstm" else ["dense"]
