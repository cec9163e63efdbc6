"""The shared-trunk scorer equals per-window evaluation, for every architecture, length and grouping."""

import keras
import numpy as np
import pytest
from helpers import TINY_M, features, random_stats

from pers_rec.audio import features as F
from pers_rec.model import networks as Mo
from pers_rec.model import scoring as S
from pers_rec.model.checkpoint import SavedModel

cfg = F.FeatureConfig()


@pytest.fixture(scope="module", params=Mo.ARCHS)
def arch_model(request):
    mcfg = Mo.ModelConfig(arch=request.param)
    keras.utils.set_random_seed(1)
    model = Mo.build(cfg, mcfg, stats=random_stats(cfg))
    return SavedModel(model, cfg, mcfg)


def test_defaults_make_the_fast_path_exact():
    mcfg = Mo.ModelConfig()
    assert cfg.hop_frames % mcfg.stride == 0
    assert mcfg.trunk_length(cfg.window_frames) == 30


@pytest.mark.parametrize("n_frames", [100, 511, 512, 513, 575, 576, 577, 1000, 3000])
def test_fast_path_equals_naive_per_window(arch_model, n_frames):
    scorer = S.Scorer(arch_model)
    assert scorer.fast
    M = features(n_frames, cfg, seed=n_frames)
    fast, naive = scorer.window_scores(M), scorer.window_scores_naive(M)
    assert fast.shape == naive.shape == (F.n_windows(max(n_frames, 1), cfg),)
    np.testing.assert_allclose(fast, naive, atol=1e-5, rtol=0)
    assert fast.std() > 0 or len(fast) == 1  # scores really vary


def test_many_tracks_share_trunk_calls_exactly(arch_model, monkeypatch):
    monkeypatch.setattr(S, "TRUNK_FRAMES", 3000)  # force several groups
    scorer = S.Scorer(arch_model)
    tracks = [features(n, cfg, seed=n) for n in (700, 100, 2500, 513, 1800, 4000, 640)]
    for got, M in zip(scorer.score_many(tracks), tracks):
        np.testing.assert_allclose(got, scorer.window_scores_naive(M), atol=1e-5, rtol=0)


def test_fallback_when_hop_is_not_a_multiple_of_the_stride():
    cfg = F.FeatureConfig(sr=24000, hop_length=480)  # 50 fps, stride 16 does not divide 50
    mcfg = Mo.ModelConfig(**TINY_M)
    saved = SavedModel(Mo.build(cfg, mcfg), cfg, mcfg)
    assert not S.Scorer(saved).fast
    with pytest.warns(UserWarning, match="not a multiple of the trunk stride"):
        scorer = S.Scorer(saved, fast=True)
    M = features(900, cfg)
    np.testing.assert_allclose(scorer.window_scores(M), scorer.window_scores_naive(M), atol=1e-6)


def test_track_summary():
    s = S.summarize(np.array([0.1, 0.9, 0.5]), cfg, duration_s=10.5)
    assert s.score == pytest.approx(0.5) and s.n_windows == 3
    assert (s.best_start_s, s.best_end_s, s.best_score) == (1.0, 9.0, 0.9)
    short = S.summarize(np.array([0.7]), cfg, duration_s=3.0)
    assert (short.best_start_s, short.best_end_s) == (0.0, 3.0)


def test_receptive_field_matches_the_layers():
    mcfg = Mo.ModelConfig()
    assert mcfg.receptive_field == 46 and mcfg.stride == 16
    # trunk_length agrees: n frames give floor((n - R) / S) + 1 steps
    for n in (46, 47, 61, 62, 100, 512):
        assert mcfg.trunk_length(n) == (n - 46) // 16 + 1


@pytest.mark.parametrize("n_frames", [3000, 4097, 9000])
def test_long_tracks_run_in_chunks_equal_to_one_pass(arch_model, monkeypatch, n_frames):
    """With the trunk limited to 1024 frames per call, a long track is scored in chunks, exactly as in one pass."""
    M = features(n_frames, cfg, seed=n_frames)
    whole = S.Scorer(arch_model).window_scores(M)
    monkeypatch.setattr(S, "TRUNK_FRAMES", 1024)
    calls = []
    scorer = S.Scorer(arch_model)
    trunk = scorer.members[0][0]
    original = trunk.predict_on_batch
    monkeypatch.setattr(trunk, "predict_on_batch", lambda x: (calls.append(x.shape), original(x))[1])
    chunked = scorer.window_scores(M)
    assert len(calls) > 1 and all(shape[1] == 1024 for shape in calls)  # bounded, one compiled shape
    np.testing.assert_allclose(chunked, whole, atol=1e-5, rtol=0)
    np.testing.assert_allclose(chunked, scorer.window_scores_naive(M), atol=1e-5, rtol=0)


def test_window_starts_are_whole_hops_and_the_best_window_ends_at_the_track():
    s = S.summarize(np.array([0.1, 0.2, 0.9, 0.3]), cfg, 10.5)
    np.testing.assert_array_equal(s.starts_s, [0.0, 1.0, 2.0, 3.0])  # hop 1 s
    assert (s.best_start_s, s.best_end_s, s.best_score) == (2.0, 10.0, 0.9)
    assert S.summarize(np.array([0.5]), cfg, 3.0).best_end_s == 3.0  # a short track: clipped to its duration
    assert s.score == s.network_score == np.mean([0.1, 0.2, 0.9, 0.3])


@pytest.mark.parametrize("light", [False, True])
def test_one_trunk_pass_gives_the_scores_and_the_vectors(arch_model, light, monkeypatch):
    """``score_and_embed``: each track's window scores equal ``score_many``'s and its window vectors the
    embedder's own (its trunk run alone on the track), for a 2-member model, both runtimes and several groups;
    the first member's trunk runs once per group, not once more per track."""
    from pers_rec.library.embed import Embedder
    from pers_rec.model import runtime

    mcfg = arch_model.mcfg
    keras.utils.set_random_seed(2)
    model = Mo.build(cfg, mcfg, members=2, stats=random_stats(cfg))
    saved = SavedModel(runtime.from_keras(model, cfg, mcfg) if light else model, cfg, mcfg)
    monkeypatch.setattr(S, "TRUNK_FRAMES", 3000)  # several groups
    scorer, embedder = S.Scorer(saved), Embedder(saved)
    tracks = [features(n, cfg, seed=n) for n in (700, 100, 2500, 513, 1800)]
    want_scores = list(scorer.score_many(tracks))
    want_vectors = [embedder.window_vectors(M) for M in tracks]
    calls = []
    trunk_steps = S.Scorer.trunk_steps
    monkeypatch.setattr(S.Scorer, "trunk_steps", lambda self, trunk, X: calls.append(1) or trunk_steps(self, trunk, X))
    got = list(scorer.score_and_embed(tracks, embedder))
    assert len(calls) == 2 * 3  # two members x three groups (700+100, 2500, 513+1800)
    for (s, W), s0, W0 in zip(got, want_scores, want_vectors, strict=True):
        np.testing.assert_allclose(s, s0, atol=1e-6, rtol=0)
        assert W.shape == W0.shape and W.dtype == np.float32
        np.testing.assert_allclose(W, W0, atol=1e-4 * max(1.0, np.abs(W0).max()), rtol=0)
    with pytest.raises(ValueError, match="embedder must be of the model"):
        next(scorer.score_and_embed(tracks, Embedder(arch_model)))
