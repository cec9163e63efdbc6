"""``pers-rec serve``: the judgements survive kill -9, the local app's security, and the page in a real browser."""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf
from conftest import tag, tone

pytest.importorskip("starlette", reason="pers-rec serve needs starlette and uvicorn (pip install 'pers_rec[web]')")

from pers_rec.players.judgements import Judgements  # noqa: E402
from pers_rec.web.app import create_app  # noqa: E402
from pers_rec.web.state import Library, library_home  # noqa: E402

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def library(root, n=10):
    """``n`` tagged 6 s songs (one with a hostile title) and a symlink to a file outside the library."""
    music = root / "music"
    music.mkdir(parents=True)
    for i in range(n):
        p = music / f"a{i % 3}" / f"song{i:02d}.flac"
        p.parent.mkdir(exist_ok=True)
        sf.write(p, tone(220 * (1 + i % 4), 6.0, 16000) + 0.05 * tone(97 * (i + 1), 6.0, 16000), 16000)
        tag(p, artist=f"Artist {i % 3}", album=f"Album {i % 3}", title=HOSTILE if i == 3 else f"Song {i}")
    outside = root / "secret.wav"
    sf.write(outside, tone(300, 6.0, 16000), 16000)
    os.symlink(outside, music / "link.wav")
    return music


@contextlib.contextmanager
def serving(lib, token=None):
    """The app on a free loopback port, in a thread, stopped afterwards; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_app(lib, token=token), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


def get(url, headers=None, data=None):
    """``(status, headers, body bytes)`` of a request; HTTP errors are answers too."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def csrf_of(base, headers=None):
    page = get(base + "/", headers)[2].decode()
    return page.split('name="csrf-token" content="')[1].split('"')[0]


def wait_for(lib, what="analysed", seconds=120):
    t0 = time.time()
    while time.time() - t0 < seconds:
        if lib.status["job"] is None and (what != "analysed" or lib.V is not None):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what}: {lib.status}")


@pytest.mark.slow
def test_the_local_apps_security(tmp_path):
    lib = Library(library(tmp_path), tmp_path / "cache")
    link = lib.paths.index(str(lib.root / "link.wav"))
    lib.start("analysis", lib.analyse)
    wait_for(lib)
    with serving(lib) as base:
        status, headers, body = get(base + "/")
        assert status == 200 and "default-src 'self'" in headers["content-security-policy"]
        token = csrf_of(base)
        judge = json.dumps({"id": 0, "label": 1}).encode()
        assert get(base + "/api/judge", {"Content-Type": "application/json"}, judge)[0] == 403  # no CSRF token
        assert get(base + "/api/judge", {"X-CSRF-Token": "forged"}, judge)[0] == 403
        assert get(base + "/api/judge", {"X-CSRF-Token": token}, judge)[0] == 200
        assert lib.store.labels() == {lib.paths[0]: 1}
        assert get(base + "/api/retrain", {}, b"{}")[0] == 403
        for bad in ("/api/audio/..%2F..%2Fsecret.wav", "/api/audio/-1", "/api/audio/99999", "/api/audio/1e3",
                    "/static/..%2Fstate.py", "/static/../app.py", "/api/why/abc"):
            assert get(base + bad)[0] in (404, 400), bad
        assert get(base + f"/api/audio/{link}")[0] == 200  # a link the listener put in the library is followed
        status, headers, body = get(base + "/api/audio/1", {"Range": "bytes=10-19"})
        assert status == 206 and len(body) == 10 and headers["content-range"].startswith("bytes 10-19/")
        rows = json.loads(get(base + "/api/tracks?q=script")[2])["rows"]
        assert [r["title"] for r in rows] == [HOSTILE]  # JSON text; the page puts it in with textContent
    with serving(lib, token="s3cret") as base:
        assert get(base + "/")[0] == 401 and get(base + "/api/status")[0] == 401
        status, headers, _ = get(base + "/?token=s3cret")
        assert status == 200 and "pers_rec_token=s3cret" in headers["set-cookie"]
        assert get(base + "/api/status", {"Cookie": "pers_rec_token=s3cret"})[0] == 200
        assert get(base + "/api/status?token=wrong")[0] == 401


