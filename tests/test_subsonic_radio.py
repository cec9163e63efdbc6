"""The library's side of the Subsonic relay: answers ordered by taste x similarity (checked against the formula),
paths from one song to another, scrobbles turned into skips and completions (stored, and changing the next answer),
and the catalog's matching and re-walks."""

import sqlite3

import numpy as np
import pytest

from pers_rec.library import sequence
from pers_rec.players.judgements import Judgements
from pers_rec.players.subsonic import Song
from pers_rec.radio import subsonic_radio as SR
from pers_rec.radio.picker import WEIGHTS, Radio, Rules


class FakeServer:
    """A Subsonic client's ``songs()``: one song per file (``id`` s0, s1, ...), plus one the library lacks."""

    def __init__(self, paths, extra=True):
        self.walks = 0
        self.songs_ = [Song(f"s{i}", p, f"Artist {i % 3}", f"Song {i}", "", 10.0 + i, False, None, None,
                            {"id": f"s{i}", "title": f"Song {i}", "duration": 10 + i}) for i, p in enumerate(paths)]
        if extra:
            self.songs_.append(Song("gone", "elsewhere/x.flac", "Nobody", "Nothing", "", 5.0, False, None, None,
                                    {"id": "gone"}))

    def songs(self):
        self.walks += 1
        return list(self.songs_)


def setup(tmp_path, n=12, labelled=None, store=True):
    paths = [str(tmp_path / f"t{i:02d}.flac") for i in range(n)]
    rng = np.random.default_rng(1)
    V = rng.normal(size=(n, 6)).astype(np.float32)
    V[n - 1] = 0  # a track that could not be analysed
    V /= np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
    radio = Radio(V, [f"Artist {i % 3}" for i in range(n)], [""] * n, labelled=labelled or {0: (1, 1.0)},
                  rules=Rules(replay_gap=0, artist_gap=0, album_gap=0))
    catalog = SR.Catalog(paths, str(tmp_path))
    server = FakeServer(paths)
    catalog.walk(server)
    said = []
    judgements = Judgements(tmp_path / "j.sqlite") if store else None
    return SR.SonicRadio(radio, catalog, judgements, log=said.append), server, said


def expected(sonic, row, count):
    """The answer computed independently: taste x (cos + 1) / 2 over matched, analysed, not disliked tracks."""
    V, taste = sonic.radio.V, sonic.radio.taste
    score = {r: taste[r] * (V[r] @ V[row] + 1) / 2 for r in range(len(V))
             if r != row and np.linalg.norm(V[r]) > 0 and sonic.radio.labelled.get(r, (1,))[0] != 0}
    return [f"s{r}" for r in sorted(score, key=lambda r: -score[r])[:count]]


def test_similar_songs_are_ordered_by_taste_times_similarity(tmp_path):
    sonic, _, _ = setup(tmp_path, labelled={0: (1, 1.0), 3: (0, 1.0), 7: (1, 1.0)})
    got = sonic.similar("s2", 5)
    assert [m.entry["id"] for m in got] == expected(sonic, 2, 5)
    assert "s3" not in [m.entry["id"] for m in sonic.similar("s2", 50)]  # disliked: never offered
    assert "s11" not in [m.entry["id"] for m in sonic.similar("s2", 50)]  # not analysed: never offered
    V = sonic.radio.V
    for m in got:
        r = int(m.entry["id"][1:])
        assert m.similarity == pytest.approx((V[r] @ V[2] + 1) / 2, abs=1e-4) and 0 <= m.similarity <= 1
    assert len(sonic.similar("s2", 50)) == 9 and sonic.similar("s2", 0) == []


