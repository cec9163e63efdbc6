"""The judgements store: durable rows, the latest wins, weights and sources (the radio's events), older files."""

import sqlite3

import pytest

from pers_rec.players.judgements import Judgements, library_home


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


def test_weights_and_sources_travel_to_training(tmp_path):
    store = Judgements(tmp_path / "j.sqlite")
    store.add("/a.flac", 0, source="radio:skip", weight=1.0)
    store.add("/b.flac", 1, source="radio:complete", weight=0.5)
    store.add("/b.flac", 1, source="radio:repeat", weight=1.5)  # the latest wins
    store.add("/c.flac", 1)
    assert store.weighted() == {"/a.flac": (0, 1.0, "radio:skip"), "/b.flac": (1, 1.5, "radio:repeat"),
                                "/c.flac": (1, 1.0, "serve")}
    assert store.csv_text().splitlines()[1:] == ["/a.flac,0,1.0,radio:skip", "/b.flac,1,1.5,radio:repeat",
                                                 "/c.flac,1,1.0,serve"]
    assert [r[1:] for r in store.since(2)] == [("/b.flac", 1, "radio:repeat"), ("/c.flac", 1, "serve")]
    for bad in (0, -1, float("nan"), "1", 1e9):
        with pytest.raises(ValueError):
            store.add("/d.flac", 1, weight=bad)


def test_a_file_from_before_weights_keeps_its_judgements(tmp_path):
    old = sqlite3.connect(tmp_path / "j.sqlite")
    old.execute("CREATE TABLE judgements (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL, label INTEGER, "
                "at REAL NOT NULL, source TEXT NOT NULL)")
    old.execute("INSERT INTO judgements (path, label, at, source) VALUES ('/a.flac', 1, 0, 'serve')")
    old.commit()
    old.close()
    store = Judgements(tmp_path / "j.sqlite")
    assert store.weighted() == {"/a.flac": (1, 1.0, "serve")}
    store.add("/b.flac", 0, source="radio:skip", weight=1.0)
    assert store.labels() == {"/a.flac": 1, "/b.flac": 0}


def test_each_library_has_its_own_home(tmp_path):
    (tmp_path / "a" / "Music").mkdir(parents=True)
    (tmp_path / "b" / "Music").mkdir(parents=True)
    homes = {library_home(tmp_path / "cache", tmp_path / x / "Music") for x in "ab"}
    assert len(homes) == 2 and all(h.name.startswith("Music-") for h in homes)
