"""Contrastive pre-training of the trunk (and the LSTM) on a whole library, without labels.

A listener has tens of likes but thousands of tracks. Pre-training teaches the
network what tells one track from another before it sees a single like, in
the style of COLA (Saeed et al., 2021) and SimCLR (Chen et al., 2020): two
windows of the same track, each augmented, are a positive pair; the windows
of the other tracks in the batch are its negatives. The loss is the
symmetric cross-entropy over the batch's cosine similarities divided by a
temperature (InfoNCE / NT-Xent with in-batch negatives).

The encoder is exactly the taste model's trunk and, for ``cnn_lstm``, its
LSTM (for ``cnn``/``cnn_gpool``, the head's hidden dense layer), followed by a
small projection that is thrown away afterwards. The pre-trained weights are
stored in the cache folder under a key made of the library's files (path,
size, modification time), the features and the architecture, so every later
``pers-rec train --library`` of that library starts from them (``find``).

Augmentations, all in the MFCC domain (``augment``): a random gain (an exact
offset of c0), a random spectral tilt (an offset of c1, a change in the
spectrum's slope), masking of a random time span and of a random band of
coefficients (set to the window's mean, i.e. "no information").
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..audio import features
from ..audio.augment import augment
from ..config import ModelConfig, PretrainConfig  # noqa: F401 (re-exported)
from ..errors import ModelFileError, ParameterError
from ..fileio import atomic_path, write_text
from ..model.checkpoint import Pretrained, pack, unpack


def sample_pairs(matrices: list[np.ndarray], cfg: features.FeatureConfig, pcfg: PretrainConfig, c1_std: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's positive pairs, shuffled, cut to whole batches.

    Returns
    -------
    A, B : np.ndarray [shape=(n_pairs, window_frames, n_features)]
        ``A[i]`` and ``B[i]`` are two augmented windows at independent random
        offsets of the same track.
    """
    W = cfg.window_frames
    tracks = np.repeat(np.arange(len(matrices)), pcfg.pairs_per_track)
    rng.shuffle(tracks)
    tracks = tracks[: len(tracks) // pcfg.batch_size * pcfg.batch_size]
    A = np.empty((len(tracks), W, cfg.n_features), np.float32)
    B = np.empty_like(A)
    for i, t in enumerate(tracks):
        M = features.fit_to_window(matrices[t], cfg)
        a, b = rng.integers(0, len(M) - W + 1, 2)
        A[i], B[i] = M[a : a + W], M[b : b + W]
    return augment(A, cfg, pcfg, c1_std, rng), augment(B, cfg, pcfg, c1_std, rng)


def _contrastive_model(cfg: features.FeatureConfig, mcfg: ModelConfig, pcfg: PretrainConfig, stats):
    """(the taste model whose trunk and encoder layers are trained, the two-view contrastive model)."""
    import keras
    from keras import layers, ops

    from ..model.networks import build, encoder_layers, jit_compile, members
    class PairLogits(layers.Layer):
        """Cosine similarities of every view-A embedding with every view-B embedding, over the temperature."""

        def __init__(self, temperature: float, **kw):
            super().__init__(**kw)
            self.temperature = temperature

        def call(self, za, zb):
            za = za / ops.sqrt(ops.sum(za * za, axis=-1, keepdims=True) + 1e-12)
            zb = zb / ops.sqrt(ops.sum(zb * zb, axis=-1, keepdims=True) + 1e-12)
            logits = ops.matmul(za, ops.transpose(zb)) / self.temperature
            return logits, ops.transpose(logits)

    keras.utils.set_random_seed(pcfg.seed)
    taste = build(cfg, mcfg, stats=stats)
    trunk, head = members(taste)[0]
    hidden = head.get_layer(encoder_layers(mcfg)[-1]).output
    encode_head = keras.Model(head.inputs, hidden, name="encoder_head")
    project = keras.Sequential([layers.Dense(pcfg.projection, activation="relu"), layers.Dense(pcfg.projection)],
                               name="projection")
    a = keras.Input((cfg.window_frames, cfg.n_features), name="view_a")
    b = keras.Input((cfg.window_frames, cfg.n_features), name="view_b")
    za, zb = project(encode_head(trunk(a))), project(encode_head(trunk(b)))
    ab, ba = PairLogits(pcfg.temperature, name="pairs")(za, zb)
    ab = layers.Identity(name="a_to_b")(ab)
    ba = layers.Identity(name="b_to_a")(ba)
    model = keras.Model([a, b], [ab, ba], name="contrastive")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(pcfg.learning_rate), loss=[loss, loss], jit_compile=jit_compile())
    return taste, model


