"""``pers-rec serve`` against other websites and bad requests: Host (DNS rebinding), Origin, framing, the access
token as bytes, malformed bodies and parameters (a fuzz of 200), unplayable tracks, the map off the event loop."""

import http.client
import json
import os
import random
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import tone

pytest.importorskip("starlette", reason="pers-rec serve needs starlette and uvicorn (pip install 'pers_rec[web]')")

from pers_rec.web import guard  # noqa: E402
from pers_rec.web.app import create_app  # noqa: E402
from pers_rec.web.state import Library  # noqa: E402


def small_library(root, n=4):
    """``n`` 3 s tones, a ``.wav`` link to a text file, and a file that is not audio at all."""
    music = root / "music"
    music.mkdir(parents=True)
    for i in range(n):
        sf.write(music / f"t{i}.wav", tone(220 * (i + 1), 3.0, 8000), 8000)
    (root / "notes.txt").write_text("not audio\n" * 50)
    os.symlink(root / "notes.txt", music / "fake.wav")
    (music / "junk.flac").write_bytes(b"\x00\x01garbage" * 100)
    return music


def stand_in(tmp_path, n_fake=0, seed=0):
    """A real :class:`Library` on a small folder, with unit vectors in place of the analysis; ``n_fake`` extra
    tracks that exist only by name (for the list and the map, which read no file)."""
    lib = Library(small_library(tmp_path), tmp_path / "cache")
    if n_fake:
        lib.paths += [f"/nowhere/{i}.flac" for i in range(n_fake)]
        lib.info += [{"artist": f"A{i % 50}", "album": f"B{i % 300}", "title": f"T{i}"} for i in range(n_fake)]
        lib.id_of = {p: i for i, p in enumerate(lib.paths)}
    V = np.random.default_rng(seed).normal(size=(len(lib.paths), 16)).astype(np.float32)
    lib.V = V / np.linalg.norm(V, axis=1, keepdims=True)
    return lib


