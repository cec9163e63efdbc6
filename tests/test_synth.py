import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import synth
from synth import instruments, stages
from synth.io import write

SR = 24000


def spectrum(y, sr=SR):
    Y = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return Y, np.fft.rfftfreq(len(y), 1 / sr)


@pytest.mark.parametrize("pitch, hz", [("A4", 440.0), ("C4", 261.6256), ("Eb5", 622.254), (60, 261.6256), ("1000Hz", 1000.0)])
def test_pitch_names(pitch, hz):
    assert synth.to_hz(pitch) == pytest.approx(hz, rel=1e-5)


@pytest.mark.parametrize("pitch", ["A2", "C4", "A4", "F#5", "C7", "1234.5Hz"])
def test_sine_peak_within_one_bin(pitch):
    y = synth.sine(pitch, 2.0, SR)
    Y, f = spectrum(y)
    assert abs(f[np.argmax(Y)] - synth.to_hz(pitch)) <= f[1]


@pytest.mark.parametrize("name, notes", [("C", ["C4", "E4", "G4"]), ("Am", ["A4", "C5", "E5"]), ("G7", ["G4", "B4", "D5", "F5"]), ("F#dim", ["F#4", "A4", "C5"])])
def test_chord_spectrum_has_every_fundamental(name, notes):
    assert synth.chord_midis(name) == [synth.note_to_midi(n) for n in notes]
    y = synth.chord(name, 2.0, SR)
    Y, f = spectrum(y)
    strongest = np.sort(f[np.argsort(Y)[-5 * len(notes) :]])
    for n in notes:
        assert np.min(np.abs(strongest - synth.to_hz(n))) <= f[1], n


def test_adsr_shape():
    env = synth.adsr(1000, 1000, attack=0.1, decay=0.1, sustain=0.5, release=0.2)
    assert len(env) == 1000 and env[0] == 0 and env[100] == pytest.approx(1.0, abs=0.02)
    assert env[500] == pytest.approx(0.5) and env[-1] == 0


def test_vibrato_and_tremolo_modulate():
    plain = synth.sine("A4", 2.0, SR)
    vib = synth.sine("A4", 2.0, SR, vibrato_hz=5, vibrato_cents=50)
    trem = synth.sine("A4", 2.0, SR, tremolo_hz=4, tremolo_depth=0.8)
    assert np.abs(plain - vib).max() > 0.5
    frames = np.abs(trem[: SR]).reshape(100, -1).max(axis=1)
    assert frames.max() - frames.min() > 0.6


