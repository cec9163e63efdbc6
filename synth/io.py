"""Writing clips to files: WAV by default, compressed formats in blocks.

A single 4-minute ``soundfile.write`` to OGG segfaulted with libsndfile 1.2.2,
so compressed formats are written block by block through an open
``SoundFile``. MP3 encoding is slow (seconds per minute of audio): callers
that need many compressed files should write them once and reuse them
(:func:`cached`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: Container/subtype per file extension.
FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".opus": ("OGG", "OPUS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}
_BLOCK = 1 << 15


def write(path: str | os.PathLike, y: np.ndarray, sr: int, *, subtype: str | None = None) -> Path:
    """Write mono ``y`` (or ``(n, channels)``) to ``path``; the format follows the extension.

    The file appears atomically (written to a temporary name, then renamed),
    so a reader never sees half a file.
    """
    import soundfile as sf

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in FORMATS:
        raise ValueError(f"{path}: unsupported extension {ext!r}; use one of {sorted(FORMATS)}")
    fmt, default_subtype = FORMATS[ext]
    y = np.asarray(y, np.float32)
    channels = 1 if y.ndim == 1 else y.shape[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    with sf.SoundFile(tmp, "w", samplerate=sr, channels=channels, format=fmt, subtype=subtype or default_subtype) as f:
        for i in range(0, len(y), _BLOCK):
            f.write(y[i : i + _BLOCK])
    os.replace(tmp, path)
    return path


def tag(path: str | os.PathLike, **tags: str) -> None:
    """Write tags (``artist=``, ``album=``, ``title=``, ``albumartist=``, ``genre=``) into a file ``write`` made:
    ID3 frames in a WAV, Vorbis comments in FLAC or OGG. Replaces the file's earlier tags of those keys."""
    import mutagen

    path = Path(path)
    if path.suffix.lower() == ".wav":
        import mutagen.id3 as id3
        import mutagen.wave

        frames = {"artist": id3.TPE1, "album": id3.TALB, "title": id3.TIT2, "albumartist": id3.TPE2, "genre": id3.TCON}
        f = mutagen.wave.WAVE(path)
        if f.tags is None:
            f.add_tags()
        for k, v in tags.items():
            f.tags.setall(frames[k].__name__, [frames[k](encoding=3, text=str(v))])
    else:
        f = mutagen.File(path)
        for k, v in tags.items():
            f[k] = str(v)
    f.save()


def cached(path: str | os.PathLike, make, sr: int) -> Path:
    """Return ``path``, writing ``make()`` there first unless it already exists."""
    path = Path(path)
    if not path.exists():
        write(path, make(), sr)
    return path
