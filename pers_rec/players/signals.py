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
- everything else (3 stars, a few plays): unlabelled, as the rest of the library;
- one row per file: a file listed under several server ids has its signals merged (:func:`merge`), and one
  that is both liked and disliked explicitly (starred on one entry, rated 1 star on another) stays unlabelled.

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

from ..audio import tags
from ..errors import PlaylistError, printable
from ..fileio import write_text
from .playlists import csv_line, entry

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
    conflict: bool = False  # merged from entries that say like and dislike explicitly (:func:`merge`)


def merge(signals: list[Signal]) -> list[Signal]:
    """One signal per file: a server may list one file under several ids (two albums, a compilation). Plays and
    skips add up; starred or loved if any entry is; the highest rating. A like on one entry and a dislike on
    another (starred there, rated 1 star here) contradict each other: :func:`labels` leaves such a file unlabelled."""
    by: dict[str, Signal] = {}
    for s in signals:
        m = by.get(s.path)
        if m is None:
            by[s.path] = Signal(s.path, s.starred, s.rating, s.plays, s.skips, s.loved)
            continue
        m.conflict = m.conflict or _says(m) * _says(s) < 0
        m.starred, m.plays, m.skips = m.starred or s.starred, m.plays + s.plays, m.skips + s.skips
        m.rating = max((r for r in (m.rating, s.rating) if r is not None), default=None)
        m.loved = True if True in (m.loved, s.loved) else False if False in (m.loved, s.loved) else None
    return list(by.values())


def _says(s: Signal) -> int:
    """+1 when ``s`` alone is an explicit like (star, love, 4-5 stars), -1 an explicit dislike, else 0."""
    if s.starred or s.loved or (s.rating is not None and s.rating >= 4):
        return 1
    return -1 if s.loved is False or (s.rating is not None and 0 < s.rating <= 2) else 0


def labels(signals: list[Signal], min_plays: int = 3) -> list[tuple[str, int, float, str]]:
    """``(path, label, weight, signal)`` for every file whose signals make a like or a dislike (see the module),
    one row per file (:func:`merge`); a file with contradicting explicit signals makes none."""
    out = []
    for s in merge(signals):
        if s.conflict:
            continue
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
    w.writerows((entry(p), lab, f"{wt:.4f}", printable(sig)) for p, lab, wt, sig in rows)
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

#: The longest line of a listening history (bytes); a ListenBrainz listen is about 1-2 KB.
MAX_LINE = 1 << 20
#: The largest ListenBrainz export read as one JSON array (bytes); JSON lines have no limit but the line's.
MAX_ARRAY = 256 << 20


def read_listens(path: str | os.PathLike) -> tuple[list[tuple[str, str]], int]:
    """``(listens, skipped)``: ``(artist, title)`` of every listen in a ListenBrainz export (JSON lines, or one JSON
    array) or a Last.fm scrobble CSV (``artist,album,title,date`` as the common exporters write, or with a header naming
    ``artist`` and ``track``/``title``).

    Read line by line in linear time; a line longer than :data:`MAX_LINE` is refused (naming the line), and so is
    a quoted CSV field that runs over a line end (an unclosed quote). A JSON value that is not a listen (a
    number, a string, an object without artist and title) is skipped; :data:`last_skipped` counts them.

    Raises
    ------
    PlaylistError
        The file cannot be read as either, naming the file and line.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise PlaylistError(f"{path}: cannot read the listening history ({exc.strerror or exc})") from None
    json_like = path.suffix.lower() in (".json", ".jsonl") or head.startswith((b"{", b"["))
    array = head.startswith(b"[") and path.suffix.lower() != ".jsonl"
    return _listenbrainz(path, array) if json_like else _lastfm(path)


def _lines(path: Path):
    """``(line number, text)`` of a UTF-8 text file, each line at most :data:`MAX_LINE` bytes."""
    with open(path, "rb") as f:
        for n, raw in enumerate(iter(lambda: f.readline(MAX_LINE + 1), b""), 1):
            if len(raw) > MAX_LINE:
                raise PlaylistError(f"{path}:{n}: a line over {MAX_LINE >> 20} MB: not a listening history")
            try:
                yield n, raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError:
                raise PlaylistError(f"{path}:{n}: not UTF-8 text") from None


def _listen(item) -> tuple[str, str] | None:
    meta = item.get("track_metadata") if isinstance(item, dict) else None
    if not isinstance(meta, dict):
        return None
    artist, title = meta.get("artist_name"), meta.get("track_name")
    if isinstance(artist, str) and isinstance(title, str) and artist and title:
        return artist, title
    return None


def _listenbrainz(path: Path, array: bool) -> tuple[list[tuple[str, str]], int]:
    if array:
        if path.stat().st_size > MAX_ARRAY:
            raise PlaylistError(f"{path}: a JSON array over {MAX_ARRAY >> 20} MB: export as JSON lines instead")
        try:
            items = json.loads(path.read_text(encoding="utf-8-sig"))
        except (ValueError, RecursionError, UnicodeDecodeError) as exc:
            where = f":{exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
            raise PlaylistError(f"{path}{where}: not a ListenBrainz export ({getattr(exc, 'msg', 'nested too deep')})"
                                ) from None
        items = items if isinstance(items, list) else [items]
    else:
        items = []
        for n, line in _lines(path):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except (ValueError, RecursionError) as exc:
                    raise PlaylistError(f"{path}:{n}: not a ListenBrainz listen "
                                        f"({getattr(exc, 'msg', 'nested too deep')})") from None
    out = [x for x in map(_listen, items) if x is not None]
    return out, len(items) - len(out)


def _lastfm(path: Path) -> tuple[list[tuple[str, str]], int]:
    rows = []
    for n, line in _lines(path):
        rows.append((n, csv_line(path, n, line)))
    if not rows:
        return [], 0
    head = [c.strip().lower() for c in rows[0][1]]
    header = "artist" in head and bool({"track", "title"} & set(head))
    a, t = (head.index("artist"), head.index("track" if "track" in head else "title")) if header else (0, 2)
    out = []
    for n, row in rows[1:] if header else rows:
        if not any(c.strip() for c in row):
            continue
        if len(row) <= max(a, t):
            raise PlaylistError(f"{path}:{n}: {len(row)} fields; a scrobble needs artist and title")
        out.append((row[a], row[t]))
    return out, 0