@pytest.mark.slow
def test_a_judgement_survives_kill_9_right_after_the_click_and_the_terminal_names_broken_files(tmp_path):
    music, cache = library(tmp_path), tmp_path / "cache"
    (music / "broken.wav").write_bytes(b"RIFF" + b"\x00" * 400)
    proc = subprocess.Popen([sys.executable, "-m", "pers_rec.cli", "serve", str(music), "--port", "0", "--cache",
                             str(cache)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    try:
        reader.start()
        t0 = time.time()
        while not any("http://" in line for line in lines):
            assert proc.poll() is None and time.time() - t0 < 60, "".join(lines)
            time.sleep(0.05)
        line = next(line for line in lines if "http://" in line)
        base = line.split("at ")[1].split("/ ")[0].rstrip("/")
        token = csrf_of(base)
        status = get(base + "/api/judge", {"X-CSRF-Token": token}, json.dumps({"id": 2, "label": 0}).encode())[0]
        while "broken.wav" not in "".join(lines):  # the analysis goes on, and says what it cannot read
            assert proc.poll() is None and time.time() - t0 < 180, "".join(lines)
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert status == 200
    out = "".join(lines)
    assert "tags: 12 tracks" in out and "cannot be played" in out, out
    assert "Traceback" not in out and "absl" not in out, out
    home = library_home(cache, music)
    rows = sqlite3.connect(home / "judgements.sqlite").execute("SELECT label, source FROM judgements").fetchall()
    assert rows == [(0, "serve")]


def run_cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "pers_rec.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_a_busy_port_a_bad_host_and_no_cache_are_one_line_and_exit_2(tmp_path):
    import socket

    music = tmp_path / "music"
    music.mkdir()
    sf.write(music / "a.wav", tone(440, 3.0, 8000), 8000)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        cases = {"already in use": ["--port", str(port)], "--host 999.1.1.1": ["--host", "999.1.1.1"],
                 "not an address of this machine": ["--host", "192.0.2.77"], "--no-cache": ["--no-cache"],
                 "a port is 0-65535": ["--port", "70000"]}
        for expected, extra in cases.items():
            r = run_cli("serve", str(music), "--cache", str(tmp_path / "cache"), *extra)
            assert r.returncode == 2 and expected in r.stderr, (extra, r.stderr)
            assert len(r.stderr.strip().splitlines()) == 1 and r.stdout == "", r.stderr
    finally:
        busy.close()


def test_judgements_are_kept_per_library_and_old_ones_are_adopted(tmp_path):
    cache = tmp_path / "cache"
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        root.mkdir()
        sf.write(root / "x.wav", tone(440, 3.0, 8000), 8000)
    legacy = Judgements(cache / "serve" / "judgements.sqlite")  # the layout before: one file for every library
    legacy.add(str(a.resolve() / "x.wav"), 1)
    legacy.add(str(tmp_path / "elsewhere" / "y.wav"), 0)
    legacy.close()
    lib_a, lib_b = Library(a, cache), Library(b, cache)
    assert lib_a.store.labels() == {str(a.resolve() / "x.wav"): 1}  # adopted: the rows below a
    assert lib_b.store.labels() == {}
    lib_b.judge(0, 0)
    assert Library(b, cache).labels() == {0: 0} and Library(a, cache).labels() == {0: 1}
    assert lib_a.home != lib_b.home and lib_a.home.parent == cache / "serve"


def test_a_retrain_keeps_the_models_own_likes_unless_told_otherwise(tmp_path):
    from types import SimpleNamespace

    from pers_rec.model.report import TrackEntry

    lib = Library(library(tmp_path), tmp_path / "cache")
    outside = tmp_path / "secret.wav"
    entries = [TrackEntry(str(outside), 1, "like", 10, 2.5, "starred"), TrackEntry(lib.paths[0], 0, "dislike", 10),
               TrackEntry(lib.paths[1], 0, "unlabelled", 10), TrackEntry("/gone/away.wav", 1, "like", 10)]
    lib.saved = SimpleNamespace(report=SimpleNamespace(tracks=entries))
    lib.judge(0, 1)  # the listener's judgement overrides the model's dislike
    rows = lib.training_rows(keep_model_likes=True)
    assert rows == {str(outside): (1, 2.5, "starred"), lib.paths[0]: (1, 1.0, "serve")}
    assert lib.training_rows(keep_model_likes=False) == {lib.paths[0]: (1, 1.0, "serve")}


@pytest.mark.slow
def test_judge_then_retrain_files_a_model_that_learnt_the_judgements(tmp_path):
    """Thumbs on the page, then Retrain, in one process without a browser: the new model starts from the start
    model's settings, learnt the judgements with their weights, and ranks or waits as its score says."""
    from helpers import TINY, saved_model

    from pers_rec.model import checkpoint

    music, cache = library(tmp_path, n=8), tmp_path / "cache"
    start = tmp_path / "start.keras"
    checkpoint.save(start, saved_model(TINY))
    lib = Library(music, cache, model=start, train_options={"max_epochs": 1, "folds": 2})
    lib.analyse()
    for i, label in ((0, 1), (2, 1), (5, 0)):
        lib.judge(i, label)
    lib.retrain(keep_model_likes=False)
    role = "current" if lib.status["model"] == "retrained" else "candidate"
    path = lib.versions.path(role)
    assert path is not None and path.is_file()
    trained = checkpoint.load(path, runtime="light")
    assert trained.cfg == TINY  # the start model's settings, not the defaults
    learnt = {t.path: (t.label, t.source) for t in trained.report.tracks if t.source in ("like", "dislike")}
    assert learnt == {lib.paths[0]: (1, "like"), lib.paths[2]: (1, "like"), lib.paths[5]: (0, "dislike")}


@pytest.mark.slow
def test_a_restart_ranks_with_the_model_retrained_there(tmp_path):
    from helpers import TINY, saved_model

    from pers_rec.model import checkpoint

    music, cache = library(tmp_path, n=4), tmp_path / "cache"
    lib = Library(music, cache)
    path = lib.versions.new_path()
    checkpoint.save(path, saved_model(TINY))
    lib.versions.accept(path, better=True)
    again = Library(music, cache)  # a restart
    again.analyse()
    assert again.status["model"] == "retrained" and len(again.scores) == len(again.paths)
    assert again.status["previous"] == {"name": "no model", "roc_auc": None}  # started without --model


@pytest.mark.browser
def test_the_app_in_a_real_browser(tmp_path):
    """Open the page, play a track (its time advances), judge five, retrain, see the ranking change, export the CSV
    and read it back; the hostile title stays text. Also logs the page load of a 10,000-track library."""
    from test_maps import need_chromium

    sync_playwright, exe = need_chromium()
    lib = Library(library(tmp_path), tmp_path / "cache", train_options={"max_epochs": 2, "folds": 2,
                                                                          "windows_per_track": 2})
    lib.start("analysis", lib.analyse)
    wait_for(lib)
    errors = []
    with serving(lib) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (errors.append(f"dialog {d.message}"), d.dismiss()))
        page.goto(base + "/")
        page.wait_for_selector("#rows tr")
        assert page.locator("#rows td", has_text="<script>alert(1)</script>").count() == 1  # text, not markup
        page.locator("#rows tr").first.locator("button").first.click()
        poll(page, "document.getElementById('audio').currentTime > 0.3", 15)
        before = [r["id"] for r in json.loads(get(base + "/api/tracks")[2])["rows"]]
        for label in ("#up", "#up", "#down", "#up", "#down"):  # each click judges the playing track, then the next asked
            page.locator(label).click()
            page.wait_for_timeout(300)
        assert lib.store.count() == 5 and sum(lib.store.labels().values()) >= 2
        page.locator("#retrain").click()
        poll(page, "document.getElementById('phase').textContent.includes('retrain done')", 240)
        page.wait_for_timeout(1500)
        after = json.loads(get(base + "/api/tracks")[2])["rows"]
        assert all(r["score"] is not None for r in after) and [r["id"] for r in after] != before
        assert page.locator("#rows tr").first.locator("td").nth(1).inner_text() != ""  # the page shows the scores
        with page.expect_download() as dl:
            page.locator("#export").click()
        csv_path = tmp_path / "judged.csv"
        dl.value.save_as(csv_path)
        from pers_rec.players.playlists import read_labelled

        assert dict(read_labelled(csv_path, 1)) == {os.path.realpath(p): lab for p, lab in lib.store.labels().items()}
        big = _big_library(10_000)
        with serving(big) as big_base:
            t0 = time.perf_counter()
            page.goto(big_base + "/")
            page.wait_for_selector("#rows tr:nth-child(100)")
            ms = (time.perf_counter() - t0) * 1000
        print(f"page load of a 10,000-track library on the loopback: {ms:.0f} ms (100 rows shown, paged)")
        browser.close()
    assert errors == []


@pytest.mark.browser
def test_another_site_cannot_read_write_or_frame_the_app_in_a_real_browser(tmp_path):
    """A page on another port of the loopback, and a rebinding-style name (evil.test resolving to 127.0.0.1, at the
    app's own port), try to read the library, write a judgement and frame the app; then the page itself: keyboard
    shortcuts, judging any row, long titles cut, a right-to-left override kept inside its tag."""
    import http.server

    from test_maps import need_chromium

    sync_playwright, exe = need_chromium()
    music = library(tmp_path, n=4)
    sf.write(music / "rtl.wav", tone(330, 6.0, 16000), 16000)
    tag(music / "rtl.wav", artist="\u202eevil artist", title="T" * 2000, album="Album x")
    lib = Library(music, tmp_path / "cache")
    lib.start("analysis", lib.analyse)
    wait_for(lib)

    class Attacker(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"<!doctype html><title>evil</title><p>hello</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        with serving(lib) as base, sync_playwright() as p:
            port = base.rsplit(":", 1)[1]
            browser = p.chromium.launch(executable_path=exe, args=[
                "--no-sandbox", "--host-resolver-rules=MAP evil.test 127.0.0.1", "--disable-features=LocalNetworkAccessChecks"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
            attempt = f"""async () => {{
                const out = {{}};
                try {{ const r = await fetch('{base}/api/tracks'); out.read = await r.text(); }}
                catch (e) {{ out.read = 'blocked: ' + e.name; }}
                try {{ await fetch('{base}/api/judge', {{method: 'POST', mode: 'no-cors', body: '{{"id":0,"label":1}}',
                                                          headers: {{'Content-Type': 'text/plain'}}}}); out.write = 'sent'; }}
                catch (e) {{ out.write = 'blocked: ' + e.name; }}
                const f = document.createElement('iframe'); f.src = '{base}/'; document.body.appendChild(f);
                await new Promise((ok) => setTimeout(ok, 1500));
                try {{ out.frame = f.contentDocument ? f.contentDocument.body.innerText : 'opaque'; }}
                catch (e) {{ out.frame = 'opaque'; }}
                return out;
            }}"""
            got = page.evaluate(attempt)
            assert got["read"].startswith("blocked") and "secret" not in json.dumps(got), got
            frames = [f for f in page.frames if f != page.main_frame]
            assert frames and "csrf" not in frames[0].content().lower()  # the app refused to be framed
            response = page.goto(f"http://evil.test:{port}/")  # DNS rebinding: the name is not the app's
            assert response.status == 421 and "csrf" not in page.content().lower()
            page.goto(f"http://evil.test:{port}/api/tracks")
            assert "song" not in page.content().lower() and "secret" not in page.content()
            assert lib.store.count() == 0

            page.set_viewport_size({"width": 1280, "height": 800})
            page.goto(base + "/")
            page.wait_for_selector("#rows tr:nth-child(5)")
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # 2,000 characters cut, not 16,000 px
            assert page.locator("#rows bdi", has_text="evil artist").count() == 1  # the override stays in its tag
            page.keyboard.press("j")
            page.keyboard.press("j")
            second = int(page.locator("#rows tr.selected").get_attribute("data-id"))
            page.keyboard.press("+")
            page.wait_for_timeout(500)
            page.locator(f'#rows tr[data-id="{lib.paths.index(str(music / "rtl.wav"))}"] button', has_text="no").click()
            page.wait_for_timeout(500)
            assert lib.labels() == {second: 1, lib.paths.index(str(music / "rtl.wav")): 0}
            assert page.locator("#up").inner_text().strip().endswith("Like")  # words, not only an emoji
            browser.close()
    finally:
        evil.shutdown()


def poll(page, expression: str, seconds: float) -> None:
    """Wait until ``expression`` is true in the page (``wait_for_function`` would need eval, which the page's
    Content-Security-Policy forbids)."""
    t0 = time.time()
    while not page.evaluate(expression):
        if time.time() - t0 > seconds:
            raise TimeoutError(expression)
        page.wait_for_timeout(100)


def _big_library(n):
    """A stand-in for a scanned library of ``n`` tracks (no files: the page and its paged list only)."""
    from types import SimpleNamespace

    lib = SimpleNamespace(root=".", paths=[f"/m/{i}.flac" for i in range(n)], scores={}, failed={},
                          info=[{"artist": f"A{i % 97}", "album": f"B{i % 501}", "title": f"T{i}"} for i in range(n)],
                          quick=np.linspace(1, 0, n), V=None, report=None, status={"job": None, "phase": "", "done": 0,
                                                                                   "total": 0, "message": "", "error": "",
                                                                                   "version": 0})
    lib.labels = dict
    lib.store = SimpleNamespace(count=lambda: 0)
    lib.ask = lambda n, mode: []
    return lib
