import numpy as np
import pytest
from conftest import tone

from pers_rec.audio import decode as audio
from pers_rec.errors import (
    AudioError,
    AudioFileNotFoundError,
    CorruptFileError,
    DecodeError,
    EmptyFileError,
    InvalidSamplesError,
    NoAudioError,
    NotAFileError,
    SilentAudioError,
)

SR = 24000


def peak_hz(y, sr):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.argmax(spectrum) * sr / len(y)


@pytest.mark.parametrize(
    "name, kwargs, decoder",
    [
        ("a.wav", {"subtype": "PCM_16"}, "soundfile"),
        ("a24.wav", {"subtype": "PCM_24"}, "soundfile"),
        ("afloat.wav", {"subtype": "FLOAT"}, "soundfile"),
        ("a.flac", {}, "soundfile"),
        ("a.ogg", {"format": "OGG", "subtype": "VORBIS"}, "soundfile"),
        ("a.opus", {"format": "OGG", "subtype": "OPUS"}, "pyav"),  # FFmpeg decodes Opus 3x faster
        ("a.mp3", {"format": "MP3"}, "soundfile"),
        ("a.m4a", {}, "pyav"),
    ],
)
def test_formats_decode_to_mono_at_model_rate(write_audio, name, kwargs, decoder):
    src_sr = 48000
    path = write_audio(name, tone(440.0, 2.0, src_sr), src_sr, **kwargs)
    assert audio.open_audio(path).decoder == decoder
    y = audio.load(path, SR)
    assert y.dtype == np.float32 and y.ndim == 1
    # codecs add priming/padding (AAC ~1024 samples at 48 kHz, MP3 ~1105): allow 60 ms
    assert abs(len(y) - 2 * SR) < 0.06 * SR
    assert abs(peak_hz(y, SR) - 440.0) < 2.0


@pytest.mark.parametrize("src_sr", [8000, 11025, 22050, 44100, 96000, 192000])
def test_any_sample_rate_is_resampled(write_audio, src_sr):
    path = write_audio(f"r{src_sr}.wav", tone(330.0, 1.5, src_sr), src_sr)
    y = audio.load(path, SR)
    assert abs(len(y) - int(1.5 * SR)) <= 2
    assert abs(peak_hz(y, SR) - 330.0) < 1.5
    assert np.abs(y).max() == pytest.approx(0.5, abs=0.02)


def test_channels_are_averaged(write_audio):
    left, right = tone(440, 1.0, SR, 0.4), tone(880, 1.0, SR, 0.2)
    path = write_audio("st.wav", np.stack([left, right], axis=1), SR, subtype="FLOAT")
    np.testing.assert_allclose(audio.load(path, SR), (left + right) / 2, atol=1e-6)


def test_six_channel_file(write_audio):
    y = np.stack([tone(220 * (k + 1), 1.0, SR, 0.1) for k in range(6)], axis=1)
    path = write_audio("six.wav", y, SR, subtype="FLOAT")
    np.testing.assert_allclose(audio.load(path, SR), y.mean(axis=1), atol=1e-6)


def test_long_files_stream_in_bounded_blocks(write_audio):
    path = write_audio("long.wav", tone(100, 20.0, 44100), 44100)
    blocks = list(audio.stream(path, SR))
    assert len(blocks) > 5
    assert max(len(b) for b in blocks) <= audio.BLOCK_FRAMES  # never the whole file at once
    assert abs(sum(map(len, blocks)) - 20 * SR) <= 2


def test_missing_file(tmp_path):
    with pytest.raises(AudioFileNotFoundError, match="no such file") as e:
        audio.load(tmp_path / "nope.wav", SR)
    assert isinstance(e.value, FileNotFoundError) and str(tmp_path / "nope.wav") in str(e.value)


def test_directory(tmp_path):
    with pytest.raises(NotAFileError, match="not a regular file"):
        audio.load(tmp_path, SR)


def test_empty_file(tmp_path):
    (tmp_path / "e.mp3").write_bytes(b"")
    with pytest.raises(EmptyFileError, match="empty"):
        audio.load(tmp_path / "e.mp3", SR)


def test_zero_length_audio(write_audio):
    path = write_audio("z.wav", np.zeros(0, np.float32), SR)
    with pytest.raises(NoAudioError, match="zero length"):
        audio.load(path, SR)


def test_text_renamed_mp3(tmp_path):
    path = tmp_path / "notes.mp3"
    path.write_text("these are my shopping notes, not music\n" * 50)
    with pytest.raises(DecodeError, match="not a readable audio file") as e:
        audio.load(path, SR)
    assert "soundfile:" in str(e.value) and "pyav:" in str(e.value) and "notes.mp3" in str(e.value)


def test_random_bytes_unknown_extension(tmp_path):
    path = tmp_path / "blob.xyz"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(DecodeError):
        audio.load(path, SR)


@pytest.mark.parametrize("name", ["t.wav", "t.aiff"])
def test_truncated_file(write_audio, name):
    path = write_audio(name, tone(440, 3.0, SR), SR)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="truncated"):
        audio.load(path, SR)


def test_streamed_wav_with_placeholder_size_is_not_truncated(write_audio):
    path = write_audio("streamed.wav", tone(440, 1.0, SR), SR)
    data = bytearray(path.read_bytes())
    data[40:44] = (0xFFFFFFFF).to_bytes(4, "little")  # 'data' size unknown, as pipes write it
    path.write_bytes(bytes(data))
    assert abs(len(audio.load(path, SR)) - SR) <= 1


