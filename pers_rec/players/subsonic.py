"""A small client of the Subsonic API (Navidrome, Gonic, Airsonic, Ampache, supysonic, ...): a listener's stars,
ratings and play counts, and playlists written back.

Why our own client: the Subsonic clients on the package index are unmaintained
or cover a different API version, and pers_rec needs only seven endpoints. The
HTTP work is done by ``requests`` (with urllib3's retries and back-off).

Authentication
    Token and salt (``t = md5(password + salt)``, API 1.13.0 and later) whenever
    the server accepts it, so the password never travels. A server that does not
    (API older than 1.13, or a user from LDAP: error 41) gets ``p=enc:HEX``, which
    is the password in hexadecimal, not encrypted: pers_rec then warns unless the
    connection is HTTPS or on the loopback interface. The password is never taken
    from the command line (it would show in ``ps``): :func:`password` reads it from
    ``PERS_REC_SUBSONIC_PASSWORD`` or from a file only its owner may read. The password fallback is refused
    over plain HTTP to another machine unless the listener allows it (``allow_plain``).

What a server sends is not trusted
    Redirects are followed only within the same origin (scheme, host and port), never with the credentials to
    another host or from HTTPS to HTTP. Every call has an overall deadline (``deadline_s``, not only a timeout
    per read) and a size cap on its answer (:data:`transport.MAX_ANSWER`, counted while streaming). Answers are
    checked by type and range: a song that is not an object, has no id, or carries a duration, rating or play count
    of the wrong type or out of range keeps what is valid (the rest None) or is skipped and counted (``skipped``).
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import ParameterError, PersRecError, printable
from . import transport

#: Environment variable that holds the Subsonic password.
PASSWORD_ENV = "PERS_REC_SUBSONIC_PASSWORD"
#: The API version asked for with token authentication (the first that has it), and without.
TOKEN_VERSION, PASSWORD_VERSION = "1.13.0", "1.10.2"
#: Error codes after which token authentication is given up for the password (10: a required parameter
#: missing, what an old server says of ``t``/``s``; 30: the server is too old; 41: tokens not supported).
NO_TOKEN = {10, 30, 41}
#: The largest password file read (bytes).
MAX_PASSWORD_FILE = 4096
#: A library walk stops with an error past this many songs (a server whose album pages never end).
MAX_SONGS = 5_000_000


class SubsonicError(PersRecError):
    """The server cannot be reached, refuses the user, or answers with an API error (exit code 2)."""


@dataclass
class Song:
    """One song as the server describes it (``playCount`` and ``userRating`` are absent on some servers: None)."""

    id: str
    path: str
    artist: str
    title: str
    album: str
    duration: float | None
    starred: bool
    rating: int | None
    plays: int | None
    #: The server's own object (what the Subsonic relay hands back to a client).
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, d) -> Song | None:
        """The song of one API object, or None when it is not one (not an object, no id). Fields of the wrong
        type or out of range are None (duration: finite, 0 to a week; rating 1-5; play count 0 to 10**9)."""
        if not isinstance(d, dict) or not isinstance(d.get("id"), (str, int)) or isinstance(d.get("id"), bool):
            return None
        return cls(str(d["id"]), _text(d.get("path")), _text(d.get("artist")), _text(d.get("title")),
                   _text(d.get("album")), _number(d.get("duration"), 0, 7 * 86400), bool(d.get("starred")),
                   _whole(d.get("userRating"), 1, 5), _whole(d.get("playCount"), 0, 10**9), d)


def _text(v) -> str:
    return v if isinstance(v, str) else str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else ""


def _number(v, lo: float, hi: float) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        return None
    return float(v)


def _whole(v, lo: int, hi: int) -> int | None:
    x = _number(v, lo, hi)
    return None if x is None or x != int(x) else int(x)


def password(file: str | os.PathLike | None = None) -> str:
    """The Subsonic password: the first line of ``file`` (which must not be readable by group or others), else
    ``$PERS_REC_SUBSONIC_PASSWORD``.

    Raises
    ------
    ParameterError
        Neither is there, or the file is readable by others.
    """
    if file is not None:
        return _password_file(Path(file))
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    raise ParameterError(f"no Subsonic password: set {PASSWORD_ENV} or give --password-file FILE (mode 600); "
                         "never on the command line")


def _password_file(path: Path) -> str:
    """The first line of a password file, checked before a byte is read: a regular file, mode 600 or stricter,
    at most :data:`MAX_PASSWORD_FILE` bytes, UTF-8. No error ever shows its content."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens without waiting, and is refused below
    except OSError as exc:
        raise ParameterError(f"{path}: cannot read the password file ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ParameterError(f"{path}: the password file is not a regular file")
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            mode = stat.S_IMODE(st.st_mode)
            raise ParameterError(f"{path}: the password file is readable by others (mode {mode:o}): chmod 600 {path}")
        if st.st_size > MAX_PASSWORD_FILE:
            raise ParameterError(f"{path}: the password file is {st.st_size} bytes; a password file holds at most "
                                 f"{MAX_PASSWORD_FILE}")
        data = os.read(fd, MAX_PASSWORD_FILE + 1)
    finally:
        os.close(fd)
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise ParameterError(f"{path}: the password file is not UTF-8 text") from None
    if not lines or not lines[0]:
        raise ParameterError(f"{path}: the password file is empty")
    return lines[0]


class Client:
    """A Subsonic server for one user.

    Parameters
    ----------
    url : str
        The server's base URL (``https://music.example.org``; ``/rest`` is added).
    user, password : str
    timeout : float
        Seconds per request (connect and read).
    retries : int
        Retries of a failed connection or a 5xx answer, with exponential back-off (0.5 s, 1 s, 2 s, ...).
    verify : bool
        Verify the server's TLS certificate (on by default).
    deadline_s : float
        The most seconds one call may take, retries, redirects and a slow answer included.
    allow_plain : bool
        Let the password fallback (``p=enc:``) go over plain HTTP to a machine other than this one.

    Attributes
    ----------
    skipped : int
        Songs in the server's answers that were not songs (not an object, no id), left out.
    """

    def __init__(self, url: str, user: str, password: str, *, timeout: float = 10.0, retries: int = 3,
                 verify: bool = True, deadline_s: float = 60.0, allow_plain: bool = False):
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ParameterError(f"{url}: not an http(s) URL of a Subsonic server")
        self.url, self.user, self._password = url.rstrip("/"), user, password
        self.timeout, self.verify = timeout, verify
        self.session = requests.Session()
        retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=0.5,
                      status_forcelist=(500, 502, 503, 504), allowed_methods=None)
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.tokens = True
        self.safe = parts.scheme == "https" or transport.is_loopback(parts.hostname)
        self.deadline_s, self.allow_plain = deadline_s, allow_plain
        self.origin = transport.origin_of(url)
        self.skipped = 0
        #: The server's API version (from the first answer).
        self.version = ""

    def _auth(self) -> dict:
        base = {"u": self.user, "c": "pers_rec", "f": "json"}
        if self.tokens:
            salt = secrets.token_hex(8)
            return {**base, "v": TOKEN_VERSION, "s": salt,
                    "t": hashlib.md5((self._password + salt).encode("utf-8")).hexdigest()}
        return {**base, "v": PASSWORD_VERSION, "p": "enc:" + self._password.encode("utf-8").hex()}

    def call(self, endpoint: str, **params) -> dict:
        """The ``subsonic-response`` of ``endpoint`` (list values repeat the parameter); sent as a form POST.

        Raises
        ------
        SubsonicError
            Unreachable, not a Subsonic server, a wrong user or password, or any API error (code and message).
        """
        try:
            return self._call(endpoint, params)
        except SubsonicError as exc:
            if not (self.tokens and getattr(exc, "code", None) in NO_TOKEN):
                raise
        if not (self.safe or self.allow_plain):
            raise SubsonicError(f"{self.url}: the server does not take tokens, and the password would go "
                                "hex-encoded (readable by anyone on the way) over plain HTTP: use https, or "
                                "--allow-plain-password if this network is yours")
        self.tokens = False  # an older server, or a user it cannot check tokens for
        return self._call(endpoint, params)

    def _call(self, endpoint: str, params: dict) -> dict:
        url = f"{self.url}/rest/{endpoint}"
        try:
            status, raw = transport.post(self.session, url, {**self._auth(), **params}, origin=self.origin,
                                         timeout=self.timeout, verify=self.verify, deadline_s=self.deadline_s)
        except transport.ServerError as exc:
            raise SubsonicError(f"{self.url}: {exc}") from None
        try:
            body = transport.json_loads(raw)["subsonic-response"]
        except (ValueError, KeyError, TypeError, RecursionError, UnicodeDecodeError):
            raise SubsonicError(f"{url}: not a Subsonic API answer (HTTP {status})") from None
        if not isinstance(body, dict):
            raise SubsonicError(f"{url}: not a Subsonic API answer (subsonic-response is not an object)")
        version = body.get("version")
        self.version = version[:40] if isinstance(version, str) else self.version
        if body.get("status") != "ok":
            err = body.get("error") if isinstance(body.get("error"), dict) else {}
            code = err.get("code") if isinstance(err.get("code"), int) else None
            message = err.get("message") if isinstance(err.get("message"), str) else "no message"
            what = "wrong user name or password" if code == 40 else f"API error {code}: {message[:200]}"
            exc = SubsonicError(f"{self.url}: {endpoint}: {printable(what)}")
            exc.code = code
            raise exc
        return body

    # ---- reading -------------------------------------------------------------------------
    def ping(self) -> str:
        """Check the server and the credentials; the server's API version."""
        self.call("ping")
        return self.version

    def starred(self) -> list[Song]:
        """The user's starred songs (``getStarred2``)."""
        return self._songs(_list(self.call("getStarred2"), "starred2", "song"))

    def songs(self, page: int = 500) -> list[Song]:
        """Every song of the library with the user's stars, ratings and play counts, album by album
        (``getAlbumList2`` pages, then ``getAlbum``), in the server's album order."""
        out, offset, seen = [], 0, set()
        while True:
            albums = [a for a in _list(self.call("getAlbumList2", type="alphabeticalByName", size=page, offset=offset),
                                       "albumList2", "album")
                      if isinstance(a, dict) and isinstance(a.get("id"), (str, int))]
            new = [a for a in albums if str(a["id"]) not in seen]
            if albums and not new:
                raise SubsonicError(f"{self.url}: getAlbumList2 sends the same albums again at offset {offset} "
                                    "(the server does not page): stopped")
            for a in new:
                seen.add(str(a["id"]))
                out += self._songs(_list(self.call("getAlbum", id=str(a["id"])), "album", "song"))
                if len(out) > MAX_SONGS:
                    raise SubsonicError(f"{self.url}: more than {MAX_SONGS} songs: stopped (a server whose album "
                                        "list never ends?)")
            if len(albums) < page:
                return out
            offset += page

    def _songs(self, items: list) -> list[Song]:
        songs = [Song.from_api(s) for s in items]
        self.skipped += sum(s is None for s in songs)
        return [s for s in songs if s is not None]

    def playlists(self) -> dict[str, str]:
        """``{name: id}`` of the playlists the user sees."""
        return {p["name"]: str(p["id"]) for p in _list(self.call("getPlaylists"), "playlists", "playlist")
                if isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("id"), (str, int))}

    def playlist(self, playlist_id: str) -> list[Song]:
        return self._songs(_list(self.call("getPlaylist", id=playlist_id), "playlist", "entry"))

    # ---- writing -------------------------------------------------------------------------
    def write_playlist(self, name: str, song_ids: list[str]) -> str:
        """Create playlist ``name`` with ``song_ids`` in order, or replace the songs of the user's playlist of that
        name (``createPlaylist`` with ``playlistId``); its id."""
        existing = self.playlists().get(name)
        if existing is None:
            self.call("createPlaylist", name=name, songId=list(song_ids))
            existing = self.playlists().get(name)
            if existing is None:
                raise SubsonicError(f"{self.url}: created playlist {name!r}, but the server does not list it")
        else:
            self.call("createPlaylist", playlistId=existing, songId=list(song_ids))
        return existing


def _list(body: dict, outer: str, inner: str) -> list:
    """``body[outer][inner]`` as a list (a single object is a list of one; anything else is empty)."""
    box = body.get(outer)
    items = box.get(inner, []) if isinstance(box, dict) else []
    return items if isinstance(items, list) else [items] if isinstance(items, dict) else []
