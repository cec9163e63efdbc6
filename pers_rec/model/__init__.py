"""The model wing: the networks and their files.

The time-only CNN + LSTM (``networks``) and its numpy forward pass (``runtime``, ``archive``), model files
(``checkpoint``) and their reports (``report``), the teacher (``teacher``), the MFCC baseline and the metrics
(``baseline``), and window and track scores computed fast (``scoring``).
"""

from ..lazy import face

__getattr__, __dir__, __all__ = face(__name__, (
    "networks", "runtime", "archive", "teacher", "checkpoint", "report", "baseline", "scoring"
))
