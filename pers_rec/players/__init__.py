"""The players wing: what a listener's players and histories know, and what goes back to them.

Likes, dislikes and playlists as files (``playlists``), a player's stars, ratings, plays and skips as labels
(``signals``), Subsonic and MPD clients that a hostile server cannot abuse (``subsonic``, ``mpd_player``,
``transport``), reading likes from them and writing playlists back (``sync``), and the judgements a listener gave
here (``judgements``).
"""

from ..lazy import face

__getattr__, __dir__, __all__ = face(__name__, (
    "sync", "playlists", "signals", "subsonic", "mpd_player", "transport", "judgements"
))
