"""Track embeddings and nearest neighbours: exact against brute-force references."""

import os

import numpy as np
import pytest
from helpers import TINY, features, saved_model

from pers_rec.audio.cache import FeatureCache
from pers_rec.library import embed as E
from pers_rec.model import networks as Mo


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
    cache.put_vectors(p, "emb:k", os.stat(p), v[None])
    got = cache.get_vectors_many([str(p)], "emb:k")[str(p)][0]
    assert got.dtype == np.float16 and np.allclose(got, v, atol=1e-3) and cache.get_vectors_many([str(p)], "emb:x") == {}
    p.write_bytes(b"xy")
    assert cache.get_vectors_many([str(p)], "emb:k") == {}
    cache.close()


@pytest.mark.parametrize("n", [0, 3])
def test_nearest_with_few_candidates(n):
    V = E.normalise(np.eye(4)[:n]) if n else np.zeros((0, 4), np.float32)
    got = E.nearest(np.eye(4)[:1], [f"/m/{i}" for i in range(n)], V, 5)
    assert len(got) == max(0, n - 1)  # the first candidate equals the seed: a duplicate


def test_artist_caps_and_labels():
    from pers_rec.audio import tags as T

    assert T.artist_caps(["a", None, "a", "b", "A".casefold(), None], 2) == [True, True, True, True, False, True]
    assert T.artist_caps(["a", "a"], None) == [True, True]
    assert T.label("/x/song.flac", {}) == "song" and T.label("/x/s.flac", {"artist": "A", "title": "T"}) == "A - T"
    assert T.suffix({"artist": "A"}) == "  (A)" and T.suffix({}) == ""
    assert T.artist_key({"artist": "  The  Band "}) == "the band" and T.artist_key({"albumartist": "X"}) == "x"


def test_distinctive_weights_equal_a_brute_force_tf_idf():
    rng = np.random.default_rng(5)
    Ws = [rng.normal(size=(int(rng.integers(3, 30)), 6)).astype(np.float32) for _ in range(12)]
    ref = E.IdfReference.build(Ws, per_track=8, near_quantile=0.9)
    R, owner, t = ref.windows, ref.track_of, ref.threshold
    cross = [float(R[i] @ R[j]) for i in range(len(R)) for j in range(len(R)) if owner[i] != owner[j]]
    assert t == pytest.approx(np.quantile(cross, 0.9), abs=1e-6) and ref.n_tracks == 12
    W = Ws[3]
    want = []
    for w in W:
        w = w / np.linalg.norm(w)
        tf = np.mean([w @ (x / np.linalg.norm(x)) >= t for x in W])
        df = len({owner[j] for j in range(len(R)) if w @ R[j] >= t})
        want.append(tf * (np.log(13 / (1 + df)) + 1))
    assert np.allclose(ref.weights(W), want, atol=1e-6)
    assert np.allclose(ref.pool(W), E.normalise(np.array(want) @ W), atol=1e-6)


def test_distinctive_pooling_favours_the_windows_rare_in_the_library():
    rng = np.random.default_rng(6)
    common, rare = E.normalise(rng.normal(size=8)), E.normalise(rng.normal(size=8))
    noise = lambda n: 0.01 * rng.normal(size=(n, 8))  # noqa: E731
    library = [common + noise(10) for _ in range(20)] + [E.normalise(rng.normal(size=(10, 8))) for _ in range(20)]
    track = np.concatenate([common + noise(5), rare + noise(5)]).astype(np.float32)
    ref = E.IdfReference.build(library + [track])
    v, mean = ref.pool(track), E.normalise(track.mean(0))
    assert v @ rare > mean @ rare and v @ common < mean @ common


def test_vectors_with_distinctive_pooling_use_the_window_cache(tmp_path, monkeypatch):
    saved = saved_model()
    emb = E.Embedder(saved)
    import soundfile as sf
    from conftest import tone

    paths = []
    for i in range(3):
        p = tmp_path / f"{i}.wav"
        sf.write(p, tone(200 + 100 * i, 3.0, 16000), 16000)
        paths.append(str(p))
    cache = FeatureCache(tmp_path / "c.sqlite")
    ok, V, failed, ref = E.vectors(paths, emb, pooling="distinctive", cache=cache, jobs=1)
    assert ok == paths and not failed and np.allclose(np.linalg.norm(V, axis=1), 1, atol=1e-5)
    monkeypatch.setattr(E.Embedder, "window_vectors", lambda *a: pytest.fail("window vectors not taken from the cache"))
    ok2, V2, _, _ = E.vectors(paths, emb, pooling="distinctive", cache=cache, jobs=1)
    assert np.allclose(V, V2, atol=1e-6)
    _, V3, _, same = E.vectors(paths[:1], emb, pooling="distinctive", reference=ref, cache=cache, jobs=1)
    assert same is ref and np.allclose(V3, V[:1], atol=1e-6)  # judged against the given library, not itself
    assert E.vectors([], emb, pooling="distinctive")[1].shape == (0, emb.dim)
    cache.close()


def test_nearest_widens_its_shortlist_and_keeps_ties_in_path_order():
    V = E.normalise(np.repeat(np.eye(3), [50, 30, 20], axis=0).astype(np.float32))  # three groups of equal vectors
    paths = [f"/m/{i:03d}" for i in range(100)][::-1]  # path order is the reverse of row order
    got = E.nearest(V[:1] * 0 + E.normalise(np.array([1, 0.5, 0.1])), paths, V, 60,
                    exclude={paths[i] for i in range(40)}, duplicate_cos=2.0)  # 40 of the best left out: widen
    want = sorted(paths[40:50]) + sorted(paths[50:80]) + sorted(paths[80:100])[:20]
    assert [n.path for n in got] == want
