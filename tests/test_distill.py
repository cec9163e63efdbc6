"""Distillation: targets are the teacher's patch vectors averaged over each window, and a tiny student learns."""

import os

import numpy as np
import pytest
from helpers import TINY, TINY_M, features

from pers_rec.audio.features import FeatureConfig, n_windows
from pers_rec.config import DISTILL_LOSSES, DistillConfig
from pers_rec.learn import distill as D
from pers_rec.model import networks as Mo
from pers_rec.model import teacher as T


@pytest.mark.parametrize("loss", DISTILL_LOSSES)
def test_a_tiny_distillation_lowers_its_loss_and_beats_the_mean_on_held_out_tracks(loss):
    rng = np.random.default_rng(0)
    mats = [features(TINY.window_frames + TINY.fps * 30, TINY, seed=i) for i in range(12)]
    proj = rng.normal(size=(TINY.n_features, 16)).astype(np.float32)
    dcfg = DistillConfig(epochs=20, batch_size=16, every_s=2, holdout=0.25, seed=0, loss=loss)

    def goal(M):  # a learnable teacher: a fixed projection of each target window's mean features
        W = np.lib.stride_tricks.sliding_window_view(M, (TINY.window_frames, TINY.n_features))[::TINY.hop_frames, 0]
        return np.tanh(W.mean(1) @ proj)[D.window_indices(len(W), TINY, dcfg)]

    pre = D.distill(mats, [goal(M) for M in mats], TINY, Mo.ModelConfig(**TINY_M), dcfg)
    info = pre.info
    assert info["losses"][-1] < info["losses"][0] and info["tracks"] == 12
    assert info["heldout_cosine"] > info["heldout_cosine_of_the_mean_target"]
    assert set(pre.encoder) == {"lstm"} and len(pre.trunk) > 0


def test_window_targets_are_the_mean_of_the_teachers_patches_in_each_window():
    if T.checkpoint_dir() is None:
        if os.environ.get("CI"):
            pytest.fail("musicnn's weights are missing: `make test` installs them")
        pytest.skip("musicnn's weights are not installed")
    cfg, dcfg = FeatureConfig(), DistillConfig(every_s=5)
    t = np.arange(T.SR * 21) / T.SR
    y = (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(t))).astype(np.float32)
    n = n_windows(21 * cfg.fps + 1, cfg)  # 14 windows of 8 s in 21 s
    teacher = T.Teacher()
    got = D.targets(y, n, cfg, dcfg, teacher)
    assert got.shape == (3, T.DIM)  # windows 0, 5 and 10
    mel = T.logmel(y)
    for k, w in enumerate((0, 5, 10)):
        starts = [int(round((w + o) * T.SR / T.HOP)) for o in dcfg.patch_offsets_s]
        want = teacher(np.stack([mel[s:s + T.PATCH_FRAMES] for s in starts]))[0].mean(0)
        np.testing.assert_allclose(got[k], want, atol=1e-5)


@pytest.mark.slow
def test_pretrain_with_the_teacher_then_train_starts_from_it(tmp_path, capsys):
    if T.checkpoint_dir() is None:
        if os.environ.get("CI"):
            pytest.fail("musicnn's weights are missing: `make test` installs them")
        pytest.skip("musicnn's weights are not installed")
    import synth
    from pers_rec.cli import main
    from synth.io import write

    lib = tmp_path / "music"
    rng = np.random.default_rng(0)
    for i, lead in enumerate(["flute", "piano"] * 3):
        y, _ = synth.random_song(synth.stages.SR, rng, lead, 12.0)
        write(lib / f"s{i}_{lead}.wav", y, synth.stages.SR)
    cache = str(tmp_path / "cache")
    args = ["pretrain", str(lib), "--teacher", "musicnn", "--epochs", "2", "--cache", cache, "-q"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "distilled musicnn into cnn_lstm on 6 tracks" in out and "teacher" in out
    likes = tmp_path / "likes.m3u"
    likes.write_text("".join(f"{p}\n" for p in sorted(lib.glob("*flute.wav"))))
    assert main(["train", "--likes", str(likes), "--library", str(lib), "--model", str(tmp_path / "m.keras"),
                 "--epochs", "1", "--folds", "2", "--cache", cache]) == 0
    assert "starting from the library's pre-trained weights" in capsys.readouterr().out
