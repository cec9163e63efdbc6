"""The audio wing: from a listener's files to feature matrices.

Finding the files (``scan``), decoding any of them to mono float32 at the model's rate (``decode``), what
their tags say (``tags``), MFCCs and their 8 s / 1 s windows (``features``, ``augment``), many files in worker
processes (``extract``) and the feature cache that keeps them (``cache``, ``cache_file``, ``compact``).
"""

from ..lazy import face

__getattr__, __dir__, __all__ = face(__name__, (
    "decode", "scan", "tags", "features", "augment", "extract", "cache", "cache_file", "compact"
))
