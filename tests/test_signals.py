"""From player signals to weighted labels, matching by path and tags, and listening-history files."""

import json
import math
import os

import numpy as np
import pytest
import soundfile as sf
from conftest import tag, tone

from pers_rec.errors import PlaylistError
from pers_rec.learn.dataset import Track, track_weights
from pers_rec.players import signals as S
from pers_rec.players.playlists import read_labelled


def test_labels_follow_the_documented_rules_and_weights():
    sigs = [S.Signal("/a", starred=True, plays=4), S.Signal("/b", rating=4.5), S.Signal("/c", rating=3, plays=50),
            S.Signal("/d", rating=2), S.Signal("/e", loved=False, skips=2), S.Signal("/f", plays=3),
            S.Signal("/g", plays=2), S.Signal("/h", skips=5, plays=1), S.Signal("/i", skips=3, plays=3),
            S.Signal("/j", loved=True), S.Signal("/k", rating=1.5, starred=False)]
    got = {p: (lab, w, sig) for p, lab, w, sig in S.labels(sigs, min_plays=3)}
    assert got["/a"] == (1, pytest.approx(1 + math.log(5)), "starred")
    assert got["/b"] == (1, 1.0, "rating") and got["/j"] == (1, 1.0, "loved")
    assert got["/d"] == (0, 1.0, "rating") and got["/k"][:1] == (0,)
    assert got["/e"] == (0, pytest.approx(1 + math.log(3)), "hated")
    assert got["/f"] == (1, 1.0, "plays")  # at the threshold: weight 1
    assert got["/h"] == (0, pytest.approx(math.log(6) / math.log(4)), "skips")
    assert "/c" not in got and "/g" not in got and "/i" in got and got["/i"][0] == 1  # 3 stars: unlabelled


def test_the_likes_csv_round_trips_with_weights_and_training_uses_them(tmp_path):
    rows = [(str(tmp_path / "a.wav"), 1, 2.5, "plays"), (str(tmp_path / "b.wav"), 0, 1.0, "rating"),
            (str(tmp_path / "c.wav"), 1, 1.0, "starred")]
    S.write_csv(tmp_path / "likes.csv", rows)
    extras = {}
    assert read_labelled(tmp_path / "likes.csv", 1, extras) == [(p, lab) for p, lab, _, _ in rows]
    assert extras == {p: (w, sig) for p, _, w, sig in rows}
    tracks = [Track(p, lab, "like" if lab else "dislike", np.zeros((1, 1)), w, sig) for p, lab, w, sig in rows]
    tracks.append(Track("/u", 0, "unlabelled", np.zeros((1, 1))))
    w = track_weights(tracks, unlabelled_weight=0.5)
    assert w[0] / w[2] == pytest.approx(2.5) and w[3] / w[1] == pytest.approx(0.5)
    assert w[[0, 2]].sum() == pytest.approx(2) and w[[1, 3]].sum() == pytest.approx(2)  # classes still balanced
    (tmp_path / "bad.csv").write_text("path,label,weight\na.wav,1,-2\n")
    with pytest.raises(PlaylistError, match=r"bad.csv:2: weight '-2' is not a positive number"):
        read_labelled(tmp_path / "bad.csv", 1)


def test_server_paths_map_to_local_ones():
    assert S.map_path("/srv/music/A/x.flac", [("/srv/music", "/home/me/Music")], "/lib") == "/home/me/Music/A/x.flac"
    assert S.map_path("/srv/musicals/x.flac", [("/srv/music", "/m")], "/lib") == "/srv/musicals/x.flac"  # whole names
    assert S.map_path("A/x.flac", [], "/lib") == "/lib/A/x.flac"
    assert S.map_path("C:\\Music\\A\\x.flac", [("C:/Music", "/m")], "/lib") == "/m/A/x.flac"


def test_tags_are_normalised_for_matching():
    assert S.norm("The Beatles") == S.norm("beatles") == "beatles"
    assert S.norm("Café del Mar (Remastered 2011) [Live]") == S.norm("CAFE DEL MAR") == "cafedelmar"
    assert S.norm("Ｆｕｌｌ－ｗｉｄｔｈ") == "fullwidth" and S.norm("") == ""


