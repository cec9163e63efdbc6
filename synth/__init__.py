"""synth: deterministic synthetic audio for pers_rec's staged probes, demo and tests.

- ``synth.tones``: pitches, envelopes, sine/harmonic tones, chords, glides
- ``synth.instruments``: flute, guitar (Karplus-Strong), piano, strings, clarinet, drums
- ``synth.sequence``: events over time, "A then B", scales, chord progressions, songs
- ``synth.stages``: Ueno's probe datasets (stages 1-8, experiments 1 and 2)
- ``synth.io``: writing clips to WAV (default) or compressed files
"""

from .instruments import DRUMS, INSTRUMENTS, play
from .sequence import (
    Event,
    a_then_b,
    chord_progression,
    note_sequence,
    probe_frames_to_s,
    random_song,
    render,
    scale_midis,
    song,
)
from .stages import STAGES, Dataset, exp1, exp2, exp2_test, stage
from .tones import adsr, chord, chord_midis, glide, harmonic, midi_to_hz, note_to_midi, sine, to_hz

__all__ = [
    "DRUMS", "INSTRUMENTS", "STAGES", "Dataset", "Event", "a_then_b", "adsr", "chord", "chord_midis",
    "chord_progression", "exp1", "exp2", "exp2_test", "probe_frames_to_s", "glide", "harmonic", "midi_to_hz",
    "note_sequence", "note_to_midi", "play", "random_song", "render", "scale_midis", "sine", "song", "stage", "to_hz",
]
