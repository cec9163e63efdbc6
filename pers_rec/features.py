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

import os
from collections.abc import Iterable, Iterator

import numpy as np

from .audio import split_blocks
from .config import FEATURE_CODE_VERSION, LIMITS, FeatureConfig  # noqa: F401 (re-exported)
from .errors import TooShortError

#: Samples per chunk of frames (~22 s at 24 kHz). Also splits a long signal given in one
#: piece: the STFT of a 4-minute track ran 1.6x faster in chunks of 2**18-2**19 samples
#: (cache-sized working set) than in one piece on the development CPU.
_CHUNK_SAMPLES = 1 << 19

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


def feature_stats(matrices: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-coefficient mean and variance [each shape=(n_features,), float32] over every frame of the
    matrices [each shape=(n_frames_i, n_features)], accumulated in float64 (for ``Standardize``)."""
    n = sum(len(M) for M in matrices)
    mean = sum(M.sum(0, dtype=np.float64) for M in matrices) / n
    var = sum(((M - mean) ** 2).sum(0, dtype=np.float64) for M in matrices) / n
    return mean.astype(np.float32), var.astype(np.float32)