def test_karplus_strong_decays_and_is_harmonic():
    rng = np.random.default_rng(0)
    y = instruments.guitar("G3", 3.0, SR, rng)
    first, last = (np.sqrt(np.mean(y[a : a + SR // 2] ** 2)) for a in (0, len(y) - SR // 2))
    assert first > 8 * last  # the string rings down
    Y, f = spectrum(y)
    ratio = f[np.argmax(Y)] / synth.to_hz("G3")
    assert abs(ratio - round(ratio)) < 0.02  # strongest partial is a harmonic


@pytest.mark.parametrize("name", sorted(synth.INSTRUMENTS))
def test_instruments_are_pitched_and_bounded(name):
    y = synth.play(name, "A3", 1.5, SR, np.random.default_rng(1))
    assert y.dtype == np.float32 and len(y) == int(1.5 * SR) and np.abs(y).max() <= 1.0
    Y, f = spectrum(y)
    ratio = f[np.argmax(Y)] / 220.0
    assert abs(ratio - round(ratio)) < 0.03 and round(ratio) >= 1


def test_timbres_differ_as_described():
    """Clarinet: odd harmonics dominate; flute: nearly sinusoidal; strings: rich."""
    rng = np.random.default_rng(0)

    def partials(name):
        Y, f = spectrum(synth.play(name, "A3", 2.0, SR, rng))
        return np.array([Y[np.argmin(np.abs(f - 220 * k))] for k in range(1, 7)])

    cl, fl, st = partials("clarinet"), partials("flute"), partials("strings")
    assert cl[2] > 5 * cl[1] and cl[4] > 5 * cl[3]  # 3rd >> 2nd, 5th >> 4th
    assert fl[0] > 4 * fl[1:].max()
    assert st[1:].sum() / st[0] > 3 * fl[1:].sum() / fl[0]


def onset_s(y, threshold=1e-3, after=0.0):
    start = int(after * SR)
    return (start + int(np.argmax(np.abs(y[start:]) > threshold))) / SR


@pytest.mark.parametrize("gap_probe_frames", [50, 48, 44, 40, 10, 0])
def test_a_then_b_gap_within_one_frame(gap_probe_frames):
    fps = 50
    gap = synth.probe_frames_to_s(gap_probe_frames, fps)
    y = synth.a_then_b("flute", "clarinet", SR, np.random.default_rng(0), start_s=0.5, a_duration_s=2.0, gap_s=gap, b_duration_s=2.0)
    assert abs(onset_s(y) - 0.5) <= 1 / fps
    if gap_probe_frames:
        assert np.abs(y[int(2.55 * SR) : int((2.5 + gap - 0.005) * SR)]).max() < 1e-6  # silence in the gap
    assert abs(onset_s(y, after=2.5) - (2.5 + gap)) <= 1 / fps


def test_sequences_and_songs():
    rng = np.random.default_rng(3)
    up = synth.scale_midis("C4", "major", 8, 1)
    assert up == [60, 62, 64, 65, 67, 69, 71, 72]
    assert synth.scale_midis("C5", "major", 3, -1) == [72, 71, 69]
    y, events = synth.song(SR, rng, lead="flute", tempo=120, bars=2)
    assert len(y) == int(2 * 4 * 0.5 * SR) and np.abs(y).max() <= 1.0
    kinds = {e.instrument for e in events}
    assert {"flute", "piano", "kick", "snare", "hihat"} <= kinds
    kick_onsets = sorted(e.onset_s for e in events if e.instrument == "kick")
    assert kick_onsets == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("number", range(1, 9))
def test_stage_datasets(number):
    a = synth.stage(number, n=3, seed=5)
    b = synth.stage(number, n=3, seed=5)
    c = synth.stage(number, n=3, seed=6)
    assert len(a) == 6 and a.labels.sum() == 3 and isinstance(a.meta, pd.DataFrame)
    assert list(a.meta["label"]) == list(a.labels) and a.rule
    assert all(np.array_equal(x, y) for x, y in zip(a.clips, b.clips))
    assert not all(np.array_equal(x, y) for x, y in zip(a.clips, c.clips))
    for clip in a.clips:
        assert clip.dtype == np.float32 and 0 < np.abs(clip).max() <= 1.0


def test_experiment_1_pitches():
    train, held = synth.exp1(), synth.exp1(heldout=True)
    assert len(train) == 20 and train.labels.sum() == 10
    assert set(train.meta["pitch"]) == set(stages.EXP1_PITCHES)
    assert set(held.meta["pitch"]).isdisjoint(stages.EXP1_PITCHES)
    assert set(train.meta.query("label == 1")["instrument"]) == {"flute"}


def test_experiment_2_sets():
    ds = synth.exp2(n=14)
    pos, neg = ds.meta.query("label == 1"), ds.meta.query("label == 0")
    assert set(zip(pos["first"], pos["second"])) == {(stages.EXP2_A, stages.EXP2_B)}
    assert (stages.EXP2_B, stages.EXP2_A) not in set(zip(neg["first"], neg["second"]))  # B->A is held out
    narrowed = synth.exp2_test("A->B gap -10 frames", n=3)
    assert np.allclose(narrowed.meta["gap_s"], 1.0 - 10 / 50)
    ba = synth.exp2_test("B->A", n=3)
    assert set(ba.meta["first"]) == {stages.EXP2_B} and ba.labels.sum() == 0
    wide = synth.exp2_test(gap_shift_probe_frames=+30, n=2)
    clip, meta = wide.clips[0], wide.meta.iloc[0]
    assert abs(onset_s(clip, after=stages.EXP2_TIMING["start_s"] + stages.EXP2_TIMING["a_duration_s"] + 0.05) - meta["onset_second_s"]) <= 1 / 50
    with pytest.raises(ValueError, match="unknown experiment 2 row"):
        synth.exp2_test("C->D")


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".mp3"])
def test_write_formats(tmp_path, ext):
    y = synth.sine("A4", 1.0, SR) * 0.5
    path = write(tmp_path / f"x{ext}", y, SR)
    back, sr = sf.read(path, dtype="float32")
    assert sr == SR and abs(len(back) - SR) < 0.1 * SR
    assert not list(tmp_path.glob(".*.part"))


def test_cli_synth_writes_clips_and_labels(tmp_path):
    from pers_rec.cli import main

    assert main(["synth", "3", "--out", str(tmp_path), "--n", "2", "--seed", "1"]) == 0
    labels = pd.read_csv(tmp_path / "labels.csv")
    assert len(labels) == 4 and set(labels["label"]) == {0, 1}
    for p in labels["path"]:
        y, sr = sf.read(tmp_path / p)
        assert sr == SR and len(y) == 8 * SR
