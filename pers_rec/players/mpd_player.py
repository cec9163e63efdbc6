"""MPD (Music Player Daemon): ratings, likes and play counts from its stickers, playlists written as stored playlists.

MPD keeps per-song data as *stickers* that clients write. pers_rec reads the
ones the common clients use (myMPD, and others that follow it):

- ``rating``: 0-10 (half stars: 10 is five stars), read as ``rating / 2`` stars;
- ``like``: 2 loved, 0 hated, 1 neutral;
- ``playCount`` and ``skipCount``: counts.

Song URIs are relative to MPD's ``music_directory``; the caller gives that
folder (``--mpd-music-dir``, by default the library folder). The client is
``python-mpd2``, which quotes every argument; what it cannot quote is refused here.

What MPD sends and receives is bounded and checked:

- MPD's protocol is line-based and has no escape for a newline: a file name or playlist name holding a
  newline, a carriage return or a NUL could smuggle a second command (``nice song\nrm victim``). Such names are
  never sent: a playlist name is refused, a file is left out and counted.
- Every command has an overall deadline (``timeout`` per read, ``deadline_s`` in all: past it the connection is
  shut), and an answer is read at most :data:`MAX_ANSWER` bytes (lines of at most :data:`MAX_LINE`).
  Bytes that are not UTF-8 become U+FFFD.
- Sticker values are numbers in range (rating 0-10, like 0-2, counts 0 to 10**9), else not set.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass

from ..errors import ParameterError, PersRecError, printable

#: Stickers read (see the module's docstring), with the range of values taken.
STICKERS = {"rating": (0, 10), "like": (0, 2), "playCount": (0, 10**9), "skipCount": (0, 10**9)}
#: The most bytes one answer may have (a sticker list of a million songs is about 100 MB).
MAX_ANSWER = 256 * 1024 * 1024
#: The longest line of an answer (bytes).
MAX_LINE = 64 * 1024
#: Characters MPD's protocol cannot carry inside an argument.
UNSAFE = ("\n", "\r", "\0")


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


def _int(text: str, lo: int, hi: int) -> int | None:
    """A sticker value as a whole number in ``[lo, hi]``, else None (``1e400``, ``-5``, ``x``)."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return int(v) if lo <= v <= hi and v == int(v) else None


def safe(text: str) -> bool:
    """Whether ``text`` can be an argument of an MPD command (no newline, carriage return or NUL)."""
    return not any(c in text for c in UNSAFE)


class _Bounded:
    """A read-side file of the MPD connection that stops an answer past :data:`MAX_ANSWER` bytes or a line past
    :data:`MAX_LINE`, and turns bytes that are not UTF-8 into U+FFFD (python-mpd2 decodes strictly)."""

    def __init__(self, f):
        self.f, self.left = f, MAX_ANSWER

    def readline(self, *_):
        line = self.f.readline(MAX_LINE + 1)
        self.left -= len(line)
        if self.left < 0 or (len(line) > MAX_LINE and not line.endswith(b"\n")):
            raise OSError("the answer is too large (over the size pers_rec reads from MPD)")
        return line.decode("utf-8", "replace").encode("utf-8")

    def read(self, n=-1):
        data = self.f.read(min(n, self.left + 1) if n >= 0 else self.left + 1)
        self.left -= len(data)
        if self.left < 0:
            raise OSError("the answer is too large (over the size pers_rec reads from MPD)")
        return data

    def __getattr__(self, name):
        return getattr(self.f, name)


