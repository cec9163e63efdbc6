"""Instrument models whose timbres differ the way real instruments' do.

Each instrument is a function ``(pitch, duration_s, sr, rng) -> y`` returning a
float32 note with peak at most 1; the pitch is a note name, a MIDI number or a
string such as ``"440Hz"`` (see ``synth.tones.to_hz``).
What distinguishes them, and what MFCCs pick up, is the spectral envelope
(which partials are strong), the attack and decay, and noise.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy import signal

from .tones import adsr, harmonic, normalize, to_hz


@lru_cache(maxsize=64)
def _butter(order: int, freqs: float | tuple, btype: str, sr: int) -> np.ndarray:
    """Butterworth design as second-order sections, cached (drum hits reuse a few designs)."""
    return signal.butter(order, freqs, btype=btype, fs=sr, output="sos")


Instrument = Callable[[str | float, float, int, np.random.Generator], np.ndarray]


def flute(pitch, duration_s, sr, rng):
    """Flute: nearly sinusoidal (strong fundamental, weak 2nd-4th partials), breathy, with vibrato.

    The open pipe supports all harmonics but the jet drives them weakly; breath
    noise is band-passed around the fundamental's region and rides the envelope.
    Attack ~60 ms, vibrato ~5 Hz, +-15 cents.
    """
    f0 = to_hz(pitch)
    n = int(round(duration_s * sr))
    env = adsr(n, sr, attack=0.06, decay=0.05, sustain=0.85, release=0.08)
    tone = harmonic(f0, duration_s, sr, [1.0, 0.18, 0.08, 0.03], vibrato_hz=5.0 + rng.uniform(-0.3, 0.3),
                    vibrato_cents=15, envelope=env)
    lo, hi = min(0.9 * f0, 0.45 * sr), min(4.0 * f0, 0.49 * sr)
    sos = _butter(2, (round(lo, 1), round(hi, 1)), "band", sr)
    breath = signal.sosfilt(sos, rng.standard_normal(n)).astype(np.float32)
    breath *= 0.06 / (np.abs(breath).max() + 1e-9)
    return normalize(tone + breath * env, 1.0)


def guitar(pitch, duration_s, sr, rng):
    """Plucked string by Karplus-Strong: a noise burst circulating in a lossy delay line.

    ``y[n] = x[n] + rho * (h0 y[n-M] + h1 y[n-M-1] + h2 y[n-M-2])`` where the loop
    filter ``h = [1, 1]/2 * [1 - beta, beta]`` averages neighbours (so high
    partials die faster than low ones: a bright attack mellowing as it decays)
    and interpolates a fractional delay, tuning the period ``M + 0.5 + beta`` to
    ``sr / f0`` exactly. The comb's teeth are the string's harmonics. Every
    block of ``M`` samples depends only on earlier blocks, so the recurrence
    runs one period at a time as a vector operation.
    """
    f0 = to_hz(pitch)
    n = int(round(duration_s * sr))
    period = sr / f0
    m = max(int(np.floor(period - 0.5)), 1)
    beta = period - 0.5 - m
    h = np.array([0.5 * (1 - beta), 0.5, 0.5 * beta])
    rho = 0.996
    burst = min(m, n)
    x = rng.uniform(-1, 1, burst)
    x -= x.mean()  # no DC: the loop passes DC with gain ~1 and it would never decay
    buf = np.zeros(n + m + 2)  # buf[i + m + 2] holds y[i]
    buf[m + 2 : m + 2 + burst] = x[:burst]  # the first period is the excitation itself
    taps = rho * h
    for start in range(burst, n, m):
        end = min(start + m, n)
        # taps[0] y[i-M] + taps[1] y[i-M-1] + taps[2] y[i-M-2] for the whole period at once
        buf[start + m + 2 : end + m + 2] = np.convolve(buf[start:end + 2], taps, "valid")
    y = buf[m + 2 :] * adsr(n, sr, attack=0.0, decay=0.0, sustain=1.0, release=min(0.05, duration_s / 4))
    return normalize(y, 1.0)


def piano(pitch, duration_s, sr, rng):
    """Piano-like: stiff-string partials ``k f sqrt(1 + B k^2)`` (slightly sharp), each decaying exponentially.

    A hammer strike gives a fast attack and many partials whose decay rate grows
    with partial number, so the sound darkens as it fades.
    """
    f0 = to_hz(pitch)
    k = np.arange(1, 13)
    amps = 1.0 / k**1.2
    decay = 1.5 + 0.8 * k  # 1/s
    n = int(round(duration_s * sr))
    env = adsr(n, sr, attack=0.003, decay=0.0, sustain=1.0, release=min(0.08, duration_s / 4))
    return harmonic(f0, duration_s, sr, amps, envelope=env, partial_decay=decay, inharmonicity=1.5e-4)


def strings(pitch, duration_s, sr, rng):
    """Bowed string: sawtooth-rich (all harmonics at ``1/k``) with a slow bow attack and vibrato.

    The stick-slip bow drives a near-sawtooth; the body's resonances are
    approximated by a gentle low-pass roll-off above the 10th partial.
    """
    f0 = to_hz(pitch)
    k = np.arange(1, 21)
    amps = (1.0 / k) * np.where(k > 10, 0.5, 1.0)
    n = int(round(duration_s * sr))
    env = adsr(n, sr, attack=0.18, decay=0.1, sustain=0.9, release=0.15)
    return harmonic(f0, duration_s, sr, amps, vibrato_hz=6.0 + rng.uniform(-0.3, 0.3), vibrato_cents=20, envelope=env)


def clarinet(pitch, duration_s, sr, rng):
    """Clarinet: a closed cylindrical bore, so odd harmonics dominate (even ones ~20 dB down).

    Reed attack ~40 ms, little vibrato.
    """
    f0 = to_hz(pitch)
    k = np.arange(1, 16)
    amps = np.where(k % 2 == 1, 1.0 / k, 0.1 / k)
    n = int(round(duration_s * sr))
    env = adsr(n, sr, attack=0.04, decay=0.05, sustain=0.9, release=0.06)
    return harmonic(f0, duration_s, sr, amps, envelope=env)


def kick(duration_s, sr, rng):
    """Kick drum: a sine whose pitch falls from ~120 to ~45 Hz, with a fast exponential decay."""
    n = int(round(duration_s * sr))
    t = np.arange(n) / sr
    f = 45 + 75 * np.exp(-t / 0.03)
    y = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.15)
    return normalize(y, 1.0)


def snare(duration_s, sr, rng):
    """Snare: band-passed noise (the wires) plus a 180 Hz body tone, ~150 ms decay."""
    n = int(round(duration_s * sr))
    t = np.arange(n) / sr
    sos = _butter(2, (1000.0, min(8000.0, 0.45 * sr)), "band", sr)
    wires = signal.sosfilt(sos, rng.standard_normal(n)) * np.exp(-t / 0.12)
    body = 0.5 * np.sin(2 * np.pi * 180 * t) * np.exp(-t / 0.05)
    return normalize(wires / (np.abs(wires).max() + 1e-9) + body, 1.0)


def hihat(duration_s, sr, rng):
    """Closed hi-hat: high-passed noise with a ~40 ms decay."""
    n = int(round(duration_s * sr))
    t = np.arange(n) / sr
    sos = _butter(4, min(7000.0, 0.4 * sr), "high", sr)
    return normalize(signal.sosfilt(sos, rng.standard_normal(n)) * np.exp(-t / 0.04), 1.0)


#: Pitched instruments by name.
INSTRUMENTS: dict[str, Instrument] = {
    "flute": flute,
    "guitar": guitar,
    "piano": piano,
    "strings": strings,
    "clarinet": clarinet,
}

#: Drum voices by name; each takes ``(duration_s, sr, rng)``.
DRUMS = {"kick": kick, "snare": snare, "hihat": hihat}


def play(instrument: str, pitch, duration_s: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One note of a named instrument (see :data:`INSTRUMENTS`)."""
    try:
        fn = INSTRUMENTS[instrument]
    except KeyError:
        raise ValueError(f"unknown instrument {instrument!r}; known: {sorted(INSTRUMENTS)}") from None
    return fn(pitch, duration_s, sr, rng)
