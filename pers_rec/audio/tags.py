"""What a file's tags say (artist, album, title, genre), and the per-artist rules of playlists.

Tags are read with mutagen's "easy" interface, which maps ID3, Vorbis
comments, MP4 atoms and APE tags to the same keys. pers_rec never writes
into audio files. An untagged file has no artist: the per-artist rules
(:func:`artist_caps`) never block it, since "unknown" is not one artist.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The keys read, in the order they appear in tables.
KEYS = ("artist", "album", "title", "albumartist", "genre")
#: ID3 frames of the keys, for files whose ID3 tags mutagen's easy interface does not map (WAV, AIFF).
ID3_FRAMES = {"artist": "TPE1", "album": "TALB", "title": "TIT2", "albumartist": "TPE2", "genre": "TCON"}


def read(path: str | os.PathLike) -> dict[str, str]:
    """The tags of :data:`KEYS` a file has (first value of each, stripped); missing ones are left out.

    Never raises: a file without readable tags gives ``{}``.
    """
    try:
        import mutagen

        f = mutagen.File(path, easy=True)
    except Exception:  # noqa: BLE001 - any tag parser failure means "no tags", the audio may still be fine
        return {}
    tags = getattr(f, "tags", None)
    raw_id3 = hasattr(tags, "getall")  # ID3 that the easy interface left unmapped (WAV, AIFF): read the frames
    out = {}
    for key in KEYS:
        try:
            v = (tags.getall(ID3_FRAMES[key]) or [None])[0] if raw_id3 else (f or {}).get(key)
            v = v.text if raw_id3 and v is not None else v
        except Exception:  # noqa: BLE001 - a malformed frame is a missing tag
            v = None
        if v and str(v[0]).strip():
            out[key] = str(v[0]).strip()
    return out


def label(path: str | os.PathLike, t: dict[str, str]) -> str:
    """``Artist - Title`` when both are tagged, else the title or the file's name without extension (M3U titles)."""
    if "title" in t:
        return f"{t['artist']} - {t['title']}" if "artist" in t else t["title"]
    return Path(path).stem


def suffix(t: dict[str, str]) -> str:
    """``  (Artist - Title)`` for a printed table row, or nothing for an untagged file."""
    shown = " - ".join(t[k] for k in ("artist", "title") if k in t)
    return f"  ({shown})" if shown else ""


def artist_key(t: dict[str, str]) -> str | None:
    """The artist a per-artist rule counts (case-folded ``artist``, else ``albumartist``), or None if untagged."""
    a = t.get("artist") or t.get("albumartist")
    return " ".join(a.casefold().split()) if a else None


def artist_caps(artists: list[str | None], max_per_artist: int | None) -> list[bool]:
    """Which items to keep, in order, so that no artist has more than ``max_per_artist`` (None: no limit)."""
    if max_per_artist is None:
        return [True] * len(artists)
    seen: dict[str, int] = {}
    keep = []
    for a in artists:
        n = seen.get(a, 0) if a is not None else 0
        keep.append(a is None or n < max_per_artist)
        if a is not None and keep[-1]:
            seen[a] = n + 1
    return keep
