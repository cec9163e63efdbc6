"""MPD's stickers and stored playlists against a real mpd started on the loopback, and the likes it makes."""

import csv
import os

import pytest
from servers import mpd
from test_subsonic import library

from pers_rec.players import mpd_player as M


@pytest.fixture(scope="module")
def player(tmp_path_factory):
    root = tmp_path_factory.mktemp("mpd")
    paths = library(root / "music")
    with mpd(root / "home", root / "music") as (host, port):
        yield {"host": host, "port": port, "music": root / "music", "paths": paths}


@pytest.mark.slow  # a real mpd
def test_a_file_name_with_a_newline_cannot_inject_a_command(player):
    with M.Player(player["host"], player["port"]) as p:
        p.write_playlist("victim", ["Artist 0/song 00.flac"])
        hostile = ["nice song\nrm victim\n.wav", "a\rrm victim", "b\0c", "Artist 1/song 01.flac"]
        assert p.write_playlist("top", hostile) == 3  # left out, and counted
        assert p.playlist("victim") == ["Artist 0/song 00.flac"]  # the listener's playlist survives
        assert p.playlist("top") == ["Artist 1/song 01.flac"]
        for name in ("x\nrm victim", "y\0"):
            with pytest.raises(M.MPDError, match="newline"):
                p.write_playlist(name, ["Artist 1/song 01.flac"])
        assert p.playlist("victim") == ["Artist 0/song 00.flac"]


@pytest.mark.slow  # a real mpd
def test_stickers_read_exactly_and_a_stored_playlist_round_trips(player):
    with M.Player(player["host"], player["port"]) as p:
        p.set_sticker("Artist 0/song 00.flac", "rating", 10)
        p.set_sticker("Artist 1/song 01.flac", "rating", 3)
        p.set_sticker("Artist 2/song 02.flac", "like", 2)
        p.set_sticker("Artist 0/song 03.flac", "like", 0)
        p.set_sticker("Artist 1/song 04.flac", "playCount", 7)
        p.set_sticker("Artist 1/song 04.flac", "skipCount", 1)
        p.set_sticker("Artist 2/song 05.flac", "skipCount", 9)
        got = {s.uri: s for s in p.stickers()}
        assert set(got) == {"Artist 0/song 00.flac", "Artist 1/song 01.flac", "Artist 2/song 02.flac",
                            "Artist 0/song 03.flac", "Artist 1/song 04.flac", "Artist 2/song 05.flac"}
        assert got["Artist 0/song 00.flac"].rating == 5.0 and got["Artist 1/song 01.flac"].rating == 1.5
        assert got["Artist 2/song 02.flac"].like == 2 and got["Artist 0/song 03.flac"].like == 0
        assert (got["Artist 1/song 04.flac"].plays, got["Artist 1/song 04.flac"].skips) == (7, 1)
        uris = ["Artist 1/song 07.flac", "Artist 0/song 00.flac", "Artist 1/song 04.flac"]
        p.write_playlist("pers_rec top", uris)
        assert p.playlist("pers_rec top") == uris
        p.write_playlist("pers_rec top", uris[::-1])  # replaced
        assert p.playlist("pers_rec top") == uris[::-1]
        with pytest.raises(M.MPDError, match="hold '/'"):
            p.write_playlist("a/b", uris)


@pytest.mark.slow  # a real mpd
def test_likes_from_mpd_and_rank_to_mpd(player, tmp_path, capsys):
    from pers_rec.cli import main

    lib, out = str(player["music"]), tmp_path / "likes.csv"
    where = f"{player['host']}:{player['port']}"
    assert main(["likes", "mpd", where, "--library", lib, "--out", str(out)]) == 0
    rows = {os.path.basename(r["path"]): r for r in csv.DictReader(out.open())}
    # 5 stars, loved, 7 plays: likes; 1.5 stars, hated, 9 skips (0 plays): dislikes
    assert {k: (r["label"], r["signal"]) for k, r in rows.items()} == {
        "song 00.flac": ("1", "rating"), "song 02.flac": ("1", "loved"), "song 04.flac": ("1", "plays"),
        "song 01.flac": ("0", "rating"), "song 03.flac": ("0", "hated"), "song 05.flac": ("0", "skips")}
    from helpers import saved_model

    from pers_rec.model.checkpoint import save

    model = tmp_path / "m.keras"
    save(model, saved_model())
    assert main(["rank", lib, "--model", str(model), "--out", str(tmp_path / "r.csv"), "--m3u", str(tmp_path / "t.m3u8"),
                 "--min-track-s", "0", "--top", "5", "--jobs", "1", "--quiet", "--to-mpd", "ranked", "--mpd", where]) == 0
    assert "wrote MPD playlist 'ranked': 5 of 5 tracks" in capsys.readouterr().out
    from pers_rec.players.playlists import read_labelled

    want = [os.path.relpath(p, lib) for p, _ in read_labelled(tmp_path / "t.m3u8", 1)]
    with M.Player(player["host"], player["port"]) as p:
        assert p.playlist("ranked") == want


def test_unreachable_mpd_and_uris_outside_the_music_folder(tmp_path):
    from servers import free_port

    pytest.importorskip("mpd")
    with pytest.raises(M.MPDError, match=r"MPD at 127.0.0.1:\d+: cannot connect"):
        M.Player("127.0.0.1", free_port())
    assert M.uri_of(str(tmp_path / "m" / "a b" / "c.flac"), tmp_path / "m") == "a b/c.flac"
    assert M.uri_of(str(tmp_path / "elsewhere.flac"), tmp_path / "m") is None
