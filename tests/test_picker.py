"""The radio's label rules and picks: outcomes at their edges, variety rules never broken, and events that change
what comes next."""

import numpy as np
import pytest

from pers_rec.library import active
from pers_rec.radio import picker as radio
from pers_rec.radio.picker import Radio, Rules, outcome


@pytest.mark.parametrize("played, duration, repeat, want", [
    (5, 200, False, "skip"),        # before 30 s
    (45, 200, False, "skip"),       # past 30 s but before a quarter
    (60, 200, False, None),         # between: says nothing
    (159, 200, False, None),
    (160, 200, False, "complete"),  # 80 %
    (200, 200, True, "repeat"),
    (20, 20, False, "complete"),    # a 20 s track played to its end is no skip
    (10, 20, False, "skip"),
    (10, None, False, "skip"),      # a stream: only an early skip says something
    (100, None, False, None),
])
def test_outcomes_at_their_edges(played, duration, repeat, want):
    assert outcome(played, duration, repeat) == want


def clusters(n=6, dim=8, seed=0):
    """Two tight clusters of ``n`` tracks each (A: rows 0..n-1, B: n..2n-1), L2-normalised, one album each."""
    rng = np.random.default_rng(seed)
    a, b = np.eye(dim)[0], np.eye(dim)[1]
    V = np.r_[a + 0.15 * rng.normal(size=(n, dim)), b + 0.15 * rng.normal(size=(n, dim))]
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    artists = [f"artist {i % 4}" for i in range(2 * n)]
    albums = [f"album {i}" for i in range(2 * n)]
    return V.astype(np.float32), artists, albums


def test_the_variety_rules_are_never_broken():
    V, artists, albums = clusters()
    albums = [f"album {i // 2}" for i in range(len(V))]
    r = Radio(V, artists, albums, labelled={0: (1, 1.0), 6: (1, 1.0), 3: (0, 1.0)},
              rules=Rules(replay_gap=5, artist_gap=2, album_gap=3))
    picks = []
    for _ in range(40):
        picks += r.pick(picks[-1] if picks else None, 1)
    assert len(picks) == 40 and 3 not in picks  # the disliked track never comes
    for i, p in enumerate(picks):
        assert p not in picks[max(0, i - 5):i]
        assert artists[p] not in {artists[q] for q in picks[max(0, i - 2):i]}
        assert albums[p] not in {albums[q] for q in picks[max(0, i - 3):i]}
    tight = Radio(V[:2], ["x", "x"], ["", ""], labelled={0: (1, 1.0)}, rules=Rules(artist_gap=1))
    assert tight.pick(None, 3) == [0]  # fewer picks rather than a broken rule


def test_skips_turn_the_radio_away_and_completions_bring_it_back():
    V, artists, albums = clusters()
    r = Radio(V, artists, albums, labelled={0: (1, 1.0), 6: (1, 1.0)}, rules=Rules(replay_gap=0, artist_gap=0,
                                                                                       album_gap=0))
    before = r.taste.copy()
    for row in (1, 2, 4):
        assert r.heard(row, 3.0, 200.0) == "skip"
    assert r.labelled[1] == radio.WEIGHTS["skip"]
    assert r.taste[:6].mean() < before[:6].mean() and r.taste[6:].mean() > r.taste[:6].mean()
    assert set(r.pick(None, 3)) <= set(range(6, 12))  # cluster B now
    assert r.heard(7, 190.0, 200.0) == "complete" and r.heard(7, 200.0, 200.0) == "repeat"
    assert r.labelled[7] == radio.WEIGHTS["repeat"]


def test_the_learner_weighs_events_as_sklearn_does():
    """``active.learner`` with weights equals a weighted logistic regression fitted independently."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    V, _, _ = clusters()
    labelled, weights = {0: 1, 1: 0, 6: 1, 7: 0, 8: 1}, {1: 1.0, 7: 0.5, 8: 1.5}
    got = active.fit(V, labelled, weights=weights)
    rows = np.array(sorted(labelled))
    y = np.array([labelled[r] for r in rows])
    w = np.array([weights.get(r, 1.0) for r in rows])
    sc = StandardScaler().fit(V[rows])
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=0)
    clf.fit(sc.transform(V[rows]), y, sample_weight=w)
    assert np.allclose(got, clf.predict_proba(sc.transform(V))[:, 1], atol=1e-9)
    assert not np.allclose(got, active.fit(V, labelled))  # the weights matter


def test_baseline_modes():
    V, artists, albums = clusters()
    rules = Rules(replay_gap=1, artist_gap=0, album_gap=0)
    similar = Radio(V, artists, albums, mode="similar", rules=rules)
    similar.queued(8)  # playing now
    sims = V @ V[8]
    sims[8] = -np.inf
    assert similar.pick(8, 1) == [int(np.argmax(sims))]  # the nearest track, whatever the taste
    static = Radio(V, artists, albums, scores=np.arange(12.0), mode="static", rules=rules)
    assert static.pick(None, 1) == [11]  # the ranking's top
    static.heard(11, 1.0, 200.0)  # no learning: the taste stays the ranking's
    assert np.array_equal(static.taste, radio._ranks(np.arange(12.0)))
    rnd = Radio(V, artists, albums, mode="random", rules=Rules(replay_gap=12, artist_gap=0, album_gap=0))
    assert sorted(rnd.pick(None, 12)) == list(range(12))
    with pytest.raises(ValueError):
        Radio(V, artists, albums, mode="loud")


def test_a_track_that_failed_analysis_is_never_picked():
    V, artists, albums = clusters()
    V[2] = 0
    r = Radio(V, artists, albums, labelled={0: (1, 1.0)}, rules=Rules(replay_gap=12, artist_gap=0, album_gap=0))
    assert 2 not in r.pick(None, 12) and len(r.pick(None, 1)) == 0
