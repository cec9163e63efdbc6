"""Audio decoding: any file -> mono float32 blocks at the model's sample rate.

Decoding sits behind one small interface, :data:`DECODERS`: a decoder is a
function ``open(path) -> Source`` that opens the file eagerly (so that a file it
cannot read fails at once and the next decoder is tried) and yields
``(n, channels)`` float32 blocks lazily. Adding a decoder is adding one function
to that list.

- ``soundfile`` (libsndfile) reads WAV, FLAC, OGG/Vorbis, Opus, MP3, AIFF and more.
- ``pyav`` (FFmpeg, bundled in the ``av`` wheels) reads what libsndfile cannot:
  M4A (AAC, ALAC), WMA, ...

:func:`stream` mixes to mono, checks the samples, and resamples block by block
with ``soxr``'s streaming resampler, so memory stays bounded for any length
(a 3-hour mix is never held in memory as samples; see ``features.extract``).
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat as stat_mod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..errors import (
    AudioFileNotFoundError,
    CorruptFileError,
    DecodeError,
    EmptyFileError,
    InvalidSamplesError,
    NoAudioError,
    NotAFileError,
    SilentAudioError,
)

#: File extensions scanned as audio in a library folder (lower case, with dot).
AUDIO_EXTENSIONS = frozenset(
    ".wav .wave .flac .ogg .oga .opus .mp3 .aif .aiff .aifc .m4a .mp4 .aac .alac .wma .wv .ape .caf .w64".split()
)

#: Peak absolute sample value below which a file counts as silent (-90 dBFS).
SILENCE_PEAK = 10 ** (-90 / 20)

#: Peak absolute sample value above which samples are nonsense, not audio (+80 dB over full scale):
#: their squares would overflow float32 in the features.
ABSURD_PEAK = 1e4

#: Native-rate frames read per block; 64 Ki frames is ~1.5 s at 44.1 kHz.
BLOCK_FRAMES = 1 << 16

#: Most output samples one resampler call may make (~11 s at 24 kHz): memory stays bounded even when a
#: header claims an absurdly low rate (a 1 Hz WAV once made a worker allocate 8.5 GB for one block).
MAX_RESAMPLED = 1 << 18

#: Sample rates outside this range (Hz) are not audio: a header that says otherwise is broken.
SR_RANGE = (1000, 1_000_000)

#: libsndfile's log line for a WAV/AIFF audio chunk shorter than its header declares.
_SHORT_CHUNK = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+) \(should be (\d+)\)", re.MULTILINE)
#: Chunk sizes that streaming writers leave as placeholders (not truncation).
_PLACEHOLDER_SIZE = 0xFFFF0000


@dataclass
class Source:
    """An opened audio file.

    Attributes
    ----------
    sr : int
        Native sample rate in Hz.
    channels : int
        Number of channels.
    blocks : Iterator[np.ndarray [shape=(n, channels), dtype=float32]]
        The samples, in order. Raises :class:`DecodeError` on corrupt data.
    decoder : str
        Which decoder opened the file.
    """

    sr: int
    channels: int
    blocks: Iterator[np.ndarray]
    decoder: str


def _open_soundfile(path: Path) -> Source:
    import soundfile as sf

    try:
        f = sf.SoundFile(os.fsencode(path))  # bytes: any file name, even one that is not valid UTF-8
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise DecodeError(path, f"libsndfile cannot read it ({_sndfile_reason(exc)})") from None
    short = _SHORT_CHUNK.search(f.extra_info)
    if short and int(short[2]) < int(short[1]) < _PLACEHOLDER_SIZE:
        f.close()
        raise CorruptFileError(path, f"truncated: the header declares {short[1]} bytes of audio but the file "
                                     f"holds {short[2]}")

    def blocks() -> Iterator[np.ndarray]:
        try:
            with f:
                while True:
                    try:
                        block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                    except (sf.LibsndfileError, RuntimeError) as exc:
                        at = f.tell() / f.samplerate
                        raise CorruptFileError(path, f"corrupt data at {at:.2f} s ({exc})") from None
                    if not len(block):
                        return
                    yield block
        finally:
            f.close()

    return Source(int(f.samplerate), int(f.channels), blocks(), "soundfile")


def _sndfile_reason(exc: Exception) -> str:
    """libsndfile's reason without the file name, and without its misleading "does not exist" text.

    libsndfile says "File does not exist or is not a regular file (possibly a
    pipe?)" for an existing regular file whose content it cannot parse.
    """
    text = str(getattr(exc, "error_string", "") or exc).strip()
    if "does not exist or is not a regular file" in text:
        return "format not recognised"
    return text.rsplit(": ", 1)[-1] if text.startswith("Error opening") else text


PYAV_BLOCK = 1 << 16  #: samples per channel PyAV's decoded frames are gathered into before they are passed on


def _open_pyav(path: Path) -> Source:
    import av

    try:
        container = av.open(os.fsdecode(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise DecodeError(path, f"FFmpeg cannot read it ({exc})") from None
    if not container.streams.audio:
        container.close()
        raise DecodeError(path, "FFmpeg finds no audio stream in it")
    stream = container.streams.audio[0]
    sr = int(stream.rate or stream.codec_context.sample_rate or 0)
    channels = int(stream.codec_context.channels or 0)
    if sr <= 0:
        container.close()
        raise DecodeError(path, "FFmpeg reports no sample rate")
    # 'fltp' gives planar float32 whatever the codec's native sample format is.
    resampler = av.AudioResampler(format="fltp")

    def blocks() -> Iterator[np.ndarray]:
        pending, n = [], 0  # codec frames of ~1,000 samples gathered into blocks: less work per frame in Python
        try:
            for packet_frame in container.decode(stream):
                frames = [packet_frame] if packet_frame.format.name == "fltp" else resampler.resample(packet_frame)
                for frame in frames:
                    if frame.sample_rate != sr:
                        raise DecodeError(path, "sample rate changes mid-stream, which is not supported")
                    pending.append(frame.to_ndarray())
                    n += frame.samples
                if n >= PYAV_BLOCK:
                    yield np.ascontiguousarray(np.concatenate(pending, axis=1).T, dtype=np.float32)
                    pending, n = [], 0
            if pending:
                yield np.ascontiguousarray(np.concatenate(pending, axis=1).T, dtype=np.float32)
        except av.FFmpegError as exc:
            raise CorruptFileError(path, f"corrupt data ({exc})") from None
        finally:
            container.close()

    return Source(sr, channels, blocks(), "pyav")


T = TypeVar("T")

#: Decoders in the order they are tried: ``(name, open)``.
DECODERS: list[tuple[str, Callable[[Path], Source]]] = [
    ("soundfile", _open_soundfile),
    ("pyav", _open_pyav),
]
#: Formats FFmpeg decodes much faster than libsndfile (PyAV tried first): four minutes of Opus in 0.43 s, not 1.38 s.
#: (Vorbis: PyAV's per-frame Python work eats FFmpeg's lead, 0.6 s either way; MP3, FLAC, WAV: libsndfile as fast.)
PYAV_FIRST = (".opus",)


def decoders_for(path: Path, fast_first: bool = True) -> list[tuple[str, Callable[[Path], Source]]]:
    """:data:`DECODERS` in the order to try for ``path`` (PyAV first for :data:`PYAV_FIRST`, unless not
    ``fast_first``)."""
    if fast_first and path.suffix.lower() in PYAV_FIRST:
        return sorted(DECODERS, key=lambda d: d[0] != "pyav")
    return list(DECODERS)


def decoded(path: str | os.PathLike, sr: int, consume: Callable[[Iterator[np.ndarray]], T]) -> T:
    """``consume(stream(path, sr))``; when FFmpeg, tried first for speed, finds the file corrupt part-way, the
    whole file again with libsndfile first (as these formats were always read): some Ogg files FFmpeg refuses
    (``avcodec_send_packet() returned 22``: a supertux track) libsndfile reads to the end."""
    try:
        return consume(stream(path, sr))
    except CorruptFileError:
        if Path(path).suffix.lower() not in PYAV_FIRST:
            raise
        return consume(stream(path, sr, fast_first=False))


def _check_path(path: Path) -> None:
    try:
        st = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise AudioFileNotFoundError(path, "a symlink loop") from None
        raise AudioFileNotFoundError(path, "no such file" if exc.errno == errno.ENOENT else exc.strerror) from None
    if not stat_mod.S_ISREG(mode := st.st_mode):
        kind = ("a directory" if stat_mod.S_ISDIR(mode) else "a FIFO (named pipe)" if stat_mod.S_ISFIFO(mode)
                else "a device" if stat_mod.S_ISCHR(mode) or stat_mod.S_ISBLK(mode) else "a socket")
        raise NotAFileError(path, f"not a regular file ({kind})")
    if st.st_size == 0:
        raise EmptyFileError(path, "the file is empty (0 bytes)")


def open_audio(path: str | os.PathLike, fast_first: bool = True) -> Source:
    """Open ``path`` with the first decoder of :data:`DECODERS` that can read it.

    Raises
    ------
    AudioFileNotFoundError, NotAFileError, EmptyFileError
        The path is not a non-empty regular file.
    DecodeError
        No decoder can read it; the message lists each decoder's reason.
    CorruptFileError
        A decoder recognised the format but found the file truncated; no
        other decoder is tried.
    """
    path = Path(path)
    _check_path(path)
    reasons = []
    for name, opener in decoders_for(path, fast_first):
        try:
            src = opener(path)
        except CorruptFileError:
            raise
        except DecodeError as exc:
            reasons.append(f"{name}: {exc.reason}")
            continue
        if not SR_RANGE[0] <= src.sr <= SR_RANGE[1]:
            raise CorruptFileError(path, f"the header claims a sample rate of {src.sr} Hz, which no audio has")
        return src
    raise DecodeError(path, "not a readable audio file; " + "; ".join(reasons))


def stream(path: str | os.PathLike, sr: int, fast_first: bool = True) -> Iterator[np.ndarray]:
    """Decode ``path`` to mono float32 blocks at ``sr`` Hz, block by block.

    Parameters
    ----------
    path : str or PathLike
        Audio file in any format a decoder of :data:`DECODERS` reads, at any
        sample rate, bit depth and channel count.
    sr : int
        Output sample rate in Hz. Resampling uses soxr's "HQ" streaming resampler.

    Yields
    ------
    y : np.ndarray [shape=(n,), dtype=float32]
        Consecutive blocks of the mono signal (channel mean).

    Raises
    ------
    AudioError
        A subclass naming the file and the reason: missing, not a file, empty,
        undecodable (:class:`DecodeError`), truncated or corrupt
        (:class:`CorruptFileError`: WAV/AIFF chunk sizes, FLAC sync; a
        truncated MP3 or Ogg decodes to its readable part), NaN/Inf samples
        (:class:`InvalidSamplesError`), no samples (:class:`NoAudioError`), or
        silent (:class:`SilentAudioError`, raised after the last block).
    """
    import soxr

    path = Path(path)
    src = open_audio(path, fast_first)
    resampler = None if src.sr == sr else soxr.ResampleStream(src.sr, sr, 1, dtype="float32", quality="HQ")
    step = max(1, MAX_RESAMPLED * src.sr // sr)  # input samples per resampler call
    weights = np.full(src.channels, 1 / max(src.channels, 1), np.float32)
    n_read = 0
    lo, hi = np.inf, -np.inf
    for block in split_blocks(src.blocks, step):
        if block.shape[1] != len(weights):  # a decoder whose channel count differs from its header's
            weights = np.full(block.shape[1], 1 / block.shape[1], np.float32)
        # a matrix-vector product: 20x faster than block.mean(axis=1), a strided reduction
        mono = block @ weights if block.shape[1] > 1 else block[:, 0]
        if not len(mono):
            continue
        # NaN or +-inf in any channel reaches the mix as NaN or +-inf, and min/max propagate both: no
        # separate pass over the samples unless one is there
        b_lo, b_hi = float(mono.min()), float(mono.max())
        if not (math.isfinite(b_lo) and math.isfinite(b_hi)):
            at = (n_read + int(np.argmin(np.isfinite(mono)))) / src.sr
            raise InvalidSamplesError(path, f"NaN or infinite sample values at {at:.3f} s")
        n_read += len(block)
        lo, hi = min(lo, b_lo), max(hi, b_hi)
        if max(-lo, hi) > ABSURD_PEAK:
            raise InvalidSamplesError(path, f"sample values up to {max(-lo, hi):.3g}, far outside the [-1, 1] of audio")
        out = mono if resampler is None else resampler.resample_chunk(mono, last=False)
        if len(out):
            yield out
    if n_read == 0:
        raise NoAudioError(path, "the file holds no audio samples (zero length)")
    # half the peak-to-peak range: the peak once any DC offset is removed, so a constant is silence too
    swing = (hi - lo) / 2
    if swing < SILENCE_PEAK:
        what = "silent" if max(-lo, hi) < SILENCE_PEAK else f"a constant (DC at {(hi + lo) / 2:.3g})"
        raise SilentAudioError(path, f"all samples are {what}: no sound above -90 dBFS")
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
        if len(tail):
            yield tail


def split_blocks(blocks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """The same samples in blocks of at most ``size`` frames."""
    for block in blocks:
        for i in range(0, len(block), size):
            yield block[i : i + size]


def load(path: str | os.PathLike, sr: int) -> np.ndarray:
    """Decode a whole file to mono float32 at ``sr`` Hz (see :func:`stream`).

    Holds the whole signal in memory: use :func:`stream` (or
    ``features.extract``) for long files.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
    """
    blocks = decoded(path, sr, list)
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def is_audio_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` has one of :data:`AUDIO_EXTENSIONS` (case-insensitive)."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS

