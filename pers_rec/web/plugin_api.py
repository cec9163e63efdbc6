"""The HTTP API that media servers' plugins call for similar tracks and paths (the contract the Navidrome and
Jellyfin plugins of AudioMuse-AI call, implemented from its public description; none of its code), plus events.

- ``GET /api/similar_tracks?item_id=<server song id>&n=<count>`` -> a JSON array of ``{item_id, title, author,
  album, distance}``, best first by taste x similarity; ``distance`` is 1 - similarity (so a plugin's
  ``similarity = 1 - distance`` is the relay's ``similarity``, in [0, 1]);
- ``GET /api/find_path?start_song_id=&end_song_id=&max_steps=`` -> ``{"path": [the same objects]}``, from the
  start to the end song in even steps;
- ``POST /api/events`` with ``{"item_id": ..., "event": "now_playing" | "played" | "skipped", "user": ...}``:
  what the listener did, learnt from and stored as the relay's scrobbles are.

Ids are the Subsonic server's song ids (:class:`subsonic_radio.Catalog`; the walk uses pers_rec's own
``--user``, or whatever a relayed client walked). Mounted under ``/api`` of the relay, behind :mod:`web.guard`
with an access token whenever the relay listens beyond the loopback (``Authorization: Bearer <token>``).
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..players import subsonic

#: The most items one answer holds.
MAX_N = 500
EVENTS = ("now_playing", "played", "skipped")


class Refused(Exception):
    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.status, self.text = status, text


def create_api(relay) -> Starlette:
    """The API over ``relay`` (a :class:`web.relay.Relay`: its radio, catalog and own client)."""
    sonic = relay.radio

    def item(m) -> dict:
        e = m.entry
        return {"item_id": str(e.get("id")), "title": str(e.get("title", "")), "author": str(e.get("artist", "")),
                "album": str(e.get("album", "")), "distance": round(1.0 - m.similarity, 4)}

    def known(*ids: str) -> None:
        for i in ids:
            if not i:
                raise Refused(400, "a song id is missing")
            try:
                with relay.walk_lock:
                    ok = sonic.catalog.knows(i, relay.own_client)
            except subsonic.SubsonicError as exc:
                raise Refused(502, f"the Subsonic server could not be read: {exc}") from None
            if not ok:
                why = "not a song of the library" if sonic.catalog.walked_at is not None else \
                    "the library's song ids are not known yet (start the radio with --user, or play through the relay)"
                raise Refused(404, f"{i[:80]!r}: {why}")

    def number(value, default: int, lo: int) -> int:
        if value is None:
            return default
        if not value.isdigit() or not lo <= int(value) <= MAX_N:
            raise Refused(400, f"a count is a whole number from {lo} to {MAX_N}")
        return int(value)

    def similar(q) -> list:
        i = q.get("item_id", "")
        known(i)
        return [item(m) for m in sonic.similar(i, number(q.get("n"), 10, 1))]

    def path(q) -> dict:
        a, b = q.get("start_song_id", ""), q.get("end_song_id", "")
        known(a, b)
        return {"path": [item(m) for m in sonic.path(a, b, number(q.get("max_steps"), 25, 2))]}

    def event(body: bytes) -> dict:
        try:
            e = json.loads(body)
        except (ValueError, RecursionError, UnicodeDecodeError):
            raise Refused(400, "the body is not JSON") from None
        item = e.get("item_id") if isinstance(e, dict) else None
        if not isinstance(item, (str, int)) or isinstance(item, bool):
            raise Refused(400, 'give {"item_id": ..., "event": ...}')
        if e.get("event") not in EVENTS:
            raise Refused(400, f"event is one of {', '.join(EVENTS)}")
        user = e.get("user", "")
        if not isinstance(user, str) or len(user) > 200:
            raise Refused(400, "user is a short text")
        known(str(e["item_id"]))
        return {"learnt": sonic.told(("plugin", user), str(e["item_id"]), e["event"])}

    async def run(work, *args):
        try:
            return JSONResponse(await run_in_threadpool(work, *args))
        except Refused as r:
            return JSONResponse({"error": r.text}, status_code=r.status)

    async def get_similar(request: Request):
        return await run(similar, dict(request.query_params))

    async def get_path(request: Request):
        return await run(path, dict(request.query_params))

    async def post_event(request: Request):
        return await run(event, await request.body())

    return Starlette(routes=[Route("/similar_tracks", get_similar), Route("/find_path", get_path),
                             Route("/events", post_event, methods=["POST"])])
