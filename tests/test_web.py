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

from pers_rec.web.app import create_app  # noqa: E402
from pers_rec.web.state import Library  # noqa: E402
from pers_rec.web.store import Judgements  # noqa: E402

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


def test_judgements_are_stored_at_once_and_the_latest_wins(tmp_path):
    store = Judgements(tmp_path / "j.sqlite")
    store.add("/a.flac", 1)
    store.add("/b.flac", 0)
    store.add("/a.flac", None)  # then a skip: the latest judgement wins, and a skip labels nothing
    store.add("/c.flac", 1)
    assert store.labels() == {"/b.flac": 0, "/c.flac": 1} and store.count() == 4
    assert store.csv_text().splitlines() == ["path,label,weight,signal", "/b.flac,0,1.0,serve", "/c.flac,1,1.0,serve"]
    with pytest.raises(ValueError):
        store.add("/d.flac", 2)
    other = sqlite3.connect(tmp_path / "j.sqlite")  # another connection sees every row: nothing waits in a buffer
    assert other.execute("SELECT COUNT(*) FROM judgements").fetchone()[0] == 4


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
        assert get(base + f"/api/audio/{link}")[0] == 403  # a symlink out of the library
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
def test_a_judgement_survives_kill_9_right_after_the_click(tmp_path):
    music, cache = library(tmp_path), tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-m", "pers_rec.cli", "serve", str(music), "--port", "0", "--cache",
                             str(cache)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        line = proc.stdout.readline()
        while "http://" not in line:
            assert line, "the server exited before printing its address"
            line = proc.stdout.readline()
        base = line.split("at ")[1].split("/ ")[0].rstrip("/")
        token = csrf_of(base)
        status = get(base + "/api/judge", {"X-CSRF-Token": token}, json.dumps({"id": 2, "label": 0}).encode())[0]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert status == 200
    rows = sqlite3.connect(cache / "serve" / "judgements.sqlite").execute("SELECT label, source FROM judgements").fetchall()
    assert rows == [(0, "serve")]


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
        page.locator("#rows tr").first.locator("button").click()
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
        from pers_rec.playlists import read_labelled

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

    lib = SimpleNamespace(root=".", paths=[f"/m/{i}.flac" for i in range(n)], scores={},
                          info=[{"artist": f"A{i % 97}", "album": f"B{i % 501}", "title": f"T{i}"} for i in range(n)],
                          quick=np.linspace(1, 0, n), V=None, report=None, status={"job": None, "phase": "", "done": 0,
                                                                                   "total": 0, "message": "", "error": "",
                                                                                   "version": 0})
    lib.labels = dict
    lib.store = SimpleNamespace(count=lambda: 0)
    lib.ask = lambda n, mode: []
    return lib
