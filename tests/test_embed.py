"""Track embeddings and nearest neighbours: exact against brute-force references."""

import os

import numpy as np
import pytest
from helpers import TINY, features, saved_model

from pers_rec import embed as E
from pers_rec import model as Mo
from pers_rec.cache import FeatureCache


def test_window_vectors_equal_the_encoder_run_on_each_window():
    import keras

    saved = saved_model()
    emb = E.Embedder(saved)
    M = features(TINY.window_frames * 3 + 5, TINY)
    got = emb.window_vectors(M)
    trunk, _ = Mo.members(saved.model)[0]
    wins = np.stack([M[s : s + TINY.window_frames] for s in TINY.hop_frames * np.arange(len(got))])
    want = keras.ops.convert_to_numpy(emb.encoder(trunk(wins)))
    assert got.shape == (len(wins), emb.dim) and np.allclose(got, want, atol=1e-5)
    v = emb.track_vector(M)
    assert np.isclose(np.linalg.norm(v), 1.0) and np.allclose(v, E.normalise(want.mean(0)), atol=1e-5)


def test_the_encoder_identity_follows_its_weights():
    a, b = E.Embedder(saved_model(seed=0)), E.Embedder(saved_model(seed=1))
    assert a.identity == E.Embedder(saved_model(seed=0)).identity != b.identity


def test_nearest_equals_brute_force_and_leaves_out_seeds_and_duplicates():
    rng = np.random.default_rng(0)
    V = E.normalise(rng.normal(size=(200, 16)))
    paths = [f"/m/{i:03d}.flac" for i in range(200)]
    V[7] = V[3]  # 7 is the same recording as seed 3 under another name
    seeds = V[[3, 50]]
    got = E.nearest(seeds, paths, V, 10, exclude={paths[3], paths[50]})
    q = E.normalise(seeds.mean(0))
    cos = V @ q
    ref = [i for i in np.argsort(-cos, kind="stable") if i not in (3, 50, 7)][:10]
    assert [n.path for n in got] == [paths[i] for i in ref]
    assert np.allclose([n.cosine for n in got], cos[ref])


def test_vectors_are_cached_as_float16(tmp_path):
    cache = FeatureCache(tmp_path / "f.sqlite")
    p = tmp_path / "a.wav"
    p.write_bytes(b"x")
    v = E.normalise(np.arange(8, dtype=np.float32))
    cache.put_vector(p, "emb:k", os.stat(p), v)
    got = cache.get_vector(p, "emb:k", os.stat(p))
    assert got.dtype == np.float16 and np.allclose(got, v, atol=1e-3) and cache.get_vector(p, "emb:other", os.stat(p)) is None
    p.write_bytes(b"xy")
    assert cache.get_vector(p, "emb:k", os.stat(p)) is None
    cache.close()


@pytest.mark.parametrize("n", [0, 3])
def test_nearest_with_few_candidates(n):
    V = E.normalise(np.eye(4)[:n]) if n else np.zeros((0, 4), np.float32)
    got = E.nearest(np.eye(4)[:1], [f"/m/{i}" for i in range(n)], V, 5)
    assert len(got) == max(0, n - 1)  # the first candidate equals the seed: a duplicate
