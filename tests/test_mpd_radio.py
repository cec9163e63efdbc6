"""The radio inside a real mpd (its ``null`` output plays in real time, so a skip is a real ``next``): the queue
topped up, the listener's own entries untouched, a skip stored as a dislike and a completion as a like (durable),
the taste moved by them, a file outside the library said, and MPD restarting survived."""

import sqlite3
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import tag, tone
from servers import mpd

from pers_rec.players import sync as players
from pers_rec.players.judgements import Judgements
from pers_rec.radio.mpd_radio import MPDRadio
from pers_rec.radio.picker import Radio, Rules

pytestmark = pytest.mark.slow


def songs(root, n=9, seconds=4.0, longer=None):
    """``n`` tagged FLAC songs of ``seconds`` (3 artists, one album each; ``longer`` maps a song's number to
    another length), and one more file the radio is not told about."""
    paths = []
    for i in range(n + 1):
        p = root / f"Artist {i % 3}" / f"song {i:02d}.flac"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, tone(220 + 30 * i, (longer or {}).get(i, seconds), 16000), 16000)
        tag(p, artist=f"Artist {i % 3}", title=f"Song {i:02d}", album=f"Album {i}")
        paths.append(str(p))
    return paths[:n], paths[n]


def until(predicate, seconds=20.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_radio_session_in_a_real_mpd(tmp_path):
    music = tmp_path / "music"
    # song 01 (the listener's own, skipped) lasts 60 s: any time under 30 s played is a skip, however slowly
    # this machine gets from play to next; the radio's picks last 8 s, so one completes in the test's time
    paths, stranger = songs(music, seconds=8.0, longer={1: 60.0})
    rng = np.random.default_rng(0)
    V = np.r_[np.eye(4)[[0] * 5], np.eye(4)[[1] * 4]] + 0.1 * rng.normal(size=(9, 4))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    picker = Radio(V, [f"Artist {i % 3}" for i in range(9)], [f"Album {i}" for i in range(9)],
                   labelled={0: (1, 1.0), 5: (1, 1.0)}, rules=Rules(replay_gap=3, artist_gap=0, album_gap=0))
    store = Judgements(tmp_path / "judgements.sqlite")
    said = []
    with mpd(tmp_path / "home", music) as (host, port):
        where = f"{host}:{port}"
        with players.mpd_player(where) as listener:
            mine = [listener.add("Artist 1/song 01.flac"), listener.add(stranger.split("music/")[1])]
            listener.play()  # the listener starts their own song; the radio tops the queue up behind it
        station = MPDRadio(picker, paths, music, lambda: players.mpd_player(where, 10.0), store=store,
                           log=said.append)
        runner = threading.Thread(target=station.run, daemon=True)
        runner.start()
        try:
            with players.mpd_player(where) as listener:
                assert until(lambda: len(listener.queue()) >= 2 + 3 - 1)
                taste_before = picker.taste.copy()
                assert listener.status().get("songid") == mine[0]
                time.sleep(0.5)
                listener.client.next()  # the listener skips their own song 01 after half a second
                assert until(lambda: ("Artist 1/song 01.flac", "skip") in station.events), (station.events, said)
                assert picker.taste[1] < taste_before[1]  # the skip moved the taste at once
                assert until(lambda: any("not in the library" in s for s in said), 20), said
                listener.client.next()  # past the stranger (never judged) to the radio's first pick
                assert until(lambda: any(k == "complete" for _, k in station.events), 30), (station.events, said)
                queue = listener.queue()
                ids = [str(q["id"]) for q in queue]
                assert [i for i in ids if i in mine] == mine  # the listener's entries: all there, in their order
                assert ids[: len(mine)] == mine  # nothing was put before them
                st = listener.status()
                assert len(queue) - int(st["song"]) - 1 >= 2  # topped up ahead of the song playing
                assert not any("trying again" in s for s in said), said  # one connection the whole session
        finally:
            station.stop.set()
            runner.join(10)
    db = sqlite3.connect(tmp_path / "judgements.sqlite")  # another connection: every event was committed
    rows = db.execute("SELECT path, label, weight, source FROM judgements ORDER BY id").fetchall()
    assert rows[0] == (paths[1], 0, 1.0, "radio:skip")
    assert any(src == "radio:complete" and lab == 1 and w == 0.5 for _, lab, w, src in rows)
    assert all(p in paths for p, *_ in rows)  # the stranger was never judged


def test_the_radio_waits_for_mpd_and_comes_back_after_a_restart(tmp_path):
    music = tmp_path / "music"
    paths, _ = songs(music, n=6, seconds=30.0)
    V = np.random.default_rng(1).normal(size=(6, 4))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    picker = Radio(V, [""] * 6, [""] * 6, labelled={0: (1, 1.0)}, rules=Rules(replay_gap=2, ahead=2))
    said = []
    with mpd(tmp_path / "home", music) as (host, port):
        where = f"{host}:{port}"
        station = MPDRadio(picker, paths, music, lambda: players.mpd_player(where, 5.0), log=said.append)
        runner = threading.Thread(target=station.run, daemon=True)
        runner.start()
        assert until(lambda: len(station.added) >= 2)
    assert until(lambda: any("trying again" in s for s in said), 20)  # MPD gone: said once, no crash
    n_said = len(said)
    time.sleep(2.5)
    assert len(said) == n_said  # not repeated at every attempt
    try:
        with mpd(tmp_path / "home", music, port=port):
            assert until(lambda: any("MPD is back" in s for s in said), 40)
            with players.mpd_player(where) as p:
                assert until(lambda: len(p.queue()) >= 2)
    finally:
        station.stop.set()
        runner.join(10)


def test_idle_waits_for_a_change_and_times_out_quietly(tmp_path):
    """``Player.wait``: a change on the player wakes it with the subsystem's name; nothing in time is [] and the
    connection stays usable (no reconnection needed)."""
    music = tmp_path / "music"
    songs(music, n=2, seconds=30.0)
    with mpd(tmp_path / "home", music) as (host, port):
        with players.mpd_player(f"{host}:{port}") as p, players.mpd_player(f"{host}:{port}") as other:
            t0 = time.monotonic()
            assert p.wait(0.3) == [] and time.monotonic() - t0 < 2
            threading.Timer(0.3, lambda: other.add("Artist 0/song 00.flac")).start()
            assert "playlist" in p.wait(5.0)
            assert len(p.queue()) == 1  # the same connection answers on


def test_the_radio_command_end_to_end(tmp_path, capsys):
    """``pers-rec radio`` on tiny songs: the library analysed (light runtime), MPD's queue filled and playing, the
    summary printed; an unreachable MPD and a radio with no taste to start from are one line and exit 2."""
    from pers_rec.cli import main
    from pers_rec.errors import EXIT_OK, EXIT_USAGE

    music = tmp_path / "music"
    paths, _ = songs(music, n=6, seconds=20.0)
    likes = tmp_path / "likes.m3u"
    likes.write_text(paths[0] + "\n")
    base = ["--library", str(music), "--cache", str(tmp_path / "cache"), "-q"]
    assert main(["radio", "--mpd", "127.0.0.1:1", *base, "--likes", str(likes)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot connect" in err
    with mpd(tmp_path / "home", music) as (host, port):
        where = f"{host}:{port}"
        assert main(["radio", "--mpd", where, *base]) == EXIT_USAGE  # no model, no likes, no judgements yet
        assert "needs a taste" in capsys.readouterr().err
        assert main(["radio", "--mpd", where, *base, "--likes", str(likes), "--ahead", "2", "--minutes", "0.05"]) == EXIT_OK
        out = capsys.readouterr()
        assert "7 tracks, 1 labels to start from" in out.out and "tracks queued" in out.out  # 6 songs + the stranger
        with players.mpd_player(where) as p:
            assert len(p.queue()) >= 3 and p.status().get("state") == "play"


def test_serve_mpd_plays_the_radio_over_the_served_library_and_follows_the_page(tmp_path, capsys):
    """``serve --mpd`` (:mod:`web.station`): the radio starts once the library has vectors, a thumb given on the
    page reaches its picks before the next look at MPD, and a retrained model rescores its taste."""
    from types import SimpleNamespace

    from pers_rec.cli import main
    from pers_rec.errors import EXIT_USAGE
    from pers_rec.web import station

    music = tmp_path / "music"
    paths, _ = songs(music, n=6, seconds=30.0)
    store = Judgements(tmp_path / "judgements.sqlite")
    rng = np.random.default_rng(1)
    lib = SimpleNamespace(V=None, paths=paths, info=[{"artist": "", "album": ""}] * 6, scores={}, saved=None,
                          store=store)
    lib.labelled = lambda: {paths.index(p): v for p, v in store.weighted().items()}
    store.add(paths[0], 1)
    said = []
    with mpd(tmp_path / "home", music) as (host, port):
        where = f"{host}:{port}"
        stop, holder = station.start(lib, lambda: players.mpd_player(where, 10.0), music, said.append, Rules(0, 0, 0),
                                     wait_s=0.05)
        try:
            time.sleep(0.3)
            assert "station" not in holder  # no vectors yet: it waits for the analysis
            V = rng.normal(size=(6, 4)).astype(np.float32)
            lib.V = V / np.linalg.norm(V, axis=1, keepdims=True)
            assert until(lambda: "station" in holder)
            with players.mpd_player(where) as listener:
                assert until(lambda: len(listener.queue()) >= 3)
            picker = holder["station"].radio
            store.add(paths[4], 0)  # a thumbs-down on the page
            assert until(lambda: picker.labelled.get(4) == (0, 1.0), 10)
            assert picker.scores is None
            lib.scores, lib.saved = {i: {"score": float(i)} for i in range(6)}, object()  # a retrain ranked anew
            assert until(lambda: picker.scores is not None and picker.scores[5] == 1.0, 10)
        finally:
            stop.set()
    assert any("the radio plays in MPD" in s for s in said)
    assert main(["serve", str(music), "--mpd", "127.0.0.1:1", "--cache", str(tmp_path / "c")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot connect" in err


def test_a_radio_that_breaks_in_serve_says_one_line_and_the_page_goes_on(tmp_path):
    """An unexpected error in the radio's thread (here the library's labels cannot be read) ends the radio with
    one line, never a traceback on the listener's terminal."""
    from types import SimpleNamespace

    from pers_rec.web import station

    said = []
    lib = SimpleNamespace(V=np.eye(2, dtype=np.float32), paths=["a", "b"], info=[{"artist": "", "album": ""}] * 2,
                          scores={}, saved=None, store=Judgements(tmp_path / "j.sqlite"))
    lib.labelled = lambda: 1 / 0
    errors = []
    previous, threading.excepthook = threading.excepthook, errors.append
    try:
        station.start(lib, lambda: None, tmp_path, said.append)
        assert until(lambda: said, 10)
    finally:
        threading.excepthook = previous
    assert said == ["pers-rec serve: the radio stopped (ZeroDivisionError: division by zero); the page goes on"]
    assert errors == []
