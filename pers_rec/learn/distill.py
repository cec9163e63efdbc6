"""Distillation: the seed's network learns to hear as a larger model does (Dieleman; Deej-A.I.).

The student is pers_rec's own encoder (the time-only CNN trunk, then the LSTM) on MFCC windows; a linear
regression head maps its window vector to the teacher's vector (``teacher``: musicnn's 200-d penultimate layer)
for the same span of audio. A window's target is the mean of the teacher's vectors of 3 s patches inside it
(``DistillConfig.patch_offsets_s``), for windows every ``every_s`` seconds of each track. After training, the
trunk and the encoder's weights are kept as a :class:`pretrain.Pretrained` (the head is dropped): ``train``,
``similar``, ``playlist``, ``map`` and ``filters`` start from them exactly as from contrastive pre-training.

Two losses: ``"mse"`` on per-dimension standardised targets (the default) and ``"cosine"`` (the direction of the
teacher's vector, what track similarity uses). On the 176 real excerpts (seed 0, ``every_s=5``), the held-out
tracks' mean cosine between the student's prediction and the teacher's vector was 0.656 with MSE and 0.632
with cosine, against 0.624 for always predicting the mean vector: the teacher's vectors share a large common
direction, which a cosine loss spends itself on.
"""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from ..audio import features
from ..config import DistillConfig, ModelConfig
from ..errors import ParameterError
from ..model.networks import build, encoder_layers, jit_compile, members
from ..model.teacher import HOP, PATCH_FRAMES, SR, Teacher, logmel
from .pretrain import Pretrained


def window_indices(n_windows: int, cfg: features.FeatureConfig, dcfg: DistillConfig) -> np.ndarray:
    """The windows of a track that get a target: one every ``every_s`` seconds."""
    return np.arange(0, n_windows, max(1, dcfg.every_s // cfg.hop_s))


def targets(y16: np.ndarray, n_windows: int, cfg: features.FeatureConfig, dcfg: DistillConfig, teacher: Teacher
            ) -> np.ndarray:
    """The teacher's vector of each of a track's target windows [shape=(len(window_indices), 200), float32]: the
    mean over the window's patches (``patch_offsets_s``) of 16 kHz audio ``y16``. A patch past the end of the
    audio (a short, looped track) is taken from the looped audio, as the window's features were."""
    idx = window_indices(n_windows, cfg, dcfg)
    mel = logmel(y16)
    fps = SR / HOP
    need = cfg.window_s * fps + PATCH_FRAMES
    if len(mel) < idx[-1] * cfg.hop_s * fps + need:
        reps = int(np.ceil((idx[-1] * cfg.hop_s * fps + need) / max(len(mel), 1)))
        mel = np.concatenate([mel] * reps)
    starts = sorted({int(round((w * cfg.hop_s + o) * fps)) for w in idx for o in dcfg.patch_offsets_s})
    at = {s: i for i, s in enumerate(starts)}
    X = np.stack([mel[s:s + PATCH_FRAMES] for s in starts])
    vecs = teacher.predict(X)[0]
    return np.stack([vecs[[at[int(round((w * cfg.hop_s + o) * fps))] for o in dcfg.patch_offsets_s]].mean(0)
                     for w in idx]).astype(np.float32)


def student(cfg, mcfg, dcfg, stats, dim: int):
    """``(taste model, student)``: a taste network of ``mcfg`` and, sharing its trunk and encoder layers, a linear
    head to the ``dim``-d teacher vector, compiled with ``dcfg``'s loss."""
    import keras
    from keras import layers

    taste = build(cfg, mcfg, stats=stats)
    trunk, head = members(taste)[0]
    hidden = head.get_layer(encoder_layers(mcfg)[-1]).output
    encode = keras.Model(head.inputs, hidden, name="encoder_head")
    x = keras.Input((cfg.window_frames, cfg.n_features), name="window")
    out = layers.Dense(dim, name="to_teacher")(encode(trunk(x)))
    model = keras.Model(x, out, name="student")
    loss = keras.losses.CosineSimilarity() if dcfg.loss == "cosine" else keras.losses.MeanSquaredError()
    model.compile(optimizer=keras.optimizers.Adam(dcfg.learning_rate), loss=loss, jit_compile=jit_compile())
    return taste, model


def distill(matrices: list[np.ndarray], goals: list[np.ndarray], cfg: features.FeatureConfig,
            mcfg: ModelConfig | None = None, dcfg: DistillConfig | None = None, *, progress: bool = False
            ) -> Pretrained:
    """Train the encoder to predict each track's window targets (:func:`targets`) from its feature matrix.

    Returns
    -------
    Pretrained
        Trunk and encoder weights; ``info`` has the loss per epoch and the held-out tracks' mean cosine between
        the student's prediction and the teacher's vector (and what predicting the mean target would score).
    """
    from ..progress import bar

    mcfg, dcfg = mcfg or ModelConfig(), dcfg or DistillConfig()
    if len(matrices) != len(goals) or len(matrices) < 2:
        raise ParameterError("distillation needs two or more tracks, each with its targets")
    t0 = time.time()
    rng = np.random.default_rng(dcfg.seed)
    order = rng.permutation(len(matrices))
    n_out = int(round(dcfg.holdout * len(matrices)))
    held, kept = order[:n_out], order[n_out:]

    def pairs(ids):
        X, Y = [], []
        for i in ids:
            W = features.windows(matrices[i], cfg)
            idx = window_indices(len(W), cfg, dcfg)[: len(goals[i])]
            X.append(W[idx])
            Y.append(goals[i][: len(idx)])
        return np.concatenate(X).astype(np.float32), np.concatenate(Y).astype(np.float32)

    X, Y = pairs(kept)
    mean, std = Y.mean(0), Y.std(0) + 1e-6
    scale = (lambda y: (y - mean) / std) if dcfg.loss == "mse" else (lambda y: y)
    import keras

    from ..audio.features import feature_stats

    keras.utils.set_random_seed(dcfg.seed)  # before the student is built: its initial weights too come from the seed
    taste, model = student(cfg, mcfg, dcfg, feature_stats([matrices[i] for i in kept]), Y.shape[1])
    losses = []
    with bar(dcfg.epochs, "distilling", "epoch", progress) as b:
        for _ in range(dcfg.epochs):
            hist = model.fit(X, scale(Y), batch_size=dcfg.batch_size, epochs=1, shuffle=True, verbose=0)
            losses.append(float(hist.history["loss"][-1]))
            b.update(1)
            b.set_postfix(loss=f"{losses[-1]:.3f}")
    info = {"method": "distilled from musicnn MSD_musicnn (200-d penultimate)", "losses": losses,
            "tracks": len(matrices), "windows": int(len(X)), "elapsed_s": round(time.time() - t0, 2),
            "distill_config": asdict(dcfg), "model_config": mcfg.to_dict(), "feature_config": cfg.to_dict()}
    if len(held):
        Xh, Yh = pairs(held)
        P = model.predict(Xh, batch_size=256, verbose=0)
        P = P * std + mean if dcfg.loss == "mse" else P
        info["heldout_cosine"] = float(np.mean(_cos(P, Yh)))
        info["heldout_cosine_of_the_mean_target"] = float(np.mean(_cos(np.broadcast_to(mean, Yh.shape), Yh)))
    trunk, head = members(taste)[0]
    return Pretrained(trunk.get_weights(), {n: head.get_layer(n).get_weights() for n in encoder_layers(mcfg)}, info)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
