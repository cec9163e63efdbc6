"""Every setting of pers_rec in one place: frozen dataclasses (change them with :func:`dataclasses.replace`),
and the choice lists the command line offers.

- :class:`FeatureConfig`: how audio becomes MFCC windows (saved with every model, checked when it is loaded);
- :class:`ModelConfig`: the network's architecture (saved with every model);
- :class:`TrainConfig`: how a taste or genre model is trained (recorded in its report);
- :class:`PretrainConfig`: contrastive pre-training (part of the stored weights' key);
- :class:`DistillConfig`: distilling the teacher into the encoder (recorded with the weights).

Nothing here imports Keras or numpy: reading (and checking) a configuration is cheap.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import asdict, dataclass

from .errors import ConfigMismatchError, ParameterError

#: Network architectures (``ModelConfig.arch``), and how a track's score is made (``TrainConfig.blend``).
ARCHS = ("cnn_lstm", "cnn", "cnn_gpool")
BLENDS = ("auto", "stacked", "encoder", "network", "teacher", "auto+encoder", "auto+teacher")
#: How a track's embedding pools its windows' (``embed.vectors``).
POOLINGS = ("mean", "distinctive")
#: What ``train`` learns: a taste (likes) or genres. How distillation compares the student with the teacher.
TARGETS, DISTILL_LOSSES = ("like", "genre"), ("mse", "cosine")

#: Version of the feature code: part of every cache key, so features computed by code that has
#: changed since are never served from a cache. Bump it whenever the numbers would change.
FEATURE_CODE_VERSION = 2

#: Ranges of the numeric fields: far wider than any analysis needs, narrow enough that a file cannot ask for more.
LIMITS = (("sr", 1000, 384000), ("hop_length", 1, 65536), ("n_fft", 16, 65536), ("n_mels", 1, 512),
          ("n_mfcc", 1, 512), ("window_s", 1, 600), ("hop_s", 1, 600), ("amin", 1e-30, 1.0))


@dataclass(frozen=True)
class FeatureConfig:
    """Everything that determines the features; saved with every model (why 24 kHz, 64 fps and ``n_fft`` 1024:
    docs/design.md)."""

    sr: int = 24000  #: Hz the audio is resampled to (content up to 12 kHz)
    #: Samples between frames; ``sr / hop_length`` is a whole number (``fps``; 64, a multiple of the trunk's
    #: stride, which makes shared-trunk scoring exact)
    hop_length: int = 375
    n_fft: int = 1024  #: FFT size in samples (42.7 ms at 24 kHz)
    n_mels: int = 64  #: mel bands (64 fill 0-12 kHz with no empty filter at ``n_fft=1024``)
    n_mfcc: int = 20  #: cepstral coefficients kept (``kind="mfcc"``)
    fmin: float = 0.0  #: the mel filterbank's range in Hz (``fmax=None``: ``sr / 2``)
    fmax: float | None = None
    kind: str = "mfcc"  #: ``"mfcc"`` (the seed's) or ``"logmel"`` (Dieleman's: the ``n_mels`` bands themselves)
    window_s: int = 8  #: window length in seconds (8 in the seed)
    hop_s: int = 1  #: seconds between window starts at ranking time (1 in the seed)
    #: ``"standardize"``: the network's first layer standardises each coefficient with the training windows' mean
    #: and variance (stored in the model); ``"none"``: raw coefficients
    norm: str = "standardize"
    min_s: float = 1.0  #: shortest accepted track (:class:`TooShortError`); one shorter than a window is looped
    amin: float = 1e-10  #: power floor before the log (-100 dB)

    def __post_init__(self):
        for name, kind in (("sr", int), ("hop_length", int), ("n_fft", int), ("n_mels", int), ("n_mfcc", int),
                           ("fmin", (int, float)), ("min_s", (int, float)), ("amin", (int, float))):
            v = getattr(self, name)
            if not isinstance(v, kind) or isinstance(v, bool) or (isinstance(v, float) and not math.isfinite(v)):
                raise ParameterError(f"{name} must be a finite {'whole ' if kind is int else ''}number, got {v!r}")
        if self.fmax is not None and (not isinstance(self.fmax, (int, float)) or not math.isfinite(self.fmax)):
            raise ParameterError(f"fmax must be a finite number or None, got {self.fmax!r}")
        if self.sr <= 0 or self.hop_length <= 0 or self.n_fft <= 0:
            raise ParameterError(f"sr, hop_length and n_fft must be positive, got {self.sr}, {self.hop_length}, "
                                 f"{self.n_fft}")
        for name, lo, hi in LIMITS:  # what any real analysis uses, with room; a file that asks for more lies
            if not lo <= getattr(self, name) <= hi:
                raise ParameterError(f"{name} must be in {lo}..{hi}, got {getattr(self, name)}")
        if self.sr % self.hop_length:
            raise ParameterError(f"sr / hop_length must be a whole number, got {self.sr} / {self.hop_length}")
        if self.kind not in ("mfcc", "logmel"):
            raise ParameterError(f"kind must be 'mfcc' or 'logmel', got {self.kind!r}")
        if self.norm not in ("standardize", "none"):
            raise ParameterError(f"norm must be 'standardize' or 'none', got {self.norm!r}")
        whole = isinstance(self.window_s, int) and isinstance(self.hop_s, int)
        if not whole or self.window_s <= 0 or self.hop_s <= 0:
            raise ParameterError(f"window_s, hop_s must be positive whole seconds: {self.window_s}, {self.hop_s}")
        if self.kind == "mfcc" and not 0 < self.n_mfcc <= self.n_mels:
            raise ParameterError(f"n_mfcc must be in 1..n_mels={self.n_mels}, got {self.n_mfcc}")
        if not 0 < self.min_s <= self.window_s:
            raise ParameterError(f"min_s must be in (0, window_s], got {self.min_s}")
        if not 0 <= self.fmin < (self.fmax if self.fmax is not None else self.sr / 2) <= self.sr / 2:
            raise ParameterError(f"need 0 <= fmin < fmax <= sr / 2, got fmin={self.fmin}, fmax={self.fmax}, "
                                 f"sr={self.sr}")

    @property
    def fps(self) -> int:
        """Frames per second."""
        return self.sr // self.hop_length

    @property
    def window_frames(self) -> int:
        """Frames in one window (512 by default)."""
        return self.window_s * self.fps

    @property
    def hop_frames(self) -> int:
        """Frames between window starts (64 by default)."""
        return self.hop_s * self.fps

    @property
    def n_features(self) -> int:
        """Channels per frame: ``n_mfcc`` or ``n_mels``."""
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    @property
    def edge_frames(self) -> int:
        """Frames at each end of an excerpt whose analysis window crosses its edge."""
        return -(-self.n_fft // (2 * self.hop_length))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ParameterError(f"unknown FeatureConfig fields {sorted(unknown)}")
        return cls(**d)

    def key(self) -> str:
        """A short stable hash of the config and :data:`FEATURE_CODE_VERSION`, for cache keys."""
        text = json.dumps({**self.to_dict(), "code_version": FEATURE_CODE_VERSION}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def check_matches(self, other: FeatureConfig, what: str = "model") -> None:
        """Raise :class:`ConfigMismatchError` listing every field where ``other`` differs."""
        diffs = [
            f"{k}: {what} has {v!r}, asked for {getattr(other, k)!r}"
            for k, v in self.to_dict().items()
            if getattr(other, k) != v
        ]
        if diffs:
            raise ConfigMismatchError(f"feature configuration mismatch ({'; '.join(diffs)})")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters (saved with the model).

    Parameters
    ----------
    arch : {"cnn_lstm", "cnn", "cnn_gpool"}
    filters : tuple of int
        Filters of each conv block (four blocks of max-pool 2: a stride of 16 frames, 30 LSTM steps per window;
        with three, the LSTM dominated ranking time: results/bench_scoring.md).
    kernel_size, pool_size : int
        Conv kernel length (3: the seed's 1x3 filters), and max-pool length and stride (2), in frames.
    lstm_units, dense_units : int
        Width of the LSTM (``cnn_lstm``) or hidden dense layer (``cnn``, ``cnn_gpool``).
    dropout : float
        Dropout before each dense/sigmoid layer; ``batchnorm`` (bool): batch normalisation after each convolution.
    classes : tuple of str
        A genre model's genres (a softmax head); empty: a like-probability (sigmoid) head.
    """

    arch: str = "cnn_lstm"
    filters: tuple = (32, 32, 32, 32)
    kernel_size: int = 3
    pool_size: int = 2
    lstm_units: int = 32
    dense_units: int = 32
    dropout: float = 0.25
    batchnorm: bool = True
    classes: tuple = ()

    def __post_init__(self):  # every value typed and in range: "32", 32.5, True or 10**9 is refused
        if not isinstance(self.arch, str) or self.arch not in ARCHS:
            raise ParameterError(f"arch must be one of {ARCHS}, got {self.arch!r:.40}")
        ints = [("filters", v, 1024) for v in self.filters] if isinstance(self.filters, (list, tuple)) else []
        ints += [("kernel_size", self.kernel_size, 64), ("pool_size", self.pool_size, 8),
                 ("lstm_units", self.lstm_units, 4096), ("dense_units", self.dense_units, 4096)]
        bad = [(k, v, hi) for k, v, hi in ints if type(v) is not int or not 1 <= v <= hi]
        if not 1 <= len(ints) - 4 <= 8 or bad:
            k, v, hi = bad[0] if bad else ("filters", self.filters, 1024)
            raise ParameterError(f"{k} must be whole numbers from 1 to {hi} (1-8 filters), got {v!r:.60}")
        if type(self.batchnorm) is not bool or type(self.dropout) not in (int, float) or not 0 <= self.dropout < 1:
            raise ParameterError(f"batchnorm must be true or false and dropout in [0, 1), got {self.batchnorm!r:.20}, "
                                 f"{self.dropout!r:.20}")
        if not isinstance(self.classes, (list, tuple)) or not all(isinstance(c, str) for c in self.classes):
            raise ParameterError(f"classes must be a list of genre names, got {self.classes!r:.60}")
        object.__setattr__(self, "filters", tuple(self.filters))
        object.__setattr__(self, "classes", tuple(self.classes))
        if len(self.classes) == 1 or len(set(self.classes)) != len(self.classes):
            raise ParameterError(f"a genre model needs 2 or more distinct genres, got {list(self.classes)}")

    @property
    def stride(self) -> int:
        """Total time stride of the trunk in frames."""
        return self.pool_size ** len(self.filters)

    @property
    def receptive_field(self) -> int:
        """Input frames one trunk output step depends on (46 by default): step ``j`` sees frames
        ``[j * stride, j * stride + receptive_field)``."""
        r = 1
        for _ in self.filters:
            r = r * self.pool_size + self.kernel_size - 1
        return r

    def trunk_length(self, n_frames: int) -> int:
        """Trunk output steps for ``n_frames`` input frames (valid convolutions and pools)."""
        n = n_frames
        for _ in self.filters:
            n = (n - self.kernel_size + 1) // self.pool_size
        return n

    def to_dict(self) -> dict:
        return {**asdict(self), "filters": list(self.filters), "classes": list(self.classes)}


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (all recorded in the report)."""

    max_epochs: int = 20  #: epochs each cross-validation fold trains for; the chosen count is <= this
    folds: int = 5  #: cross-validation folds (capped by the number of tracks in the smaller class)
    #: None: average the ``folds`` fold models at the chosen epoch (seeds agree far better than with one model);
    #: K >= 2: the same with K folds; 0: one model retrained on all tracks instead
    ensemble: int | None = None
    windows_per_track: int = 8  #: random windows drawn from each training track per epoch
    batch_size: int = 32
    learning_rate: float = 1e-3  #: Adam's
    gain_db: float = 6.0  #: random gain augmentation range in dB (0 disables)
    #: weight of an unlabelled library track used as a negative, relative to a dislike (it may be a hidden like)
    unlabelled_weight: float = 0.5
    unlabelled_per_like: float = 3.0  #: unlabelled library tracks drawn at random per liked track as negatives
    #: ``"auto"``: stack the network's score with the baseline's when that cross-validates at least as well as the
    #: network alone; ``"stacked"``, ``"network"``, ``"encoder"`` (the start encoder's vectors' regression),
    #: ``"teacher"`` (the teacher's) force one; ``"auto+encoder"``, ``"auto+teacher"`` let that stack compete
    blend: str = "auto"
    augment: bool = False  #: mask a time span and a band and tilt every training window (``train --augment``)
    pretrained: str | None = None  #: where the pre-trained weights every model starts from came from
    seed: int = 0

    def __post_init__(self):
        if self.ensemble is None:
            if self.folds < 2:
                raise ParameterError(f"cross-validation needs folds >= 2, got {self.folds}")
            object.__setattr__(self, "ensemble", self.folds)
        if self.ensemble == 1 or self.ensemble < 0:
            raise ParameterError(f"ensemble must be 0 (off) or at least 2 fold models, got {self.ensemble}")
        if self.ensemble:
            object.__setattr__(self, "folds", self.ensemble)
        for name in ("max_epochs", "windows_per_track", "batch_size"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.folds < 2:
            raise ParameterError(f"cross-validation needs folds >= 2, got {self.folds}")
        if self.blend not in BLENDS:
            raise ParameterError(f"blend must be one of {BLENDS}, got {self.blend!r}")


@dataclass(frozen=True)
class PretrainConfig:
    """Contrastive pre-training settings (part of the stored weights' key)."""

    epochs: int = 15
    pairs_per_track: int = 4  #: positive pairs drawn from every track per epoch
    batch_size: int = 64  #: pairs per batch: each window has ``2 * batch_size - 1`` others to be told from
    temperature: float = 0.1  #: of the cosine similarities
    projection: int = 64  #: width of the projection head (pre-training only)
    learning_rate: float = 1e-3  #: Adam's
    #: augmentation ranges: gain in dB; c1 offset (in c1's standard deviations over the library); longest masked
    #: span (fraction of the window); widest masked band of coefficients
    gain_db: float = 6.0
    tilt: float = 0.5
    time_mask: float = 0.15
    coef_mask: int = 3
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "pairs_per_track", "projection"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ParameterError("batch_size must be at least 2 (negatives come from the batch), got "
                                 f"{self.batch_size}")
        if self.temperature <= 0:
            raise ParameterError(f"temperature must be > 0, got {self.temperature}")


@dataclass(frozen=True)
class DistillConfig:
    """Distillation settings (recorded with the weights): the student predicts the teacher's vector of windows."""

    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    every_s: int = 10  #: a target window every this many seconds of each track (10: 24 of a 4-minute track)
    patch_offsets_s: tuple = (0.0, 5.0)  #: where the teacher's 3 s patches start in a window (first and last 3 s)
    loss: str = "mse"  #: one of :data:`DISTILL_LOSSES`
    holdout: float = 0.1  #: share of the tracks held out to report how well the student predicts unseen ones
    seed: int = 0

    def __post_init__(self):
        if self.loss not in DISTILL_LOSSES:
            raise ParameterError(f"loss must be one of {DISTILL_LOSSES}, got {self.loss!r}")
        if self.epochs < 1 or self.batch_size < 2 or self.every_s < 1 or not 0 <= self.holdout < 1:
            raise ParameterError(f"invalid distillation settings: {self}")
