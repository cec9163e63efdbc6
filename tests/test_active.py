"""The ask-me queue: uncertainty, diversity, one per album, the top mode, and the quick learner."""

import numpy as np

from pers_rec.library import active


def _vectors(n=60, seed=0):
    rng = np.random.default_rng(seed)
    V = rng.normal(size=(n, 8))
    V[: n // 2, 0] += 3  # the first half is the "liked" side
    return V / np.linalg.norm(V, axis=1, keepdims=True)


def test_the_quick_learner_separates_and_uses_the_library_as_negatives():
    V = _vectors()
    assert active.fit(V, {}) is None and active.fit(V, {5: 0}) is None  # no like: nothing to learn
    p = active.fit(V, {0: 1, 1: 1, 2: 1})  # likes only: the rest stand in for negatives
    assert p.shape == (60,) and p[:30].mean() > p[30:].mean() + 0.2
    model = active.learner(V, {0: 1, 1: 1, 40: 0, 41: 0})
    assert np.allclose(model(V), active.fit(V, {0: 1, 1: 1, 40: 0, 41: 0}))


def test_ask_prefers_uncertain_tracks_and_spreads_them():
    rng = np.random.default_rng(1)
    V = np.tile([1.0, 0, 0, 0], (40, 1)) + rng.normal(scale=1e-3, size=(40, 4))  # one tight cluster: no diversity
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    p = np.full(40, 0.99)
    p[[10, 11, 12]] = 0.5  # three uncertain tracks
    assert set(active.ask(V, {0: 1}, 3, p=p)) == {10, 11, 12}
    V[30:] = [0, 1.0, 0, 0]  # a second cluster, far away
    V[20] = V[10]  # an exact copy of track 10
    p[[20, 30]] = 0.5
    got = active.ask(V, {0: 1}, 2, p=p)
    assert not {10, 20} <= set(got) and 30 in got  # after one of the copies, the far uncertain track


def test_one_track_per_album_while_others_remain_and_judged_tracks_never_return():
    V = _vectors()
    p = np.full(60, 0.5)
    groups = ["A"] * 50 + [f"B{i}" for i in range(10)]
    got = active.ask(V, {0: 1, 1: 0}, 11, p=p, groups=groups)
    assert len(got) == 11 and len(set(got)) == 11 and not {0, 1} & set(got)
    assert sum(groups[i] == "A" for i in got[:11]) <= 2  # the ten single-track albums and one of A first
    assert sorted(groups[i] for i in got[:11]).count("A") == 1


def test_top_mode_plays_the_highest_first():
    V = _vectors()
    p = np.linspace(0, 1, 60)
    assert active.ask(V, {59: 1}, 3, p=p, mode="top") == [58, 57, 56]
    assert active.ask(V, {}, 2, mode="top", p=None) == [0, 1]  # no learner: the scan order
