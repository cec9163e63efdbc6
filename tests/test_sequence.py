"""Playlists along the embedding sphere: continue from a track, join two tracks, artist rules, the step table."""

import numpy as np
import pytest

from pers_rec.library import embed as E
from pers_rec.library import sequence as S


def _unit(n=60, d=8, seed=1):
    return E.normalise(np.random.default_rng(seed).normal(size=(n, d)))


def test_continue_from_never_repeats_and_follows_the_last_tracks():
    V = _unit()
    order = S.continue_from(V, 5, 20, history=3)
    assert order[0] == 5 and len(order) == 21 and len(set(order)) == 21
    for k in range(1, len(order)):  # each pick: the unused row nearest the mean of the last 3
        q = E.normalise(V[order[max(0, k - 3) : k]].mean(0))
        free = [i for i in range(len(V)) if i not in order[:k]]
        assert order[k] == max(free, key=lambda i: V[i] @ q)
    assert len(S.continue_from(V[:4], 0, 10)) == 4  # the library runs out


def test_join_goes_from_a_to_b_in_even_steps_without_repeats():
    V = _unit(200, 6)
    path = S.join(V, 3, 17, 12)
    assert path[0] == 3 and path[-1] == 17 and len(path) == 12 and len(set(path)) == 12
    for k, t in enumerate(np.linspace(0, 1, 12)[1:-1], 1):
        q = S.slerp(V[3], V[17], float(t))
        free = [i for i in range(len(V)) if i not in path[:k] and i != 17]
        assert path[k] == max(free, key=lambda i: V[i] @ q)
    assert np.allclose(S.slerp(V[3], V[17], 0.0), V[3]) and np.allclose(S.slerp(V[3], V[17], 1.0), V[17])
    with pytest.raises(ValueError):
        S.join(V, 3, 3, 5)


def test_artist_rules_hold_in_continue_and_join():
    rng = np.random.default_rng(3)
    V = E.normalise(rng.normal(size=(40, 6)))
    names = [None if i % 5 == 0 else f"artist{i % 4}" for i in range(40)]
    rules = S.ArtistRules.from_names(names, max_per_artist=2, not_in_a_row=True)
    for order in (S.continue_from(V, 0, 30, rules=rules), S.join(V, 0, 1, 12, rules=rules)):
        tagged = [names[i] for i in order if names[i] is not None]
        assert max(tagged.count(a) for a in set(tagged)) <= 2 and len(set(order)) == len(order)
        assert all(a is None or a != b for a, b in zip([names[i] for i in order], [names[i] for i in order[1:]]))
    # with no rule the same library gives a longer playlist than with "at most 2 per artist"
    assert len(S.continue_from(V, 0, 39)) == 40 > len(S.continue_from(V, 0, 39, rules=rules))
    # untagged tracks are never held back: with every track untagged the rules change nothing
    none = S.ArtistRules.from_names([None] * 40, max_per_artist=1, not_in_a_row=True)
    assert S.continue_from(V, 0, 20, rules=none) == S.continue_from(V, 0, 20)


def test_steps_and_frame_hold_the_cosines_to_the_previous_track():
    V = E.normalise(np.random.default_rng(0).normal(size=(6, 4)))
    order = [2, 0, 5]
    steps = S.steps(V, order)
    assert steps[0] is None and steps[1:] == pytest.approx([float(V[2] @ V[0]), float(V[0] @ V[5])])
    df = S.frame(order, [f"/m/{i}.wav" for i in range(6)], [{"artist": f"A{i}"} for i in range(6)], steps)
    assert list(df["path"]) == ["/m/2.wav", "/m/0.wav", "/m/5.wav"] and list(df["artist"]) == ["A2", "A0", "A5"]
    assert list(df["position"]) == [1, 2, 3] and list(df["title"]) == ["", "", ""]
