"""From what a listener's player knows to training labels: stars, ratings, play and skip counts, listening history.

Every source (``subsonic``, ``mpd_player``, a ListenBrainz or Last.fm export)
becomes :class:`Signal` rows for local files; :func:`labels` turns them into
likes and dislikes with a confidence weight, in the spirit of weighted matrix
factorisation (Hu, Koren & Volinsky 2008: a weight that grows with the log of
the play count):

- starred, loved or rated 4-5 stars: a like, weight ``1 + log(1 + plays)``;
- rated 1-2 stars or hated: a dislike, weight ``1 + log(1 + skips)``;
- not rated, played at least ``min_plays`` times: a like, weight ``log(1 + plays) / log(1 + min_plays)``
  (1 at the threshold); skipped at least ``min_plays`` times and more often than played: a dislike;
- everything else (3 stars, a few plays): unlabelled, as the rest of the library.

:func:`write_csv` writes the result as the CSV that ``train --likes`` reads
(``path,label,weight,signal``). Server songs and listens are matched to local
files by path (:func:`map_path`) or by normalised artist + title (and duration,
within :data:`DURATION_TOLERANCE_S`, when the source gives one).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from . import tags
from .errors import PlaylistError
from .fileio import write_text
from .playlists import csv_rows

#: A tags match must also agree on the duration within this many seconds (when both are known).
DURATION_TOLERANCE_S = 3.0


@dataclass
class Signal:
    """What one source knows of one local file."""

    path: str
    starred: bool = False
    rating: float | None = None  # stars, 1-5
    plays: int = 0
    skips: int = 0
    loved: bool | None = None  # True loved, False hated


def labels(signals: list[Signal], min_plays: int = 3) -> list[tuple[str, int, float, str]]:
    """``(path, label, weight, signal)`` for every signal that makes a like or a dislike (see the module)."""
    out = []
    for s in signals:
        if s.starred or s.loved or (s.rating is not None and s.rating >= 4):
            why = "starred" if s.starred else "loved" if s.loved else "rating"
            out.append((s.path, 1, 1 + math.log1p(s.plays), why))
        elif s.loved is False or (s.rating is not None and 0 < s.rating <= 2):
            out.append((s.path, 0, 1 + math.log1p(s.skips), "hated" if s.loved is False else "rating"))
        elif s.rating is None and s.plays >= min_plays and s.plays >= s.skips:
            out.append((s.path, 1, math.log1p(s.plays) / math.log1p(min_plays), "plays"))
        elif s.rating is None and s.skips >= min_plays and s.skips > s.plays:
            out.append((s.path, 0, math.log1p(s.skips) / math.log1p(min_plays), "skips"))
    return sorted(out)


def write_csv(path: str | os.PathLike, rows: list[tuple[str, int, float, str]]) -> Path:
    """Write ``rows`` (:func:`labels`) atomically as a likes CSV (``path,label,weight,signal``)."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "label", "weight", "signal"])
    w.writerows((p, lab, f"{wt:.4f}", sig) for p, lab, wt, sig in rows)
    return write_text(path, buf.getvalue())


# ---- matching ------------------------------------------------------------------------------

def map_path(server_path: str, path_map: list[tuple[str, str]], library: str | os.PathLike) -> str:
    """The local path of a server path: the first ``(server prefix, local prefix)`` pair that applies, then a
    relative result taken under ``library``."""
    p = server_path.replace("\\", "/")
    for src, dst in path_map:
        if src and (p.startswith(src.rstrip("/") + "/") or p == src):
            p = dst.rstrip("/") + p[len(src.rstrip("/")):]
            break
    return os.path.normpath(p if os.path.isabs(p) else os.path.join(library, p))


def norm(text: str) -> str:
    """A tag for matching: NFKC, case-folded, accents, bracketed parts ("(Remastered 2011)", "[Live]"), a leading
    "the", punctuation and spaces removed."""
    t = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text or "").casefold())
    t = "".join(c for c in t if not unicodedata.combining(c))
    t = re.sub(r"\s*[\(\[][^\)\]]*[\)\]]", "", t)
    t = re.sub(r"^the\s+", "", t.strip())
    return re.sub(r"[\W_]+", "", t)


class TagIndex:
    """The library's files by normalised (artist, title), with each file's duration."""

    def __init__(self, paths: list[str | os.PathLike]):
        import soundfile as sf

        self.by_key: dict[tuple[str, str], list[tuple[str, float | None]]] = {}
        for p in paths:
            t = tags.read(p)
            if not t.get("title"):
                continue
            try:
                duration = sf.info(str(p)).duration
            except Exception:  # noqa: BLE001 (a format libsndfile does not know: no duration check)
                duration = None
            self.by_key.setdefault((norm(t.get("artist", "")), norm(t["title"])), []).append((str(p), duration))

    def find(self, artist: str, title: str, duration: float | None = None) -> str | None:
        """The one local file with these tags (and about this duration), or None (no match, or several)."""
        hits = self.by_key.get((norm(artist), norm(title)), [])
        if duration is not None:
            hits = [h for h in hits if h[1] is None or abs(h[1] - duration) <= DURATION_TOLERANCE_S]
        return hits[0][0] if len(hits) == 1 else None


# ---- listening history -----------------------------------------------------------------------

def read_listens(path: str | os.PathLike) -> list[tuple[str, str]]:
    """``(artist, title)`` of every listen in a ListenBrainz export (JSON lines, or one JSON array) or a Last.fm
    scrobble CSV (``artist,album,title,date`` as the common exporters write, or with a header naming
    ``artist`` and ``track``/``title``).

    Raises
    ------
    PlaylistError
        The file cannot be read as either, naming the file and line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaylistError(f"{path}: cannot read the listening history ({getattr(exc, 'strerror', None) or exc})") from None
    if path.suffix.lower() in (".json", ".jsonl") or text.lstrip().startswith(("{", "[")):
        return _listenbrainz(path, text)
    return _lastfm(path, text)


def _listenbrainz(path: Path, text: str) -> list[tuple[str, str]]:
    stripped = text.lstrip()
    try:
        items = json.loads(stripped) if stripped.startswith("[") else None
    except json.JSONDecodeError as exc:
        raise PlaylistError(f"{path}:{exc.lineno}: not a ListenBrainz export ({exc.msg})") from None
    if items is None:
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise PlaylistError(f"{path}:{n}: not a ListenBrainz listen ({exc.msg})") from None
    out = []
    for item in items:
        meta = (item or {}).get("track_metadata") or {}
        if meta.get("artist_name") and meta.get("track_name"):
            out.append((str(meta["artist_name"]), str(meta["track_name"])))
    return out


def _lastfm(path: Path, text: str) -> list[tuple[str, str]]:
    rows = csv_rows(path, text, "Last.fm scrobble CSV")
    if not rows:
        return []
    head = [c.strip().lower() for c in rows[0]]
    header = "artist" in head and bool({"track", "title"} & set(head))
    a, t = (head.index("artist"), head.index("track" if "track" in head else "title")) if header else (0, 2)
    out = []
    for n, row in enumerate(rows[1:] if header else rows, 2 if header else 1):
        if not any(c.strip() for c in row):
            continue
        if len(row) <= max(a, t):
            raise PlaylistError(f"{path}:{n}: {len(row)} fields; a scrobble needs artist and title")
        out.append((row[a], row[t]))
    return out
