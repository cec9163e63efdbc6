"""Filter analysis: activations and playlists exact against the trunk run on each window alone."""

import keras
import numpy as np
import pytest
from helpers import TINY, features, saved_model

from pers_rec.library import embed as E
from pers_rec.library import filters as Fi
from pers_rec.model import networks as Mo


def per_window(saved, M):
    """Reference: the trunk run on every window separately -> (n_windows, steps, filters)."""
    trunk, _ = Mo.members(saved.model)[0]
    n = 1 + (len(M) - TINY.window_frames) // TINY.hop_frames
    wins = np.stack([M[k * TINY.hop_frames : k * TINY.hop_frames + TINY.window_frames] for k in range(n)])
    return keras.ops.convert_to_numpy(trunk(wins))


def test_window_activations_equal_the_trunk_on_each_window():
    saved = saved_model()
    M = features(TINY.window_frames * 3 + 21, TINY, seed=2)
    mx, mean = Fi.window_activations(E.Embedder(saved), M)
    A = per_window(saved, M)
    assert mx.shape == mean.shape == (len(A), A.shape[-1])
    assert np.allclose(mx, A.max(axis=1), atol=1e-5) and np.allclose(mean, A.mean(axis=1), atol=1e-5)


@pytest.mark.parametrize("measure", Fi.MEASURES)
def test_top_tracks_match_an_independent_argmax(measure):
    saved = saved_model(seed=1)
    emb = E.Embedder(saved)
    mats = [features(TINY.window_frames + TINY.hop_frames * k, TINY, seed=10 + k) for k in range(6)]
    acts = [Fi.TrackActivations(f"/m/{i}.wav", *Fi.window_activations(emb, M)) for i, M in enumerate(mats)]
    for f in range(acts[0].max.shape[1]):
        want = []
        for i, M in enumerate(mats):
            A = per_window(saved, M)[..., f]
            per_win = A.max(axis=1) if measure == "max" else A.mean(axis=1)
            want.append((-per_win.max(), f"/m/{i}.wav", int(per_win.argmax())))
        want.sort()
        got = Fi.top(acts, f, measure, 4, TINY)
        assert [(e.path, e.window) for e in got] == [(p, w) for _, p, w in want[:4]]
        assert np.allclose([e.value for e in got], [-v for v, _, _ in want[:4]], atol=1e-5)
        assert all(e.start_s == e.window * TINY.hop_s and e.end_s == e.start_s + TINY.window_s for e in got)


def test_m3u_entries_start_at_their_window():
    text = Fi.m3u_text([Fi.Entry("/m/a b.wav", 1.5, 3, 3.0, 11.0)], lambda p: "A - T")
    assert text.splitlines() == ["#EXTM3U", "#EXTINF:8,A - T (3-11 s, 1.500)", "#EXTVLCOPT:start-time=3",
                                 "#EXTVLCOPT:stop-time=11", "/m/a b.wav"]