class Player:
    """A connection to MPD at ``host`` (a name, an address or a socket path) and ``port``."""

    def __init__(self, host: str = "localhost", port: int = 6600, *, password: str | None = None,
                 timeout: float = 10.0, deadline_s: float = 60.0):
        try:
            import mpd
        except ImportError:
            raise ParameterError("MPD needs python-mpd2: pip install 'pers_rec[mpd]'") from None

        self.where = host if host.startswith("/") else f"{host}:{port}"
        self.client = mpd.MPDClient()
        self.client.timeout = timeout
        self.deadline_s = deadline_s
        self.skipped = 0  #: sticker values :meth:`stickers` left out (not numbers in range)
        try:
            self.client.connect(host, port)
            self.client._rbfile = _Bounded(self.client._rbfile)
            if password:
                self._do("password", password)
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
        """Run one command within the deadline and size cap; :class:`MPDError` on any failure."""
        import mpd

        bad = [a for a in args if isinstance(a, str) and not safe(a)]
        if bad:
            raise MPDError(f"MPD at {self.where}: {name}: {printable(bad[0])!s} holds a newline or NUL, which MPD's "
                           "protocol cannot carry: refused")
        rb = self.client._rbfile
        if isinstance(rb, _Bounded):
            rb.left = MAX_ANSWER
        late = threading.Event()

        def cut():  # past the deadline: shut the connection, which ends the read at once
            late.set()
            try:
                self.client._sock.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass

        timer = threading.Timer(self.deadline_s, cut)
        timer.daemon = True
        timer.start()
        try:
            out = getattr(self.client, name)(*args)
            return list(out) if name in ("sticker_find", "listplaylist", "listplaylists") else out
        except (OSError, mpd.base.MPDError, UnicodeDecodeError) as exc:
            why = f"no whole answer within {self.deadline_s:g} s" if late.is_set() else exc
            raise MPDError(f"MPD at {self.where}: {name} failed ({why})") from None
        finally:
            timer.cancel()

    def stickers(self) -> list[StickerSong]:
        """Every song with at least one of :data:`STICKERS` set, sorted by URI."""

        songs: dict[str, StickerSong] = {}
        self.skipped = 0
        for name, (lo, hi) in STICKERS.items():
            try:
                found = self._do("sticker_find", "song", "", name)
            except MPDError as exc:
                if "no such sticker" in str(exc).lower():
                    continue
                raise
            for hit in found:
                if not isinstance(hit, dict) or not isinstance(hit.get("file"), str) \
                        or not isinstance(hit.get("sticker"), str):
                    self.skipped += 1
                    continue
                value = hit["sticker"].split("=", 1)[1] if "=" in hit["sticker"] else hit["sticker"]
                v = _int(value, lo, hi)
                if v is None:
                    self.skipped += 1
                    continue
                s = songs.setdefault(hit["file"], StickerSong(hit["file"]))
                if name == "rating":
                    s.rating = v / 2
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

    def write_playlist(self, name: str, uris: list[str]) -> int:
        """Store playlist ``name`` (replacing one of that name) with ``uris`` in order; the number of URIs left out
        because MPD's protocol cannot carry them (a newline or NUL in the name)."""
        if "/" in name or name.startswith(".") or not safe(name) or not name:
            raise MPDError(f"{printable(name)!r}: an MPD playlist name cannot be empty, hold '/', a newline or a NUL, "
                           "or start with '.'")
        if name in {p.get("playlist") for p in self._do("listplaylists") if isinstance(p, dict)}:
            self._do("playlistclear", name)
        kept = [u for u in uris if safe(u)]
        for uri in kept:
            self._do("playlistadd", name, uri)
        return len(uris) - len(kept)

    def playlist(self, name: str) -> list[str]:
        return list(self._do("listplaylist", name))

    # ---- the queue, for the radio -------------------------------------------------------------------------------
    def status(self) -> dict:
        return dict(self._do("status"))

    def queue(self) -> list[dict]:
        """The play queue: ``[{"file", "id", "pos", "duration", ...}]`` in order."""
        return [q for q in self._do("playlistinfo") if isinstance(q, dict)]

    def add(self, uri: str) -> str:
        """Append ``uri`` to the queue; its song id."""
        return str(self._do("addid", uri))

    def play(self) -> None:
        self._do("play")

    def wait(self, timeout: float, subsystems=("player", "playlist")) -> list[str]:
        """Block until MPD reports a change in ``subsystems`` (``idle``) or ``timeout`` seconds pass; the
        subsystems that changed ([] on a timeout). python-mpd2's blocking client cannot cancel an idle, so the
        protocol is spoken here: ``idle``, then ``noidle`` if nothing came in time (MPD ignores a ``noidle``
        that arrives after the idle ended, so the two cannot cross)."""
        import select

        rb = self.client._rbfile
        if isinstance(rb, _Bounded):
            rb.left = MAX_ANSWER
        try:
            self.client._write_command("idle", list(subsystems))
            ready, _, _ = select.select([self.client._sock], [], [], timeout)
            if not ready:
                self.client._write_line("noidle")
            changed = []
            while True:
                raw = rb.readline()
                if not raw:
                    raise OSError("the connection closed")
                line = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw).rstrip("\n")
                if line == "OK":
                    return changed
                if line.startswith("ACK"):
                    raise OSError(line[:200])
                if line.startswith("changed: "):
                    changed.append(line[9:])
        except (OSError, ValueError, AttributeError, UnicodeDecodeError) as exc:
            raise MPDError(f"MPD at {self.where}: idle failed ({exc})") from None
        except Exception as exc:  # noqa: BLE001 (python-mpd2's ConnectionError and kin)
            raise MPDError(f"MPD at {self.where}: idle failed ({type(exc).__name__}: {exc})") from None


def uri_of(path: str, music_dir: str | os.PathLike) -> str | None:
    """``path`` relative to the music directory (MPD's song URI), or None when it lies outside it."""
    rel = os.path.relpath(os.path.realpath(path), os.path.realpath(music_dir))
    return None if rel.startswith("..") or os.path.isabs(rel) else rel.replace(os.sep, "/")
