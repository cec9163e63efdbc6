"""The Subsonic client against a real server (Debian's supysonic on the loopback), and its error handling."""

import hashlib
import os
import re
import stat

import numpy as np
import pytest
import soundfile as sf
from conftest import tag, tone
from servers import PASSWORD, USER, free_port, supysonic

from pers_rec.errors import ParameterError
from pers_rec.players import subsonic as Su


def library(root, n=8):
    """``n`` tagged 2 s FLAC songs in artist folders; returns their paths."""
    paths = []
    for i in range(n):
        p = root / f"Artist {i % 3}" / f"song {i:02d}.flac"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, tone(200 + 40 * i, 2.0 + 0.5 * (i % 2), 16000), 16000)
        tag(p, artist=f"Artist {i % 3}", title=f"Song {i:02d}", album=f"Album {i % 3}")
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("subsonic")
    paths = library(root / "music")
    with supysonic(root / "home", root / "music") as url:
        yield {"url": url, "music": root / "music", "paths": paths}


@pytest.mark.slow  # a real supysonic
def test_stars_ratings_and_a_playlist_round_trip(server):
    c = Su.Client(server["url"], USER, PASSWORD)
    version = c.ping()  # whatever Debian's supysonic is: tokens exactly when its API has them (1.13.0 and later)
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    assert c.tokens == (tuple(int(x) for x in version.split(".")) >= (1, 13, 0))  # else the password, on loopback
    songs = {s.title: s for s in c.songs()}
    assert len(songs) == 8 and songs["Song 03"].path == "Artist 0/song 03.flac"
    assert songs["Song 03"].duration == pytest.approx(2.5, abs=1)
    for t in ("Song 01", "Song 04", "Song 06"):
        c.call("star", id=songs[t].id)
    c.call("setRating", id=songs["Song 02"].id, rating=5)
    c.call("setRating", id=songs["Song 05"].id, rating=1)
    assert {s.title for s in c.starred()} == {"Song 01", "Song 04", "Song 06"}
    again = {s.title: s for s in c.songs()}
    assert {t for t, s in again.items() if s.starred} == {"Song 01", "Song 04", "Song 06"}
    assert {t: s.rating for t, s in again.items() if s.rating} == {"Song 02": 5, "Song 05": 1}
    order = [again[t].id for t in ("Song 07", "Song 00", "Song 05")]
    pid = c.write_playlist("pers_rec top", order)
    assert [s.id for s in c.playlist(pid)] == order
    assert c.write_playlist("pers_rec top", order[::-1]) == pid  # replaced, not a second playlist
    assert [s.id for s in c.playlist(pid)] == order[::-1] and list(c.playlists()).count("pers_rec top") == 1


@pytest.mark.slow  # a real supysonic
def test_wrong_password_and_unreachable_server_are_one_line_errors(server):
    with pytest.raises(Su.SubsonicError, match="wrong user name or password"):
        Su.Client(server["url"], USER, "nope").ping()
    with pytest.raises(Su.SubsonicError, match=r"127.0.0.1:\d+: cannot reach the server \(connection refused\)"):
        Su.Client(f"http://127.0.0.1:{free_port()}", USER, PASSWORD, retries=0).ping()
    with pytest.raises(Su.SubsonicError, match="not a Subsonic API answer"):
        Su.Client(server["url"] + "/nothing-here", USER, PASSWORD, retries=0).ping()
    with pytest.raises(ParameterError, match="not an http"):
        Su.Client("ftp://x", USER, PASSWORD)


def test_the_token_is_the_md5_of_password_and_salt_and_the_password_never_travels():
    c = Su.Client("https://music.example.org", USER, PASSWORD)
    a = c._auth()
    assert a["v"] == Su.TOKEN_VERSION and "p" not in a and len(a["s"]) == 16
    assert a["t"] == hashlib.md5((PASSWORD + a["s"]).encode()).hexdigest()
    assert c._auth()["s"] != a["s"]  # a fresh salt per request
    c.tokens = False
    assert c._auth()["p"] == "enc:" + PASSWORD.encode().hex()


