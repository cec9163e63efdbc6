"""The library wing: what a trained model does with a listener's library.

The ranking (``rank``), track vectors and similar tracks (``embed``), playlists that walk them (``sequence``),
filters and the map (``filters``, ``maps``), which track to ask about next (``active``), a Ray engine
(``distributed``), which encoder embeds a library (``encoders``), retraining on what a listener said
(``retrain``), and the end-to-end workflows the faces call (``workflows``).
"""

from ..lazy import face

__getattr__, __dir__, __all__ = face(__name__, (
    "rank", "embed", "sequence", "filters", "maps", "active", "distributed", "workflows", "encoders", "retrain"
))
