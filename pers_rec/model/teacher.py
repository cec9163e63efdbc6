"""The teacher: the ``MSD_musicnn`` music tagger (Pons & Serra, 2019), re-implemented with ``keras.ops``.

musicnn's networks were trained on the Million Song Dataset's 50 most common tags and ship, as TensorFlow 1
checkpoints, inside the ``musicnn`` package (ISC licence). Its own code is TF1-era and cannot run beside
pers_rec; this module builds the network from its published description and reads only the checkpoint's
arrays (``tf.compat.v1.train.NewCheckpointReader``), never the package's code. Install the weights with::

    pip install --no-deps musicnn==0.1.0

Input: 96-band log-mel patches of 3 s at 16 kHz (hop 256, FFT 512; ``log10(1 + 10000 * power)`` of the mel
power as float16, as the published model was fed). The network (per patch):

- front end, on the batch-normalised patch: two *timbral* convolutions spanning 7 frames x 38 and x 67 mel
  bands (204 filters each) and three *temporal* ones spanning 128, 64 and 32 frames x 1 band (51 filters each),
  each ReLU -> batch norm -> max over frequency; concatenated: 561 channels per frame;
- mid end: three 7-frame convolutions of 64 filters (ReLU -> batch norm), the second and third with residual
  connections; the front end's and the three mid-end outputs concatenated (753 channels per frame);
- back end: max and mean over time (1,506, each channel's pair side by side) -> batch norm -> dense 200 (ReLU)
  -> batch norm: the **200-d penultimate vector**; -> dense 50 -> sigmoid: the **tag probabilities**.

A track's vector is the mean of its patches' penultimate vectors. ``experiments/teacher.py`` checks the port
against the original run in a separate environment (``results/teacher.md``).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from ..errors import ParameterError

SR = 16000
HOP = 256
N_FFT = 512
N_MELS = 96
#: Frames of one 3 s patch.
PATCH_FRAMES = 187
#: Width of the penultimate vector.
DIM = 200
#: The 50 Million Song Dataset tags, in the order of the outputs.
TAGS = ("rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
        "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
        "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock",
        "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
        "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb",
        "indie pop", "sad", "House", "happy")
_EPS = 1e-3  # TF1 batch normalisation's epsilon
HOW = "pip install --no-deps musicnn==0.1.0"


def checkpoint_dir(model: str = "MSD_musicnn") -> Path | None:
    """Where the installed ``musicnn`` package keeps ``model``'s checkpoint (found without importing it), or None."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(next(iter(spec.submodule_search_locations))) / model
    return d if (d / ".index").is_file() else None