def test_a_sonic_path_starts_and_ends_where_asked_and_avoids_dislikes(tmp_path):
    sonic, _, _ = setup(tmp_path, labelled={0: (1, 1.0), 4: (0, 1.0)})
    got = [m.entry["id"] for m in sonic.path("s1", "s9", 6)]
    assert got[0] == "s1" and got[-1] == "s9" and len(got) == 6 and len(set(got)) == 6 and "s4" not in got
    keep = [r for r in range(12) if r not in (4, 11)]
    want = [f"s{keep[k]}" for k in sequence.join(sonic.radio.V[keep], keep.index(1), keep.index(9), 6)]
    assert got == want
    assert [m.similarity for m in sonic.path("s1", "s9", 6)][0] == pytest.approx(1.0, abs=1e-4)
    assert [m.entry["id"] for m in sonic.path("s5", "s5", 6)] == ["s5"]


def test_scrobbles_become_skips_and_completions_stored_and_learnt(tmp_path):
    sonic, _, said = setup(tmp_path)
    me = ("ann", "DSub")
    before = [m.entry["id"] for m in sonic.similar("s2", 11)]
    assert "s5" in before
    assert sonic.scrobble(me, ["s5"], submission=False, now=100.0) == []  # now playing: nothing yet
    assert sonic.scrobble(me, ["s6"], submission=False, now=104.0) == ["skip"]  # s5 left after 4 s
    assert sonic.scrobble(("bob", "Feishin"), ["s7"], submission=False, now=104.5) == []  # another listener's clock
    assert sonic.scrobble(me, ["s6"], submission=True, now=120.0) == ["complete"]
    assert sonic.scrobble(me, ["s6"], submission=True, now=121.0) == []  # the same play submitted twice: once
    assert sonic.scrobble(me, ["s8"], submission=False, now=121.0) == []  # s6 was already judged
    assert sonic.scrobble(me, ["s6"], submission=True, now=200.0) == ["repeat"]
    assert sonic.scrobble(me, ["gone", "nope"], submission=True) == []  # not library songs: nothing learnt
    after = [m.entry["id"] for m in sonic.similar("s2", 11)]
    assert "s5" not in after and after != before  # the skip changed the next answer
    assert sonic.radio.labelled[5] == WEIGHTS["skip"] and sonic.radio.labelled[6] == WEIGHTS["repeat"]
    db = sqlite3.connect(tmp_path / "j.sqlite")  # another connection: each event was committed
    rows = db.execute("SELECT path, label, source, weight FROM judgements ORDER BY id").fetchall()
    assert [(r[0][-8:], r[1], r[2], r[3]) for r in rows] == [
        ("t05.flac", 0, "radio:skip", 1.0), ("t06.flac", 1, "radio:complete", 0.5), ("t06.flac", 1, "radio:repeat", 1.5)]
    assert len(said) == 3 and "skip (4 of 15 s)" in said[0]


def test_a_paused_or_half_played_track_says_nothing_and_an_unknown_length_completes(tmp_path):
    sonic, _, _ = setup(tmp_path, store=False)
    me = ("ann", "x")
    sonic.catalog.duration["s5"] = 200.0
    sonic.scrobble(me, ["s5"], submission=False, now=0.0)
    assert sonic.scrobble(me, ["s6"], submission=False, now=100.0) == []  # half played: neither skip nor completion
    sonic.catalog.duration["s7"] = None  # the server gave no duration
    assert sonic.scrobble(me, ["s7"], submission=True) == ["complete"]


def test_the_catalog_matches_by_path_and_walks_again_only_for_a_new_id(tmp_path):
    sonic, server, _ = setup(tmp_path)
    cat = sonic.catalog
    assert cat.row["s3"] == 3 and "gone" not in cat.row and cat.unmatched == ["Nobody - Nothing (elsewhere/x.flac)"]
    assert cat.entry["s3"] == {"id": "s3", "title": "Song 3", "duration": 13} and cat.duration["s3"] == 13.0
    assert cat.knows("s3", lambda: server) and server.walks == 1
    assert not cat.knows("new", lambda: server) and server.walks == 1  # walked less than REWALK_S ago
    cat.walked_at -= SR.REWALK_S + 1
    server.songs_.append(Song("new", server.songs_[4].path, "", "", "", 1.0, False, None, None, {"id": "new"}))
    assert cat.knows("new", lambda: server) and server.walks == 2 and cat.row["new"] == 4
    assert cat.id_of[4] == "s4"  # the first id of a file answers for it
