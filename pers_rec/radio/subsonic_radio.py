"""The radio inside a Subsonic client: what pers_rec answers when a client asks its server for similar songs, and
what the client's scrobbles say about taste. The HTTP relay that sits between the client and its server is
:mod:`web.relay`; this module holds the library's side of it and talks to no client.

**Song ids.** A client names songs by its server's ids. :class:`Catalog` walks the
server's library once, with the credentials of the client that asked (pers_rec
stores none), and matches each song to a local file the way ``likes subsonic``
does (:func:`sync.match_songs`: by path, else artist + title + duration). It
is walked again when a client names an id it has not seen and the last walk is
older than :data:`REWALK_S`.

**Answers** (:class:`SonicRadio`). ``getSimilarSongs``, ``getSimilarSongs2`` and
``getSonicSimilarTracks`` order the library by ``taste x similarity`` to the
song (the radio's taste: the quick learner refitted after every event, see
:mod:`radio`), leaving out the song itself and every track the listener
disliked; ``similarity`` is the cosine of the two tracks' vectors mapped to
[0, 1] (1: the same sound). ``findSonicPath`` walks from one song to the other
in even steps on the sphere of vectors (:func:`sequence.join`, Deej-A.I.'s
"join the dots"), never through a disliked track.

**Scrobbles become labels** (:meth:`SonicRadio.scrobble`). Per client (its user
and client name), a *now playing* call starts a track's clock; the next *now
playing* of another song ends it, and the time between is how long it was
played: a skip, or nothing (:func:`radio.outcome`). A *submission* (the client's
own "played" rule, usually half the track or four minutes) is a completion, or a
repeat for a track played before. Every label is stored durably in the library's
judgements before the client gets its answer. Wall time counts a pause as
playing, so a paused track is never taken for a skip that was not one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..library import sequence
from ..players import sync
from .picker import WEIGHTS, Radio

#: A walk of the server's library is repeated for an unknown id at most this often (seconds).
REWALK_S = 60.0
#: The most songs one answer holds.
MAX_COUNT = 500


@dataclass
class Match:
    """One song of an answer: the server's own description of it (``entry``, a Subsonic ``Child``) and its
    ``similarity`` in [0, 1] to the song asked about."""

    entry: dict
    similarity: float


class Catalog:
    """The server's songs matched to the library's files.

    Parameters
    ----------
    paths : list of str
        The library's files, in the radio's row order.
    library : str
        The library folder (a relative server path is taken under it).
    path_map : sequence of (server prefix, local prefix)
    """

    def __init__(self, paths: list[str], library: str, path_map=()):
        self.paths, self.library, self.path_map = list(paths), library, list(path_map)
        self.row_of_path = {p: i for i, p in enumerate(self.paths)}
        self.row: dict[str, int] = {}  #: server song id -> library row
        self.entry: dict[str, dict] = {}  #: server song id -> the server's song object
        self.duration: dict[str, float | None] = {}  #: server song id -> its length, as the client checked it
        self.id_of: dict[int, str] = {}  #: library row -> server song id
        self.unmatched: list[str] = []
        self.walked_at: float | None = None
        self.lock = threading.Lock()

    def walk(self, client) -> None:
        """Read every song ``client`` (a :class:`subsonic.Client`) sees and match it to the library."""
        songs = client.songs()
        local, unmatched, _ = sync.match_songs(songs, self.paths, library=self.library, path_map=self.path_map)
        row = {i: self.row_of_path[p] for i, p in local.items() if p in self.row_of_path}
        with self.lock:
            self.row, self.unmatched, self.walked_at = row, unmatched, time.monotonic()
            self.entry = {s.id: s.raw for s in songs if s.id in row}
            self.duration = {s.id: s.duration or None for s in songs if s.id in row}
            self.id_of = {r: i for i, r in reversed(list(row.items()))}  # the first id of a file wins

    def knows(self, song_id: str, client_for: Callable[[], object | None]) -> bool:
        """Whether ``song_id`` is a library song, walking the server first when it was never walked, or when the
        id is new and the last walk is older than :data:`REWALK_S` (``client_for()`` None: no walk possible)."""
        stale = self.walked_at is None or (song_id not in self.row and time.monotonic() - self.walked_at > REWALK_S)
        client = client_for() if stale else None
        if client is not None:
            self.walk(client)
        return song_id in self.row


@dataclass
class Now:
    """The song a client last said it plays."""

    song_id: str
    since: float
    judged: bool = False


class SonicRadio:
    """The library's answers to a Subsonic client, and its scrobbles turned into labels.

    Parameters
    ----------
    radio : Radio
        The picker and learner over the library's tracks (shared with other doors, e.g. MPD: use :attr:`lock`).
    catalog : Catalog
    store : judgements.Judgements or None
        Where every label is stored before the answer.
    log : callable
        Says one line to the listener.
    lock : threading.Lock
        Held while the radio is read or taught.
    """

    def __init__(self, radio: Radio, catalog: Catalog, store=None, log: Callable[[str], None] = print, lock=None):
        self.radio, self.catalog, self.store, self.log = radio, catalog, store, log
        self.lock = lock or threading.Lock()
        self.now: dict[tuple[str, str], Now] = {}
        self.events: list[tuple[str, str]] = []  #: ``(song id, outcome)`` of every judged song, in order

    # ---- answers --------------------------------------------------------------------------------------------------
    def _similarity(self, row: int) -> np.ndarray:
        V = self.radio.V
        return (V @ V[row] + 1.0) / 2.0 if self.radio.usable[row] else np.full(len(V), 0.5)

    def _candidates(self) -> np.ndarray:
        ok = np.zeros(len(self.radio.V), bool)
        ok[list(self.catalog.id_of)] = True
        ok &= self.radio.usable
        for r, (label, _) in self.radio.labelled.items():
            if label == 0:
                ok[r] = False
        return ok

    def similar(self, song_id: str, count: int) -> list[Match]:
        """Up to ``count`` library songs for ``song_id`` (a known id: :meth:`Catalog.knows`), best first by taste x
        similarity."""
        row = self.catalog.row[song_id]
        with self.lock:
            sim = self._similarity(row)
            score = np.where(self._candidates(), self.radio.taste * sim, -np.inf)
        score[row] = -np.inf
        order = np.argsort(-score, kind="stable")[: max(0, min(count, MAX_COUNT))]
        return [Match(self.catalog.entry[self.catalog.id_of[int(r)]], round(float(sim[r]), 4))
                for r in order if np.isfinite(score[r])]

    def path(self, start_id: str, end_id: str, count: int) -> list[Match]:
        """``count`` songs (fewer when the library runs out) from ``start_id`` to ``end_id``, both included, in even
        steps; similarity to the start."""
        a, b = self.catalog.row[start_id], self.catalog.row[end_id]
        with self.lock:
            ok = self._candidates()
        ok[[a, b]] = self.radio.usable[[a, b]]
        if a == b or not ok[a] or not ok[b]:
            rows = [a] if a == b else [a, b]
        else:
            keep = np.flatnonzero(ok)
            local = {int(r): k for k, r in enumerate(keep)}
            rows = [int(keep[k]) for k in sequence.join(self.radio.V[keep], local[a], local[b],
                                                        max(2, min(count, MAX_COUNT)))]
        sim = self._similarity(a)
        return [Match(self.catalog.entry[self.catalog.id_of[r]], round(float(sim[r]), 4)) for r in rows]

    # ---- scrobbles ------------------------------------------------------------------------------------------------
    def scrobble(self, who: tuple[str, str], song_ids: list[str], submission: bool, now: float | None = None) -> list:
        """A client's ``scrobble`` call (``who``: its user and client name). Returns the outcomes it led to."""
        now = time.monotonic() if now is None else now
        out = []
        if not submission:
            for song_id in song_ids[-1:]:  # now playing: one song
                was = self.now.get(who)
                if was is not None and was.song_id != song_id and not was.judged:
                    out.append(self._judge(was.song_id, now - was.since))
                if was is None or was.song_id != song_id:
                    self.now[who] = Now(song_id, now)
            return [k for k in out if k]
        for song_id in song_ids:
            was = self.now.get(who)
            if was is not None and was.song_id == song_id:
                if was.judged:
                    continue
                was.judged = True
            out.append(self._judge(song_id, None))
        return [k for k in out if k]

    def told(self, who: tuple[str, str], song_id: str, event: str) -> list:
        """An event a server's plugin reports: ``now_playing`` and ``played`` (as a scrobble), or ``skipped`` (a
        skip at once, whatever the clock says). Returns the outcomes it led to."""
        if event == "skipped":
            was = self.now.get(who)
            if was is not None and was.song_id == song_id:
                was.judged = True
            return [k for k in [self._judge(song_id, 0.0)] if k]
        return self.scrobble(who, [song_id], submission=event == "played")

    def _judge(self, song_id: str, played_s: float | None) -> str | None:
        """Learn from one song played ``played_s`` seconds (None: to its end, a submission); store it."""
        row = self.catalog.row.get(song_id)
        if row is None:
            return None
        duration = self.catalog.duration.get(song_id)
        with self.lock:
            if played_s is None and duration is None:  # a submission of a song of unknown length: played through
                kind = "repeat" if row in self.radio.played else "complete"
                self.radio.played.add(row)
                self.radio.learn(row, *WEIGHTS[kind])
            else:
                kind = self.radio.heard(row, duration if played_s is None else played_s, duration)
        if kind is None:
            return None
        label, weight = WEIGHTS[kind]
        if self.store is not None:
            self.store.add(self.catalog.paths[row], label, source=f"radio:{kind}", weight=weight)
        self.events.append((song_id, kind))
        what = "submitted" if played_s is None else f"{played_s:.0f} of {duration or 0:.0f} s"
        self.log(f"pers-rec radio: {kind} ({what}): {self.catalog.paths[row]}")
        return kind
