"""Window scores and track scores, computed fast.

Ranking slides a ``window_s`` window by ``hop_s`` over every track: a 4-minute
track has ~233 windows overlapping by 7/8. Instead of running the
convolutional trunk on each window (8x the same frames), :class:`Scorer`
runs it **once over the whole track** and cuts each window's slice out of the
trunk's output, then runs only the head (LSTM / dense) per window.

Why this is exact: with ``valid`` convolutions and pools, trunk output step
``j`` depends on input frames ``[j*S, j*S + R)`` only (``S`` the total stride,
``R`` the receptive field). A window starting at frame ``k*H`` (``H`` =
``hop_frames``) sees the same pooling grid as the whole track when ``H`` is a
multiple of ``S``, so its trunk output equals the track's steps
``k*H/S ... k*H/S + L``. Several tracks share one trunk call the same way,
each starting on a multiple of ``S``. When ``H % S != 0`` (or a layer pads)
the scorer falls back to per-window evaluation with a warning.

Memory is bounded whatever a track's length: the trunk sees at most ``TRUNK_FRAMES`` frames per call (a longer
track runs in stride-aligned chunks that overlap by the receptive field, exactly equal to one pass), and the
head's input is cut out of the trunk's output one batch at a time.

A track's score is the mean of its window scores (Ueno: the sum of the window outputs divided by the duration;
the mean does not penalise short tracks for their last ``window_s - hop_s`` seconds).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..audio.features import FeatureConfig, fit_to_window, n_windows, window_starts_s, windows
from ..config import ModelConfig
from . import baseline
from .checkpoint import SavedModel
from .runtime import Projected, members

#: Windows per head call (4096 ran the LSTM head ~25 % faster than 1024 on 2 CPU cores).
HEAD_BATCH = 4096
#: Frames per shared trunk call (several tracks concatenated), ~68 min at 64 fps.
TRUNK_FRAMES = 1 << 18
#: Frames per light-runtime trunk call: its intermediate arrays (about 1 MB) stay in the CPU's caches; one call
#: over a whole group of tracks (``TRUNK_FRAMES``) ran the same arithmetic 2-3x slower, memory-bound.
LIGHT_FRAMES = 1 << 13
#: Smallest padded trunk length; lengths are padded to powers of two from here.
_MIN_BUCKET = 1 << 12


@dataclass
class TrackScore:
    """Scores of one track.

    Attributes
    ----------
    window_scores : np.ndarray [shape=(n_windows,)]
        Like-probability of each window, in order.
    starts_s : np.ndarray [shape=(n_windows,)]
        Window start times in seconds.
    score : float
        The track's score: the mean of ``window_scores`` (Ueno: sum of outputs / duration), or, for a model
        trained with stacking, that mean stacked with the baseline (``rank.explain``, ``rank.rank``): the same
        number every command prints and writes.
    network_score : float
        The network's own mean of ``window_scores`` (equal to ``score`` unless the model is stacked).
    best_start_s, best_end_s : float
        The highest-scoring window (end clipped to the track's duration).
    best_score : float
    """

    window_scores: np.ndarray
    starts_s: np.ndarray
    score: float
    best_start_s: float
    best_end_s: float
    best_score: float
    network_score: float | None = None

    def __post_init__(self):
        if self.network_score is None:
            self.network_score = self.score

    @property
    def n_windows(self) -> int:
        return len(self.window_scores)


def summarize(window_scores: np.ndarray, cfg: FeatureConfig, duration_s: float) -> TrackScore:
    """Track score and best segment from a window-score timeline.

    Parameters
    ----------
    window_scores : np.ndarray [shape=(n_windows,)]
        Scores of consecutive windows (hop ``cfg.hop_s`` seconds).
    cfg : FeatureConfig
    duration_s : float
        The track's duration; the best segment's end is clipped to it.
    """
    s = np.asarray(window_scores, np.float64)
    starts = window_starts_s(len(s), cfg)
    best = int(np.argmax(s))
    end = min(starts[best] + cfg.window_s, max(duration_s, 0.0))
    return TrackScore(s, starts, float(s.mean()), float(starts[best]), float(end), float(s[best]))


def pow2(n: int, lo: int, hi: int | None = None) -> int:
    """The power of two at or above ``n``, clamped to ``[lo, hi]``: padded sizes repeat, so compiled graphs are
    reused."""
    size = max(lo, 1 << int(np.ceil(np.log2(max(n, 1)))))
    return size if hi is None else min(size, hi)


class Scorer:
    """Scores feature matrices with a trained model.

    Parameters
    ----------
    saved : SavedModel
        From ``model.load`` (or built in memory and wrapped).
    fast : bool or None
        Use the shared-trunk path. ``None``: whenever it is exact for this model.
    head_batch : int
        Windows per head call.
    """

    def __init__(self, saved: SavedModel, fast: bool | None = None, head_batch: int = HEAD_BATCH):
        self.cfg = saved.cfg
        self.mcfg: ModelConfig = saved.mcfg
        self.model = saved.model
        self.members = members(self.model)
        self.head_batch = head_batch
        self.steps = self.mcfg.trunk_length(self.cfg.window_frames)
        #: Outputs per window: 1 (like-probability) or the number of genres of a genre model.
        self.width = max(1, len(self.mcfg.classes))
        exact = self.cfg.hop_frames % self.mcfg.stride == 0 and self._all_valid()
        if fast and not exact:
            warnings.warn(f"hop of {self.cfg.hop_frames} frames is not a multiple of the trunk stride "
                          f"{self.mcfg.stride} (or a layer pads): scoring each window separately", stacklevel=2)
        self.fast = exact if fast is None else (fast and exact)
        blend = saved.report.blend if saved.report is not None else None
        self.blend = blend if blend is not None and blend.chosen in ("stacked", "teacher", "encoder") else None
        #: Whether a track's final score needs its teacher vector (the model stacks the teacher's regression).
        self.needs_teacher = self.blend is not None and blend.chosen == "teacher"
        #: Whether it needs its vector by the encoder the network started from (``saved.start``), frozen.
        self.needs_encoder = self.blend is not None and blend.chosen == "encoder"
        if self.needs_encoder and saved.start is None:
            raise ValueError("this model stacks its start encoder's vectors, and the SavedModel has no start")
        self.baseline = (None if self.blend is None else baseline.BaselineModel(
            **(blend.teacher if self.needs_teacher else blend.encoder if self.needs_encoder else blend.baseline)))

    def identity(self) -> str:
        """A digest of everything a track's window scores depend on: the feature settings, the network's settings,
        its runtime and every member's weights (the key of the scores ``rank`` keeps in the feature cache)."""
        import hashlib
        import json

        h = hashlib.sha256(json.dumps([self.cfg.key(), self.mcfg.to_dict(), self.fast,
                                       type(self.members[0][0]).__module__], default=str).encode())
        for trunk, head in self.members:
            for part in (trunk, head):
                weights = part.weights() if callable(getattr(part, "weights", None)) else part.get_weights()
                for w in weights:
                    h.update(np.ascontiguousarray(w).tobytes())
        return h.hexdigest()[:24]

    def final_score(self, window_scores: np.ndarray, M: np.ndarray, vector: np.ndarray | None = None) -> float:
        """A track's score: the mean of its window scores, stacked with the baseline's score of ``M`` (or the
        regression's score of ``vector``, the track's teacher vector or start-encoder vector, as the model needs)
        when the model was trained with stacking (``train``)."""
        net = float(np.mean(window_scores))
        if self.blend is None:
            return net
        if self.blend.chosen != "stacked" and vector is None:
            raise ValueError(f"this model stacks the {self.blend.chosen}'s score: the track's {self.blend.chosen} "
                             "vector is needed")
        other = self.baseline.score(M) if self.blend.chosen == "stacked" else self.baseline.score_features(vector)
        return float(baseline.stack_apply(self.blend.weights, self.blend.intercept, net, other))

    def final_scores(self, tracks: list[np.ndarray], vectors=None) -> np.ndarray:
        """:meth:`final_score` of each track [shape=(n_tracks,)], with each track's vector where needed."""
        tv = [None] * len(tracks) if vectors is None else vectors
        return np.array([self.final_score(s, M, v) for s, M, v in zip(self.score_many(tracks), tracks, tv)])

    def _all_valid(self) -> bool:
        return all(getattr(la, "padding", "valid") == "valid" for trunk, _ in self.members
                   for la in getattr(trunk, "layers", ()))  # a light trunk's layers are all valid

    # ---- reference path -------------------------------------------------
    def window_scores_naive(self, M: np.ndarray) -> np.ndarray:
        """Scores [shape=(n_windows,)] of every window of one track [shape=(n_frames, n_features)],
        each window run through the whole model."""
        return self._shape(self.predict_rows(self.model, windows(M, self.cfg)))

    def _shape(self, rows: np.ndarray) -> np.ndarray:
        """``(n, 1)`` outputs as ``(n,)`` scores; a genre model's ``(n, n_genres)`` as they are."""
        return rows[:, 0] if self.width == 1 else rows

    # ---- fast path ------------------------------------------------------
    def window_scores(self, M: np.ndarray) -> np.ndarray:
        """Scores [shape=(n_windows,)] of every window of one track [shape=(n_frames, n_features)]."""
        return next(iter(self.score_many([M])))

    def score_many(self, tracks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Window scores of many tracks, in order, batching trunk and head calls across tracks.

        Parameters
        ----------
        tracks : iterable of np.ndarray [shape=(n_frames_i, n_features)]
            Feature matrices; a track shorter than a window is looped to one (``fit_to_window``).

        Yields
        ------
        np.ndarray [shape=(n_windows_i,), float64]
            Like-probability of each window, in window order (a genre model:
            shape ``(n_windows_i, n_genres)``, each window's genre probabilities).
        """
        for scores, _ in self._groups(tracks, None):
            yield scores

    def score_and_embed(self, tracks: Iterable[np.ndarray], embedder) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """:meth:`score_many` and each track's window vectors from one trunk pass: ``embedder`` (an
        :class:`embed.Embedder` of this very model, whose encoder is its first member's) reads the first member's
        trunk output that the scores are computed from, instead of running the trunk again.

        Yields
        ------
        (np.ndarray, np.ndarray)
            A track's window scores (as :meth:`score_many`) and its window vectors [shape=(n_windows_i, dim),
            float32] (as ``embedder.window_vectors``).
        """
        if embedder.saved.model is not self.model:
            raise ValueError("the embedder must be of the model that scores (Embedder(saved) of the same saved)")
        yield from self._groups(tracks, embedder)

    def _groups(self, tracks, embedder):
        if not self.fast:
            for M in tracks:
                yield self.window_scores_naive(M), None if embedder is None else embedder.window_vectors(M)
            return
        group, frames = [], 0
        for M in tracks:
            M = fit_to_window(M, self.cfg)
            if group and frames + len(M) > TRUNK_FRAMES:
                yield from self._score_group(group, embedder)
                group, frames = [], 0
            group.append(M)
            frames += len(M) + (-len(M)) % self.mcfg.stride
        if group:
            yield from self._score_group(group, embedder)

    def _score_group(self, group: list[np.ndarray], embedder=None) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Trunk once over the concatenated tracks, then the head over all their windows, batch by batch (and,
        with ``embedder``, its encoder over the first member's trunk output)."""
        S, H = self.mcfg.stride, self.cfg.hop_frames // self.mcfg.stride
        offsets, pieces, at = [], [], 0
        for M in group:
            pad = (-len(M)) % S
            offsets.append(at // S)
            pieces.append(M if not pad else np.pad(M, ((0, pad), (0, 0))))
            at += len(M) + pad
        X = np.concatenate(pieces)
        counts = [n_windows(len(M), self.cfg) for M in group]
        starts = np.concatenate([off + H * np.arange(c) for off, c in zip(offsets, counts)])
        total, vectors = np.zeros((len(starts), self.width)), [None] * len(group)
        for m, (trunk, head) in enumerate(self.members):
            steps = self.trunk_steps(trunk, X)
            if m == 0 and embedder is not None:
                bounds = np.cumsum(counts)[:-1]
                vectors = [embedder.vectors_of_steps(steps[s[0] : s[-1] + self.steps],
                                                     (s - s[0])[:, None] + np.arange(self.steps)[None, :])
                           for s in np.split(starts, bounds)]  # each track's own rows of the trunk's output
            T, head = self.head_input(head, steps)
            for i in range(0, len(starts), self.head_batch):  # cut out each window's steps one batch at a time
                idx = starts[i : i + self.head_batch, None] + np.arange(self.steps)[None, :]
                total[i : i + len(idx)] += self.predict_rows(head, T[idx])
        total /= len(self.members)
        return list(zip(np.split(self._shape(total), np.cumsum(counts)[:-1]), vectors))

    @staticmethod
    def head_input(head, T: np.ndarray, encoder_only: bool = False):
        """``(rows to cut windows from, the model to run on them)``: a light ``cnn_lstm`` head takes the LSTM's
        input projection of every step, computed once per track (:meth:`runtime.Head.project`); any other head
        takes the trunk's steps ``T`` (``encoder_only``: the head's encoder output instead of its scores)."""
        if getattr(head, "arch", None) == "cnn_lstm":
            return head.project(T), Projected(head, encoder_only=encoder_only)
        return T, head.encoder() if encoder_only else head

    def trunk_steps(self, trunk, X: np.ndarray) -> np.ndarray:
        """A trunk's output over frames ``X`` [shape=(n_frames, n_features)], n_frames a multiple of the stride.

        Returns
        -------
        np.ndarray [shape=(>= n_frames // stride, channels)]
            Step ``j`` is exactly the trunk's output for frames
            ``[j * stride, j * stride + receptive_field)``. At most ``TRUNK_FRAMES``
            frames go into one call: a longer ``X`` runs in chunks of
            ``TRUNK_FRAMES - overlap`` frames (stride-aligned) that overlap by
            ``receptive_field - stride``, so memory does not grow with the track.
        """
        S = self.mcfg.stride
        light = not getattr(trunk, "fixed_shapes", True)  # the light runtime compiles nothing: no padding, and
        limit = LIGHT_FRAMES if light else TRUNK_FRAMES     # chunks small enough for the CPU's caches
        if len(X) <= limit:
            if light:
                return trunk.predict_on_batch(X[None])[0]
            padded = np.pad(X, ((0, pow2(len(X), _MIN_BUCKET) - len(X)), (0, 0)))
            return np.asarray(trunk.predict_on_batch(padded[None]))[0]
        overlap = self.mcfg.receptive_field - S
        chunk = (limit - overlap) // S * S
        out = []
        for a in range(0, len(X), chunk):
            x = X[a : a + chunk + overlap]
            if not light:
                x = np.pad(x, ((0, limit - len(x)), (0, 0)))  # one shape for every call: one compiled graph
            out.append(np.asarray(trunk.predict_on_batch(x[None]))[0][: chunk // S])
        return np.concatenate(out)

    def predict(self, model, X: np.ndarray) -> np.ndarray:
        """``model`` on a batch of inputs -> ``(n,)`` scores (the first output column; see :meth:`predict_rows`)."""
        return self.predict_rows(model, X)[:, 0]

    def predict_rows(self, model, X: np.ndarray) -> np.ndarray:
        """``model`` on a batch of inputs -> its outputs ``(n, width)``, in calls of at most ``head_batch``.

        Parameters
        ----------
        model : keras.Model
            The whole model (inputs are windows), a head (inputs are trunk steps) or an encoder.
        X : np.ndarray [shape=(n, ...)]

        Each call to a Keras model is padded to a power of two (at least 32) so that compiled graphs
        (tf.function, jax.jit) are reused; the light runtime's are not padded.
        """
        out = []
        fixed = getattr(model, "fixed_shapes", True)
        for i in range(0, len(X), self.head_batch):
            x = X[i : i + self.head_batch]
            n, size = len(x), pow2(len(x), 32, self.head_batch) if fixed else len(x)
            if size > n:
                x = np.concatenate([x, np.zeros((size - n,) + x.shape[1:], x.dtype)])
            y = np.asarray(model.predict_on_batch(x))
            out.append(y.reshape(size, -1)[:n])
        return np.concatenate(out) if out else np.zeros((0, 1))

    def mean_scores(self, tracks: Iterable[np.ndarray]) -> np.ndarray:
        """Each track's score [shape=(n_tracks,)], the mean of its window scores (a genre model: the mean of its
        windows' genre probabilities, shape ``(n_tracks, n_genres)``)."""
        return np.array([s.mean(axis=0) for s in self.score_many(tracks)])
