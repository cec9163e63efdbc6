"""The radio wing: what to play next, and what listening says about taste.

The picker and its quick learner (``picker``), and the radio inside the listener's own player: MPD's queue
(``mpd_radio``) and a Subsonic client's similar songs (``subsonic_radio``).
"""

from ..lazy import face

__getattr__, __dir__, __all__ = face(__name__, (
    "picker", "mpd_radio", "subsonic_radio"
))
