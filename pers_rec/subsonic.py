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
    ``PERS_REC_SUBSONIC_PASSWORD`` or from a file only its owner may read.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import secrets
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ParameterError, PersRecError

#: Environment variable that holds the Subsonic password.
PASSWORD_ENV = "PERS_REC_SUBSONIC_PASSWORD"
#: The API version asked for with token authentication (the first that has it), and without.
TOKEN_VERSION, PASSWORD_VERSION = "1.13.0", "1.10.2"
#: Error codes after which token authentication is given up for the password (10: a required parameter
#: missing, what an old server says of ``t``/``s``; 30: the server is too old; 41: tokens not supported).
NO_TOKEN = {10, 30, 41}


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

    @classmethod
    def from_api(cls, d: dict) -> Song:
        return cls(str(d["id"]), str(d.get("path", "")), str(d.get("artist", "")), str(d.get("title", "")),
                   str(d.get("album", "")), float(d["duration"]) if d.get("duration") is not None else None,
                   bool(d.get("starred")), int(d["userRating"]) if d.get("userRating") else None,
                   int(d["playCount"]) if d.get("playCount") is not None else None)


def password(file: str | os.PathLike | None = None) -> str:
    """The Subsonic password: the first line of ``file`` (which must not be readable by group or others), else
    ``$PERS_REC_SUBSONIC_PASSWORD``.

    Raises
    ------
    ParameterError
        Neither is there, or the file is readable by others.
    """
    if file is not None:
        path = Path(file)
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ParameterError(f"{path}: cannot read the password file ({exc.strerror or exc})") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ParameterError(f"{path}: the password file is readable by others (mode {stat.S_IMODE(mode):o}): "
                                 f"chmod 600 {path}")
        lines = text.splitlines()
        if not lines or not lines[0]:
            raise ParameterError(f"{path}: the password file is empty")
        return lines[0]
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    raise ParameterError(f"no Subsonic password: set {PASSWORD_ENV} or give --password-file FILE (mode 600); "
                         "never on the command line")


def _private(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


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
    """

    def __init__(self, url: str, user: str, password: str, *, timeout: float = 10.0, retries: int = 3,
                 verify: bool = True):
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
        self.safe = parts.scheme == "https" or _private(parts.hostname)
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
        self.tokens = False  # an older server, or a user it cannot check tokens for
        if not self.safe:
            warnings.warn(f"{self.url}: the server does not take tokens; the password goes hex-encoded (readable) "
                          "over plain HTTP: use https", stacklevel=2)
        return self._call(endpoint, params)

    def _call(self, endpoint: str, params: dict) -> dict:
        import requests

        url = f"{self.url}/rest/{endpoint}"
        try:
            r = self.session.post(url, data={**self._auth(), **params}, timeout=self.timeout, verify=self.verify)
        except requests.exceptions.SSLError as exc:
            raise SubsonicError(f"{self.url}: TLS certificate not accepted ({_reason(exc)}); "
                                "--insecure skips the check") from None
        except requests.exceptions.RequestException as exc:
            raise SubsonicError(f"{self.url}: cannot reach the server ({_reason(exc)})") from None
        try:
            body = r.json()["subsonic-response"]
        except (ValueError, KeyError, TypeError):
            raise SubsonicError(f"{url}: not a Subsonic API answer (HTTP {r.status_code})") from None
        self.version = body.get("version", self.version)
        if body.get("status") != "ok":
            err = body.get("error") or {}
            code = err.get("code")
            what = ("wrong user name or password" if code == 40 else
                    f"API error {code}: {err.get('message', 'no message')}")
            exc = SubsonicError(f"{self.url}: {endpoint}: {what}")
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
        return [Song.from_api(s) for s in self.call("getStarred2").get("starred2", {}).get("song", [])]

    def songs(self, page: int = 500) -> list[Song]:
        """Every song of the library with the user's stars, ratings and play counts, album by album
        (``getAlbumList2`` pages, then ``getAlbum``), in the server's album order."""
        out, offset = [], 0
        while True:
            albums = self.call("getAlbumList2", type="alphabeticalByName", size=page,
                               offset=offset).get("albumList2", {}).get("album", [])
            for a in albums:
                out += [Song.from_api(s) for s in self.call("getAlbum", id=a["id"]).get("album", {}).get("song", [])]
            if len(albums) < page:
                return out
            offset += page

    def playlists(self) -> dict[str, str]:
        """``{name: id}`` of the playlists the user sees."""
        return {p["name"]: str(p["id"]) for p in self.call("getPlaylists").get("playlists", {}).get("playlist", [])}

    def playlist(self, playlist_id: str) -> list[Song]:
        return [Song.from_api(s) for s in self.call("getPlaylist", id=playlist_id).get("playlist", {}).get("entry", [])]

    # ---- writing -------------------------------------------------------------------------
    def write_playlist(self, name: str, song_ids: list[str]) -> str:
        """Create playlist ``name`` with ``song_ids`` in order, or replace the songs of the user's playlist of that
        name (``createPlaylist`` with ``playlistId``); its id."""
        existing = self.playlists().get(name)
        if existing is None:
            self.call("createPlaylist", name=name, songId=list(song_ids))
            existing = self.playlists()[name]
        else:
            self.call("createPlaylist", playlistId=existing, songId=list(song_ids))
        return existing


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "certificate verify failed"):
        if marker in text:
            return marker.lower() if marker != "Name or service not known" else "unknown host name"
    return type(exc).__name__
