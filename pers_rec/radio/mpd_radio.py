"""The radio inside MPD: keep the queue topped up with the radio's picks, and turn listening into labels.

:class:`MPDRadio` watches MPD (``idle`` on the player and the queue, and a look
at the position at least every :data:`POLL_S` seconds), and after every change:

- when the song playing changes, the one before is judged by how long it was
  played (:func:`radio.outcome`: a skip, a completion, a repeat, or nothing), the
  label is stored durably in the library's judgements (the same SQLite store as
  ``serve``'s, source ``radio:skip`` ...) and the quick learner is refitted, so
  the next pick already follows it;
- the queue is topped up to :attr:`radio.Rules.ahead` tracks after the one
  playing, by appending (``addid``) at its end. Nothing else is ever changed:
  the listener's own entries are never moved or removed, and a song the
  listener queued is judged like any other but never replaced;
- a file MPD plays that is not in the library is said once, and the radio goes
  on from the last library track.

When MPD goes away (restarted, the network gone), the radio says so once and
reconnects with a growing pause (1 s doubling to :data:`MAX_BACKOFF_S`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..players.mpd_player import MPDError, uri_of
from .picker import WEIGHTS, Radio

#: The longest wait between two looks at MPD's position (seconds): the precision of a skip's time.
POLL_S = 1.0
#: The longest pause between two reconnection attempts (seconds).
MAX_BACKOFF_S = 30.0


@dataclass
class Playing:
    """The song MPD is playing, as last seen."""

    song_id: str
    uri: str
    row: int | None
    duration_s: float | None
    elapsed_s: float = 0.0
    seen_at: float = 0.0  #: ``time.monotonic()`` of the last look
    running: bool = False  #: whether it was playing (not paused) at the last look

    def played_s(self, now: float) -> float:
        """How long it was played when it ended at ``now``: the last look, plus the time since when it was
        playing (capped at its length)."""
        t = self.elapsed_s + (now - self.seen_at if self.running else 0.0)
        return min(t, self.duration_s) if self.duration_s else t


class MPDRadio:
    """A radio over MPD.

    Parameters
    ----------
    radio : Radio
        The picker and learner, over the library's tracks.
    paths : list of str
        The library's files, in the radio's row order.
    music_dir : path
        MPD's ``music_directory`` (song URIs are relative to it).
    connect : callable
        Returns a new :class:`mpd_player.Player` (called again to reconnect).
    store : judgements.Judgements or None
        Where every event is stored (durably, before the next pick).
    log : callable
        Says one line to the listener.
    lock : threading.Lock or None
        Held during each look at MPD (the radio is shared with the Subsonic relay).
    before_step : callable or None
        Called under the lock before each look (``serve --mpd``: the page's thumbs and retrained models).
    """

    def __init__(self, radio: Radio, paths: list[str], music_dir, connect: Callable, store=None,
                 log: Callable[[str], None] = print, lock=None, before_step: Callable[[], None] | None = None):
        self.radio, self.paths, self.connect, self.store, self.log = radio, list(paths), connect, store, log
        self.before_step = before_step  #: called (under the lock) before each look: another face's news
        self.lock = lock or threading.Lock()  #: held while the radio is read or taught (other doors share it)
        self.row_of = {u: i for i, p in enumerate(self.paths) if (u := uri_of(p, music_dir)) is not None}
        self.uri_of = {i: u for u, i in self.row_of.items()}
        self.playing: Playing | None = None
        self.last_row: int | None = None
        self.events: list[tuple[str, str]] = []  #: ``(uri, outcome)`` of every judged song, in order
        self.added: list[str] = []  #: the song ids this radio appended
        self.strangers: set[str] = set()
        self.stop = threading.Event()

    # ---- one look at MPD --------------------------------------------------------------------------------------
    def step(self, player) -> None:
        """Look at MPD once: judge the song that ended, follow the one playing, top the queue up."""
        status = player.status()
        queue = player.queue()
        song_id = status.get("songid")
        current = next((q for q in queue if str(q.get("id")) == song_id), None) if song_id else None
        now = time.monotonic()
        if self.playing is not None and (current is None or song_id != self.playing.song_id):
            self._ended(self.playing, now)
            self.playing = None
        if current is not None:
            if self.playing is None:
                self.playing = self._start(current, status)
            self.playing.elapsed_s = _float(status.get("elapsed")) or self.playing.elapsed_s
            self.playing.seen_at, self.playing.running = now, status.get("state") == "play"
        self._top_up(player, status, queue)

    def _start(self, song: dict, status: dict) -> Playing:
        uri = str(song.get("file", ""))
        row = self.row_of.get(uri)
        if row is None and uri not in self.strangers:
            self.strangers.add(uri)
            self.log(f"pers-rec radio: {uri} is not in the library: not judged; the radio goes on from "
                     "the last library track")
        if row is not None:
            self.last_row = row
            self.radio.queued(row)
        duration = _float(status.get("duration")) or _float(song.get("duration")) or _float(song.get("time"))
        return Playing(str(song.get("id")), uri, row, duration)

    def _ended(self, was: Playing, now: float) -> None:
        if was.row is None:
            return
        played = was.played_s(now)
        kind = self.radio.heard(was.row, played, was.duration_s)
        if kind is None:
            return
        label, weight = WEIGHTS[kind]
        if self.store is not None:
            self.store.add(self.paths[was.row], label, source=f"radio:{kind}", weight=weight)
        self.events.append((was.uri, kind))
        self.log(f"pers-rec radio: {kind} ({played:.0f} of {was.duration_s or 0:.0f} s): {was.uri}")

    def _top_up(self, player, status: dict, queue: list[dict]) -> None:
        pos = int(status["song"]) if "song" in status else -1
        ahead = len(queue) - pos - 1 if pos >= 0 else len(queue)
        need = self.radio.rules.ahead - ahead
        if need <= 0:
            return
        waiting = {self.row_of[str(q.get("file"))] for q in queue[pos + 1:] if str(q.get("file")) in self.row_of}
        picks = self.radio.pick(self.last_row, need, exclude=waiting)
        for row in picks:
            self.added.append(player.add(self.uri_of[row]))
            self.log(f"pers-rec radio: queued {self.uri_of[row]} (taste {self.radio.taste[row]:.2f})")
        if picks and status.get("state") == "stop" and pos < 0:
            player.play()  # an empty, stopped player: the radio starts it
        if len(picks) < need:
            self.log("pers-rec radio: the variety rules leave no more tracks to queue now")

    # ---- the loop ---------------------------------------------------------------------------------------------
    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Watch MPD until :attr:`stop` is set (or ``until()`` is true), reconnecting when it goes away."""
        backoff, player, said = 1.0, None, False
        while not self.stop.is_set() and not (until and until()):
            try:
                if player is None:
                    player = self.connect()
                    if said:
                        self.log("pers-rec radio: MPD is back")
                    backoff, said = 1.0, False
                with self.lock:
                    if self.before_step is not None:
                        self.before_step()
                    self.step(player)
                player.wait(POLL_S)
            except MPDError as exc:
                if player is not None:
                    player.close()
                player = None
                if not said:
                    self.log(f"pers-rec radio: {exc}; trying again (every {MAX_BACKOFF_S:g} s at most)")
                    said = True
                self.stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
        if player is not None:
            player.close()


def _float(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v == v and v >= 0 else None

