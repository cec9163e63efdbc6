"""The rules that keep ``pers-rec serve`` safe from other websites and other machines, as one ASGI middleware.

A local app is reachable by every page the listener's browser opens. So, before any route runs:

- **Host** (DNS rebinding): a request must name the server by an address it listens on (the loopback names
  and IPs, the ``--host`` given, or a name allowed with ``--allow-host``); anything else is 421. A rebinding
  page (``evil.example`` resolving to 127.0.0.1) sends ``Host: evil.example`` and reads nothing.
- **Origin**: a POST whose ``Origin`` is present and not this server's own origin (scheme, host and port),
  ``null`` included, is 403, even with a valid CSRF token.
- **Framing**: every answer says ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'``, so no page can
  put the app in an iframe and click its buttons for the listener; ``Cross-Origin-Resource-Policy:
  same-origin`` keeps other pages from embedding its audio and images.
- **Access token** (off the loopback): ``?token=`` once, then an HTTP-only same-site cookie (or, for a program
  such as a server's plugin, ``Authorization: Bearer <token>``); compared as bytes in constant time, so any
  input (non-ASCII, odd bytes) is a 401, never an error.
- **Body size**: a request body over :data:`MAX_BODY` bytes is 413 (the app's bodies are a few dozen bytes).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl, urlsplit

#: The largest request body accepted (bytes).
MAX_BODY = 64 * 1024
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: Headers on every answer (the page adds its own Content-Security-Policy, which includes frame-ancestors).
SAFE_HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"no-referrer"), (b"cross-origin-resource-policy", b"same-origin"),
                (b"cross-origin-opener-policy", b"same-origin")]
COOKIE = "pers_rec_token"


def is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def allowed_hosts(bind: str, extra=()) -> frozenset[str]:
    """The host names a request may use for a server bound to ``bind``, lower case, without port.

    For a server bound to every interface (``0.0.0.0`` or ``::``, reached by whichever address the client has),
    the set also holds the marker ``"*ip"``: any IP literal is taken (:func:`host_allowed`); names are still
    checked. ``extra``: names the listener allows
    (``--allow-host``: a DNS name of this machine).
    """
    names = set(LOOPBACK_NAMES) | {h.lower().rstrip(".") for h in extra}
    if is_wildcard(bind):
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        return frozenset(names) | {"*ip"}
    names.add(bind.lower().rstrip("."))
    return frozenset(names)


def host_of(value: str) -> tuple[str, str]:
    """``(host, port)`` of a Host header or URL authority (``[::1]:80``, ``name:80``, ``name``); lower case."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host.lower(), rest[1:] if rest.startswith(":") else ""
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host.lower().rstrip("."), port
    return value.lower().rstrip("."), ""


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    if host in allowed:
        return True
    if "*ip" in allowed:
        try:
            ipaddress.ip_address(host)
            return True
        except ValueError:
            return False
    return False


def same_token(given: str | bytes, token: str) -> bool:
    """Constant-time comparison as bytes: any string (non-ASCII, lone surrogates) is simply unequal."""
    if isinstance(given, str):
        given = given.encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given, token.encode("ascii"))


class Guard:
    """ASGI middleware applying the module's rules to every HTTP request of ``app``.

    Parameters
    ----------
    app : ASGI app
    allowed : frozenset of str
        From :func:`allowed_hosts`.
    token : str or None
        The access token (None: no token, a loopback server).
    """

    def __init__(self, app, allowed: frozenset[str], token: str | None = None):
        self.app, self.allowed, self.token = app, allowed, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {}
        for k, v in scope["headers"]:
            headers.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
        refusal = self.refuse(scope, headers)
        if refusal is not None:
            status, text = refusal
            return await _answer(send, status, text)

        async def send_safe(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SAFE_HEADERS if k not in names]
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", b"frame-ancestors 'none'"))
                if self.token is not None and b"token" in _query(scope):
                    extra.append((b"set-cookie", f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
                                  .encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return await self.app(scope, _capped(receive), send_safe)

    def refuse(self, scope, headers: dict[str, str]) -> tuple[int, str] | None:
        """``(status, reason)`` when the request is refused, else None."""
        host, _ = host_of(headers.get("host", ""))
        if not host_allowed(host, self.allowed):
            return 421, "pers-rec serve: this server answers only to its own address (the Host header names another)"
        if self.token is not None:
            given = _query(scope).get(b"token") or _cookie(headers.get("cookie", "")) or \
                _bearer(headers.get("authorization", "")) or b""
            if not same_token(given, self.token):
                return 401, "pers-rec serve: this server needs its access token (?token=...)"
        if scope["method"] not in ("GET", "HEAD"):
            origin = headers.get("origin")
            if origin is not None and not self.same_origin(origin, scope):
                return 403, "pers-rec serve: a request from another site is refused"
            length = headers.get("content-length", "0")
            if not length.isdigit() or int(length) > MAX_BODY:
                return 413, f"pers-rec serve: a request body is at most {MAX_BODY} bytes"
        return None

    def same_origin(self, origin: str, scope) -> bool:
        parts = urlsplit(origin)
        if parts.scheme != scope.get("scheme", "http") or not parts.netloc:
            return False  # "null" and other schemes (file:, data:, an extension) are foreign
        host, port = host_of(parts.netloc)
        server_port = (scope.get("server") or (None, None))[1]
        default = "443" if parts.scheme == "https" else "80"
        return host_allowed(host, self.allowed) and (port or default) == str(server_port)


def _query(scope) -> dict[bytes, bytes]:
    """The query string's parameters as raw bytes (percent-decoded, whatever they decode to)."""
    text = scope.get("query_string", b"").decode("latin-1")
    pairs = parse_qsl(text, keep_blank_values=True, encoding="latin-1", errors="strict")
    return {k.encode("latin-1"): v.encode("latin-1") for k, v in pairs}


def _cookie(header: str) -> bytes | None:
    try:
        morsel = SimpleCookie(header).get(COOKIE)
    except CookieError:
        return None
    return None if morsel is None else morsel.value.encode("latin-1", "replace")


def _bearer(header: str) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` header (how a server plugin sends it)."""
    scheme, _, value = header.partition(" ")
    return value.strip().encode("latin-1", "replace") if scheme.lower() == "bearer" and value.strip() else None


def _capped(receive):
    """``receive`` that stops a body larger than :data:`MAX_BODY` (a chunked upload has no Content-Length)."""
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise BodyTooLarge
        return message

    return wrapped


class BodyTooLarge(Exception):
    """A request body past :data:`MAX_BODY` (answered 413 by the app's error handler)."""


async def _answer(send, status: int, text: str) -> None:
    body = json.dumps({"error": text}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *SAFE_HEADERS, (b"content-security-policy", b"frame-ancestors 'none'")]})
    await send({"type": "http.response.body", "body": body})
