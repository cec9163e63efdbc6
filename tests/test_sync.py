"""The player use-cases with explicit arguments (no argparse namespace): matching by path map and by tags,
histories to plays, playlists pushed; the real servers' round trips are in test_subsonic and test_mpd_player."""

import json
from types import SimpleNamespace

import soundfile as sf
from conftest import tag, tone

from pers_rec.players import sync as players


def song(i, path="", artist="", title="", duration=None, starred=False):
    return SimpleNamespace(id=str(i), path=path, artist=artist, title=title, duration=duration, starred=starred,
                           rating=None, plays=None)


def test_songs_match_by_path_map_then_by_tags(tmp_path):
    music = tmp_path / "music"
    (music / "A").mkdir(parents=True)
    for name, artist, title in (("one.wav", "Band", "One"), ("two.wav", "Band", "Two")):
        sf.write(music / "A" / name, tone(440, 3.0, 8000), 8000)
        tag(music / "A" / name, artist=artist, title=title)
    paths = sorted((music / "A").glob("*.wav"))
    songs = [song(1, "/srv/music/A/one.wav"), song(2, "elsewhere/x.wav", "band", "TWO", 3.2),
             song(3, "", "Nobody", "Nothing")]
    local, unmatched, how = players.match_songs(songs, paths, library=str(music), path_map=[("/srv/music", str(music))])
    assert local == {"1": str(music / "A" / "one.wav"), "2": str(music / "A" / "two.wav")}
    assert how == {"path": 1, "tags": 1} and unmatched == ["Nobody - Nothing (3)"]


def test_a_history_becomes_plays_of_the_files_its_tags_name(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    sf.write(music / "a.wav", tone(440, 3.0, 8000), 8000)
    tag(music / "a.wav", artist="Band", title="Song")
    history = tmp_path / "listens.jsonl"
    listen = {"track_metadata": {"artist_name": "Band", "track_name": "Song"}}
    history.write_text("\n".join([json.dumps(listen)] * 3 + ["1", json.dumps({"track_metadata": {
        "artist_name": "X", "track_name": "Y"}})]) + "\n")
    got = players.from_history(history, [music / "a.wav"])
    assert [(s.path, s.plays) for s in got.signals] == [(str(music / "a.wav"), 3)]
    assert got.unmatched == ["X - Y (1 listens)"] and got.how == {"tags": 1}
    assert any("1 entries were not listens" in n for n in got.notes)


def test_push_subsonic_writes_the_matched_ids_in_order(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    files = []
    for i in range(3):
        p = music / f"t{i}.wav"
        sf.write(p, tone(300 + 50 * i, 2.0, 8000), 8000)
        files.append(str(p))
    written = {}
    client = SimpleNamespace(songs=lambda: [song(10 + i, f"t{i}.wav") for i in (2, 0)],
                             write_playlist=lambda name, ids: written.update({name: ids}))
    n = players.push_subsonic(client, "top", files, files, library=str(music))
    assert n == 2 and written == {"top": ["10", "12"]}  # t1 is not on the server: left out
