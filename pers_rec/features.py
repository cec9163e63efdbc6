"""Features: MFCCs computed once per track, and 8 s / 1 s windows as views of them.

Layout convention: a feature matrix is **time-major**, ``M`` of shape
``(n_frames, n_features)`` (the transpose of librosa's), because the network
convolves along time with the coefficients as channels.

Locality. Every frame depends only on the ``n_fft`` samples around it: the
log uses a fixed floor (``amin``) and no ``top_db`` clipping relative to the
track's maximum (librosa's default would make each frame depend on the loudest
moment of the whole track). Therefore a window cut from the track's matrix
equals the matrix of that 8 s excerpt computed alone, except for the
``edge_frames`` (``ceil(n_fft / (2 * hop_length))``, 2 by default) frames at
each end whose analysis window crosses the excerpt's edge; and the matrix can be computed in chunks (``extract``
streams) with the same result as in one piece.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .audio import split_blocks
from .errors import ConfigMismatchError, ParameterError, TooShortError

#: Samples per chunk of frames (~22 s at 24 kHz). Also splits a long signal given in one
#: piece: the STFT of a 4-minute track ran 1.6x faster in chunks of 2**18-2**19 samples
#: (cache-sized working set) than in one piece on the development CPU.
_CHUNK_SAMPLES = 1 << 19

#: Version of the feature code: part of every cache key, so features computed by code that has
#: changed since are never served from a cache. Bump it whenever the numbers would change.
FEATURE_CODE_VERSION = 2


#: Ranges of the numeric fields (``(name, lowest, highest)``): far wider than any real analysis needs, narrow enough
#: that a configuration read from a file cannot ask for gigabytes per frame or frequencies no audio has.
LIMITS = (("sr", 1000, 384000), ("hop_length", 1, 65536), ("n_fft", 16, 65536), ("n_mels", 1, 512),
          ("n_mfcc", 1, 512), ("window_s", 1, 600), ("hop_s", 1, 600), ("amin", 1e-30, 1.0))


@dataclass(frozen=True)
class FeatureConfig:
    """Everything that determines the features; saved with every model.

    Parameters
    ----------
    sr : int
        Sample rate in Hz the audio is resampled to. 24 kHz keeps content up
        to 12 kHz and, with ``hop_length=375``, gives exactly 64 frames per second.
    hop_length : int
        Samples between frames. ``sr / hop_length`` must be a whole number (the
        frame rate, ``fps``) so that a window of ``window_s`` and a hop of ``hop_s``
        seconds are whole numbers of frames. The default 64 fps (the seed uses
        50) is a power of two: 1 s = 64 frames is then a multiple of the CNN
        trunk's total time stride (16 with the default four max-pool-2 blocks), which is
        what makes scoring overlapping windows through one shared trunk pass
        exact (see ``scoring``). No integer hop at 22.05 kHz gives a frame rate
        divisible by 4, which is why the default rate is 24 kHz.
    n_fft : int
        FFT size in samples (1024 = 42.7 ms at 24 kHz). 1024 rather than 2048:
        on the development CPU librosa's MFCC of a 4-minute track took 0.07 s
        with 1024 against 0.34 s with 2048, and 43 ms still resolves the
        64-band mel scale above ~200 Hz, which is what MFCCs summarise.
    n_mels : int
        Mel bands (64 fill 0-12 kHz with no empty filter at ``n_fft=1024``).
    n_mfcc : int
        Cepstral coefficients kept (``kind="mfcc"``).
    fmin, fmax : float
        Mel filterbank range in Hz; ``fmax=None`` means ``sr / 2``.
    kind : {"mfcc", "logmel"}
        ``"mfcc"``: the seed's features. ``"logmel"``: the log-mel bands
        themselves (Dieleman's features), ``n_mels`` channels.
    window_s : int
        Window length in seconds (8 in the seed).
    hop_s : int
        Seconds between window starts at ranking time (1 in the seed).
    norm : {"standardize", "none"}
        ``"standardize"``: the network's first layer standardises each
        coefficient with mean and variance measured on the training windows
        (stored in the model). ``"none"``: raw coefficients.
    min_s : float
        Shortest accepted track in seconds. Shorter audio raises
        :class:`TooShortError`. A track between ``min_s`` and ``window_s`` is
        looped (its frames repeated) to fill exactly one window.
    amin : float
        Power floor before the log (1e-10 = -100 dB).
    """

    sr: int = 24000
    hop_length: int = 375
    n_fft: int = 1024
    n_mels: int = 64
    n_mfcc: int = 20
    fmin: float = 0.0
    fmax: float | None = None
    kind: str = "mfcc"
    window_s: int = 8
    hop_s: int = 1
    norm: str = "standardize"
    min_s: float = 1.0
    amin: float = 1e-10

    def __post_init__(self):
        for name, kind in (("sr", int), ("hop_length", int), ("n_fft", int), ("n_mels", int), ("n_mfcc", int),
                           ("fmin", (int, float)), ("min_s", (int, float)), ("amin", (int, float))):
            v = getattr(self, name)
            if not isinstance(v, kind) or isinstance(v, bool) or (isinstance(v, float) and not math.isfinite(v)):
                raise ParameterError(f"{name} must be a finite {'whole ' if kind is int else ''}number, got {v!r}")
        if self.fmax is not None and (not isinstance(self.fmax, (int, float)) or not math.isfinite(self.fmax)):
            raise ParameterError(f"fmax must be a finite number or None, got {self.fmax!r}")
        if self.sr <= 0 or self.hop_length <= 0 or self.n_fft <= 0:
            raise ParameterError(f"sr, hop_length and n_fft must be positive, got {self.sr}, {self.hop_length}, {self.n_fft}")
        for name, lo, hi in LIMITS:  # what any real analysis uses, with room; a file that asks for more lies
            if not lo <= getattr(self, name) <= hi:
                raise ParameterError(f"{name} must be in {lo}..{hi}, got {getattr(self, name)}")
        if self.sr % self.hop_length:
            raise ParameterError(
                f"sr / hop_length must be a whole number of frames per second, got {self.sr} / {self.hop_length}"
            )
        if self.kind not in ("mfcc", "logmel"):
            raise ParameterError(f"kind must be 'mfcc' or 'logmel', got {self.kind!r}")
        if self.norm not in ("standardize", "none"):
            raise ParameterError(f"norm must be 'standardize' or 'none', got {self.norm!r}")
        if not (isinstance(self.window_s, int) and isinstance(self.hop_s, int)) or self.window_s <= 0 or self.hop_s <= 0:
            raise ParameterError(f"window_s and hop_s must be positive whole seconds, got {self.window_s}, {self.hop_s}")
        if self.kind == "mfcc" and not 0 < self.n_mfcc <= self.n_mels:
            raise ParameterError(f"n_mfcc must be in 1..n_mels={self.n_mels}, got {self.n_mfcc}")
        if not 0 < self.min_s <= self.window_s:
            raise ParameterError(f"min_s must be in (0, window_s], got {self.min_s}")

        if not 0 <= self.fmin < (self.fmax if self.fmax is not None else self.sr / 2) <= self.sr / 2:
            raise ParameterError(f"need 0 <= fmin < fmax <= sr / 2, got fmin={self.fmin}, fmax={self.fmax}, sr={self.sr}")

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


#: Per feature config: (mel filterbank [n_mels, 1 + n_fft // 2], analysis window [n_fft]), float32.
_ANALYSIS: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def analysis_arrays(cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """The mel filterbank and Hann window of ``cfg``, made with librosa once per process.

    Decoding workers receive them from the parent (:func:`prime`) so that they
    never import librosa, whose import chain (scipy.signal, scipy.stats, numba)
    took ~1.1 s per fresh process on the development machine.
    """
    key = cfg.key()
    if key not in _ANALYSIS:
        import librosa

        mel = librosa.filters.mel(sr=cfg.sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax)
        window = librosa.filters.get_window("hann", cfg.n_fft, fftbins=True)
        _ANALYSIS[key] = (mel.astype(np.float32), window.astype(np.float32))
    return _ANALYSIS[key]


def prime(cfg: FeatureConfig, mel: np.ndarray, window: np.ndarray) -> None:
    """Install precomputed :func:`analysis_arrays` for ``cfg`` (in a worker process)."""
    _ANALYSIS[cfg.key()] = (mel, window)


def _frames_uncentered(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Features of every full ``n_fft`` frame of ``y`` (no padding), time-major.

    The STFT frames ``y`` as a strided view and runs ``scipy.fft.rfft`` in
    float32: the same numbers as ``librosa.stft(center=False)`` (to ~1e-6;
    tests compare against librosa's MFCC) at less than half its cost, which
    matters because the STFT is most of the feature time. The log is
    ``librosa.power_to_db(S, ref=1, amin=amin, top_db=None)``, i.e.
    ``10 log10(max(S, amin))``, and the DCT that of ``librosa.feature.mfcc``.
    """
    import scipy.fft
    from numpy.lib.stride_tricks import sliding_window_view

    mel, window = analysis_arrays(cfg)
    frames = sliding_window_view(np.asarray(y, np.float32), cfg.n_fft)[:: cfg.hop_length]
    stft = scipy.fft.rfft(frames * window, axis=-1)
    power = stft.real**2 + stft.imag**2  # (n_frames, 1 + n_fft // 2)
    db = 10.0 * np.log10(np.maximum(power @ mel.T, np.float32(cfg.amin)))
    if cfg.kind == "mfcc":
        db = scipy.fft.dct(db, type=2, norm="ortho", axis=-1)[:, : cfg.n_mfcc]
    return np.ascontiguousarray(db, dtype=np.float32)


def compute(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Features of a whole signal held in memory.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio at ``cfg.sr``.
    cfg : FeatureConfig

    Returns
    -------
    M : np.ndarray [shape=(1 + n // hop_length, n_features), dtype=float32]
        Frame ``t`` is centred on sample ``t * hop_length`` (zero padding at
        both ends, as librosa's ``center=True``).
    """
    return frames_from_blocks([np.asarray(y, np.float32)], cfg)


def frames_from_blocks(blocks: Iterable[np.ndarray], cfg: FeatureConfig) -> np.ndarray:
    """Features of a signal given as consecutive blocks, computed chunk by chunk.

    Equal to :func:`compute` on the concatenated signal (up to float rounding);
    memory holds one chunk of samples (~20 s) plus the feature matrix.

    Returns
    -------
    M : np.ndarray [shape=(n_frames, n_features), dtype=float32]
    """
    out = list(_iter_frames(blocks, cfg))
    if not out:
        return np.zeros((0, cfg.n_features), np.float32)
    return np.concatenate(out)


def _iter_frames(blocks: Iterable[np.ndarray], cfg: FeatureConfig) -> Iterator[np.ndarray]:
    pad = cfg.n_fft // 2
    buf = [np.zeros(pad, np.float32)]  # centre padding at the start, as center=True
    n_buf = pad
    n_signal = 0
    for block in split_blocks(blocks, _CHUNK_SAMPLES):
        buf.append(block)
        n_buf += len(block)
        n_signal += len(block)
        if n_buf >= _CHUNK_SAMPLES:
            y = np.concatenate(buf)
            n_frames = (len(y) - cfg.n_fft) // cfg.hop_length + 1
            yield _frames_uncentered(y[: (n_frames - 1) * cfg.hop_length + cfg.n_fft], cfg)
            rest = y[n_frames * cfg.hop_length :]
            buf, n_buf = [rest], len(rest)
    if n_signal == 0:
        return
    y = np.concatenate(buf + [np.zeros(pad, np.float32)])
    if len(y) >= cfg.n_fft:
        yield _frames_uncentered(y, cfg)


def extract(path: str | os.PathLike, cfg: FeatureConfig) -> np.ndarray:
    """Decode ``path`` and compute its features, streaming (bounded memory).

    Returns
    -------
    M : np.ndarray [shape=(n_frames, n_features), dtype=float32]

    Raises
    ------
    AudioError
        See ``audio.stream``.
    """
    from . import audio

    return frames_from_blocks(audio.stream(path, cfg.sr), cfg)


def duration_s(M: np.ndarray, cfg: FeatureConfig) -> float:
    """Duration in seconds of the audio behind a feature matrix (to one hop)."""
    return max(M.shape[0] - 1, 0) / cfg.fps


def fit_to_window(M: np.ndarray, cfg: FeatureConfig, path: str | os.PathLike = "<array>") -> np.ndarray:
    """Return ``M`` if it holds at least one window, else loop it to exactly one.

    A track shorter than ``window_s`` (but at least ``min_s``) is repeated
    frame-wise from its start, like a listener looping a short clip; the
    result has exactly ``cfg.window_frames`` frames and yields one window.

    Raises
    ------
    TooShortError
        The track is shorter than ``cfg.min_s`` seconds.
    """
    n = M.shape[0]
    if n >= cfg.window_frames:
        return M
    if n < cfg.min_s * cfg.fps:
        raise TooShortError(path, f"{n / cfg.fps:.2f} s of audio is shorter than the minimum {cfg.min_s} s")
    return np.take(M, np.arange(cfg.window_frames) % n, axis=0)


def n_windows(n_frames: int, cfg: FeatureConfig) -> int:
    """Number of ``window_s`` windows slid by ``hop_s`` over ``n_frames`` frames.

    Windows start at 0, ``hop_s``, ``2 hop_s`` ... seconds and must end inside the
    track; trailing audio shorter than one hop after the last window is not scored.
    A track shorter than one window counts one (looped) window.
    """
    if n_frames <= cfg.window_frames:
        return 1
    return 1 + (n_frames - cfg.window_frames) // cfg.hop_frames


def windows(M: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """All ``window_s`` windows slid by ``hop_s``, as a strided view of ``M``.

    Parameters
    ----------
    M : np.ndarray [shape=(n_frames, n_features)]
    cfg : FeatureConfig

    Returns
    -------
    X : np.ndarray [shape=(n_windows, window_frames, n_features)]
        ``X[k] == M[k * hop_frames : k * hop_frames + window_frames]``; a
        read-only view (no copy) unless ``M`` had to be looped (see
        :func:`fit_to_window`).
    """
    from numpy.lib.stride_tricks import sliding_window_view

    M = fit_to_window(M, cfg)
    view = sliding_window_view(M, cfg.window_frames, axis=0)[:: cfg.hop_frames]
    return view.transpose(0, 2, 1)


def window_starts_s(n: int, cfg: FeatureConfig) -> np.ndarray:
    """Start times in seconds of the first ``n`` windows."""
    return np.arange(n, dtype=np.float64) * cfg.hop_s


def gain_offset(cfg: FeatureConfig, gain_db: float | np.ndarray) -> np.ndarray:
    """What a gain of ``gain_db`` decibels adds to each feature channel.

    A gain scales power by ``10**(gain_db/10)``, adding ``gain_db`` to every
    log-mel band; the orthonormal DCT maps that constant to the 0th cepstral
    coefficient only, times ``sqrt(n_mels)``. Exact except where a band sits
    on the ``amin`` floor. Used for gain augmentation without re-decoding.

    Returns
    -------
    offset : np.ndarray [shape=(..., n_features), dtype=float32]
    """
    gain_db = np.asarray(gain_db, np.float32)[..., None]
    if cfg.kind == "logmel":
        return np.broadcast_to(gain_db, gain_db.shape[:-1] + (cfg.n_mels,)).astype(np.float32)
    unit = np.zeros(cfg.n_features, np.float32)
    unit[0] = np.sqrt(cfg.n_mels)
    return gain_db * unit
