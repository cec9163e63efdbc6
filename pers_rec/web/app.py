"""The HTTP side of ``pers-rec serve``: the routes (module-level endpoints over ``app.state.lib``), and how they
answer bad requests.

The rules against other websites and other machines (Host, Origin, framing, the access token, body size) are
:mod:`.guard`'s, applied before any route runs. Here:

- Tracks are named by id (their index in the scan), never by a path from the request; only scanned files that
  decode are served (:meth:`state.Library.check_playable`: anything else is 422 with the reason).
- Every state-changing request (POST) must carry the page's CSRF token in ``X-CSRF-Token``.
- Every parameter and body is checked by type and range: a malformed one is 400 with what was wrong, an id out
  of range 404; no request reaches an unhandled exception (a bug is one logged line and a 500 without
  details).
- Work that takes longer than a moment (decoding for ``why`` and for WAV transcoding, playlists, judging's
  refit, the map) runs in worker threads, never on the event loop: the page, the audio and ``/api/status``
  keep answering while it runs. The map is drawn once per set of embeddings, in its own thread; until it is
  ready ``/api/map`` answers 202 with its progress.
- Every string from tags and file names reaches the page as JSON and is put in with ``textContent``.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import sys
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

from .guard import BodyTooLarge, Guard, same_token
from .state import Unplayable

STATIC = Path(__file__).parent / "static"
#: Containers a browser's ``<audio>`` plays as they are; anything else is decoded and sent as WAV.
PLAYABLE = {".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg", ".flac": "audio/flac",
            ".wav": "audio/wav", ".m4a": "audio/mp4", ".aac": "audio/aac", ".webm": "audio/webm"}
WHOLE = re.compile(r"-?[0-9]{1,12}")
PAGE_POLICY = ("default-src 'self'; media-src 'self' blob:; img-src 'self' data:; object-src 'none'; "
               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class BadRequest(ValueError):
    """A malformed parameter or body (HTTP 400); the message says which and why."""


def whole(value, what: str, lo: int, hi: int | None = None) -> int:
    """``value`` (a query string or a JSON value) as an int in ``[lo, hi]``; :class:`BadRequest` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadRequest(f"{what} must be a whole number")
    if isinstance(value, str):
        if not WHOLE.fullmatch(value):
            raise BadRequest(f"{what} must be a whole number")
        value = int(value)
    if value < lo or (hi is not None and value > hi):
        raise BadRequest(f"{what} must be between {lo} and {hi}" if hi is not None else f"{what} must be ≥ {lo}")
    return value


async def json_body(request, fields: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    """The request's JSON object with keys among ``fields`` (``required`` present); :class:`BadRequest` for
    anything else (not JSON, not an object, too deep, an unknown or a missing key)."""
    raw = await request.body()
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0][:40]!r} (expected {', '.join(fields) or 'none'})")
    missing = [k for k in required if k not in body]
    if missing:
        raise BadRequest(f"missing field {missing[0]!r}")
    return body


def track(lib, value) -> int:
    """``value`` as the id of one of ``lib``'s tracks; LookupError (404) for anything else."""
    try:
        i = whole(value, "a track id", 0)
    except BadRequest:
        raise LookupError from None
    if i >= len(lib.paths):
        raise LookupError
    return i

def row(lib, i: int) -> dict:
    """Track ``i`` as the page shows it."""
    s = lib.scores.get(i, {})
    q = None if lib.quick is None else round(float(lib.quick[i]), 4)
    return {"id": i, **lib.info[i], "file": os.path.basename(lib.paths[i]), "score": s.get("score"),
            "rank": s.get("rank"), "best_start_s": s.get("best_start_s"), "duration_s": s.get("duration_s"),
            "quick": q, "error": lib.failed.get(i)}

def param(request, name: str, default: int, lo: int, hi: int) -> int:
    """The query parameter ``name`` as a whole number in ``[lo, hi]`` (``default`` when absent)."""
    value = request.query_params.get(name)
    return default if value is None or value == "" else whole(value, name, lo, hi)