def test_tag_index_matches_artist_title_and_duration(tmp_path):
    paths = []
    for name, artist, title, secs in [("a", "The Band", "Song (Live)", 2.0), ("b", "Band", "Other", 2.0),
                                      ("c", "Twin", "Same", 2.0), ("d", "Twin", "Same", 6.0), ("e", "", "", 2.0)]:
        p = tmp_path / f"{name}.flac"
        sf.write(p, tone(300, secs, 8000), 8000)
        if artist:
            tag(p, artist=artist, title=title)
        paths.append(p)
    idx = S.TagIndex(paths)
    assert idx.find("band", "song") == str(paths[0])
    assert idx.find("Band", "Song", duration=30.0) is None  # too long to be that file
    assert idx.find("Twin", "Same") is None  # two files: ambiguous
    assert idx.find("Twin", "Same", duration=6.5) == str(paths[3])
    assert idx.find("Nobody", "Nothing") is None


def test_listening_histories_from_listenbrainz_and_lastfm(tmp_path):
    lb = tmp_path / "listens.jsonl"
    listens = [{"listened_at": 1, "track_metadata": {"artist_name": "A", "track_name": "x"}},
               {"listened_at": 2, "track_metadata": {"artist_name": "B", "track_name": "y"}},
               {"listened_at": 3, "track_metadata": {"track_name": "no artist"}}]
    lb.write_text("".join(json.dumps(x) + "\n" for x in listens))
    assert S.read_listens(lb)[0] == [("A", "x"), ("B", "y")]
    (tmp_path / "listens.json").write_text(json.dumps(listens))
    assert S.read_listens(tmp_path / "listens.json")[0] == [("A", "x"), ("B", "y")]
    (tmp_path / "scrobbles.csv").write_text("A,Album,x,01 Jan 2020 10:00\nB,,y,02 Jan 2020 10:00\n")
    assert S.read_listens(tmp_path / "scrobbles.csv")[0] == [("A", "x"), ("B", "y")]
    (tmp_path / "head.csv").write_text("uts,utc_time,artist,album,track\n1,x,A,Al,x\n")
    assert S.read_listens(tmp_path / "head.csv")[0] == [("A", "x")]
    (tmp_path / "bad.jsonl").write_text(json.dumps(listens[0]) + "\n{oops\n")
    with pytest.raises(PlaylistError, match=r"bad.jsonl:2: not a ListenBrainz listen"):
        S.read_listens(tmp_path / "bad.jsonl")
    (tmp_path / "short.csv").write_text("A,x\n")
    with pytest.raises(PlaylistError, match=r"short.csv:1: 2 fields"):
        S.read_listens(tmp_path / "short.csv")


