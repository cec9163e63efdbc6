"""pers_rec: learn one listener's taste from the audio itself and rank their library.

The package is import-light on purpose: importing it (or running ``pers-rec --help``)
loads neither TensorFlow nor librosa. Each module imports its heavy dependencies itself.

Data flows one way::

    audio (decode, mono, resample) -> features (MFCC once, 8 s / 1 s window views)
    -> model (time-only CNN + LSTM) -> scoring (window scores -> track score)
    -> rank (library -> CSV / M3U)

Training (``train``) branches off after ``features``.
"""

__version__ = "0.1.0"
