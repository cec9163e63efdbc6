"""The light runtime: a pers_rec network's forward pass in numpy, without TensorFlow or Keras.

Scoring a library needs no deep-learning framework: the network is a few small
time-only convolutions and an LSTM. Importing Keras and TensorFlow costs about
8 s and 1 GB on a 2-core machine before any work is done (``bench_peers``), so
every command that only scores (``rank``, ``explain``, ``similar``, ``embed``,
``playlist``, ``map``, ``serve``, ``radio``) reads the ``.keras`` file with :func:`archive.read`
and runs :class:`Network` instead; TensorFlow is imported only to train, or
when the user asks for it (``--runtime keras``).

The weights are read from the archive's ``model.weights.h5`` by :mod:`archive`
(h5py, no Keras), checked against the network the file's own configuration
describes (layers, settings, shapes, finite values): the same file, never a
second artefact. Batch normalisation is folded into the
convolution before it. Outputs equal Keras's within 1e-5 (``tests/test_runtime.py``
compares every architecture, ensembles and genre heads on the TensorFlow and
JAX backends).

The objects mirror what :mod:`scoring` and :mod:`embed` use of Keras models:
``predict_on_batch``, ``members()`` pairs of trunk and head, and the head's
encoder (the LSTM's last state, or the hidden dense layer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config import FeatureConfig, ModelConfig


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow warnings


@dataclass
class Trunk:
    """Standardisation, then ``(conv -> batch-norm -> ReLU -> max-pool)`` blocks along time, batch-norm folded.

    Attributes
    ----------
    blocks : list of (kernel [shape=(k, c_in, c_out)], bias [shape=(c_out,)])
    mean, scale : np.ndarray [shape=(n_features,)] or None
    pool : int
    """

    blocks: list
    mean: np.ndarray | None
    scale: np.ndarray | None
    pool: int
    #: The weights as Keras holds them (batch-norm unfolded), for :func:`identity`.
    source: list = field(default_factory=list, repr=False)
    #: No compiled graphs to reuse: the scorer need not pad inputs to repeated shapes.
    fixed_shapes: bool = field(default=False, init=False)

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        """``(batch, frames, n_features)`` -> ``(batch, steps, channels)``, like the Keras trunk: each ``valid``
        convolution a sum of ``kernel_size`` shifted matrix products (faster here than one product of the
        sliding windows, whose copy costs more than it saves), bias and ReLU in place, max-pooling by reshape."""
        x = np.asarray(x, np.float32)
        if self.mean is not None:
            x = (x - self.mean) * self.scale
        for kernel, bias in self.blocks:
            k = len(kernel)
            n = x.shape[1] - k + 1
            if n < 1:
                return np.zeros((x.shape[0], 0, kernel.shape[-1]), np.float32)
            y = x[:, :n] @ kernel[0]
            for j in range(1, k):
                y += x[:, j : j + n] @ kernel[j]
            y += bias
            np.maximum(y, 0.0, out=y)
            m = n // self.pool
            x = y[:, : m * self.pool].reshape(len(y), m, self.pool, -1).max(axis=2)
        return x

    def weights(self) -> list[np.ndarray]:
        return list(self.source)

    def first_kernel(self) -> np.ndarray:
        """The first convolution's kernel [shape=(kernel_size, n_features, filters)] as trained (batch-norm not
        folded in): what ``filters`` draws."""
        return self.source[2 if self.mean is not None else 0]


@dataclass
class Head:
    """The head over a window's trunk steps: an LSTM (``cnn_lstm``), or flatten / global pooling and a hidden
    dense layer, then the sigmoid (or a genre model's softmax)."""

    arch: str
    hidden: tuple  # LSTM (kernel, recurrent kernel, bias), or the hidden dense layer's (kernel, bias)
    out: tuple  # (kernel, bias) of the output layer
    softmax: bool = False
    fixed_shapes: bool = field(default=False, init=False)

    def project(self, x: np.ndarray) -> np.ndarray:
        """The LSTM's input projection ``x @ kernel + bias`` of trunk steps [shape=(..., channels)] ->
        [shape=(..., 4 * units)]. Windows overlap (a 1 s hop shares 26 of 30 steps), so the scorer projects a
        track's steps once and cuts each window's rows out of the result: the same numbers, 7x fewer products."""
        kernel, _, bias = self.hidden
        return np.asarray(x, np.float32) @ kernel + bias

    def encode(self, x: np.ndarray, projected: bool = False) -> np.ndarray:
        """The encoder layer's output [shape=(batch, dim)] for trunk steps ``x`` [shape=(batch, steps, channels)]
        (``projected``: ``x`` is already :meth:`project`'s output): the LSTM's last state, or the hidden dense
        layer's activations."""
        if self.arch == "cnn_lstm":
            recurrent = self.hidden[1]
            u = recurrent.shape[0]
            z_in = x if projected else self.project(x)
            h = np.zeros((len(x), u), np.float32)
            c = np.zeros((len(x), u), np.float32)
            half = np.ones(4 * u, np.float32)
            half[: 2 * u] = half[3 * u :] = 0.5  # sigmoid(z) = (1 + tanh(z / 2)) / 2: one tanh for the four gates
            for t in range(z_in.shape[1]):
                g = np.tanh((z_in[:, t] + h @ recurrent) * half)
                i, f, o = (g[:, :u] + 1) * 0.5, (g[:, u : 2 * u] + 1) * 0.5, (g[:, 3 * u :] + 1) * 0.5
                c = f * c + i * g[:, 2 * u : 3 * u]
                h = o * np.tanh(c)
            return h
        x = np.asarray(x, np.float32)
        if self.arch == "cnn":
            flat = x.reshape(len(x), -1)
        else:  # global temporal pooling: mean, max and L2 norm over time
            flat = np.concatenate([x.mean(axis=1), x.max(axis=1), np.sqrt(np.square(x).mean(axis=1) + 1e-12)], axis=-1)
        kernel, bias = self.hidden
        return np.maximum(flat @ kernel + bias, 0.0)

    def predict_on_batch(self, x: np.ndarray, projected: bool = False) -> np.ndarray:
        """``(batch, steps, channels)`` -> ``(batch, width)``: like-probabilities, or genre probabilities."""
        kernel, bias = self.out
        z = self.encode(x, projected) @ kernel + bias
        if not self.softmax:
            return sigmoid(z)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def encoder(self) -> Encoder:
        return Encoder(self)

    def weights(self) -> list[np.ndarray]:
        return [*self.hidden, *self.out]


@dataclass
class Projected:
    """A ``cnn_lstm`` head fed its input projection (:meth:`Head.project`) instead of trunk steps."""

    head: Head
    encoder_only: bool = False
    fixed_shapes: bool = field(default=False, init=False)

    def predict_on_batch(self, z: np.ndarray) -> np.ndarray:
        return self.head.encode(z, projected=True) if self.encoder_only else self.head.predict_on_batch(z, True)


@dataclass
class Encoder:
    """A head cut at its encoder layer, with the ``predict_on_batch`` of a Keras model."""

    head: Head
    fixed_shapes: bool = field(default=False, init=False)

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return self.head.encode(x)

    @property
    def dim(self) -> int:
        return int(self.head.hidden[1].shape[0] if self.head.arch == "cnn_lstm" else self.head.hidden[1].shape[-1])


@dataclass
class Network:
    """A whole pers_rec network: ``(batch, window_frames, n_features)`` -> ``(batch, width)``, the average over its
    members' ``head(trunk(window))``."""

    pairs: list  # [(Trunk, Head)]
    input_shape: tuple
    output_shape: tuple
    fixed_shapes: bool = field(default=False, init=False)

    def members(self) -> list[tuple[Trunk, Head]]:
        return list(self.pairs)

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        outs = [head.predict_on_batch(trunk.predict_on_batch(x)) for trunk, head in self.pairs]
        return outs[0] if len(outs) == 1 else np.mean(outs, axis=0)


def build(cfg: FeatureConfig, mcfg: ModelConfig, members: list[tuple[list, list, float]]) -> Network:
    """A :class:`Network` from each member's trunk weights and head weights, in Keras' ``get_weights`` order, and
    its batch-norm epsilon.

    Raises
    ------
    ValueError
        A weight's shape is not what ``cfg`` and ``mcfg`` describe.
    """
    pairs = []
    for trunk_w, head_w, eps in members:
        trunk_w, head_w = [np.asarray(w, np.float32) for w in trunk_w], [np.asarray(w, np.float32) for w in head_w]
        for w, shape in zip(trunk_w + head_w, expected_shapes(cfg, mcfg), strict=True):
            if w.shape != shape:
                raise ValueError(f"a weight of shape {w.shape} where the configuration gives {shape}")
        pairs.append((_trunk(trunk_w, cfg, mcfg, eps), _head(head_w, mcfg)))
    width = max(1, len(mcfg.classes))
    return Network(pairs, (None, cfg.window_frames, cfg.n_features), (None, width))


def from_pretrained(cfg: FeatureConfig, mcfg: ModelConfig, pre) -> Network:
    """The light form of an encoder alone (``pretrain.Pretrained``: the trunk's and the encoder layer's weights),
    as :func:`encoders.encoder_for` builds it in Keras; its output layer is zeros (an encoder is not a taste model)."""
    width = max(1, len(mcfg.classes))
    dim = mcfg.lstm_units if mcfg.arch == "cnn_lstm" else mcfg.dense_units
    hidden = list(pre.encoder["lstm" if mcfg.arch == "cnn_lstm" else "dense"])
    eps = 1e-3  # Keras' default, which model.build keeps
    return build(cfg, mcfg, [(pre.trunk, hidden + [np.zeros((dim, width)), np.zeros(width)], eps)])


def members(model) -> list:
    """The ``(trunk, head)`` pairs of a light :class:`Network` or of a Keras network."""
    if isinstance(model, Network):
        return model.members()
    from .networks import members as keras_members

    return keras_members(model)


def identity(trunk, encoder_weights: list) -> str:
    """A hash of an encoder's weights as Keras holds them (batch-norm unfolded): the same for both runtimes, so
    vectors cached by one are found by the other."""
    import hashlib

    h = hashlib.sha256()
    for w in (trunk.source if isinstance(trunk, Trunk) else trunk.get_weights()) + list(encoder_weights):
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()[:16]


def expected_shapes(cfg: FeatureConfig, mcfg: ModelConfig) -> list[tuple]:
    """Every weight's shape of one member, trunk then head, in Keras' order."""
    shapes = [(cfg.n_features,)] * 2 if cfg.norm == "standardize" else []
    c_in = cfg.n_features
    for f in mcfg.filters:
        shapes.append((mcfg.kernel_size, c_in, f))
        shapes += [(f,)] * 4 if mcfg.batchnorm else [(f,)]
        c_in = f
    if mcfg.arch == "cnn_lstm":
        u = mcfg.lstm_units
        shapes += [(c_in, 4 * u), (u, 4 * u), (4 * u,)]
        dim = u
    else:
        n_in = c_in * (mcfg.trunk_length(cfg.window_frames) if mcfg.arch == "cnn" else 3)
        shapes += [(n_in, mcfg.dense_units), (mcfg.dense_units,)]
        dim = mcfg.dense_units
    width = max(1, len(mcfg.classes))
    return shapes + [(dim, width), (width,)]


def _trunk(ws: list[np.ndarray], cfg: FeatureConfig, mcfg: ModelConfig, eps: float) -> Trunk:
    source, mean, scale = list(ws), None, None
    if cfg.norm == "standardize":
        (mean, scale), ws = ws[:2], ws[2:]
    blocks = []
    for _ in mcfg.filters:
        if mcfg.batchnorm:
            (kernel, gamma, beta, moving_mean, moving_var), ws = ws[:5], ws[5:]
            s = gamma / np.sqrt(moving_var + np.float32(eps))
            blocks.append(((kernel * s).astype(np.float32), (beta - moving_mean * s).astype(np.float32)))
        else:
            (kernel, bias), ws = ws[:2], ws[2:]
            blocks.append((kernel, bias))
    return Trunk(blocks, mean, scale, mcfg.pool_size, source)


def _head(ws: list[np.ndarray], mcfg: ModelConfig) -> Head:
    n = 3 if mcfg.arch == "cnn_lstm" else 2
    return Head(mcfg.arch, tuple(ws[:n]), tuple(ws[n:]), softmax=bool(mcfg.classes))


def from_keras(model, cfg: FeatureConfig, mcfg: ModelConfig) -> Network:
    """The light form of a Keras network built by :func:`model.build` (trained or loaded)."""
    from .networks import members

    out = []
    for trunk, head in members(model):
        bns = [la for la in trunk.layers if type(la).__name__ == "BatchNormalization"]
        out.append((trunk.get_weights(), head.get_weights(), float(bns[0].epsilon) if bns else 1e-3))
    return build(cfg, mcfg, out)


def to_keras(net: Network, cfg: FeatureConfig, mcfg: ModelConfig):
    """The Keras network of a light one (the same weights, batch-norm unfolded): to save or to send to Ray."""
    from .networks import build
    from .networks import members as keras_members

    model = build(cfg, mcfg, members=len(net.pairs))
    for (trunk, head), (light_trunk, light_head) in zip(keras_members(model), net.pairs):
        trunk.set_weights(light_trunk.source)
        head.set_weights(light_head.weights())
    return model
