"""The HTTP side of ``pers-rec serve``: routes, and the rules that keep a local app safe.

- Tracks are named by id (their index in the scan), never by a path from the request, and a file is served
  only when its real path lies under the library's real path (a symlink out of the library is refused).
- Every state-changing request (POST) must carry the page's CSRF token in ``X-CSRF-Token``.
- Off the loopback interface, every request needs the access token (``?token=`` once, then a cookie).
- Every string from tags and file names reaches the page as JSON and is put in with ``textContent``.
"""

from __future__ import annotations

import hmac
import io
import os
import secrets
from pathlib import Path

STATIC = Path(__file__).parent / "static"
#: Containers a browser's ``<audio>`` plays as they are; anything else is decoded and sent as WAV.
PLAYABLE = {".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg", ".flac": "audio/flac",
            ".wav": "audio/wav", ".m4a": "audio/mp4", ".aac": "audio/aac", ".webm": "audio/webm"}


def create_app(lib, *, token: str | None = None):
    """The Starlette app serving ``lib`` (:class:`state.Library`); ``token`` None: no access token (loopback)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    csrf = secrets.token_urlsafe(24)
    root_real = os.path.realpath(lib.root)

    class TokenGate(BaseHTTPMiddleware):
        async def dispatch(self, request, call_next):
            if token is None:
                return await call_next(request)
            given = request.query_params.get("token") or request.cookies.get("pers_rec_token") or ""
            if not hmac.compare_digest(given, token):
                return PlainTextResponse("pers-rec serve: this server needs its access token (?token=...)", 401)
            response = await call_next(request)
            if request.query_params.get("token"):
                response.set_cookie("pers_rec_token", token, httponly=True, samesite="strict")
            return response

    def track(request) -> int:
        try:
            i = int(request.path_params["id"])
        except (KeyError, ValueError):
            i = -1
        if not 0 <= i < len(lib.paths):
            raise LookupError
        return i

    def row(i: int) -> dict:
        s = lib.scores.get(i, {})
        q = None if lib.quick is None else round(float(lib.quick[i]), 4)
        return {"id": i, **lib.info[i], "file": os.path.basename(lib.paths[i]), "score": s.get("score"),
                "rank": s.get("rank"), "best_start_s": s.get("best_start_s"), "duration_s": s.get("duration_s"),
                "quick": q}

    def guarded(fn):
        async def endpoint(request):
            if request.method == "POST" and not hmac.compare_digest(request.headers.get("x-csrf-token", ""), csrf):
                return JSONResponse({"error": "missing or wrong CSRF token"}, 403)
            try:
                return await fn(request)
            except LookupError:
                return JSONResponse({"error": "no such track"}, 404)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, 400)
        return endpoint

    async def index(request):
        page = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{CSRF}}", csrf)
        return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'self'; media-src 'self' blob:; "
                                           "img-src 'self' data:; object-src 'none'; base-uri 'none'",
                                           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})

    async def status(request):
        labels = lib.labels()
        return JSONResponse({**lib.status, "tracks": len(lib.paths), "likes": sum(labels.values()),
                             "dislikes": len(labels) - sum(labels.values()), "judgements": lib.store.count(),
                             "report": lib.report, "analysed": lib.V is not None, "ranked": bool(lib.scores)})

    async def tracks(request):
        q = request.query_params.get("q", "").casefold()
        offset = max(0, int(request.query_params.get("offset", 0)))
        limit = min(500, max(1, int(request.query_params.get("limit", 100))))
        ids = range(len(lib.paths))
        if q:
            ids = [i for i in ids if q in " ".join((*lib.info[i].values(), lib.paths[i])).casefold()]
        if lib.scores:
            ids = sorted(ids, key=lambda i: (lib.scores.get(i, {}).get("rank") or 1 << 30, i))
        elif lib.quick is not None:
            ids = sorted(ids, key=lambda i: -lib.quick[i])
        ids = list(ids)
        labels = lib.labels()
        return JSONResponse({"total": len(ids), "offset": offset,
                             "rows": [{**row(i), "label": labels.get(i)} for i in ids[offset:offset + limit]]})

    async def audio(request):
        i = track(request)
        path = lib.paths[i]
        real = os.path.realpath(path)
        if os.path.commonpath([real, root_real]) != root_real or not os.path.isfile(real):
            return JSONResponse({"error": "not a file of the library"}, 403)
        kind = PLAYABLE.get(Path(real).suffix.lower())
        if kind is not None:
            return FileResponse(real, media_type=kind)  # Range requests: seeking works
        import soundfile as sf

        from ..audio import load

        buf = io.BytesIO()
        sf.write(buf, load(real, 44100), 44100, format="WAV", subtype="PCM_16")
        return Response(buf.getvalue(), media_type="audio/wav")

    async def judge(request):
        body = await request.json()
        i = int(body.get("id", -1))
        if not 0 <= i < len(lib.paths):
            raise LookupError
        label = body.get("label")
        if label not in (0, 1, None):
            raise ValueError("label must be 1, 0 or null (skip)")
        lib.judge(i, label)  # committed before this reply
        return JSONResponse({"ok": True, "id": i, "label": label})

    async def ask(request):
        mode = request.query_params.get("mode", "ask")
        if mode not in ("ask", "top"):
            raise ValueError("mode is ask or top")
        n = min(50, max(1, int(request.query_params.get("n", 10))))
        return JSONResponse({"mode": mode, "rows": [row(i) for i in lib.ask(n, mode)]})

    async def retrain(request):
        if not lib.start("retrain", lib.retrain):
            return JSONResponse({"error": f"a {lib.status['job']} is running: try again when it ends"}, 409)
        return JSONResponse({"ok": True}, 202)

    async def why(request):
        i = track(request)
        out = {"id": i, "windows": None, "similar_liked": []}
        if lib.scores and lib.saved is not None:
            from .. import rank as R
            from ..cache import open_cache

            cache = open_cache(lib.cache_dir)
            try:
                _, ts = R.explain(lib.paths[i], lib.saved, cache=cache)
            finally:
                if cache is not None:
                    cache.close()
            out["windows"] = [round(float(x), 4) for x in ts.window_scores]
            out["best_start_s"] = ts.best_start_s
        if lib.V is not None:
            liked = [j for j, lab in lib.labels().items() if lab == 1 and j != i]
            sims = sorted(((float(lib.V[i] @ lib.V[j]), j) for j in liked), reverse=True)[:5]
            out["similar_liked"] = [{**row(j), "cosine": round(c, 3)} for c, j in sims]
        return JSONResponse(out)

    async def playlist(request):
        from .. import sequence

        if lib.V is None:
            raise ValueError("the library is still being analysed")
        a = int(request.query_params["from"])
        n = min(200, max(2, int(request.query_params.get("n", 12))))
        b = request.query_params.get("to")
        for x in (a, *([int(b)] if b else [])):
            if not 0 <= x < len(lib.paths):
                raise LookupError
        order = sequence.join(lib.V, a, int(b), n) if b else sequence.continue_from(lib.V, a, n - 1)  # start first
        return JSONResponse({"rows": [row(i) for i in order]})

    async def m3u(request):
        from ..playlists import m3u_text

        ids = [int(x) for x in request.query_params.get("ids", "").split(",") if x.strip()]
        if any(not 0 <= i < len(lib.paths) for i in ids):
            raise LookupError
        text = m3u_text([(lib.paths[i], lib.scores.get(i, {}).get("duration_s") or -1,
                          " - ".join(x for x in (lib.info[i]["artist"], lib.info[i]["title"]) if x)) for i in ids])
        return Response(text, media_type="audio/x-mpegurl",
                        headers={"Content-Disposition": 'attachment; filename="pers_rec.m3u8"'})

    async def judgements_csv(request):
        return Response(lib.store.csv_text(), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="judgements.csv"'})

    async def map_points(request):
        from ..maps import layout

        if lib.V is None:
            raise ValueError("the library is still being analysed")
        ids = list(range(len(lib.paths)))[:3000]
        Y = layout(lib.V[ids])
        return JSONResponse({"points": [{**row(i), "x": round(float(x), 4), "y": round(float(y), 4)}
                                        for i, (x, y) in zip(ids, Y)]})

    g = guarded
    routes = [Route("/", index), Route("/api/status", g(status)), Route("/api/tracks", g(tracks)),
              Route("/api/audio/{id}", g(audio)), Route("/api/judge", g(judge), methods=["POST"]),
              Route("/api/ask", g(ask)), Route("/api/retrain", g(retrain), methods=["POST"]),
              Route("/api/why/{id}", g(why)), Route("/api/playlist", g(playlist)), Route("/api/playlist.m3u8", g(m3u)),
              Route("/api/judgements.csv", g(judgements_csv)), Route("/api/map", g(map_points)),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, middleware=[Middleware(TokenGate)])
    app.state.csrf = csrf
    return app
