"""HTTP to a player's server that a hostile or broken server cannot abuse: an overall deadline per call (not only
a timeout per read), a size cap on the answer (counted while streaming), and redirects followed only within the
origin the listener named, so credentials never travel to another host or from HTTPS to plain HTTP.

The request runs in a daemon thread of its own and the caller waits at most the deadline: a server that answers
one byte a second (each read within the per-read timeout) cannot hold a command forever.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urljoin, urlsplit

from ..errors import PersRecError, printable

#: The largest answer read from a server (bytes): 64 MB holds an album list page or a 100,000-song playlist.
MAX_ANSWER = 64 * 1024 * 1024
#: Redirects followed within one origin, per call.
MAX_REDIRECTS = 3


class ServerError(PersRecError):
    """The server cannot be reached, is too slow, answers too much, or redirects elsewhere (exit code 2)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IP literal) is this machine's loopback interface."""
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower().rstrip(".") in ("localhost", "localhost6")


def origin_of(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``url``, the port filled in from the scheme."""
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def post(session, url: str, data: dict, *, origin: tuple[str, str, int], timeout: float, verify: bool,
         deadline_s: float) -> tuple[int, bytes]:
    """``(HTTP status, body)`` of a form POST with ``session`` (``requests``), within ``deadline_s`` overall and
    :data:`MAX_ANSWER` bytes, following redirects only to ``origin``.

    Raises
    ------
    ServerError
    """
    result: dict = {}
    until = time.monotonic() + deadline_s

    def work():
        try:
            result["ok"] = _post_now(session, url, data, origin, timeout, verify, until)
        except BaseException as exc:  # noqa: BLE001 (handed to the caller's thread)
            result["error"] = exc

    worker = threading.Thread(target=work, daemon=True, name="pers_rec http")
    worker.start()
    worker.join(deadline_s + 1)
    if worker.is_alive():
        raise ServerError(f"no whole answer within {deadline_s:g} s (a slow or stuck server)")
    if "error" in result:
        raise result["error"]
    return result["ok"]


def _post_now(session, url, data, origin, timeout, verify, until) -> tuple[int, bytes]:
    import requests

    for _ in range(MAX_REDIRECTS + 1):
        try:
            r = session.post(url, data=data, timeout=timeout, verify=verify, allow_redirects=False, stream=True)
        except requests.exceptions.SSLError as exc:
            raise ServerError(f"TLS certificate not accepted ({reason(exc)}); --insecure skips the check") from None
        except requests.exceptions.RequestException as exc:
            raise ServerError(f"cannot reach the server ({reason(exc)})") from None
        with r:
            if not r.is_redirect:
                return r.status_code, _read_capped(r, until)
            target = urljoin(url, r.headers.get("location", ""))
        if origin_of(target) != origin:
            raise ServerError(f"the server redirects to {printable(target[:200])}: refused (pers_rec never sends "
                              "your credentials to another address); give that URL instead if it is your server")
        url = target
    raise ServerError(f"more than {MAX_REDIRECTS} redirects")


def _read_capped(r, until: float) -> bytes:
    """The body of streamed response ``r``, at most :data:`MAX_ANSWER` bytes, before ``until`` (monotonic)."""
    import requests

    chunks, size = [], 0
    try:
        for chunk in r.iter_content(65536):
            size += len(chunk)
            if size > MAX_ANSWER:
                raise ServerError(f"an answer over {MAX_ANSWER // 2**20} MB: refused")
            if time.monotonic() > until:
                raise ServerError("the answer was still coming at the deadline: stopped")
            chunks.append(chunk)
    except requests.exceptions.RequestException as exc:
        raise ServerError(f"the answer broke off ({reason(exc)})") from None
    return b"".join(chunks)


def json_loads(raw: bytes):
    """JSON from a server's bytes (UTF-8); ``NaN`` and ``Infinity`` are refused (ValueError)."""
    import json

    def no_constant(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(raw.decode("utf-8"), parse_constant=no_constant)


def reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "certificate verify failed"):
        if marker in text:
            return marker.lower() if marker != "Name or service not known" else "unknown host name"
    return type(exc).__name__