def pretrain(matrices: list[np.ndarray], cfg: features.FeatureConfig, mcfg: ModelConfig | None = None,
             pcfg: PretrainConfig | None = None, *, progress: bool = False) -> Pretrained:
    """Pre-train on the feature matrices of a library (see the module docstring).

    Parameters
    ----------
    matrices : list of np.ndarray [shape=(n_frames_i, n_features)]
        One per track; at least ``pcfg.batch_size / pcfg.pairs_per_track`` tracks.

    Returns
    -------
    Pretrained
        ``info`` holds the contrastive loss per epoch, the batch's chance
        level (``log(batch_size)``), the number of tracks and the seconds.
    """
    from ..audio.features import feature_stats
    from ..model.networks import encoder_layers, members
    from ..progress import bar

    mcfg, pcfg = mcfg or ModelConfig(), pcfg or PretrainConfig()
    if len(matrices) * pcfg.pairs_per_track < pcfg.batch_size:
        raise ParameterError(f"pre-training needs at least {pcfg.batch_size} pairs per epoch: "
                             f"{len(matrices)} tracks x {pcfg.pairs_per_track} pairs is too few "
                             "(a smaller batch_size or more pairs_per_track)")
    t0 = time.time()
    stats = feature_stats(matrices)
    c1_std = float(np.sqrt(stats[1][1])) if cfg.n_features > 1 else 0.0
    taste, model = _contrastive_model(cfg, mcfg, pcfg, stats)
    rng = np.random.default_rng(pcfg.seed)
    losses = []
    with bar(pcfg.epochs, "pre-training", "epoch", progress) as b:
        for _ in range(pcfg.epochs):
            A, B = sample_pairs(matrices, cfg, pcfg, c1_std, rng)
            y = np.tile(np.arange(pcfg.batch_size), len(A) // pcfg.batch_size)
            hist = model.fit([A, B], [y, y], batch_size=pcfg.batch_size, epochs=1, shuffle=False, verbose=0)
            losses.append(float(hist.history["loss"][-1]) / 2)  # mean of the two directions
            b.update(1)
            b.set_postfix(loss=f"{losses[-1]:.3f}")
    trunk, head = members(taste)[0]
    info = {"losses": losses, "chance_loss": float(np.log(pcfg.batch_size)), "tracks": len(matrices),
            "elapsed_s": round(time.time() - t0, 2), "pretrain_config": asdict(pcfg), "model_config": mcfg.to_dict(),
            "feature_config": cfg.to_dict()}
    return Pretrained(trunk.get_weights(), {n: head.get_layer(n).get_weights() for n in encoder_layers(mcfg)}, info)


def apply(model, pre: Pretrained) -> None:
    """Copy pre-trained weights into every member of a taste model (its other head layers are left as they are)."""
    from ..model.networks import members
    for trunk, head in members(model):
        trunk.set_weights(pre.trunk)
        for name, weights in pre.encoder.items():
            head.get_layer(name).set_weights(weights)


# ---------------------------------------------------------------------------------------------------------------------
# storage in the cache folder


def library_key(paths: list[str | os.PathLike], cfg: features.FeatureConfig, mcfg: ModelConfig) -> str:
    """A key for pre-trained weights: the library's files (path, size, mtime), the features and the architecture.

    The pre-training settings are not part of it: ``train`` uses whatever
    ``pretrain`` last stored for this library (its settings are in the file's info).
    """
    h = hashlib.sha256()
    for p in sorted(os.fsencode(p) for p in paths):
        try:
            st = os.stat(p)
            h.update(p + f"\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(p + b"\0missing\n")
    h.update(json.dumps([cfg.key(), mcfg.to_dict()], sort_keys=True, default=str).encode())
    return h.hexdigest()[:24]


def stored_path(cache_dir: str | os.PathLike, key: str) -> Path:
    return Path(cache_dir) / "pretrained" / f"{key}.npz"


def save(path: str | os.PathLike, pre: Pretrained) -> Path:
    """Write ``pre`` atomically as an ``.npz`` (no pickles, ``checkpoint.pack``) with its ``info`` as JSON beside."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(pack(pre))
    write_text(path.with_suffix(".json"), json.dumps(pre.info, indent=1) + "\n")
    return path


def load(path: str | os.PathLike) -> Pretrained:
    """Read weights written by :func:`save`.

    Raises
    ------
    ModelFileError
        The file is missing, not an ``.npz`` of ours, or damaged.
    """
    try:
        return unpack(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise ModelFileError(f"{path}: not readable pre-trained weights ({type(e).__name__}: {e}); "
                             "`pers-rec pretrain` writes them again") from None


def find(cache_dir: str | os.PathLike, paths, cfg: features.FeatureConfig, mcfg: ModelConfig) -> Path | None:
    """The stored weights for this library and these configurations, if ``pers-rec pretrain`` made them."""
    p = stored_path(cache_dir, library_key(paths, cfg, mcfg))
    return p if p.exists() else None


#: The encoder shipped with the package (``python -m experiments.distill``) and its provenance.
SHIPPED = Path(__file__).resolve().parents[1] / "data" / "encoder.npz"


def shipped(cfg: features.FeatureConfig, mcfg: ModelConfig) -> Pretrained | None:
    """The shipped encoder (distilled from the musicnn teacher), when it exists and was made for these features and
    this architecture (the defaults); else None. Its ``info["provenance"]`` says how it was made."""
    if not SHIPPED.exists():
        return None
    pre = load(SHIPPED)
    if pre.info.get("feature_config") != cfg.to_dict() or pre.info.get("model_config") != mcfg.to_dict():
        return None
    prov = SHIPPED.with_suffix(".json")
    pre.info["provenance"] = json.loads(prov.read_text()) if prov.exists() else {}
    return pre
