import librosa
import numpy as np
import pytest
from conftest import tone

from pers_rec.audio import features as F
from pers_rec.errors import ConfigMismatchError, ParameterError, TooShortError

cfg = F.FeatureConfig()


def noisy_music(seconds, sr=cfg.sr, seed=0):
    """A signal with changing content, so that every window differs."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f = 220 * 2 ** (np.floor(t) % 12 / 12)  # a new pitch every second
    y = 0.3 * np.sin(2 * np.pi * np.cumsum(f) / sr) + 0.02 * rng.standard_normal(len(t))
    return y.astype(np.float32)


def test_defaults_are_whole_frames():
    assert (cfg.fps, cfg.window_frames, cfg.hop_frames, cfg.n_features) == (64, 512, 64, 20)
    assert cfg.sr / cfg.hop_length == cfg.fps


@pytest.mark.parametrize(
    "kwargs", [{"hop_length": 512}, {"kind": "cqt"}, {"norm": "zscore"}, {"n_mfcc": 0}, {"window_s": 0}, {"min_s": 9}]
)
def test_invalid_configs_are_refused(kwargs):
    with pytest.raises(ParameterError):
        F.FeatureConfig(**kwargs)


def test_config_roundtrip_key_and_mismatch():
    assert F.FeatureConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.key() == F.FeatureConfig().key() != F.FeatureConfig(n_mfcc=13).key()
    with pytest.raises(ConfigMismatchError, match="n_mfcc: model has 20, asked for 13"):
        cfg.check_matches(F.FeatureConfig(n_mfcc=13))
    with pytest.raises(ParameterError, match="unknown"):
        F.FeatureConfig.from_dict({**cfg.to_dict(), "bogus": 1})


def test_mfcc_equals_librosa_reference():
    y = noisy_music(6)
    S = librosa.feature.melspectrogram(y=y, sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length, n_mels=cfg.n_mels)
    ref = librosa.feature.mfcc(S=librosa.power_to_db(S, top_db=None), n_mfcc=cfg.n_mfcc).T
    M = F.compute(y, cfg)
    assert M.shape == ref.shape == (1 + len(y) // cfg.hop_length, cfg.n_mfcc)
    np.testing.assert_allclose(M, ref, atol=1e-3)  # float32 vs float64 STFT; values reach ~500


@pytest.mark.parametrize("kw", [{}, {"sr": 22050, "hop_length": 315, "n_fft": 2048, "n_mels": 128, "fmin": 30.0,
                                 "fmax": 8000.0}, {"sr": 16000, "hop_length": 250, "n_fft": 512, "n_mels": 40}])
def test_analysis_arrays_equal_librosa_and_scipy(kw):
    """The numpy filterbank, window and DCT matrix (no librosa import at run time) are librosa's and scipy's."""
    import scipy.fft
    import scipy.signal

    c = F.FeatureConfig(**kw)
    mel, window, dct = F.analysis_arrays(c)
    ref = librosa.filters.mel(sr=c.sr, n_fft=c.n_fft, n_mels=c.n_mels, fmin=c.fmin, fmax=c.fmax)
    assert mel.dtype == window.dtype == dct.dtype == np.float32 and mel.shape == ref.shape
    np.testing.assert_allclose(mel, ref, rtol=1e-5, atol=1e-7 * ref.max())
    np.testing.assert_allclose(window, scipy.signal.get_window("hann", c.n_fft, fftbins=True), atol=1e-7)
    db = np.random.default_rng(0).normal(size=(5, c.n_mels)).astype(np.float32)
    np.testing.assert_allclose(db @ dct, scipy.fft.dct(db, type=2, norm="ortho", axis=-1)[:, : c.n_mfcc], atol=1e-5)


@pytest.mark.parametrize("kw", [{}, {"n_mels": 128, "n_fft": 256, "hop_length": 250, "sr": 16000},
                                {"n_mels": 5, "n_mfcc": 5, "fmin": 300.0, "fmax": 3000.0}])
def test_mel_blocks_equal_the_dense_filterbank_product(kw):
    """The banded product skips only zeros: equal to power @ mel.T, empty filters included (128 mels on 129 bins)."""
    c = F.FeatureConfig(**kw)
    mel = F.analysis_arrays(c)[0]
    P = np.random.default_rng(1).exponential(size=(9, mel.shape[1])).astype(np.float32)
    out = np.zeros((len(P), len(mel)), np.float32)
    for a, b, lo, hi, W in F.mel_blocks(c):
        assert not np.any(np.delete(mel[a:b], np.s_[lo:hi], axis=1))  # nothing left out is non-zero
        out[:, a:b] = P[:, lo:hi] @ W
    np.testing.assert_allclose(out, P @ mel.T, rtol=1e-5, atol=1e-7)


def test_logmel_kind():
    cfg = F.FeatureConfig(kind="logmel")
    y = noisy_music(3)
    S = librosa.feature.melspectrogram(y=y, sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length, n_mels=cfg.n_mels)
    np.testing.assert_allclose(F.compute(y, cfg), librosa.power_to_db(S, top_db=None).T, atol=1e-3)


@pytest.mark.parametrize("n_blocks", [1, 3, 17, 200])
def test_chunked_equals_one_piece(n_blocks, monkeypatch):
    monkeypatch.setattr(F, "_CHUNK_SAMPLES", 20000)  # force many chunks on a short signal
    y = noisy_music(7, seed=n_blocks)
    whole = F.compute(y, cfg)
    chunked = F.frames_from_blocks(np.array_split(y, n_blocks), cfg)
    assert chunked.shape == whole.shape
    np.testing.assert_allclose(chunked, whole, atol=1e-3)


def test_windows_are_views_equal_to_per_window_recomputation():
    """Each window equals MFCCs of its 8 s excerpt computed alone, away from the edges.

    The first/last ``edge_frames`` frames differ because the excerpt's analysis
    windows there see zero padding instead of the neighbouring audio. Elsewhere
    the two differ only by float32 rounding of the STFT (values up to ~500,
    so 1e-3 absolute is ~1e-6 relative).
    """
    y = noisy_music(20)
    M = F.compute(y, cfg)
    X = F.windows(M, cfg)
    assert np.shares_memory(X, M)  # a view, not a copy
    assert X.shape == (F.n_windows(M.shape[0], cfg), cfg.window_frames, cfg.n_features) == (13, 512, 20)
    e = cfg.edge_frames
    for k in range(len(X)):
        excerpt = y[k * cfg.sr * cfg.hop_s : (k * cfg.hop_s + cfg.window_s) * cfg.sr]
        alone = F.compute(excerpt, cfg)[: cfg.window_frames]
        np.testing.assert_allclose(X[k, e:-e], alone[e:-e], atol=1e-3)
        np.testing.assert_array_equal(X[k], M[k * 64 : k * 64 + 512])


@pytest.mark.parametrize(
    "seconds, expected", [(1.0, 1), (7.99, 1), (8.0, 1), (8.9, 1), (8.99, 2), (9.0, 2), (9.5, 2), (60.0, 53), (240.0, 233)]
)
def test_window_count_drops_trailing_audio(seconds, expected):
    n_frames = 1 + int(seconds * cfg.sr) // cfg.hop_length
    assert F.n_windows(n_frames, cfg) == expected
    M = np.zeros((n_frames, cfg.n_features), np.float32)
    assert len(F.windows(M, cfg)) == expected
    np.testing.assert_array_equal(F.window_starts_s(expected, cfg), np.arange(expected))


def test_short_track_is_looped_to_one_window():
    M = np.arange(100 * 20, dtype=np.float32).reshape(100, 20)
    X = F.windows(M, cfg)
    assert X.shape == (1, 512, 20)
    np.testing.assert_array_equal(X[0, :100], M)
    np.testing.assert_array_equal(X[0, 100:200], M)
    np.testing.assert_array_equal(X[0, 500:], M[:12])


def test_too_short_track_is_rejected():
    M = np.zeros((int(0.5 * cfg.fps), 20), np.float32)
    with pytest.raises(TooShortError, match="shorter than the minimum 1.0 s"):
        F.windows(M, cfg)


@pytest.mark.parametrize("kind", ["mfcc", "logmel"])
def test_gain_offset_matches_recomputation(kind):
    cfg = F.FeatureConfig(kind=kind)
    y = noisy_music(3)
    gain_db = -9.0
    shifted = F.compute(y * 10 ** (gain_db / 20), cfg)
    np.testing.assert_allclose(shifted, F.compute(y, cfg) + F.gain_offset(cfg, gain_db), atol=2e-2)


def test_extract_from_file_equals_compute(write_audio):
    y = noisy_music(5)
    path = write_audio("a.wav", y, cfg.sr, subtype="FLOAT")
    np.testing.assert_allclose(F.extract(path, cfg), F.compute(y, cfg), atol=1e-4)
    assert F.duration_s(F.extract(path, cfg), cfg) == pytest.approx(5.0, abs=1 / cfg.fps)


def test_extract_resamples_from_44k(write_audio):
    path = write_audio("b.wav", tone(440, 3.0, 44100), 44100)
    M = F.extract(path, cfg)
    assert M.shape == (1 + 3 * cfg.sr // cfg.hop_length, 20)


def test_feature_stats_equal_numpy_over_all_frames():
    mats = [np.random.default_rng(i).normal(i, 1 + i, size=(50 + i, 5)).astype(np.float32) for i in range(3)]
    mean, var = F.feature_stats(mats)
    allf = np.concatenate(mats).astype(np.float64)
    np.testing.assert_allclose(mean, allf.mean(0), rtol=1e-6)
    np.testing.assert_allclose(var, allf.var(0), rtol=1e-5)