def guarded(fn):
    """``fn(request, lib)`` as an endpoint: the CSRF token checked on a POST, each error type its status code."""

    async def endpoint(request):
        if request.method == "POST" and not same_token(request.headers.get("x-csrf-token", ""),
                                                       request.app.state.csrf):
            return JSONResponse({"error": "missing or wrong CSRF token"}, 403)
        try:
            return await fn(request, request.app.state.lib)
        except LookupError as exc:
            return JSONResponse({"error": str(exc.args[0]) if exc.args else "no such track"}, 404)
        except Unplayable as exc:
            return JSONResponse({"error": f"cannot play {exc}"}, 422)
        except (BadRequest, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        except BodyTooLarge:
            return JSONResponse({"error": "the request body is too large"}, 413)
        except Exception as exc:  # noqa: BLE001 (a bug: one line on the terminal, no details to the client)
            print(f"pers-rec serve: internal error in {request.url.path}: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            return JSONResponse({"error": "internal error (see the server's terminal)"}, 500)
    return endpoint

async def index(request):
    page = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{CSRF}}", request.app.state.csrf)
    return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_POLICY})

async def status(request, lib):
    labels = lib.labels()
    return JSONResponse({**lib.status, "tracks": len(lib.paths), "likes": sum(labels.values()),
                         "dislikes": len(labels) - sum(labels.values()), "judgements": lib.store.count(),
                         "unplayable": len(lib.failed), "report": lib.report, "analysed": lib.V is not None,
                         "ranked": bool(lib.scores)})

async def tracks(request, lib):
    q = request.query_params.get("q", "").casefold()[:200]
    offset = param(request, "offset", 0, 0, 10**9)
    limit = param(request, "limit", 100, 1, 500)

    def select():
        ids = range(len(lib.paths))
        if q:
            ids = [i for i in ids if q in " ".join((*lib.info[i].values(), lib.paths[i])).casefold()]
        if lib.scores:
            ids = sorted(ids, key=lambda i: (lib.scores.get(i, {}).get("rank") or 1 << 30, i))
        elif lib.quick is not None:
            ids = sorted(ids, key=lambda i: -lib.quick[i])
        ids = list(ids)
        labels = lib.labels()
        return {"total": len(ids), "offset": offset,
                "rows": [{**row(lib, i), "label": labels.get(i)} for i in ids[offset:offset + limit]]}

    return JSONResponse(await run_in_threadpool(select))

async def audio(request, lib):
    i = track(lib, request.path_params["id"])
    real = await run_in_threadpool(lib.check_playable, i)
    kind = PLAYABLE.get(Path(real).suffix.lower())
    if kind is not None:
        return FileResponse(real, media_type=kind)  # Range requests: seeking works

    def transcode() -> bytes:
        import soundfile as sf

        from ..audio.decode import load
        from ..errors import AudioError

        buf = io.BytesIO()
        try:
            sf.write(buf, load(real, 44100), 44100, format="WAV", subtype="PCM_16")
        except AudioError as exc:
            raise lib.unplayable(i, exc.reason) from None
        return buf.getvalue()

    return Response(await run_in_threadpool(transcode), media_type="audio/wav")

async def judge(request, lib):
    body = await json_body(request, ("id", "label"), ("id", "label"))
    if not isinstance(body["id"], int) or isinstance(body["id"], bool):
        raise BadRequest("id must be a track id (a whole number)")
    i = track(lib, body["id"])
    label = body.get("label")
    if label not in (0, 1, None) or isinstance(label, bool):
        raise BadRequest("label must be 1, 0 or null (skip)")
    await run_in_threadpool(lib.judge, i, label)  # committed before this reply
    return JSONResponse({"ok": True, "id": i, "label": label})

async def ask(request, lib):
    mode = request.query_params.get("mode", "ask")
    if mode not in ("ask", "top"):
        raise BadRequest("mode is ask or top")
    n = param(request, "n", 10, 1, 50)
    return JSONResponse({"mode": mode, "rows": [row(lib, i) for i in await run_in_threadpool(lib.ask, n, mode)]})

async def retrain(request, lib):
    body = await json_body(request, ("keep_model_likes",))
    keep = body.get("keep_model_likes", True)
    if not isinstance(keep, bool):
        raise BadRequest("keep_model_likes must be true or false")
    if not lib.start("retrain", lambda: lib.retrain(keep_model_likes=keep)):
        return JSONResponse({"error": f"a {lib.status['job']} is running: try again when it ends"}, 409)
    return JSONResponse({"ok": True}, 202)