class Served:
    """The app on a free loopback port, in a thread; raw requests with any bytes in any header."""

    def __init__(self, lib, token=None, hosts=None):
        import uvicorn

        self.app = create_app(lib, token=token, hosts=hosts)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="critical"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.csrf = self.app.state.csrf
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)

    def request(self, method, path, headers=None, body=None, host=None):
        """``(status, headers, body bytes)``; header values may be bytes (sent as they are)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host if host is not None else f"127.0.0.1:{self.port}")
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        conn.close()
        return out

    def post(self, path, obj, headers=None, **kw):
        body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        return self.request("POST", path, {"X-CSRF-Token": self.csrf, "Content-Type": "application/json",
                                           **(headers or {})}, body, **kw)


# ---- the rules, as functions ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("127.0.0.1:8737", ("127.0.0.1", "8737")), ("[::1]:80", ("::1", "80")), ("LocalHost", ("localhost", "")),
    ("evil.example.:8737", ("evil.example", "8737")), ("[::1]", ("::1", "")), ("::1", ("::1", "")),
])
def test_host_of_reads_every_form_of_the_host_header(value, expected):
    assert guard.host_of(value) == expected


def test_allowed_hosts_for_loopback_a_named_address_and_every_interface():
    local = guard.allowed_hosts("127.0.0.1")
    assert {"127.0.0.1", "localhost", "::1"} <= local and not guard.host_allowed("evil.example", local)
    lan = guard.allowed_hosts("192.168.1.20", ["music.home"])
    assert guard.host_allowed("192.168.1.20", lan) and guard.host_allowed("music.home", lan)
    assert not guard.host_allowed("192.168.1.21", lan)
    wild = guard.allowed_hosts("0.0.0.0")
    assert guard.host_allowed("10.1.2.3", wild) and guard.host_allowed("fe80::1", wild)
    assert not guard.host_allowed("evil.example", wild)


@pytest.mark.parametrize("given", ["é", "s3cre", "s3cret\x00", "\udcff", b"\xff\xfe", "", "S3CRET"])
def test_the_token_comparison_takes_any_input(given):
    assert guard.same_token(given, "s3cret") is False
    assert guard.same_token("s3cret", "s3cret") and guard.same_token(b"s3cret", "s3cret")


# ---- the rules, over HTTP ------------------------------------------------------------------------------------------

READS = ["/", "/api/status", "/api/tracks", "/api/audio/0", "/api/judgements.csv", "/api/playlist.m3u8?ids=0,1",
         "/api/why/0", "/static/app.js"]


def test_a_foreign_host_header_reads_and_writes_nothing(tmp_path):
    """DNS rebinding: evil.example resolving to 127.0.0.1 sends its own name as Host."""
    lib = stand_in(tmp_path)
    with Served(lib) as s:
        for path in READS:
            for host in ("evil.example", f"evil.example:{s.port}", "127.0.0.1.evil.example", "", "localhost.:1@x"):
                status, headers, body = s.request("GET", path, host=host)
                assert status == 421 and b"/nowhere" not in body and str(tmp_path).encode() not in body, (path, host)
                assert headers["x-frame-options"] == "DENY"
        for path, obj in (("/api/judge", {"id": 0, "label": 1}), ("/api/retrain", {}), ("/api/model", {"use": "previous"})):
            assert s.post(path, obj, host=f"evil.example:{s.port}")[0] == 421
        assert lib.store.count() == 0 and lib.status["job"] is None
        for host in (f"127.0.0.1:{s.port}", f"localhost:{s.port}", "localhost", f"[::1]:{s.port}"):
            assert s.request("GET", "/api/status", host=host)[0] == 200, host


def test_a_post_from_another_origin_is_refused_even_with_the_csrf_token(tmp_path):
    lib = stand_in(tmp_path)
    with Served(lib) as s:
        judge = {"id": 0, "label": 1}
        for origin in ("http://evil.example", "null", f"http://127.0.0.1:{s.port + 1}", f"https://127.0.0.1:{s.port}",
                       f"http://evil.example:{s.port}", "file://", "chrome-extension://abc", "é"):
            assert s.post("/api/judge", judge, {"Origin": origin.encode()})[0] == 403, origin
        assert lib.store.count() == 0
        assert s.post("/api/judge", judge, {"Origin": f"http://127.0.0.1:{s.port}"})[0] == 200
        assert s.post("/api/judge", judge, {"Origin": f"http://localhost:{s.port}"})[0] == 200
        assert s.post("/api/judge", judge)[0] == 200  # no Origin at all (curl, an old browser): the CSRF token decides
        assert s.post("/api/judge", judge, {"X-CSRF-Token": "forged"})[0] == 403
        assert lib.store.count() == 3


def test_no_answer_can_be_framed(tmp_path):
    with Served(stand_in(tmp_path)) as s:
        for path in (*READS, "/api/nothing", "/static/nothing.js", "/api/audio/999"):
            status, headers, _ = s.request("GET", path)
            assert headers["x-frame-options"] == "DENY", path
            assert "frame-ancestors 'none'" in headers["content-security-policy"], path
            assert headers["x-content-type-options"] == "nosniff"


def test_non_ascii_tokens_cookies_and_csrf_headers_are_refused_never_an_error(tmp_path):
    lib = stand_in(tmp_path)
    with Served(lib, token="s3cret", hosts=guard.allowed_hosts("0.0.0.0")) as s:
        for path in ("/api/status?token=%C3%A9", "/api/status?token=%FF%FE", "/api/status?token=%00",
                     "/api/status?token=" + "x" * 5000, "/?token=%ED%B3%BF"):
            assert s.request("GET", path)[0] == 401, path
        for cookie in ("pers_rec_token=é".encode(), b"pers_rec_token=\xff\xfe", b'pers_rec_token="\\', b";;;=="):
            assert s.request("GET", "/api/status", {"Cookie": cookie})[0] == 401, cookie
        status, headers, _ = s.request("GET", "/?token=s3cret")
        assert status == 200 and "pers_rec_token=s3cret" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]
        ok = {"Cookie": "pers_rec_token=s3cret"}
        assert s.request("GET", "/api/status", ok)[0] == 200
        for forged in ("é".encode(), b"\xff", s.csrf[:-1].encode() + b"\xc3"):
            assert s.post("/api/judge", {"id": 0, "label": 1}, {**ok, "X-CSRF-Token": forged})[0] == 403
        assert lib.store.count() == 0


@pytest.mark.parametrize("body", [b"[1,2]", b'{"id":null,"label":1}', b'{"id":1e400,"label":1}', b"[" * 60_000,
                                  b'{"id":"0","label":1}', b'{"id":true,"label":1}', b'{"id":0,"label":true}',
                                  b'{"id":0,"label":2}', b'{"id":0.5,"label":1}', b"\xff\xfe", b"", b"null",
                                  b'{"id":0,"label":1', b'"x"', b'{"id":-1,"label":0}'])
def test_malformed_judgements_are_400_or_404(tmp_path, body):
    lib = stand_in(tmp_path)
    with Served(lib) as s:
        status, _, answer = s.post("/api/judge", body)
        assert status in (400, 404), answer
        assert "error" in json.loads(answer) and lib.store.count() == 0


def test_a_body_too_large_is_413(tmp_path):
    with Served(stand_in(tmp_path)) as s:
        assert s.post("/api/judge", b"{" + b" " * (guard.MAX_BODY + 1) + b"}")[0] == 413


def fuzz_requests(n, seed=0):
    """``n`` malformed requests: junk ids, parameters, bodies and methods on every route."""
    rng = random.Random(seed)
    junk = ["", "-1", "1e3", "99999", "abc", "%00", "%ff", "0x1", "1.5", "--2", "%EF%BC%91", "9" * 40, "%2e%2e%2f", "null",
            "[]", "%E2%80%AE", "%201", "1,2,,x"]
    out = []
    for _ in range(n):
        j = rng.choice(junk)
        kind = rng.randrange(9)
        if kind == 0:
            out.append(("GET", f"/api/audio/{j}", None))
        elif kind == 1:
            out.append(("GET", f"/api/why/{j}", None))
        elif kind == 2:
            bad = rng.choice([x for x in junk if x not in ("99999", "")])  # offset 99999 is a fine (empty) page
            out.append(("GET", f"/api/tracks?{rng.choice(['offset', 'limit'])}={bad}", None))
        elif kind == 3:
            out.append(("GET", f"/api/playlist?from={j or 'x'}&n={rng.choice(junk) or 'y'}", None))
        elif kind == 4:
            out.append(("GET", f"/api/ask?n={j or 'z'}&mode={rng.choice(['ask', 'x', ''])}", None))
        elif kind == 5:
            out.append(("GET", f"/api/playlist.m3u8?ids=0,{j or 'q'}", None))
        elif kind == 6:
            body = rng.choice([b"{", b"[[[[", b'{"id":' + j.encode() + b"}", bytes(rng.randrange(256) for _ in range(20))])
            out.append(("POST", rng.choice(["/api/judge", "/api/model", "/api/retrain"]), body))
        elif kind == 7:
            out.append((rng.choice(["PUT", "DELETE", "PATCH"]), rng.choice(["/api/judge", "/api/status", "/"]), b"{}"))
        else:
            out.append(("GET", rng.choice(["/api/", "/static/../app.py", "/api/audio/", "/%ff", "/api/why"]) + j, None))
    return out


def test_a_fuzz_of_200_malformed_requests_sees_only_4xx(tmp_path, capfd):
    lib = stand_in(tmp_path)
    lib.failed[len(lib.paths) - 1] = "not audio"
    with Served(lib) as s:
        answers = [(m, p, s.request(m, p, {"X-CSRF-Token": s.csrf, "Content-Type": "application/json"}, b)[0])
                   for m, p, b in fuzz_requests(200)]
    wrong = [a for a in answers if not 400 <= a[2] < 500]
    assert wrong == [], wrong
    assert lib.store.count() == 0
    assert "Traceback" not in capfd.readouterr().err


def test_unplayable_tracks_are_422_and_never_queued(tmp_path):
    lib = stand_in(tmp_path)
    fake, junk = lib.paths.index(str(lib.root / "fake.wav")), lib.paths.index(str(lib.root / "junk.flac"))
    with Served(lib) as s:
        for i in (fake, junk):
            for path in (f"/api/audio/{i}", f"/api/why/{i}"):
                status, _, body = s.request("GET", path)
                assert status == 422 and os.path.basename(lib.paths[i]).encode() in body, (path, body)
        assert set(lib.failed) == {fake, junk}
        asked = json.loads(s.request("GET", "/api/ask?n=50")[2])["rows"]
        assert {r["id"] for r in asked}.isdisjoint({fake, junk}) and len(asked) == len(lib.paths) - 2
        rows = {r["id"]: r for r in json.loads(s.request("GET", "/api/tracks")[2])["rows"]}
        good = lib.paths.index(str(lib.root / "t0.wav"))
        assert rows[fake]["error"] and rows[good]["error"] is None
        assert s.request("GET", f"/api/audio/{good}")[0] == 200


@pytest.mark.slow
def test_status_answers_while_the_map_of_3000_tracks_is_drawn(tmp_path):
    lib = stand_in(tmp_path, n_fake=3000 - 6)
    for name in ("fake.wav", "junk.flac"):  # as the analysis finds them
        lib.failed[lib.paths.index(str(lib.root / name))] = "not audio"
    with Served(lib) as s:
        t0 = time.perf_counter()
        status, _, body = s.request("GET", "/api/map")
        first = time.perf_counter() - t0
        assert status == 202 and json.loads(body)["tracks"] == 3000 - 2  # the unreadable two are not drawn
        waits = []
        while True:
            t1 = time.perf_counter()
            assert s.request("GET", "/api/status")[0] == 200
            waits.append(time.perf_counter() - t1)
            status, _, body = s.request("GET", "/api/map")
            if status == 200:
                break
            assert status == 202
            time.sleep(0.2)
        points = json.loads(body)["points"]
        total = time.perf_counter() - t0
        t2 = time.perf_counter()
        assert s.request("GET", "/api/map")[0] == 200  # drawn once per set of embeddings: now from memory
        again = time.perf_counter() - t2
    assert len(points) == 3000 - 2  # the two unreadable files are not drawn
    print(f"map of 3,000 tracks: first answer {first * 1000:.0f} ms (202), drawn in {total:.1f} s; "
          f"/api/status meanwhile: {len(waits)} answers, median {np.median(waits) * 1000:.0f} ms, "
          f"max {max(waits) * 1000:.0f} ms; the map again {again * 1000:.0f} ms")