def read_weights(folder: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The checkpoint's arrays by variable name (optimizer slots left out).

    Raises
    ------
    ParameterError
        musicnn is not installed (the message says how to get it), or the checkpoint cannot be read.
    """
    folder = Path(folder) if folder is not None else checkpoint_dir()
    if folder is None:
        raise ParameterError(f"the teacher's weights are not installed: {HOW}")
    import tensorflow as tf

    try:  # the checkpoint's prefix is the folder itself (files ".index", ".data-..."), so no checkpoint file lookup
        reader = tf.compat.v1.train.NewCheckpointReader(str(folder) + os.sep)
    except Exception as exc:  # noqa: BLE001 - any failure is a damaged or foreign checkpoint: say which
        raise ParameterError(f"{folder}: not a readable musicnn checkpoint ({exc})") from None
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if "Adam" not in k and k not in ("beta1_power", "beta2_power")}


def logmel(y: np.ndarray) -> np.ndarray:
    """The teacher's input of mono 16 kHz audio ``y``: log-compressed mel power [shape=(n_frames, 96), float32]."""
    import librosa

    S = librosa.feature.melspectrogram(y=np.asarray(y, np.float32), sr=SR, hop_length=HOP, n_fft=N_FFT,
                                       n_mels=N_MELS).T
    # rounded to float16 as the published model's input was, then compressed in float32 (as numpy < 2 computed
    # ``10000 * float16_array``; numpy 2 would keep float16 and overflow to inf on loud bins)
    return np.log10(10000 * S.astype(np.float16).astype(np.float32) + 1)


def patches(mel: np.ndarray, hop: int = PATCH_FRAMES) -> np.ndarray:
    """Patches of :data:`PATCH_FRAMES` frames every ``hop`` frames [shape=(n, 187, 96)]; none for a shorter input."""
    starts = range(0, len(mel) - PATCH_FRAMES + 1, hop)
    return np.stack([mel[s:s + PATCH_FRAMES] for s in starts]) if len(starts) else np.zeros((0, PATCH_FRAMES, N_MELS),
                                                                                            np.float32)


class Teacher:
    """MSD_musicnn's forward pass (inference: batch norm with its moving statistics, no dropout).

    Parameters
    ----------
    weights : dict or None
        From :func:`read_weights` (default: read from the installed package).
    """

    def __init__(self, weights: dict[str, np.ndarray] | None = None):
        from keras import ops

        self.ops = ops
        w = read_weights() if weights is None else weights
        self.w = {k: ops.convert_to_tensor(np.asarray(v, np.float32)) for k, v in w.items()}

    def _bn(self, x, i: int):
        name = "batch_normalization" + (f"_{i}" if i else "")
        w, ops = self.w, self.ops
        scale = w[f"{name}/gamma"] / ops.sqrt(w[f"{name}/moving_variance"] + _EPS)
        return (x - w[f"{name}/moving_mean"]) * scale + w[f"{name}/beta"]

    def _conv(self, x, i: int, pad_time: tuple[int, int]):
        """TF1 ``conv2d`` number ``i`` (valid, after padding the time axis by ``pad_time``), then ReLU."""
        name = "conv2d" + (f"_{i}" if i else "")
        ops = self.ops
        x = ops.pad(x, [[0, 0], list(pad_time), [0, 0], [0, 0]])
        return ops.relu(ops.conv(x, self.w[f"{name}/kernel"], padding="valid") + self.w[f"{name}/bias"])

    def __call__(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Penultimate vectors [shape=(n, 200)] and tag probabilities [shape=(n, 50)] of patches ``X``
        [shape=(n, 187, 96)]."""
        ops = self.ops
        x = self._bn(ops.expand_dims(ops.convert_to_tensor(np.asarray(X, np.float32)), -1), 0)
        front = []
        for i, bn in ((0, 1), (1, 2)):  # timbral: 7 frames x 38 or 67 bands, 'same' along time
            front.append(ops.max(self._bn(self._conv(x, i, (3, 3)), bn), axis=2))
        for i, (k, bn) in enumerate(((128, 3), (64, 4), (32, 5)), start=2):  # temporal: TF 'same' padding
            front.append(ops.max(self._bn(self._conv(x, i, ((k - 1) // 2, k // 2)), bn), axis=2))
        f = ops.concatenate(front, axis=-1)  # (n, T, 561)
        mid = [f]
        h = f
        for j, (i, bn) in enumerate(((5, 6), (6, 7), (7, 8))):  # 7-frame convolutions over all channels
            c = self._bn(self._conv(ops.expand_dims(h, -1), i, (3, 3)), bn)[:, :, 0, :]
            h = c if j == 0 else c + h
            mid.append(h)
        m = ops.concatenate(mid, axis=-1)  # (n, T, 753)
        # per channel (max, mean), interleaved as the published model flattened them
        pooled = ops.stack([ops.max(m, axis=1), ops.mean(m, axis=1)], axis=-1)
        pooled = self._bn(ops.reshape(pooled, (-1, 2 * m.shape[-1])), 9)
        dense = ops.relu(ops.matmul(pooled, self.w["dense/kernel"]) + self.w["dense/bias"])
        penultimate = self._bn(dense, 10)
        logits = ops.matmul(penultimate, self.w["dense_1/kernel"]) + self.w["dense_1/bias"]
        return (np.asarray(ops.convert_to_numpy(penultimate), np.float32),
                np.asarray(ops.convert_to_numpy(ops.sigmoid(logits)), np.float32))

    def predict(self, X: np.ndarray, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`__call__` on many patches [shape=(n, 187, 96)], ``batch`` at a time (bounded memory)."""
        outs = [self(X[i:i + batch]) for i in range(0, len(X), batch)] or [self(X)]
        return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])

    def track(self, y: np.ndarray, every_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-patch penultimate vectors and tag probabilities of mono 16 kHz audio ``y``: a 3 s patch every
        ``every_s`` seconds (None: back to back); a track shorter than one patch is looped to fill it."""
        mel = logmel(y)
        if len(mel) < PATCH_FRAMES:
            mel = np.concatenate([mel] * (PATCH_FRAMES // max(len(mel), 1) + 1))[:PATCH_FRAMES]
        hop = PATCH_FRAMES if every_s is None else max(1, int(round(every_s * SR / HOP)))
        return self.predict(patches(mel, hop=hop))


def track_vector(y: np.ndarray, teacher: Teacher, every_s: float = 10.0) -> np.ndarray:
    """A track's teacher vector [shape=(200,)]: the mean penultimate vector of 3 s patches every ``every_s`` seconds
    of mono 16 kHz audio ``y`` (see :meth:`Teacher.track`)."""
    return teacher.track(y, every_s)[0].mean(0)


#: The feature-cache key of a track's teacher vector (:func:`track_vector`, a patch every 10 s).
TRACK_KEY = "teacher-track:musicnn-msd:every10"


class TrackVectors:
    """Tracks' teacher vectors (:func:`track_vector`), read from the feature cache or computed and stored there.

    :meth:`prefetch` reads the cached vectors of many tracks in one query; the network is built on the first
    vector that is neither prefetched nor cached, so a fully cached library needs no weights.
    """

    def __init__(self, cache=None):
        self.cache, self.model, self.known, self.asked = cache, None, {}, set()

    def prefetch(self, paths: list[str]) -> dict[str, np.ndarray]:
        """The cached vectors of ``paths`` (stale entries are misses), kept for :meth:`__call__`."""
        self.asked.update(str(p) for p in paths)
        if self.cache is not None:
            self.known.update({p: v.astype(np.float32)[0]
                               for p, v in self.cache.get_vectors_many([str(p) for p in paths], TRACK_KEY).items()})
        return {str(p): self.known[str(p)] for p in paths if str(p) in self.known}

    def __call__(self, path: str, features: np.ndarray | None = None) -> np.ndarray:
        """One track's vector [shape=(200,)]: prefetched, else cached, else computed (and stored). ``features`` (the
        track's MFCCs, which the start encoder's :class:`embed.StartVectors` takes) go unused: the teacher decodes
        the file at its own rate.

        Raises
        ------
        AudioError
            The file cannot be decoded.
        ParameterError
            The vector is not cached and the teacher's weights are not installed.
        """
        path = str(path)
        if path not in self.asked:  # one query per track only for tracks nobody prefetched
            self.prefetch([path])
        if path in self.known:
            return self.known[path]
        from ..audio import decode

        self.model = self.model or Teacher()
        got = self.known[path] = track_vector(decode.load(path, SR), self.model)
        if self.cache is not None:
            self.cache.put_vectors(path, TRACK_KEY, os.stat(path), got[None])
        return got
