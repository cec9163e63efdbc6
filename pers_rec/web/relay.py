"""The Subsonic relay: a client (DSub, Symfonium, Feishin, ...) is pointed at pers_rec instead of its server, and every
call goes on to the real server unchanged, except the few pers_rec answers itself.

Passed through unchanged (method, path, query, body and the headers that matter, the answer streamed back byte for
byte, redirects included, so the client decides): everything but

- ``getSimilarSongs``, ``getSimilarSongs2`` for a song of the library (an artist or album id goes on to the
  server), and the OpenSubsonic ``sonicSimilarity`` extension's ``getSonicSimilarTracks`` and ``findSonicPath``:
  answered by :class:`subsonic_radio.SonicRadio`, after the server has accepted the client's credentials (a
  ``ping`` with them; a refusal is the server's own error code);
- ``getOpenSubsonicExtensions``: the server's list with ``sonicSimilarity`` added (or that alone when the server
  has none);
- ``scrobble``: passed through, and when the server accepts it, taught to the radio.

pers_rec keeps no credentials: each call's own are used for it and forgotten (a successful check is remembered
for :data:`TRUSTED_S` seconds as a hash). Nothing from a request is logged. The relay answers only to its own
address (the Host check of :mod:`web.guard`) and refuses a POST from a foreign web page.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape, quoteattr

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount, Route

from ..players import subsonic
from .guard import BodyTooLarge, Guard
from .plugin_api import create_api

#: The endpoints pers_rec answers (or, for scrobble, listens to).
OURS = {"getSimilarSongs", "getSimilarSongs2", "getSonicSimilarTracks", "findSonicPath", "getOpenSubsonicExtensions",
        "scrobble"}
#: Parameters that say who the client is (never logged, never kept).
AUTH = ("u", "p", "t", "s", "apiKey", "v", "c")
#: Request headers passed to the server.
REQUEST_HEADERS = ("accept", "accept-encoding", "accept-language", "range", "if-range", "if-none-match",
                   "if-modified-since", "user-agent", "content-type", "authorization")
#: Response headers never passed back (hop by hop).
HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
       "transfer-encoding", "upgrade"}
#: How long a server's "yes" to a set of credentials is trusted (seconds).
TRUSTED_S = 60.0
#: The version pers_rec's own answers claim when the server's is unknown.
VERSION = "1.16.1"


class Relay:
    """The relay's state: where the server is, the radio, the credentials the server accepted lately (hashed)."""

    def __init__(self, upstream: str, radio, *, verify: bool = True, deadline_s: float = 60.0, log=print, own=None):
        import requests

        self.upstream, self.radio, self.verify, self.deadline_s = upstream.rstrip("/"), radio, verify, deadline_s
        self.own = own  #: pers_rec's own :class:`subsonic.Client` (``--user``), to walk the library unasked
        self.session = requests.Session()
        self.trusted: dict[str, float] = {}
        self.version = VERSION
        self.log = log
        self.walk_lock = threading.Lock()

    def own_client(self):
        return self.own

    def client(self, auth: dict) -> subsonic.Client:
        return Forwarded(self.upstream, auth, verify=self.verify, deadline_s=self.deadline_s)

    def check(self, auth: dict) -> None:
        """Raise :class:`subsonic.SubsonicError` (with the server's code) unless the server accepts ``auth``."""
        key = hashlib.sha256(json.dumps(sorted(auth.items())).encode()).hexdigest()
        if time.monotonic() - self.trusted.get(key, -1e9) < TRUSTED_S:
            return
        client = self.client(auth)
        client.call("ping")
        self.version = client.version or self.version
        self.trusted[key] = time.monotonic()


class Forwarded(subsonic.Client):
    """A :class:`subsonic.Client` that speaks with a relayed client's own credentials."""

    def __init__(self, url: str, auth: dict, **kw):
        super().__init__(url, str(auth.get("u", "")), "", **kw)
        self.auth = {k: v for k, v in auth.items() if k in AUTH}
        self.auth.setdefault("c", "pers_rec")
        self.auth.setdefault("v", subsonic.TOKEN_VERSION)

    def _auth(self) -> dict:
        return {**self.auth, "f": "json"}

    def call(self, endpoint: str, **params) -> dict:
        return self._call(endpoint, params)  # never the password fallback: these are not pers_rec's credentials


