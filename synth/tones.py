"""Pitches, envelopes, tones and chords.

All signals are float32 numpy arrays at a given sample rate ``sr`` (Hz) and
durations are in seconds. Randomness always comes from an explicit
``numpy.random.Generator`` so that every function is deterministic for a seed.
"""

from __future__ import annotations

import re

import numpy as np

A4_HZ = 440.0
_NOTE_RE = re.compile(r"^([A-Ga-g])([#b]?)(-?\d+)$")
_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

#: Chord qualities as semitone intervals above the root.
CHORDS = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "dim7": (0, 3, 6, 9),
}
_CHORD_ALIASES = {"": "maj", "M": "maj", "m": "min", "-": "min", "M7": "maj7", "m7": "min7", "+": "aug", "°": "dim"}
_CHORD_RE = re.compile(r"^([A-G][#b]?)(.*)$")


def midi_to_hz(midi: float | np.ndarray) -> float | np.ndarray:
    """Equal-tempered frequency in Hz of a MIDI note number (69 = A4 = 440 Hz)."""
    return A4_HZ * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69) / 12)


def note_to_midi(note: str | int | float) -> float:
    """MIDI number of a note name such as ``"A4"``, ``"C#3"``, ``"Eb5"`` (or a number)."""
    if isinstance(note, (int, float, np.integer, np.floating)):
        return float(note)
    m = _NOTE_RE.match(note.strip())
    if not m:
        raise ValueError(f"not a note name: {note!r} (expected e.g. 'A4', 'C#3', 'Eb5')")
    letter, accidental, octave = m.groups()
    pc = _PITCH_CLASS[letter.upper()] + {"#": 1, "b": -1, "": 0}[accidental]
    return float(12 * (int(octave) + 1) + pc)


def to_hz(pitch: str | float) -> float:
    """Frequency in Hz of a pitch: a note name (``"A4"``), a MIDI number (69), or Hz as a string (``"440Hz"``).

    Numbers are always MIDI note numbers (fractional ones are microtones), so a
    pitch is never ambiguous; write frequencies with their unit.
    """
    if isinstance(pitch, str):
        text = pitch.strip()
        if text.lower().endswith("hz"):
            return float(text[:-2])
        return float(midi_to_hz(note_to_midi(text)))
    return float(midi_to_hz(pitch))


def is_chord(pitch) -> bool:
    """Whether ``pitch`` names several notes: a tuple/list of notes or a chord name such as ``"Am7"``."""
    if isinstance(pitch, (tuple, list)):
        return True
    if not isinstance(pitch, str):
        return False
    text = pitch.strip()
    return not (text.lower().endswith("hz") or _NOTE_RE.match(text))


def chord_midis(chord: str | tuple, octave: int = 4) -> list[float]:
    """MIDI numbers of a chord: a name (``"C"``, ``"Am"``, ``"G7"``, ``"F#m7"``, ``"Dsus4"``) or a note list.

    A chord name carries no octave (``"G7"`` is G dominant seventh); its root
    sits in ``octave`` (4: C4-B4).
    """
    if not isinstance(chord, str):
        return [note_to_midi(n) for n in chord]
    m = _CHORD_RE.match(chord.strip())
    if not m:
        raise ValueError(f"not a chord name: {chord!r}")
    root, quality = m.groups()
    quality = _CHORD_ALIASES.get(quality, quality)
    if quality not in CHORDS:
        raise ValueError(f"unknown chord quality {quality!r} in {chord!r}; known: {sorted(CHORDS)}")
    base = note_to_midi(f"{root}{octave}")
    return [base + i for i in CHORDS[quality]]


def adsr(n: int, sr: int, attack: float = 0.01, decay: float = 0.1, sustain: float = 0.7, release: float = 0.1) -> np.ndarray:
    """Attack-decay-sustain-release amplitude envelope of ``n`` samples.

    Linear attack to 1 over ``attack`` s, linear decay to ``sustain`` over
    ``decay`` s, hold, and a linear release to 0 over the last ``release`` s. Segments are shortened
    proportionally when the note is shorter than their sum.
    """
    a, d, r = (int(round(x * sr)) for x in (attack, decay, release))
    total = a + d + r
    if total > n and total > 0:
        a, d, r = (int(x * n / total) for x in (a, d, r))
    s = n - a - d - r
    return np.concatenate(
        [
            np.linspace(0, 1, a, endpoint=False, dtype=np.float32),
            np.linspace(1, sustain, d, endpoint=False, dtype=np.float32),
            np.full(s, sustain, np.float32),
            np.linspace(sustain, 0, r, dtype=np.float32),
        ]
    )


def phase(freq_hz: float | np.ndarray, n: int, sr: int, vibrato_hz: float = 0.0, vibrato_cents: float = 0.0) -> np.ndarray:
    """Instantaneous phase (radians) of an oscillator, with optional vibrato.

    ``freq_hz`` may be a constant or an array of ``n`` per-sample frequencies
    (a glide). Vibrato modulates frequency sinusoidally by ``vibrato_cents``.
    The phase is the running integral of frequency, so glides stay continuous.
    """
    f = np.broadcast_to(np.asarray(freq_hz, np.float64), (n,))
    if vibrato_hz and vibrato_cents:
        t = np.arange(n) / sr
        f = f * 2.0 ** (vibrato_cents / 1200 * np.sin(2 * np.pi * vibrato_hz * t))
    return 2 * np.pi * np.cumsum(f) / sr


