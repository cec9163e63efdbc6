"""Staged probe datasets: Ueno's stages 1-8 and experiments 1 and 2.

Each function returns a :class:`Dataset`: clips, binary labels, and a pandas
metadata table with one row per clip (what it contains and why it has its
label). Its docstring states the label's rule, which a model that hears the
right thing can learn. Classes are balanced (``n`` clips each) and the order
is shuffled; everything is deterministic for a ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .instruments import INSTRUMENTS
from .sequence import a_then_b, chord_progression, note_sequence, probe_frames_to_s, random_song, scale_midis
from .tones import chord, glide, harmonic, midi_to_hz, normalize

SR = 24000

#: Partial amplitudes of the plain "harmonic tone" used in stages 2, 5 and 6.
_PLAIN = (1.0, 0.5, 0.3, 0.2)


@dataclass
class Dataset:
    """Clips with labels.

    Attributes
    ----------
    clips : list of np.ndarray [shape=(n_samples,), dtype=float32]
    labels : np.ndarray [shape=(n_clips,), dtype=int]
    meta : pd.DataFrame
        One row per clip: ``label`` and what the clip contains.
    sr : int
    rule : str
        The learnable rule behind the labels.
    name : str
    """

    clips: list
    labels: np.ndarray
    meta: pd.DataFrame
    sr: int
    rule: str
    name: str = ""
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.clips)


def _build(name, rule, rows, clips, sr, seed) -> Dataset:
    order = np.random.default_rng(seed + 7919).permutation(len(clips))
    meta = pd.DataFrame([rows[i] for i in order]).reset_index(drop=True)
    meta.insert(0, "clip", [f"{name}_{i:04d}" for i in range(len(order))])
    return Dataset([clips[i] for i in order], meta["label"].to_numpy(int), meta, sr, rule, name)


def _gain(rng) -> float:
    return float(10 ** (rng.uniform(-12, 0) / 20))


def stage1(n: int = 20, *, sr: int = SR, duration_s: float = 8.0, seed: int = 0) -> Dataset:
    """Stage 1, a single tone. Rule: label 1 iff the sine's frequency is above 440 Hz.

    Label-1 pitches are MIDI 72-90 (523-1480 Hz), label-0 pitches MIDI 45-63
    (110-311 Hz); a random level between -12 and 0 dB so loudness carries no label.
    """
    rng = np.random.default_rng(seed)
    rows, clips = [], []
    for label in (0, 1) * n:
        midi = rng.uniform(72, 90) if label else rng.uniform(45, 63)
        clips.append(harmonic(float(midi_to_hz(midi)), duration_s, sr) * 0.9 * _gain(rng))
        rows.append({"label": label, "midi": midi, "hz": float(midi_to_hz(midi))})
    return _build("stage1", "1 iff the tone is above 440 Hz", rows, clips, sr, seed)


def stage2(n: int = 20, *, sr: int = SR, duration_s: float = 8.0, seed: int = 0) -> Dataset:
    """Stage 2, a chord. Rule: label 1 iff the triad is major, 0 iff minor (any root C3-B4)."""
    rng = np.random.default_rng(seed)
    rows, clips = [], []
    for label in (0, 1) * n:
        root = int(rng.integers(48, 72))
        quality = "maj" if label else "min"
        third = 4 if label else 3
        clips.append(chord((root, root + third, root + 7), duration_s, sr, amps=_PLAIN) * _gain(rng))
        rows.append({"label": label, "root_midi": root, "quality": quality})
    return _build("stage2", "1 iff the chord is major", rows, clips, sr, seed)


def stage3(n: int = 20, *, sr: int = SR, duration_s: float = 8.0, seed: int = 0) -> Dataset:
    """Stage 3, one instrument. Rule: label 1 iff the instrument is a flute.

    Label 0 clips are guitar, piano, strings or clarinet in equal turns. Each clip
    repeats one random pitch (G3-G5) every 2 s, so decaying instruments sound throughout.
    """
    rng = np.random.default_rng(seed)
    others = [k for k in INSTRUMENTS if k != "flute"]
    rows, clips = [], []
    for i, label in enumerate((0, 1) * n):
        inst = "flute" if label else others[(i // 2) % len(others)]
        midi = float(rng.integers(55, 80))
        n_notes = int(np.ceil(duration_s / 2))
        clips.append(note_sequence(inst, [midi] * n_notes, 2.0, sr, rng, duration_s=duration_s) * _gain(rng))
        rows.append({"label": label, "instrument": inst, "midi": midi})
    return _build("stage3", "1 iff the instrument is a flute", rows, clips, sr, seed)


def stage4(n: int = 20, *, sr: int = SR, duration_s: float = 8.0, seed: int = 0) -> Dataset:
    """Stage 4, several instruments at once. Rule: label 1 iff a flute is among them.

    Each clip mixes 2 or 3 different instruments, each holding its own pitch (repeated every 2 s).
    """
    rng = np.random.default_rng(seed)
    others = [k for k in INSTRUMENTS if k != "flute"]
    rows, clips = [], []
    for label in (0, 1) * n:
        k = int(rng.integers(2, 4))
        chosen = list(rng.choice(others, size=k - label, replace=False)) + (["flute"] if label else [])
        n_notes = int(np.ceil(duration_s / 2))
        mix = sum(
            note_sequence(inst, [float(rng.integers(55, 80))] * n_notes, 2.0, sr, rng, duration_s=duration_s) for inst in chosen
        )
        clips.append(normalize(mix, 0.9) * _gain(rng))
        rows.append({"label": label, "instruments": "+".join(sorted(chosen))})
    return _build("stage4", "1 iff a flute is playing", rows, clips, sr, seed)


def stage5(n: int = 20, *, sr: int = SR, duration_s: float = 8.0, seed: int = 0) -> Dataset:
    """Stage 5, a tone whose pitch changes over time. Rule: label 1 iff the pitch rises.

    A harmonic tone glides over the clip between two pitches 5-12 semitones
    apart (start pitch MIDI 50-75); same pitch ranges in both classes, so only
    the direction tells them apart.
    """
    rng = np.random.default_rng(seed)
    rows, clips = [], []
    for label in (0, 1) * n:
        lo = rng.uniform(50, 70)
        hi = lo + rng.uniform(5, 12)
        start, end = (lo, hi) if label else (hi, lo)
        clips.append(glide(start, end, duration_s, sr, _PLAIN) * 0.9 * _gain(rng))
        rows.append({"label": label, "start_midi": start, "end_midi": end})
    return _build("stage5", "1 iff the pitch rises", rows, clips, sr, seed)


def stage6(n: int = 20, *, sr: int = SR, duration_s: float = 8.0, seed: int = 0) -> Dataset:
    """Stage 6, chords changing over time. Rule: label 1 iff the chord roots climb the scale.

    Four triads of a random major key, 2 s each, on ascending (label 1) or
    descending (label 0) consecutive scale degrees.
    """
    rng = np.random.default_rng(seed)
    rows, clips = [], []
    for label in (0, 1) * n:
        tonic = float(rng.integers(48, 60))
        roots = scale_midis(tonic, "major", 4, 1 if label else -1)
        chords = [(r, r + 4, r + 7) for r in roots]
        clips.append(chord_progression(chords, duration_s / 4, sr, rng, instrument="piano") * _gain(rng))
        rows.append({"label": label, "roots": " ".join(f"{r:.0f}" for r in roots)})
    return _build("stage6", "1 iff the chord roots ascend", rows, clips, sr, seed)


def stage7(n: int = 20, *, sr: int = SR, duration_s: float = 8.0, seed: int = 0) -> Dataset:
    """Stage 7, one instrument changing over time. Rule: label 1 iff its melody climbs.

    A random instrument plays eight notes of a major scale, 1 s each, going up
    (label 1) or down (label 0) from a random tonic.
    """
    rng = np.random.default_rng(seed)
    names = list(INSTRUMENTS)
    rows, clips = [], []
    for label in (0, 1) * n:
        inst = names[int(rng.integers(len(names)))]
        notes = scale_midis(float(rng.integers(57, 69)), "major", 8, 1 if label else -1)
        clips.append(note_sequence(inst, notes, duration_s / 8, sr, rng) * _gain(rng))
        rows.append({"label": label, "instrument": inst, "first_midi": notes[0], "last_midi": notes[-1]})
    return _build("stage7", "1 iff the melody ascends", rows, clips, sr, seed)


def stage8(n: int = 20, *, sr: int = SR, duration_s: float = 10.0, seed: int = 0) -> Dataset:
    """Stage 8, songs. Rule: label 1 iff the flute plays the lead melody.

    Songs (see ``synth.sequence.song``) in random keys (major or minor) and
    tempi 90-140 BPM, with piano or guitar accompaniment, bass and drums; the
    lead is a flute (label 1) or a clarinet, strings or piano (label 0).
    """
    rng = np.random.default_rng(seed)
    leads = ["clarinet", "strings", "piano"]
    rows, clips = [], []
    for i, label in enumerate((0, 1) * n):
        lead = "flute" if label else leads[(i // 2) % len(leads)]
        y, meta = random_song(sr, rng, lead, duration_s)
        clips.append(y * _gain(rng))
        rows.append({"label": label, **meta})
    return _build("stage8", "1 iff the flute plays the lead", rows, clips, sr, seed)


STAGES = {1: stage1, 2: stage2, 3: stage3, 4: stage4, 5: stage5, 6: stage6, 7: stage7, 8: stage8}

#: Experiment 1's training pitches (a C major scale) and held-out pitches (the others in range).
EXP1_PITCHES = ["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5", "D5", "E5"]
EXP1_HELDOUT = ["A3", "B3", "C#4", "D#4", "F#4", "G#4", "A#4", "C#5", "D#5", "F5"]


def exp1(*, heldout: bool = False, per_pitch: int = 1, sr: int = SR, duration_s: float = 8.0, seed: int = 0) -> Dataset:
    """Experiment 1: flute = 1, guitar = 0, one clip per instrument and pitch.

    Training pitches are :data:`EXP1_PITCHES` (10 each, as in the seed);
    ``heldout=True`` gives :data:`EXP1_HELDOUT`, pitches the model never saw.
    Each clip repeats its note every 2 s.
    """
    rng = np.random.default_rng(seed + (1000 if heldout else 0))
    pitches = EXP1_HELDOUT if heldout else EXP1_PITCHES
    rows, clips = [], []
    for pitch in pitches:
        for inst, label in (("flute", 1), ("guitar", 0)):
            for _ in range(per_pitch):
                n_notes = int(np.ceil(duration_s / 2))
                clips.append(note_sequence(inst, [pitch] * n_notes, 2.0, sr, rng, duration_s=duration_s))
                rows.append({"label": label, "instrument": inst, "pitch": pitch})
    return _build("exp1" + ("_heldout" if heldout else ""), "1 iff the instrument is a flute", rows, clips, sr, seed)


#: Experiment 2's instruments: A and B of the rule, and C for the negatives.
EXP2_A, EXP2_B, EXP2_C = "flute", "guitar", "piano"
#: Timing of experiment 2's training clips (seconds): A from START for DUR_A, GAP, then B for DUR_B.
EXP2_TIMING = {"start_s": 0.25, "a_duration_s": 2.75, "gap_s": 1.0, "b_duration_s": 2.5, "duration_s": 8.0}
#: The seed's frame rate for gaps: 50 frames = 1 s.
PROBE_FPS = 50
#: Training negatives: every ordered pair of A, B, C except A->B (the positive) and B->A (held out for testing).
EXP2_NEGATIVES = [(EXP2_A, EXP2_A), (EXP2_B, EXP2_B), (EXP2_C, EXP2_C), (EXP2_A, EXP2_C), (EXP2_C, EXP2_B),
                  (EXP2_C, EXP2_A), (EXP2_B, EXP2_C)]


def _pair_clip(a, b, rng, sr, gap_shift_probe_frames: float = 0.0) -> tuple[np.ndarray, dict]:
    t = dict(EXP2_TIMING)
    t["gap_s"] += probe_frames_to_s(gap_shift_probe_frames, PROBE_FPS)
    pa, pb = float(rng.integers(60, 76)), float(rng.integers(55, 72))
    y = a_then_b(a, b, sr, rng, pitch_a=pa, pitch_b=pb, **t)
    onset_b = t["start_s"] + t["a_duration_s"] + t["gap_s"]
    return y, {"first": a, "second": b, "midi_first": pa, "midi_second": pb, "gap_s": t["gap_s"], "onset_second_s": onset_b}


def exp2(n: int = 20, *, sr: int = SR, seed: int = 0) -> Dataset:
    """Experiment 2 training set: "instrument A then instrument B" = 1, everything else = 0.

    ``n`` positives (A then B with the training gap of 1 s) and ``n`` negatives
    drawn evenly from :data:`EXP2_NEGATIVES` with the same timing. B then A is
    never in training: it is a test row. Pitches are random per clip.
    """
    rng = np.random.default_rng(seed)
    rows, clips = [], []
    for i in range(n):
        for label, (a, b) in ((1, (EXP2_A, EXP2_B)), (0, EXP2_NEGATIVES[i % len(EXP2_NEGATIVES)])):
            y, row = _pair_clip(a, b, rng, sr)
            clips.append(y)
            rows.append({"label": label, **row})
    return _build("exp2", "1 iff instrument A plays and then instrument B", rows, clips, sr, seed)


#: The seed's test rows for experiment 2: (name, first, second, gap shift in frames at 50 fps, label).
EXP2_TEST_ROWS = [
    ("A->B", EXP2_A, EXP2_B, 0, 1),
    ("training negative", None, None, 0, 0),
    ("A->B gap -2 frames", EXP2_A, EXP2_B, -2, 1),
    ("A->B gap -6 frames", EXP2_A, EXP2_B, -6, 1),
    ("A->B gap -10 frames", EXP2_A, EXP2_B, -10, 1),
    ("A->B gap -50 frames", EXP2_A, EXP2_B, -50, 1),
    ("B->A", EXP2_B, EXP2_A, 0, 0),
]


def exp2_test(row: str | None = None, n: int = 20, *, gap_shift_probe_frames: float | None = None, sr: int = SR,
              seed: int = 10_000) -> Dataset:
    """A test set of experiment 2: one of :data:`EXP2_TEST_ROWS` by name, or A->B with any gap shift.

    ``gap_shift_probe_frames`` (at 50 fps; negative narrows, positive widens) gives
    A->B clips with B moved by that many frames, for tolerance curves.
    The label column holds the training rule's answer (A->B is 1 whatever the gap).
    """
    rng = np.random.default_rng(seed)
    if gap_shift_probe_frames is not None:
        name, a, b, shift = f"A->B gap {gap_shift_probe_frames:+g} frames", EXP2_A, EXP2_B, gap_shift_probe_frames
    else:
        match = [r for r in EXP2_TEST_ROWS if r[0] == row]
        if not match:
            raise ValueError(f"unknown experiment 2 row {row!r}; known: {[r[0] for r in EXP2_TEST_ROWS]}")
        name, a, b, shift, _ = match[0]
    rows, clips = [], []
    for i in range(n):
        first, second = (a, b) if a is not None else EXP2_NEGATIVES[i % len(EXP2_NEGATIVES)]
        y, meta = _pair_clip(first, second, rng, sr, shift)
        clips.append(y)
        rows.append({"label": int((first, second) == (EXP2_A, EXP2_B)), "row": name, "gap_shift_probe_frames": shift, **meta})
    return _build("exp2_test", "1 iff instrument A plays and then instrument B", rows, clips, sr, seed)


def stage(number: int, n: int = 20, *, sr: int = SR, seed: int = 0, **kwargs) -> Dataset:
    """Dataset of stage ``number`` (1-8)."""
    if number not in STAGES:
        raise ValueError(f"stage must be one of 1-8, got {number!r}")
    return STAGES[number](n, sr=sr, seed=seed, **kwargs)