def create_app(relay: Relay, hosts: frozenset[str], token: str | None = None) -> Guard:
    """The relay, with the plugins' API (:mod:`web.plugin_api`) under ``/api`` (behind ``token`` when given)."""
    async def handle(request: Request):
        body = await request.body()
        params = list(parse_qsl(request.url.query, keep_blank_values=True))
        if request.method == "POST" and request.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"):
            params += parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        path = request.path_params["path"]
        endpoint = path[5:].removesuffix(".view") if path.startswith("rest/") else ""
        if endpoint in OURS:
            answer = await run_in_threadpool(ours, relay, endpoint, params, request, body)
            if answer is not None:
                return answer
        return await run_in_threadpool(passed, relay, request, body)

    async def too_large(request, exc):
        return Response("pers-rec radio: a request body is at most 64 KB\n", status_code=413, media_type="text/plain")

    app = Starlette(routes=[Mount("/api", app=Guard(create_api(relay), hosts, token)),
                            Route("/{path:path}", handle, methods=["GET", "POST", "HEAD"])],
                    exception_handlers={BodyTooLarge: too_large})
    return Guard(app, hosts)


# ---- passed through ------------------------------------------------------------------------------------------------
def forward(relay: Relay, request: Request, body: bytes):
    headers = {k: v for k, v in request.headers.items() if k in REQUEST_HEADERS}
    url = f"{relay.upstream}/{request.path_params['path']}"
    if request.url.query:
        url += "?" + request.url.query
    return relay.session.request(request.method, url, data=body or None, headers=headers, stream=True,
                                 allow_redirects=False, verify=relay.verify, timeout=(10, relay.deadline_s))


def passed(relay: Relay, request: Request, body: bytes) -> Response:
    """The server's answer to the request, streamed back unchanged."""
    import requests

    try:
        r = forward(relay, request, body)
    except requests.RequestException as exc:
        return Response(f"pers-rec radio: the Subsonic server {relay.upstream} cannot be reached "
                        f"({type(exc).__name__})\n", status_code=502, media_type="text/plain")
    headers = {k: v for k, v in r.headers.items() if k.lower() not in HOP}
    return StreamingResponse(_stream(r), status_code=r.status_code, headers=headers)


def _stream(r):
    try:
        yield from r.raw.stream(1 << 16, decode_content=False)
    finally:
        r.close()


# ---- answered here -------------------------------------------------------------------------------------------------
def ours(relay: Relay, endpoint: str, params: list, request: Request, body: bytes) -> Response | None:
    """pers_rec's answer, or None to pass the request through."""
    one = dict(params)
    auth = {k: v for k, v in params if k in AUTH}
    fmt = one.get("f", "xml")
    if endpoint == "getOpenSubsonicExtensions":
        return extensions(relay, auth, fmt, one.get("callback"))
    if endpoint == "scrobble":
        return scrobbled(relay, params, request, body)
    try:
        relay.check(auth)
        with relay.walk_lock:
            ids = [one.get("startSongId", ""), one.get("endSongId", "")] if endpoint == "findSonicPath" else \
                [one.get("id", "")]
            known = all(relay.radio.catalog.knows(i, lambda: relay.client(auth)) for i in ids)
    except subsonic.SubsonicError as exc:
        code = getattr(exc, "code", None)
        if code is None:
            return failed(relay, fmt, 0, "pers_rec could not ask the server", one.get("callback"), status=502)
        return failed(relay, fmt, code, "Wrong username or password" if code == 40 else "refused by the server",
                      one.get("callback"))
    if not known:
        if endpoint in ("getSimilarSongs", "getSimilarSongs2"):
            return None  # an artist or album, or a song pers_rec could not match: the server's answer
        return failed(relay, fmt, 70, "song not in pers_rec's library", one.get("callback"))
    count = _count(one.get("count"), 25 if endpoint == "findSonicPath" else 50 if "Songs" in endpoint else 10)
    if endpoint == "findSonicPath":
        matches = relay.radio.path(ids[0], ids[1], count)
    else:
        matches = relay.radio.similar(ids[0], count)
    if endpoint in ("getSimilarSongs", "getSimilarSongs2"):
        key = "similarSongs" if endpoint == "getSimilarSongs" else "similarSongs2"
        payload = {key: {"song": [m.entry for m in matches]}}
    else:
        payload = {"sonicMatch": [{"entry": m.entry, "similarity": m.similarity} for m in matches]}
    return render(relay, fmt, {"status": "ok", **payload}, one.get("callback"))


def extensions(relay: Relay, auth: dict, fmt: str, callback) -> Response:
    mine = {"name": "sonicSimilarity", "versions": [1]}
    try:
        body = relay.client(auth).call("getOpenSubsonicExtensions")
        found = [e for e in body.get("openSubsonicExtensions", []) if isinstance(e, dict)]
    except subsonic.SubsonicError:  # a server without extensions, or without OpenSubsonic: pers_rec's alone
        found = []
    found = [e for e in found if e.get("name") != "sonicSimilarity"] + [mine]
    return render(relay, fmt, {"status": "ok", "openSubsonicExtensions": found}, callback)