def harmonic(
    freq_hz: float | np.ndarray,
    duration_s: float,
    sr: int,
    amps: np.ndarray | list[float] = (1.0,),
    *,
    vibrato_hz: float = 0.0,
    vibrato_cents: float = 0.0,
    tremolo_hz: float = 0.0,
    tremolo_depth: float = 0.0,
    envelope: np.ndarray | None = None,
    partial_decay: np.ndarray | None = None,
    inharmonicity: float = 0.0,
) -> np.ndarray:
    """Additive tone: partial ``k`` (1-based) at ``k f sqrt(1 + B k^2)`` with amplitude ``amps[k-1]``.

    Parameters
    ----------
    freq_hz : float or np.ndarray [shape=(n,)]
        Fundamental in Hz, or per-sample fundamental (glide).
    duration_s : float
        Seconds.
    amps : sequence of float
        Relative amplitude of each partial. Partials at or above Nyquist are dropped
        (no aliasing).
    vibrato_hz, vibrato_cents : float
        Frequency modulation rate and depth.
    tremolo_hz, tremolo_depth : float
        Amplitude modulation rate and depth (0..1).
    envelope : np.ndarray [shape=(n,)] or None
        Amplitude envelope; default: a flat note with 10 ms fades.
    partial_decay : np.ndarray [shape=(n_partials,)] or None
        Exponential decay rate per partial in 1/s (piano: higher partials die faster).
    inharmonicity : float
        Stiff-string coefficient ``B`` (piano ~1e-4); 0 gives exact harmonics.

    Returns
    -------
    y : np.ndarray [shape=(round(duration_s * sr),), dtype=float32]
        Peak-normalised to at most 1 before the envelope.
    """
    n = int(round(duration_s * sr))
    amps = np.asarray(amps, np.float64)
    k = np.arange(1, len(amps) + 1, dtype=np.float64)
    stretch = k * np.sqrt(1 + inharmonicity * k**2)
    f_max = float(np.max(freq_hz))
    keep = stretch * f_max < sr / 2
    amps, stretch = amps[keep], stretch[keep]
    decay = np.zeros(len(keep)) if partial_decay is None else np.asarray(partial_decay, np.float64)
    decay = decay[keep]
    if np.ndim(freq_hz) == 0 and not (vibrato_hz and vibrato_cents):
        y = _steady_partials(float(freq_hz), amps, stretch, decay, n, sr)
    else:
        ph = phase(freq_hz, n, sr, vibrato_hz, vibrato_cents)
        t = np.arange(n, dtype=np.float64) / sr
        y = np.zeros(n, np.float64)
        for a, s, d in zip(amps, stretch, decay):
            y += a * np.sin(s * ph) * (np.exp(-d * t) if d else 1.0)
    peak = np.abs(y).max(initial=0.0)
    if peak > 0:
        y /= peak
    if tremolo_hz and tremolo_depth:
        t = np.arange(n, dtype=np.float64) / sr
        y *= 1 - tremolo_depth * 0.5 * (1 + np.sin(2 * np.pi * tremolo_hz * t))
    env = envelope if envelope is not None else adsr(n, sr, attack=0.01, decay=0.0, sustain=1.0, release=0.01)
    return (y * env).astype(np.float32)


def _steady_partials(f0, amps, stretch, decay, n, sr) -> np.ndarray:
    """Sum of ``a r^i sin((i + 1) theta)``: each partial is the impulse response of a two-pole resonator.

    For a constant pitch this equals the phase-accumulator sum of damped sines
    (to ~1e-12) at a third of the cost, since ``lfilter`` runs the recursion in C.
    """
    from scipy.signal import lfilter

    impulse = np.zeros(n)
    if n:
        impulse[0] = 1.0
    y = np.zeros(n)
    for a, s, d in zip(amps, stretch, decay):
        if a == 0:
            continue
        theta, r = 2 * np.pi * s * f0 / sr, np.exp(-d / sr)
        y += lfilter([a * r * np.sin(theta)], [1.0, -2 * r * np.cos(theta), r * r], impulse)
    return y


def sine(pitch: str | float, duration_s: float, sr: int, **kwargs) -> np.ndarray:
    """Pure tone at a pitch (note name, MIDI number or ``"440Hz"``; see :func:`to_hz` and :func:`harmonic`)."""
    return harmonic(to_hz(pitch), duration_s, sr, (1.0,), **kwargs)


def chord(notes: str | tuple, duration_s: float, sr: int, *, octave: int = 4, amps=(1.0,), **kwargs) -> np.ndarray:
    """A chord of harmonic tones, each note with partial amplitudes ``amps``, normalised to peak 1."""
    y = sum(harmonic(float(midi_to_hz(m)), duration_s, sr, amps, **kwargs).astype(np.float64) for m in chord_midis(notes, octave))
    return normalize(y)


def glide(start: str | float, end: str | float, duration_s: float, sr: int, amps=(1.0,), **kwargs) -> np.ndarray:
    """A tone whose pitch moves continuously (exponentially in Hz, linearly in pitch) from ``start`` to ``end``."""
    n = int(round(duration_s * sr))
    f = to_hz(start) * (to_hz(end) / to_hz(start)) ** np.linspace(0, 1, n)
    return harmonic(f, duration_s, sr, amps, **kwargs)


def normalize(y: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale to the given peak (no-op on silence), returned as float32."""
    m = float(np.abs(y).max(initial=0.0))
    return (y * (peak / m) if m > 0 else y).astype(np.float32)