def test_the_password_comes_from_the_environment_or_a_private_file(tmp_path, monkeypatch):
    monkeypatch.delenv(Su.PASSWORD_ENV, raising=False)
    with pytest.raises(ParameterError, match="PERS_REC_SUBSONIC_PASSWORD"):
        Su.password()
    monkeypatch.setenv(Su.PASSWORD_ENV, "from env")
    assert Su.password() == "from env"
    f = tmp_path / "pw"
    f.write_text("from file\nignored\n")
    os.chmod(f, 0o644)
    with pytest.raises(ParameterError, match="readable by others.*chmod 600"):
        Su.password(f)
    os.chmod(f, stat.S_IRUSR | stat.S_IWUSR)
    assert Su.password(f) == "from file"
    with pytest.raises(ParameterError, match="cannot read"):
        Su.password(tmp_path / "missing")


@pytest.mark.slow  # a real supysonic
def test_likes_from_subsonic_by_path_and_by_tags_then_rank_writes_the_playlist_back(server, tmp_path, monkeypatch,
                                                                                       capsys):
    """The CLI end to end: every song matched (by path, then with a wrong path map by tags), the CSV's labels
    from the stars and ratings set in the first test, a model trained on it, and rank's playlist in the server."""
    import csv

    from pers_rec.cli import main

    monkeypatch.setenv(Su.PASSWORD_ENV, PASSWORD)
    lib, out = str(server["music"]), tmp_path / "likes.csv"
    c = Su.Client(server["url"], USER, PASSWORD)
    songs = {s.title: s for s in c.songs()}
    for t in ("Song 00", "Song 03"):  # (the module's first test starred 01, 04, 06 and rated 02: 5, 05: 1)
        c.call("star", id=songs[t].id)
    c.call("setRating", id=songs["Song 02"].id, rating=5)
    c.call("setRating", id=songs["Song 05"].id, rating=1)
    assert main(["likes", "subsonic", server["url"], "--user", USER, "--library", lib, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "matched 8 of 8 subsonic songs" in printed and "8 by path" in printed
    rows = list(csv.DictReader(out.open()))
    by_title = {os.path.basename(r["path"]): r for r in rows}
    assert {k for k, r in by_title.items() if r["label"] == "1"} >= {"song 00.flac", "song 03.flac", "song 02.flac"}
    assert by_title["song 05.flac"]["label"] == "0" and by_title["song 05.flac"]["signal"] == "rating"
    assert by_title["song 00.flac"]["signal"] == "starred"
    assert main(["likes", "subsonic", server["url"], "--user", USER, "--library", lib, "--out", str(out),
                 *(f"--path-map=Artist {i}=/nowhere/{i}" for i in range(3))]) == 0  # no file there: tags
    assert "8 by tags" in capsys.readouterr().out and list(csv.DictReader(out.open())) == rows
    model = tmp_path / "m.keras"
    assert main(["train", "--likes", str(out), "--library", lib, "--model", str(model), "--epochs", "1",
                 "--folds", "2", "--no-teacher", "--jobs", "1", "--quiet", "--cache", str(tmp_path / "c")]) == 0
    assert main(["rank", lib, "--model", str(model), "--out", str(tmp_path / "r.csv"), "--m3u",
                 str(tmp_path / "top.m3u8"), "--include-liked", "--min-track-s", "0", "--jobs", "1", "--quiet",
                 "--cache", str(tmp_path / "c"), "--to-subsonic", "pers_rec", "--subsonic", server["url"],
                 "--user", USER]) == 0
    from pers_rec.players.playlists import read_labelled

    want = [p for p, _ in read_labelled(tmp_path / "top.m3u8", 1)]
    got = c.playlist(c.playlists()["pers_rec"])
    assert [os.path.join(lib, s.path) for s in got] == want and len(want) == 8
    assert np.isfinite([float(r["weight"]) for r in rows]).all()