def scrobbled(relay: Relay, params: list, request: Request, body: bytes) -> Response:
    """Pass the scrobble on; when the server took it, teach the radio."""
    import requests

    try:
        r = forward(relay, request, body)
        raw = r.raw.read(1 << 16, decode_content=True)
        r.close()
    except requests.RequestException as exc:
        return Response(f"pers-rec radio: the Subsonic server {relay.upstream} cannot be reached "
                        f"({type(exc).__name__})\n", status_code=502, media_type="text/plain")
    if r.status_code == 200 and _ok(raw):
        one = dict(params)
        who = (one.get("u") or hashlib.sha256(one.get("apiKey", "").encode()).hexdigest()[:12], one.get("c", ""))
        ids = [v for k, v in params if k == "id"]
        submission = one.get("submission", "true").lower() != "false"
        try:
            with relay.walk_lock:
                known = [i for i in ids if relay.radio.catalog.knows(i, lambda: relay.client(
                    {k: v for k, v in params if k in AUTH}))]
            relay.radio.scrobble(who, known, submission)
        except subsonic.SubsonicError as exc:
            relay.log(f"pers-rec radio: a scrobble was not learnt from: {exc}")
    headers = {k: v for k, v in r.headers.items() if k.lower() not in HOP | {"content-length", "content-encoding"}}
    return Response(raw, status_code=r.status_code, headers=headers)


def _ok(raw: bytes) -> bool:
    """Whether a Subsonic answer (JSON or XML) says ``status="ok"``."""
    text = raw[:4096].decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        try:
            return json.loads(raw)["subsonic-response"]["status"] == "ok"
        except (ValueError, KeyError, TypeError):
            return False
    return re.search(r"<subsonic-response\b[^>]*\bstatus\s*=\s*[\"']ok[\"']", text) is not None


def _count(value, default: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return default
    return max(0, min(n, 500))


# ---- answers in the client's format --------------------------------------------------------------------------------
def failed(relay: Relay, fmt: str, code: int, message: str, callback, status: int = 200) -> Response:
    return render(relay, fmt, {"status": "failed", "error": {"code": code, "message": message}}, callback, status)


def render(relay: Relay, fmt: str, body: dict, callback=None, status: int = 200) -> Response:
    """A ``subsonic-response`` in the format the client asked for (``json``, ``jsonp`` or XML)."""
    body = {"status": body["status"], "version": relay.version, "type": "pers_rec", "serverVersion": "pers_rec",
            "openSubsonic": True, **{k: v for k, v in body.items() if k != "status"}}
    if fmt in ("json", "jsonp"):
        text = json.dumps({"subsonic-response": body}, ensure_ascii=False)
        if fmt == "jsonp" and callback and re.fullmatch(r"[A-Za-z_$][\w$.]{0,63}", callback):
            return Response(f"{callback}({text});", status_code=status, media_type="application/javascript")
        return Response(text, status_code=status, media_type="application/json")
    attrs = {k: v for k, v in body.items() if not isinstance(v, (dict, list))}
    inner = "".join(_xml(k, v) for k, v in body.items() if isinstance(v, (dict, list)))
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<subsonic-response xmlns="http://subsonic.org/restapi"'
           f'{_attrs(attrs)}>{inner}</subsonic-response>')
    return Response(xml, status_code=status, media_type="text/xml")


def _xml(name: str, value) -> str:
    """Subsonic's JSON-to-XML rule: an object is an element whose scalars are attributes and whose objects and
    lists are child elements; a list is the element repeated; a scalar in a list is an element's text."""
    if isinstance(value, list):
        return "".join(_xml(name, v) for v in value)
    if not isinstance(value, dict):
        return f"<{name}>{escape(_scalar(value))}</{name}>"
    attrs = {k: v for k, v in value.items() if not isinstance(v, (dict, list))}
    inner = "".join(_xml(k, v) for k, v in value.items() if isinstance(v, (dict, list)))
    return f"<{name}{_attrs(attrs)}/>" if not inner else f"<{name}{_attrs(attrs)}>{inner}</{name}>"


def _attrs(attrs: dict) -> str:
    return "".join(f" {k}={quoteattr(_scalar(v))}" for k, v in attrs.items()
                   if re.fullmatch(r"[A-Za-z_][\w.-]*", k) and v is not None)


def _scalar(v) -> str:
    text = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", text)  # characters XML 1.0 cannot carry
