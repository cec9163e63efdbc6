"""Sounds over time: note and chord sequences, "A then B", scales, glides and songs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .instruments import DRUMS, play
from .tones import chord_midis, is_chord, normalize, note_to_midi

#: Semitone steps of the scales used for melodies.
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}

#: Chord progressions as scale degrees (0-based) for songs.
PROGRESSIONS = {
    "major": [(0, 4, 5, 3), (0, 3, 4, 0), (0, 5, 3, 4), (5, 3, 0, 4)],
    "minor": [(0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4)],
}


@dataclass(frozen=True)
class Event:
    """One sound in a sequence.

    Attributes
    ----------
    onset_s : float
        Start time in seconds.
    duration_s : float
        Seconds.
    instrument : str
        A pitched instrument (``synth.instruments.INSTRUMENTS``) or a drum
        voice (``"kick"``, ``"snare"``, ``"hihat"``).
    pitch : str, float, tuple or None
        Note name / MIDI number / ``"440Hz"``, a chord name or tuple of notes (played
        together), or None for drums.
    gain : float
        Linear amplitude.
    """

    onset_s: float
    duration_s: float
    instrument: str
    pitch: object = None
    gain: float = 1.0


def render(events: list[Event], duration_s: float, sr: int, rng: np.random.Generator, peak: float = 0.9) -> np.ndarray:
    """Mix events into one clip of ``duration_s`` seconds, normalised to ``peak`` (never clips).

    An event's first sample sits at ``round(onset_s * sr)``; sound past the end is cut.
    """
    n = int(round(duration_s * sr))
    y = np.zeros(n, np.float64)
    for ev in events:
        start = int(round(ev.onset_s * sr))
        if start >= n:
            continue
        note = _sound(ev, sr, rng)[: n - start]
        y[start : start + len(note)] += ev.gain * note
    return normalize(y, peak)


def _sound(ev: Event, sr: int, rng: np.random.Generator) -> np.ndarray:
    if ev.instrument in DRUMS:
        return DRUMS[ev.instrument](ev.duration_s, sr, rng)
    if is_chord(ev.pitch):
        midis = chord_midis(ev.pitch)
        return sum(play(ev.instrument, m, ev.duration_s, sr, rng) for m in midis) / len(midis)
    return play(ev.instrument, ev.pitch, ev.duration_s, sr, rng)


def probe_frames_to_s(probe_frames: float, fps: float = 50) -> float:
    """Seconds spanned by ``probe_frames`` frames of the seed's probes (50 per second), not pers_rec's
    64 fps feature frames: the seed states its experiment 2 gaps in them."""
    return probe_frames / fps


def a_then_b(
    inst_a: str,
    inst_b: str,
    sr: int,
    rng: np.random.Generator,
    *,
    pitch_a="C5",
    pitch_b="G4",
    start_s: float = 0.5,
    a_duration_s: float = 3.0,
    gap_s: float = 1.0,
    b_duration_s: float = 3.0,
    duration_s: float = 8.0,
) -> np.ndarray:
    """Instrument A plays, then after ``gap_s`` seconds instrument B (experiment 2 of the seed).

    A sounds during ``[start_s, start_s + a_duration_s)``, B during
    ``[start_s + a_duration_s + gap_s, ... + b_duration_s)``. A negative ``gap_s`` overlaps them;
    give a gap in the seed's 50 fps frames with :func:`probe_frames_to_s`. Narrowing the gap by ``d``
    seconds moves B earlier by ``d`` and leaves A where it was.
    """
    events = [
        Event(start_s, a_duration_s, inst_a, pitch_a),
        Event(start_s + a_duration_s + gap_s, b_duration_s, inst_b, pitch_b),
    ]
    return render(events, duration_s, sr, rng)


def note_sequence(
    instrument: str | list[str],
    pitches: list,
    note_s: float,
    sr: int,
    rng: np.random.Generator,
    *,
    start_s: float = 0.0,
    legato: float = 0.95,
    duration_s: float | None = None,
) -> np.ndarray:
    """Notes (or chords) one after another, each ``note_s`` seconds, by one instrument or one per note."""
    instruments = instrument if isinstance(instrument, list) else [instrument] * len(pitches)
    events = [Event(start_s + i * note_s, note_s * legato, inst, p) for i, (inst, p) in enumerate(zip(instruments, pitches))]
    total = duration_s if duration_s is not None else start_s + len(pitches) * note_s
    return render(events, total, sr, rng)


def scale_midis(tonic: str | float, mode: str = "major", n: int = 8, direction: int = 1) -> list[float]:
    """``n`` consecutive notes of a scale starting on ``tonic``, going up (``direction=1``) or down (-1)."""
    base = note_to_midi(tonic)
    octaves = n // len(SCALES[mode]) + 1
    ladder = [base + 12 * o + s for o in range(-octaves, octaves + 1) for s in SCALES[mode]]
    i = ladder.index(base)
    return ladder[i : i + n] if direction > 0 else ladder[i - n + 1 : i + 1][::-1]


def song(
    sr: int,
    rng: np.random.Generator,
    *,
    lead: str = "flute",
    accompaniment: str = "piano",
    bass: str | None = "guitar",
    drums: bool = True,
    key: str = "C",
    mode: str = "major",
    tempo: float = 110.0,
    bars: int = 4,
    duration_s: float | None = None,
) -> tuple[np.ndarray, list[Event]]:
    """A short song: lead melody, chord accompaniment, bass and a drum groove, in 4/4.

    The chord progression is drawn from :data:`PROGRESSIONS`; the melody walks
    the scale in steps, preferring chord tones on strong beats; the groove is
    kick on beats 1 and 3, snare on 2 and 4, hi-hat on eighths. Returns the
    clip and its events (what plays when), so tests and plots can use them.
    """
    beat = 60.0 / tempo
    root = note_to_midi(f"{key}4")
    steps = SCALES[mode]
    progression = PROGRESSIONS[mode][rng.integers(len(PROGRESSIONS[mode]))]
    events: list[Event] = []
    degree = 0
    for bar in range(bars):
        t0 = bar * 4 * beat
        chord_degree = progression[bar % len(progression)]
        triad = [root + steps[(chord_degree + i) % 7] + 12 * ((chord_degree + i) // 7) for i in (0, 2, 4)]
        events.append(Event(t0, 4 * beat * 0.98, accompaniment, tuple(float(m) - 12 for m in triad), 0.45))
        if bass:
            events += [Event(t0 + b * beat, beat * 0.9, bass, float(triad[0]) - 24, 0.5) for b in (0, 2)]
        for b in range(4):
            if b in (0, 2):
                degree = chord_degree + 2 * rng.integers(0, 3)  # a chord tone on strong beats
            else:
                degree += int(rng.choice([-1, 1, 2, -2]))
            octave, d = divmod(int(degree), 7)
            pitch = root + 12 + steps[d] + 12 * min(max(octave, -1), 1)
            events.append(Event(t0 + b * beat, beat * 0.9, lead, float(pitch), 0.8))
        if drums:
            events += [Event(t0 + b * beat, 0.3, "kick", gain=0.7) for b in (0, 2)]
            events += [Event(t0 + b * beat, 0.25, "snare", gain=0.35) for b in (1, 3)]
            events += [Event(t0 + e * beat / 2, 0.08, "hihat", gain=0.15) for e in range(8)]
    total = duration_s if duration_s is not None else bars * 4 * beat
    return render(events, total, sr, rng), events


#: Keys :func:`random_song` draws from.
SONG_KEYS = ("C", "D", "E", "F", "G", "A", "Bb")


def random_song(sr: int, rng: np.random.Generator, lead: str, duration_s: float) -> tuple[np.ndarray, dict]:
    """A :func:`song` with ``lead`` and everything else drawn from ``rng``: key, mode, tempo, accompaniment.

    The one random-song recipe of the project (stage 8, the demo, the ranking
    benchmark): a key of :data:`SONG_KEYS`, major or minor, 90-140 BPM, piano
    or guitar accompaniment (guitar when the lead is the piano), enough bars
    to fill ``duration_s`` seconds.

    Returns
    -------
    y : np.ndarray [shape=(round(duration_s * sr),), float32]
    meta : dict
        ``lead``, ``accompaniment``, ``key`` (e.g. ``"Bb minor"``) and ``tempo`` (BPM).
    """
    key, mode = SONG_KEYS[int(rng.integers(len(SONG_KEYS)))], ("major", "minor")[int(rng.integers(2))]
    tempo = float(rng.uniform(90, 140))
    acc = "guitar" if lead == "piano" else ("piano", "guitar")[int(rng.integers(2))]
    bars = int(np.ceil(duration_s / (4 * 60 / tempo)))
    y, _ = song(sr, rng, lead=lead, accompaniment=acc, key=key, mode=mode, tempo=tempo, bars=bars, duration_s=duration_s)
    return y, {"lead": lead, "accompaniment": acc, "key": f"{key} {mode}", "tempo": tempo}


def chord_progression(
    chords: list, chord_s: float, sr: int, rng: np.random.Generator, instrument: str = "piano", **kwargs
) -> np.ndarray:
    """Chords (names or note tuples) one after another, ``chord_s`` seconds each."""
    return note_sequence(instrument, [tuple(chord_midis(c)) for c in chords], chord_s, sr, rng, **kwargs)