def test_likes_from_a_listening_history_on_the_command_line(tmp_path, capsys):
    from pers_rec.cli import main

    lib = tmp_path / "music"
    lib.mkdir()
    for i in range(3):
        sf.write(lib / f"{i}.flac", tone(300 + 100 * i, 1.5, 8000), 8000)
        tag(lib / f"{i}.flac", artist="Artist", title=f"Title {i}")
    (tmp_path / "h.csv").write_text("Artist,,Title 0,d\n" * 4 + "artist,,title 1,d\n" + "Gone,,Missing,d\n" * 2)
    out = tmp_path / "likes.csv"
    assert main(["likes", "lastfm", str(tmp_path / "h.csv"), "--library", str(lib), "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert "read 7 listens" in cap.out and "5 matched" in cap.out and "1 likes, 0 dislikes (like from plays 1)" in cap.out
    assert "1 not matched (e.g. Gone - Missing (2 listens))" in cap.err
    assert (tmp_path / "likes.unmatched.txt").read_text() == "Gone - Missing (2 listens)\n"
    assert read_labelled(out, 1) == [(os.path.realpath(lib / "0.flac"), 1)]
    assert main(["likes", "lastfm", "--library", str(lib)]) == 2  # no file given: a usage error


@pytest.mark.parametrize("line", ["1", '"x"', "null", "[]", '{"track_metadata": 5}',
                                  '{"track_metadata": {"artist_name": 1, "track_name": ["y"]}}'])
def test_a_history_line_that_is_not_a_listen_is_skipped_and_counted(tmp_path, line):
    lb = tmp_path / "listens.jsonl"
    good = json.dumps({"track_metadata": {"artist_name": "A", "track_name": "x"}})
    lb.write_text(f"{good}\n{line}\n{good}\n")
    assert S.read_listens(lb) == ([("A", "x"), ("A", "x")], 1)


def test_deep_nesting_and_huge_lines_in_a_history_are_one_line_errors(tmp_path):
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "\n")
    with pytest.raises(PlaylistError, match=r"deep.jsonl:1: not a ListenBrainz listen \(nested too deep\)"):
        S.read_listens(deep)
    deep_array = tmp_path / "deep.json"
    deep_array.write_text("[" * 100_000)
    with pytest.raises(PlaylistError, match="nested too deep"):
        S.read_listens(deep_array)
    huge = tmp_path / "huge.jsonl"
    with open(huge, "w") as f:
        f.write('{"x": "' + "a" * (S.MAX_LINE + 10) + '"}\n')
    with pytest.raises(PlaylistError, match=r"huge.jsonl:1: a line over 1 MB"):
        S.read_listens(huge)


def test_an_unclosed_quote_in_a_scrobble_csv_names_its_line(tmp_path):
    f = tmp_path / "scrobbles.csv"
    rows = ["A,Al,x,01 Jan 2020", '"B,Al,y,02 Jan 2020'] + [f"C{i},Al,z{i},03 Jan 2020" for i in range(10)]
    f.write_text("\n".join(rows) + "\n")
    with pytest.raises(PlaylistError, match=r"scrobbles.csv:2: an unclosed quote"):
        S.read_listens(f)
    f.write_text('A,12" Mix,x,01 Jan 2020\n"B, the band",Al,y,02 Jan 2020\n')  # a stray quote, a quoted comma
    assert S.read_listens(f) == ([("A", "x"), ("B, the band", "y")], 0)


def test_one_row_per_file_and_contradictions_stay_unlabelled():
    sigs = [S.Signal("/a.flac", starred=True, plays=2), S.Signal("/a.flac", rating=1.0, plays=1),  # contradiction
            S.Signal("/b.flac", starred=True, plays=3), S.Signal("/b.flac", plays=4),  # one file, two albums
            S.Signal("/c.flac", rating=2.0), S.Signal("/c.flac", loved=False, skips=3)]
    rows = S.labels(sigs)
    assert [(p, lab, sig) for p, lab, _, sig in rows] == [("/b.flac", 1, "starred"), ("/c.flac", 0, "hated")]
    assert rows[0][2] == pytest.approx(1 + np.log1p(7))  # the plays of both entries


def test_the_likes_csv_escapes_control_characters_and_reads_back_exactly(tmp_path):
    from pers_rec.players.playlists import read_labelled

    names = ["plain.flac", "new\nline.flac", "esc\x1b[31mred.flac", "tab\there.flac"]
    files = []
    for name in names:
        p = tmp_path / name
        p.write_bytes(b"x")
        files.append(str(p))
    out = tmp_path / "likes.csv"
    S.write_csv(out, [(p, 1, 1.0, "starred\x1b[2J") for p in files])
    text = out.read_text()
    assert "\x1b" not in text and text.count("\n") == len(files) + 1  # one line per row, no raw escape codes
    assert sorted(p for p, _ in read_labelled(out, 1)) == sorted(os.path.realpath(p) for p in files)


def test_the_unmatched_report_escapes_what_a_terminal_would_act_on(tmp_path):
    from pers_rec.cli import main

    music = tmp_path / "music"
    music.mkdir()
    sf.write(music / "a.wav", tone(440, 2.0, 8000), 8000)
    history = tmp_path / "listens.jsonl"
    history.write_text(json.dumps({"track_metadata": {"artist_name": "\x1b[2J\x1b[31mEvil\nBand",
                                                      "track_name": "Song\r"}}) + "\n")
    assert main(["likes", "listenbrainz", str(history), "--library", str(music), "--out", str(tmp_path / "l.csv")]) == 0
    text = (tmp_path / "l.unmatched.txt").read_text()
    assert "\x1b" not in text and "\r" not in text and text.count("\n") == 1 and "Evil" in text
