"""The Subsonic relay between a client and a real server (Debian's supysonic on the loopback): other calls passed
through byte for byte, similar songs and the sonicSimilarity extension answered in JSON and XML, scrobbles learnt
from, wrong credentials refused by the server and never logged, and ``pers-rec radio --subsonic`` end to end
(its events durable across ``kill -9``)."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import requests
import soundfile as sf
from conftest import tag, tone
from servers import PASSWORD, USER, free_port, supysonic

from pers_rec.audio import scan
from pers_rec.players import subsonic as Su
from pers_rec.players.judgements import Judgements
from pers_rec.radio.picker import Radio, Rules
from pers_rec.radio.subsonic_radio import Catalog, SonicRadio

pytestmark = pytest.mark.slow
AUTH = {"u": USER, "p": "enc:" + PASSWORD.encode().hex(), "v": "1.10.2", "c": "test"}
NS = "{http://subsonic.org/restapi}"


def library(root, n=8, seconds=2.0):
    for i in range(n):
        p = root / f"Artist {i % 3}" / f"song {i:02d}.flac"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, tone(200 + 40 * i, seconds, 16000), 16000)
        tag(p, artist=f"Artist {i % 3}", title=f"Song {i:02d}", album=f"Album {i % 3}")
    return [str(p) for p in scan.scan(root)]


@pytest.fixture(scope="module")
def relayed(tmp_path_factory):
    """supysonic, and a relay in front of it over a radio of random vectors (song 00 liked)."""
    import uvicorn

    from pers_rec.cli.common import bind
    from pers_rec.web.guard import allowed_hosts
    from pers_rec.web.relay import Relay, create_app

    root = tmp_path_factory.mktemp("relay")
    paths = library(root / "music")
    V = np.random.default_rng(3).normal(size=(len(paths), 5)).astype(np.float32)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    radio = Radio(V, [""] * len(paths), [""] * len(paths), labelled={0: (1, 1.0)}, rules=Rules(0, 0, 0))
    said = []
    sonic = SonicRadio(radio, Catalog(paths, str(root / "music")), Judgements(root / "j.sqlite"), log=said.append)
    servers = []

    def serve(app):
        sock = bind("127.0.0.1", 0)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
        servers.append(server)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        for _ in range(100):
            try:
                requests.get(base + "/rest/ping", params=AUTH, timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        return base

    with supysonic(root / "home", root / "music") as url:
        relay = Relay(url, sonic, log=said.append)
        base = serve(create_app(relay, allowed_hosts("127.0.0.1")))
        own = Relay(url, sonic, log=said.append, own=Su.Client(url, USER, PASSWORD))
        tokened = serve(create_app(own, allowed_hosts("127.0.0.1"), token="s3cret-token"))
        yield {"url": url, "relay": base, "sonic": sonic, "paths": paths, "said": said, "db": root / "j.sqlite",
               "tokened": tokened}
        for server in servers:
            server.should_exit = True


def call(base, endpoint, **params):
    return requests.get(f"{base}/rest/{endpoint}", params={**AUTH, **params}, timeout=30)


def song_ids(r):
    return {s["title"]: s["id"] for s in r.json()["subsonic-response"]["searchResult3"]["song"]}


def test_other_calls_are_passed_through_byte_for_byte(relayed):
    up, me = relayed["url"], relayed["relay"]
    for endpoint, params in [("ping", {}), ("getMusicFolders", {"f": "json"}), ("getIndexes", {}),
                             ("search3", {"query": "Song", "f": "json"}), ("getAlbumList2", {"type": "newest"}),
                             ("nope", {}), ("getSong", {"id": "not-an-id"})]:
        a, b = call(up, endpoint, **params), call(me, endpoint, **params)
        assert (a.status_code, a.content, a.headers.get("content-type")) == (b.status_code, b.content,
                                                                             b.headers.get("content-type")), endpoint
    ids = song_ids(call(up, "search3", query="Song", f="json"))
    a = call(up, "stream", id=ids["Song 03"], format="raw")
    b = call(me, "stream", id=ids["Song 03"], format="raw")
    assert a.status_code == b.status_code == 200 and a.content == b.content and len(b.content) > 10_000
    assert requests.post(f"{me}/rest/ping", data=AUTH, timeout=10).content == \
        requests.post(f"{up}/rest/ping", data=AUTH, timeout=10).content  # a form POST too
    assert requests.get(f"{me}/rest/ping", headers={"Host": "evil.example"}, timeout=10).status_code == 421


def test_similar_songs_are_answered_by_taste_times_similarity_in_json_and_xml(relayed):
    me, sonic = relayed["relay"], relayed["sonic"]
    ids = song_ids(call(me, "search3", query="Song", f="json"))
    got = call(me, "getSimilarSongs2", id=ids["Song 02"], count=5, f="json").json()["subsonic-response"]
    want = [m.entry["id"] for m in sonic.similar(ids["Song 02"], 5)]  # the catalog was walked by that call
    assert got["status"] == "ok" and [s["id"] for s in got["similarSongs2"]["song"]] == want
    assert {s["title"] for s in got["similarSongs2"]["song"]} <= set(ids) and "Song 02" not in \
        {s["title"] for s in got["similarSongs2"]["song"]}
    xml = ET.fromstring(call(me, "getSimilarSongs", id=ids["Song 02"], count=5).content)
    assert xml.get("status") == "ok" and [s.get("id") for s in xml.iter(NS + "song")] == want
    sonicx = ET.fromstring(call(me, "getSonicSimilarTracks", id=ids["Song 02"], count=3).content)
    matches = list(sonicx.iter(NS + "sonicMatch"))
    assert [m.find(NS + "entry").get("id") for m in matches] == want[:3]
    assert all(0 <= float(m.get("similarity")) <= 1 for m in matches)
    path = call(me, "findSonicPath", startSongId=ids["Song 01"], endSongId=ids["Song 07"], count=4, f="json").json()
    steps = [m["entry"]["title"] for m in path["subsonic-response"]["sonicMatch"]]
    assert steps[0] == "Song 01" and steps[-1] == "Song 07" and len(steps) == 4
    ext = call(me, "getOpenSubsonicExtensions", f="json").json()["subsonic-response"]
    assert {"name": "sonicSimilarity", "versions": [1]} in ext["openSubsonicExtensions"]
    missing = call(me, "getSonicSimilarTracks", id="no-such-song", f="json").json()["subsonic-response"]
    assert missing["status"] == "failed" and missing["error"]["code"] == 70


def test_wrong_credentials_are_refused_by_the_server_and_never_logged(relayed):
    me = relayed["relay"]
    secret = "hunter2-wrong"
    bad = {**AUTH, "p": secret, "f": "json"}
    for endpoint in ("getSimilarSongs2", "getSonicSimilarTracks"):
        r = requests.get(f"{me}/rest/{endpoint}", params={**bad, "id": "1"}, timeout=30).json()["subsonic-response"]
        assert r["status"] == "failed" and r["error"]["code"] == 40
    r = requests.get(f"{me}/rest/scrobble", params={**bad, "id": "1"}, timeout=30).json()["subsonic-response"]
    assert r["status"] == "failed"  # the server's own refusal, passed through; nothing learnt
    assert not any(secret in line or PASSWORD in line for line in relayed["said"])


def test_scrobbles_teach_the_radio_and_change_the_next_answer(relayed):
    me, sonic = relayed["relay"], relayed["sonic"]
    ids = song_ids(call(me, "search3", query="Song", f="json"))
    before = [s["id"] for s in call(me, "getSimilarSongs2", id=ids["Song 00"], count=10, f="json")
              .json()["subsonic-response"]["similarSongs2"]["song"]]
    assert ids["Song 05"] in before
    assert call(me, "scrobble", id=ids["Song 05"], submission="false").status_code == 200
    assert call(me, "scrobble", id=ids["Song 06"], submission="false").status_code == 200  # Song 05 skipped at once
    after = [s["id"] for s in call(me, "getSimilarSongs2", id=ids["Song 00"], count=10, f="json")
             .json()["subsonic-response"]["similarSongs2"]["song"]]
    assert ids["Song 05"] not in after
    assert call(me, "scrobble", id=ids["Song 06"]).status_code == 200  # submitted: a completion
    rows = sqlite3.connect(relayed["db"]).execute("SELECT path, label, source FROM judgements").fetchall()
    assert [(os.path.basename(p), lab, src) for p, lab, src in rows] == [
        ("song 05.flac", 0, "radio:skip"), ("song 06.flac", 1, "radio:complete")]
    assert sonic.events[-2:] == [(ids["Song 05"], "skip"), (ids["Song 06"], "complete")]


def test_the_plugins_api_answers_with_the_servers_ids_behind_its_token(relayed):
    """The AudioMuse-AI plugin contract: similar tracks with distances, a path, events; a token is needed."""
    api, sonic = relayed["tokened"] + "/api", relayed["sonic"]
    assert requests.get(f"{api}/similar_tracks", params={"item_id": "x"}, timeout=10).status_code == 401
    assert call(relayed["tokened"], "ping").status_code == 200  # the Subsonic calls need no token: the server checks
    bearer = {"Authorization": "Bearer s3cret-token"}
    ids = song_ids(call(relayed["url"], "search3", query="Song", f="json"))

    def get(what, **params):
        return requests.get(f"{api}/{what}", params=params, headers=bearer, timeout=30)

    got = get("similar_tracks", item_id=ids["Song 04"], n=4).json()  # the own --user walked the library
    want = sonic.similar(ids["Song 04"], 4)
    assert [g["item_id"] for g in got] == [m.entry["id"] for m in want]
    assert [g["distance"] for g in got] == [round(1 - m.similarity, 4) for m in want]
    assert set(got[0]) == {"item_id", "title", "author", "album", "distance"} and got[0]["author"].startswith("Artist")
    path = get("find_path", start_song_id=ids["Song 01"], end_song_id=ids["Song 06"], max_steps=3).json()["path"]
    assert [p["title"] for p in path][0::2] == ["Song 01", "Song 06"] and len(path) == 3
    assert get("similar_tracks", item_id="nope").status_code == 404
    assert get("similar_tracks", item_id=ids["Song 04"], n="-1").status_code == 400
    assert get("find_path", start_song_id=ids["Song 01"]).status_code == 400

    def post(body):
        return requests.post(f"{api}/events", data=body, headers={**bearer, "Content-Type": "application/json"},
                             timeout=30)

    for bad in (b"[1]", b"{", b'{"item_id": null, "event": "played"}', b'{"item_id": "1", "event": "loved"}',
                b"[" * 100_000):
        assert post(bad).status_code in (400, 413), bad[:20]
    assert post(json.dumps({"item_id": ids["Song 07"], "event": "skipped", "user": "ann"})).json() == {"learnt": ["skip"]}
    rows = sqlite3.connect(relayed["db"]).execute("SELECT path, source FROM judgements").fetchall()
    assert (os.path.join("Artist 1", "song 07.flac"), "radio:skip") in [(os.path.relpath(p, os.path.dirname(
        os.path.dirname(p))), s) for p, s in rows]
    assert requests.post(f"{api}/events", data="{}", headers={**bearer, "Origin": "http://evil.example"},
                         timeout=10).status_code == 403


def test_the_radio_command_relays_a_subsonic_server_and_its_events_survive_kill_9(tmp_path):
    music = tmp_path / "music"
    library(music, n=6, seconds=10.0)
    likes = tmp_path / "likes.m3u"
    likes.write_text(str(music / "Artist 0" / "song 00.flac") + "\n")
    port = free_port()
    with supysonic(tmp_path / "home", music) as url:
        cmd = [sys.executable, "-m", "pers_rec.cli", "radio", "--subsonic", url, "--listen", f"127.0.0.1:{port}",
               "--library", str(music), "--likes", str(likes), "--cache", str(tmp_path / "cache"), "-q",
               "--retrain-after", "2", "--epochs", "1", "--folds", "2"]
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = subprocess.run([*cmd[:6], "--listen", f"127.0.0.1:{taken.getsockname()[1]}", *cmd[8:]],
                              capture_output=True, text=True, timeout=120)
        taken.close()
        assert busy.returncode == 2 and busy.stderr.count("\n") == 1 and "already in use" in busy.stderr
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": os.getcwd()})
        said = []  # its stderr, line by line as it comes: the test waits for what the radio says, not a guess
        reader = threading.Thread(target=lambda: said.extend(iter(proc.stderr.readline, "")), daemon=True)
        reader.start()
        try:
            me = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    if call(me, "ping").status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            ids = song_ids(call(me, "search3", query="Song", f="json"))
            call(me, "scrobble", id=ids["Song 03"], submission="false")
            call(me, "scrobble", id=ids["Song 04"], submission="false")
            similar = call(me, "getSimilarSongs2", id=ids["Song 00"], f="json").json()["subsonic-response"]
            assert similar["status"] == "ok" and ids["Song 03"] not in {s["id"] for s in similar["similarSongs2"]["song"]}
            call(me, "scrobble", id=ids["Song 04"])  # played: the second label, so a retrain starts in the background
            for _ in range(1200):  # retrained in the background, the new model ranks the library, the radio says so
                if any("retrained on 2 judgements" in x or "kept as a candidate" in x for x in said):
                    break
                time.sleep(0.25)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            out = proc.stdout.read()  # stderr belongs to the reader, which ends with the pipe
            reader.join(10)
    err = "".join(said)
    assert "playing through a Subsonic relay" in out and PASSWORD not in out + err
    assert list((tmp_path / "cache").rglob("models/0001.keras")), err  # retrained in the background
    assert "retrained on 2 judgements" in err or "kept as a candidate" in err, err
    db = next((tmp_path / "cache").rglob("judgements.sqlite"))
    rows = sqlite3.connect(db).execute("SELECT path, label, source FROM judgements").fetchall()
    assert [(os.path.basename(p), lab, src) for p, lab, src in rows] == [("song 03.flac", 0, "radio:skip"),
                                                                       ("song 04.flac", 1, "radio:complete")]
    assert json.loads(json.dumps(rows))  # plain values
