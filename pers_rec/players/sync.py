"""A listener's player as the library sees it: likes read from a Subsonic server, MPD or a listening history and
matched to local files, and a playlist written back. ``pers-rec likes``, ``rank --to-subsonic/--to-mpd``, the
benchmarks and notebooks call these with explicit arguments; what to print is the caller's (:class:`Read`).

Matching: a server song's path through ``path_map`` (whole folder names; a relative path is taken under the
library), else its normalised artist + title with the duration within 3 s (:class:`signals.TagIndex`, built only
when a path match fails).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import ParameterError
from . import signals


@dataclass
class Read:
    """What a player or history gave: ``signals`` for local files, the ``unmatched`` songs (one line each),
    ``how`` many matched by each way (``{"path": n, "tags": m}``), and ``notes`` for the caller to show
    (entries left out, listens read)."""

    signals: list[signals.Signal]
    unmatched: list[str]
    how: dict[str, int]
    notes: list[str] = field(default_factory=list)


def match_songs(songs, paths, *, library, path_map=()) -> tuple[dict[str, str], list[str], dict[str, int]]:
    """``({song id: local path}, unmatched songs, {"path": n, "tags": m})`` for Subsonic ``songs`` against the
    library's ``paths``."""
    known = {os.path.abspath(p) for p in paths}
    out, unmatched, how, index = {}, [], {"path": 0, "tags": 0}, None
    for s in songs:
        local = os.path.abspath(signals.map_path(s.path, list(path_map), library)) if s.path else None
        if local in known:
            out[s.id], how["path"] = local, how["path"] + 1
            continue
        index = index or signals.TagIndex(paths)
        hit = index.find(s.artist, s.title, s.duration)
        if hit is None:
            unmatched.append(f"{s.artist} - {s.title} ({s.path or s.id})")
        else:
            out[s.id], how["tags"] = os.path.abspath(hit), how["tags"] + 1
    return out, unmatched, how


def from_subsonic(client, paths, *, library, path_map=()) -> Read:
    """Stars, ratings and play counts of every song ``client`` (:class:`subsonic.Client`) knows, matched."""
    songs = {s.id: s for s in client.songs()}
    songs.update({s.id: s for s in client.starred()})  # a starred song outside the album walk still counts
    local, unmatched, how = match_songs(list(songs.values()), paths, library=library, path_map=path_map)
    sigs = [signals.Signal(local[i], starred=s.starred, rating=s.rating, plays=s.plays or 0)
            for i, s in songs.items() if i in local]
    notes = [f"{client.skipped} entries of the server's answers were not songs (no id, or not an object): left out"
             ] if client.skipped else []
    return Read(sigs, unmatched, how, notes)


def mpd_player(where: str | None, deadline_s: float = 60.0):
    """A :class:`mpd_player.Player` for ``HOST[:PORT]`` or a socket path (default ``localhost:6600``;
    ``$MPD_PASSWORD`` when set)."""
    from .mpd_player import Player
    where = where or "localhost:6600"
    if where.startswith("/"):
        return Player(where, deadline_s=deadline_s)
    host, _, port = where.rpartition(":") if ":" in where else (where, "", "6600")
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ParameterError(f"{where}: give MPD as HOST[:PORT] or a socket path")
    return Player(host or "localhost", int(port), password=os.environ.get("MPD_PASSWORD"), deadline_s=deadline_s)


def from_mpd(player, paths, *, music_dir) -> Read:
    """The stickers of ``player`` (:class:`mpd_player.Player`), matched by URI under ``music_dir``."""
    known = {os.path.abspath(p) for p in paths}
    sigs, unmatched = [], []
    for s in player.stickers():
        local = os.path.abspath(os.path.join(music_dir, s.uri))
        if local not in known:
            unmatched.append(s.uri)
            continue
        sigs.append(signals.Signal(local, rating=s.rating or None, plays=s.plays or 0, skips=s.skips or 0,
                                   loved=None if s.like in (None, 1) else s.like == 2))
    notes = [f"{player.skipped} MPD stickers were not numbers in range: left out"] if player.skipped else []
    return Read(sigs, unmatched, {"path": len(sigs)}, notes)


def from_history(source, paths) -> Read:
    """Listens of a ListenBrainz or Last.fm export (``signals.read_listens``), each a play of the file its tags
    match."""
    listens, skipped = signals.read_listens(source)
    index = signals.TagIndex(paths)
    plays, unmatched = {}, {}
    for artist, title in listens:
        hit = index.find(artist, title)
        if hit is None:
            unmatched[f"{artist} - {title}"] = unmatched.get(f"{artist} - {title}", 0) + 1
        else:
            plays[hit] = plays.get(hit, 0) + 1
    notes = [f"{source}: {skipped} entries were not listens (no artist and title): left out"] if skipped else []
    notes.append(f"read {len(listens)} listens from {source}: {len(listens) - sum(unmatched.values())} matched")
    return Read([signals.Signal(p, plays=n) for p, n in sorted(plays.items())],
                [f"{k} ({n} listens)" for k, n in sorted(unmatched.items())], {"tags": len(plays)}, notes)


def push_subsonic(client, name: str, entries: list[str], paths, *, library, path_map=()) -> int:
    """Write playlist ``name`` with ``entries`` (local paths, in order) to the server; how many it holds (a track
    the server does not have is left out)."""
    by_path = {p: i for i, p in match_songs(client.songs(), paths, library=library, path_map=path_map)[0].items()}
    ids = [by_path[os.path.abspath(e)] for e in entries if os.path.abspath(e) in by_path]
    client.write_playlist(name, ids)
    return len(ids)


def push_mpd(player, name: str, entries: list[str], *, music_dir) -> tuple[int, int]:
    """Store MPD playlist ``name`` with ``entries``: ``(written, left out as unsafe)``; entries outside
    ``music_dir`` are not counted in either."""
    from .mpd_player import uri_of

    uris = [u for u in (uri_of(e, music_dir) for e in entries) if u is not None]
    unsafe = player.write_playlist(name, uris)
    return len(uris) - unsafe, unsafe