def test_corrupt_flac(write_audio):
    path = write_audio("c.flac", tone(440, 3.0, SR) + 0.1 * np.random.default_rng(1).standard_normal(3 * SR).astype(np.float32), SR)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    body = rng.integers(len(data) // 4, len(data), 2000)
    for i in body:
        data[i] = rng.integers(0, 256)
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError):
        audio.load(path, SR)


def test_silent_audio(write_audio):
    path = write_audio("s.wav", np.zeros(SR, np.float32), SR)
    with pytest.raises(SilentAudioError, match="silent"):
        audio.load(path, SR)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_samples(write_audio, bad):
    y = tone(440, 1.0, SR)
    y[SR // 2] = bad
    path = write_audio("n.wav", y, SR, subtype="FLOAT")
    with pytest.raises(InvalidSamplesError, match=r"at 0\.500 s"):
        audio.load(path, SR)


def test_every_error_is_an_audio_error_naming_the_file(tmp_path):
    path = tmp_path / "x.ogg"
    path.write_bytes(b"OggS" + b"\0" * 100)
    with pytest.raises(AudioError) as e:
        audio.load(path, SR)
    assert e.value.path == str(path) and e.value.reason


def test_a_new_decoder_is_one_function(monkeypatch, write_audio):
    path = write_audio("a.wav", tone(440, 1.0, SR), SR)
    calls = []

    def fake(p):
        calls.append(p)
        return audio.Source(SR, 1, iter([ramp[:, None]]), "fake")

    ramp = np.linspace(-0.5, 0.5, SR, dtype=np.float32)
    monkeypatch.setattr(audio, "DECODERS", [("fake", fake)])
    y = audio.load(path, SR)
    assert calls == [path] and np.array_equal(y, ramp)


def test_is_audio_path():
    assert audio.is_audio_path("x/Song.MP3") and audio.is_audio_path("a.m4a")
    assert not audio.is_audio_path("cover.jpg") and not audio.is_audio_path("notes.txt")


def test_dc_only_is_silent(write_audio):
    path = write_audio("dc.wav", np.full(16000 * 3, 0.25, np.float32), 16000)
    with pytest.raises(SilentAudioError, match="a constant"):
        audio.load(path, 24000)


def test_absurd_sample_values_are_invalid(write_audio):
    path = write_audio("huge.wav", tone(440, 3.0, 16000) * 1e20, 16000, subtype="FLOAT")
    with pytest.raises(InvalidSamplesError, match="far outside"):
        audio.load(path, 24000)


def test_a_header_claiming_1_hz_is_corrupt_not_a_memory_bomb(write_audio):
    import struct

    path = write_audio("one_hz.wav", tone(440, 3.0, 16000), 16000)
    data = path.read_bytes()
    path.write_bytes(data[:24] + struct.pack("<II", 1, 2) + data[32:])
    with pytest.raises(CorruptFileError, match="sample rate of 1 Hz"):
        audio.load(path, 24000)


def test_low_rates_resample_in_bounded_calls(write_audio, monkeypatch):
    """Output blocks stay small (soxr buffers ~20k samples itself), not one huge block per decoded block."""
    monkeypatch.setattr(audio, "MAX_RESAMPLED", 4096)
    path = write_audio("low.wav", tone(300, 3.0, 1000), 1000)
    blocks = list(audio.stream(path, 24000))
    assert max(len(b) for b in blocks) <= 1 << 15 and abs(sum(map(len, blocks)) - 72000) < 100


def test_a_fifo_is_not_a_file_and_is_never_opened(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.wav")
    with pytest.raises(NotAFileError, match="a FIFO"):
        audio.load(tmp_path / "pipe.wav", 24000)


def test_libsndfile_reason_is_honest(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"RIFF" + bytes(100))
    with pytest.raises(DecodeError) as info:
        audio.load(tmp_path / "x.wav", 24000)
    assert "does not exist" not in info.value.reason


def test_an_opus_file_ffmpeg_refuses_part_way_is_read_again_with_libsndfile(write_audio, monkeypatch):
    """FFmpeg goes first for Opus (faster); when it finds the file corrupt part-way (it refuses some Ogg files
    libsndfile reads: ``avcodec_send_packet() returned 22``), the whole file is decoded again with libsndfile."""
    from pers_rec.audio import features
    from pers_rec.config import FeatureConfig
    from pers_rec.errors import CorruptFileError

    path = write_audio("a.opus", tone(440.0, 3.0, 48000), 48000, format="OGG", subtype="OPUS")
    cfg = FeatureConfig()
    want = features.frames_from_blocks(audio.stream(path, cfg.sr, fast_first=False), cfg)
    real = audio._open_pyav

    def refusing(p):
        src = real(p)

        def blocks():
            yield next(src.blocks)
            raise CorruptFileError(p, "corrupt data (Invalid argument)")
        return audio.Source(src.sr, src.channels, blocks(), "pyav")

    monkeypatch.setattr(audio, "DECODERS", [("soundfile", audio._open_soundfile), ("pyav", refusing)])
    assert np.array_equal(features.extract(path, cfg), want)
    assert len(audio.load(path, cfg.sr)) > 2 * cfg.sr
    flac = write_audio("a.flac", tone(440.0, 1.0, 48000), 48000)
    calls = []

    def broken(blocks):
        calls.append(1)
        raise CorruptFileError(flac, "corrupt data")

    with pytest.raises(CorruptFileError):  # a FLAC file is not read twice: its decoder's verdict stands
        audio.decoded(flac, cfg.sr, broken)
    assert len(calls) == 1