async def use_model(request, lib):
    body = await json_body(request, ("use",), ("use",))
    role = body.get("use")
    if role not in ("previous", "candidate"):
        raise BadRequest("use must be previous or candidate")
    if getattr(lib.versions.state, role) is None:
        raise LookupError(f"there is no {role} model")
    if not lib.start("switch", lambda: lib.use(role)):
        return JSONResponse({"error": f"a {lib.status['job']} is running: try again when it ends"}, 409)
    return JSONResponse({"ok": True}, 202)

async def why(request, lib):
    i = track(lib, request.path_params["id"])

    def explain() -> dict:
        lib.check_playable(i)
        out = {"id": i, "windows": None, "similar_liked": []}
        saved = lib.saved
        if lib.scores and saved is not None:
            from ..audio.cache import opened
            from ..errors import AudioError
            from ..library import rank

            with opened(lib.cache_dir) as cache:
                try:
                    _, ts = rank.explain(lib.paths[i], saved, cache=cache)
                except AudioError as exc:
                    raise lib.unplayable(i, exc.reason) from None
            out["windows"] = [round(float(x), 4) for x in ts.window_scores]
            out["best_start_s"] = ts.best_start_s
        if lib.V is not None:
            liked = [j for j, lab in lib.labels().items() if lab == 1 and j != i]
            sims = sorted(((float(lib.V[i] @ lib.V[j]), j) for j in liked), reverse=True)[:5]
            out["similar_liked"] = [{**row(lib, j), "cosine": round(c, 3)} for c, j in sims]
        return out

    return JSONResponse(await run_in_threadpool(explain))

async def playlist(request, lib):
    from ..library import sequence

    if lib.V is None:
        raise BadRequest("the library is still being analysed")
    if "from" not in request.query_params:
        raise BadRequest("a playlist needs from=<track id>")
    a = track(lib, request.query_params["from"])
    b = request.query_params.get("to")
    b = None if b in (None, "") else track(lib, b)
    n = param(request, "n", 12, 2, 200)
    V = lib.V

    def order():
        return sequence.join(V, a, b, n) if b is not None else sequence.continue_from(V, a, n - 1)

    return JSONResponse({"rows": [row(lib, i) for i in await run_in_threadpool(order)]})

async def m3u(request, lib):
    from ..players.playlists import m3u_text

    ids = [track(lib, x.strip()) for x in request.query_params.get("ids", "").split(",")[:1000] if x.strip()]
    text = m3u_text([(lib.paths[i], lib.scores.get(i, {}).get("duration_s") or -1,
                      " - ".join(x for x in (lib.info[i]["artist"], lib.info[i]["title"]) if x)) for i in ids])
    return Response(text, media_type="audio/x-mpegurl",
                    headers={"Content-Disposition": 'attachment; filename="pers_rec.m3u8"'})

async def judgements_csv(request, lib):
    return Response(lib.store.csv_text(), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="judgements.csv"'})

async def map_points(request, lib):
    state, got = lib.map.points()
    if state == "drawing":
        return JSONResponse(got, 202)
    ids, Y = got
    return JSONResponse({"points": [{**row(lib, i), "x": round(float(x), 4), "y": round(float(y), 4)}
                                    for i, (x, y) in zip(ids, Y)]})


def create_app(lib, *, token: str | None = None, hosts: frozenset[str] | None = None):
    """The ASGI app serving ``lib`` (:class:`state.Library`): the module's endpoints, behind :class:`.guard.Guard`.

    ``token`` None: no access token (loopback). ``hosts``: the Host names allowed (:func:`guard.allowed_hosts`;
    default: the loopback names only).
    """
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from .guard import LOOPBACK_NAMES

    g = guarded
    routes = [Route("/", index), Route("/api/status", g(status)), Route("/api/tracks", g(tracks)),
              Route("/api/audio/{id}", g(audio)), Route("/api/judge", g(judge), methods=["POST"]),
              Route("/api/ask", g(ask)), Route("/api/retrain", g(retrain), methods=["POST"]),
              Route("/api/model", g(use_model), methods=["POST"]),
              Route("/api/why/{id}", g(why)), Route("/api/playlist", g(playlist)), Route("/api/playlist.m3u8", g(m3u)),
              Route("/api/judgements.csv", g(judgements_csv)), Route("/api/map", g(map_points)),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes)
    app.router.redirect_slashes = False  # "/api/why/../" is a 404, not a redirect somewhere else
    app.state.lib, app.state.csrf = lib, secrets.token_urlsafe(24)
    guarded_app = Guard(app, hosts or LOOPBACK_NAMES, token)
    guarded_app.state = app.state
    return guarded_app
