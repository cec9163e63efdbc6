"""MPD (Music Player Daemon): ratings, likes and play counts from its stickers, playlists written as stored playlists.

MPD keeps per-song data as *stickers* that clients write. pers_rec reads the
ones the common clients use (myMPD, and others that follow it):

- ``rating``: 0-10 (half stars: 10 is five stars), read as ``rating / 2`` stars;
- ``like``: 2 loved, 0 hated, 1 neutral;
- ``playCount`` and ``skipCount``: counts.

Song URIs are relative to MPD's ``music_directory``; the caller gives that
folder (``--mpd-music-dir``, by default the library folder). The client is
``python-mpd2``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import ParameterError, PersRecError

#: Stickers read (see the module's docstring).
STICKERS = ("rating", "like", "playCount", "skipCount")


class MPDError(PersRecError):
    """MPD cannot be reached or refuses a command (exit code 2)."""


@dataclass
class StickerSong:
    """One song's stickers: ``uri`` relative to the music directory; None where a sticker is not set."""

    uri: str
    rating: float | None = None  # stars, 0-5
    like: int | None = None
    plays: int | None = None
    skips: int | None = None


def _int(text: str) -> int | None:
    try:
        return int(float(text))
    except ValueError:
        return None


class Player:
    """A connection to MPD at ``host`` (a name, an address or a socket path) and ``port``."""

    def __init__(self, host: str = "localhost", port: int = 6600, *, password: str | None = None,
                 timeout: float = 10.0):
        try:
            import mpd
        except ImportError:
            raise ParameterError("MPD needs python-mpd2: pip install 'pers_rec[mpd]'") from None

        self.where = host if host.startswith("/") else f"{host}:{port}"
        self.client = mpd.MPDClient()
        self.client.timeout = timeout
        try:
            self.client.connect(host, port)
            if password:
                self.client.password(password)
        except (OSError, mpd.base.MPDError) as exc:
            raise MPDError(f"MPD at {self.where}: cannot connect ({exc})") from None

    def close(self) -> None:
        try:
            self.client.close()
            self.client.disconnect()
        except Exception:  # noqa: BLE001 (already gone)
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _do(self, name: str, *args):
        import mpd

        try:
            return getattr(self.client, name)(*args)
        except (OSError, mpd.base.MPDError) as exc:
            raise MPDError(f"MPD at {self.where}: {name} failed ({exc})") from None

    def stickers(self) -> list[StickerSong]:
        """Every song with at least one of :data:`STICKERS` set, sorted by URI."""
        import mpd

        songs: dict[str, StickerSong] = {}
        for name in STICKERS:
            try:
                found = self.client.sticker_find("song", "", name)
            except mpd.base.CommandError as exc:
                if "no such sticker" in str(exc).lower():
                    continue
                raise MPDError(f"MPD at {self.where}: sticker find {name} failed ({exc})") from None
            except (OSError, mpd.base.MPDError) as exc:
                raise MPDError(f"MPD at {self.where}: sticker find {name} failed ({exc})") from None
            for hit in found:
                value = hit["sticker"].split("=", 1)[1] if "=" in hit["sticker"] else hit["sticker"]
                s = songs.setdefault(hit["file"], StickerSong(hit["file"]))
                v = _int(value)
                if name == "rating":
                    s.rating = None if v is None else v / 2
                elif name == "like":
                    s.like = v
                elif name == "playCount":
                    s.plays = v
                else:
                    s.skips = v
        return [songs[k] for k in sorted(songs)]

    def set_sticker(self, uri: str, name: str, value) -> None:
        self._do("sticker_set", "song", uri, name, str(value))

    def update(self) -> None:
        """Rescan the music directory and wait until MPD has finished."""
        import time

        self._do("update")
        while "updating_db" in self._do("status"):
            time.sleep(0.05)

    def write_playlist(self, name: str, uris: list[str]) -> None:
        """Store playlist ``name`` (replacing one of that name) with ``uris`` in order."""
        if "/" in name or name.startswith("."):
            raise MPDError(f"{name!r}: an MPD playlist name cannot hold '/' or start with '.'")
        if name in {p["playlist"] for p in self._do("listplaylists")}:
            self._do("playlistclear", name)
        for uri in uris:
            self._do("playlistadd", name, uri)

    def playlist(self, name: str) -> list[str]:
        return list(self._do("listplaylist", name))


def uri_of(path: str, music_dir: str | os.PathLike) -> str | None:
    """``path`` relative to the music directory (MPD's song URI), or None when it lies outside it."""
    rel = os.path.relpath(os.path.realpath(path), os.path.realpath(music_dir))
    return None if rel.startswith("..") or os.path.isabs(rel) else rel.replace(os.sep, "/")
