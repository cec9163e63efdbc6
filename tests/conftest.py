"""Shared fixtures: every test makes its own audio, a few seconds long, in a temp folder."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# A test that forgets --cache never writes into the user's ~/.cache/pers_rec.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="pers_rec_tests_cache_")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest
import soundfile as sf


def tone(freq: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_m4a(path, y: np.ndarray, sr: int) -> None:
    """AAC in an MP4 container, through PyAV (libsndfile cannot write or read it)."""
    import av

    with av.open(str(path), "w", format="mp4") as c:
        stream = c.add_stream("aac", rate=sr, layout="mono")
        frame = av.AudioFrame.from_ndarray(y[None, :].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            c.mux(packet)
        for packet in stream.encode(None):
            c.mux(packet)


def tag(path, **tags) -> None:
    """Write tags (artist=..., title=...) into a WAV or FLAC file (``synth.io.tag``)."""
    from synth.io import tag as write_tags

    write_tags(path, **tags)


@pytest.fixture
def write_audio(tmp_path):
    """``write_audio(name, y, sr, **soundfile kwargs)`` -> path of a new file in tmp_path."""

    def _write(name, y, sr, **kwargs):
        path = tmp_path / name
        if path.suffix == ".m4a":
            write_m4a(path, y, sr)
        else:
            sf.write(path, y, sr, **kwargs)
        return path

    return _write


@pytest.fixture
def lib(tmp_path, write_audio):
    """A small music folder: three audio files, two hidden ones (skipped by scans) and a cover image."""
    (tmp_path / "music" / "a").mkdir(parents=True)
    (tmp_path / "music" / ".hidden").mkdir()
    for i, rel in enumerate(["a/one.wav", "a/two.flac", "three.WAV", ".hidden/x.wav", "a/.dot.wav"]):
        write_audio(f"music/{rel}", tone(200 + 50 * i, 2.0, 16000), 16000)
    (tmp_path / "music" / "cover.jpg").write_bytes(b"\xff\xd8")
    return tmp_path / "music"
