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

from ..config import FEATURE_CODE_VERSION, LIMITS, FeatureConfig  # noqa: F401 (re-exported)
from ..errors import TooShortError
from .decode import split_blocks

#: Samples per chunk of frames (~2.7 s at 24 kHz): the frames, their spectra and their mel bands stay in a
#: core's L2 cache. A long signal given in one piece is split too. On the 2-core test machine (1 MiB L2 per
#: core) a 4-minute track's features took 0.031-0.034 s in chunks of 2**16-2**18 samples and 0.040-0.042 s in chunks of
#: 2**19 (``experiments.bench_rank``'s chunk table); in scratch runs chunks of 2**17 and more were at times
#: twice as slow, 2**16 never.
_CHUNK_SAMPLES = 1 << 16

#: Per feature config: (mel filterbank [n_mels, 1 + n_fft // 2], analysis window [n_fft],
#: DCT matrix [n_mels, n_mfcc]), float32.
_ANALYSIS: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def analysis_arrays(cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mel filterbank, Hann window and DCT matrix of ``cfg``, made once per process.

    The filterbank is librosa's (``librosa.filters.mel``, Slaney's mel scale and area normalisation) and the
    window scipy's periodic Hann, computed here with numpy: importing ``librosa.filters`` (scipy.signal,
    scipy.stats, numba) took 1.1 s per run, longer than ranking three tracks. ``tests/test_features.py``
    checks both against librosa. Decoding workers receive them from the parent (:func:`prime`).
    """
    key = cfg.key()
    if key not in _ANALYSIS:
        import scipy.fft

        n = cfg.n_mfcc if cfg.kind == "mfcc" else cfg.n_mels
        dct = scipy.fft.dct(np.eye(cfg.n_mels), type=2, norm="ortho", axis=-1)[:, :n]  # row b -> its DCT-II terms
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(cfg.n_fft) / cfg.n_fft)
        _ANALYSIS[key] = tuple(a.astype(np.float32) for a in (mel_filterbank(cfg), window, dct))
    return _ANALYSIS[key]


def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)`` (Slaney mel scale, ``norm="slaney"``), float64
    [shape=(n_mels, 1 + n_fft // 2)]: triangles between consecutive mel-spaced edges, each of area-normalised
    height ``2 / (upper edge - lower edge)``."""
    def hz_to_mel(f):  # linear below 1 kHz, logarithmic above (Slaney's Auditory Toolbox)
        f = np.asarray(f, np.float64)
        log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log_part, 3.0 * f / 200.0)

    def mel_to_hz(m):
        return np.where(m >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (m - 15.0)), 200.0 * m / 3.0)

    fmax = cfg.sr / 2 if cfg.fmax is None else cfg.fmax
    edges = mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(fmax), cfg.n_mels + 2))
    ramps = edges[:, None] - np.fft.rfftfreq(cfg.n_fft, 1.0 / cfg.sr)[None, :]
    fdiff = np.diff(edges)[:, None]
    weights = np.maximum(0, np.minimum(-ramps[:-2] / fdiff[:-1], ramps[2:] / fdiff[1:]))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


def prime(cfg: FeatureConfig, mel: np.ndarray, window: np.ndarray, dct: np.ndarray) -> None:
    """Install precomputed :func:`analysis_arrays` for ``cfg`` (in a worker process)."""
    _ANALYSIS[cfg.key()] = (mel, window, dct)


#: Consecutive mel filters per block of :func:`mel_blocks`.
MEL_BLOCK = 8
_BLOCKS: dict[str, list[tuple[int, int, int, int, np.ndarray]]] = {}


def mel_blocks(cfg: FeatureConfig) -> list[tuple[int, int, int, int, np.ndarray]]:
    """The filterbank as blocks ``(first filter, end filter, first bin, end bin, weights [bins, filters])``.

    A mel filter is zero outside its triangle, so each block of :data:`MEL_BLOCK` consecutive filters only
    needs the bins its triangles cover: the product with the power spectrum takes 14 % of the dense one's
    multiplications at the default settings (3 ms instead of 9 ms per 4-minute track on the test machine),
    with the same sums.
    """
    key = cfg.key()
    if key not in _BLOCKS:
        mel = analysis_arrays(cfg)[0]
        spans = [(int(nz[0]), int(nz[-1]) + 1) if len(nz) else None for nz in (np.flatnonzero(row) for row in mel)]
        blocks = []
        for a in range(0, len(mel), MEL_BLOCK):
            b = min(a + MEL_BLOCK, len(mel))
            used = [sp for sp in spans[a:b] if sp is not None] or [(0, 0)]
            lo, hi = min(u[0] for u in used), max(u[1] for u in used)
            blocks.append((a, b, lo, hi, np.ascontiguousarray(mel[a:b, lo:hi].T)))
        _BLOCKS[key] = blocks
    return _BLOCKS[key]


def _frames_uncentered(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Features of every full ``n_fft`` frame of ``y`` (no padding), time-major.

    The STFT frames ``y`` as a strided view and runs ``scipy.fft.rfft`` in
    float32: the same numbers as ``librosa.stft(center=False)`` (to ~1e-6;
    tests compare against librosa's MFCC) at less than half its cost, which
    matters because the STFT is most of the feature time. The log is
    ``librosa.power_to_db(S, ref=1, amin=amin, top_db=None)``, i.e.
    ``10 log10(max(S, amin))``, and the DCT that of ``librosa.feature.mfcc``
    (orthonormal DCT-II), as one product with a matrix of its first ``n_mfcc`` terms.
    """
    import scipy.fft
    from numpy.lib.stride_tricks import sliding_window_view

    mel, window, dct = analysis_arrays(cfg)
    frames = sliding_window_view(np.asarray(y, np.float32), cfg.n_fft)[:: cfg.hop_length]
    stft = scipy.fft.rfft(frames * window, axis=-1)
    power = np.square(stft.real)
    power += np.square(stft.imag)  # (n_frames, 1 + n_fft // 2)
    db = np.empty((len(power), len(mel)), np.float32)
    for a, b, lo, hi, weights in mel_blocks(cfg):  # power @ mel.T, skipping the filters' zeros
        np.matmul(power[:, lo:hi], weights, out=db[:, a:b])
    np.maximum(db, np.float32(cfg.amin), out=db)
    np.log10(db, out=db)
    db *= np.float32(10.0)
    if cfg.kind == "mfcc":
        db = db @ dct
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
        See ``decode.stream``.
    """
    from . import decode

    return decode.decoded(path, cfg.sr, lambda blocks: frames_from_blocks(blocks, cfg))


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
