"""The radio: what to play next, and what listening says about taste.

A face (``pers-rec radio --mpd``, :mod:`mpd_radio`) reports what the listener
did with each track; this module turns it into labels and picks the next
tracks. Nothing here talks to a player.

**Labels from listening** (:func:`outcome`). A track left before
:data:`SKIP_S` seconds, or before :data:`SKIP_FRACTION` of its length, is a
*skip*: a dislike of weight :data:`WEIGHTS` ``["skip"]``. One played to
:data:`COMPLETE_FRACTION` of its length or more is a *completion*: a like of
smaller weight (finishing a track says less than skipping one). A track
played again within a session is a *repeat*: a like of more weight than a
thumbs-up. Anything between says nothing.

**What comes next** (:meth:`Radio.pick`). Every candidate gets
``taste x similarity``: taste is the quick learner's like-probability
(:mod:`active`, refitted after every event, with the events' weights) or,
before there is one, the taste model's ranking; similarity is the cosine of
the track's vector to the one playing, mapped to [0, 1]. The variety rules
are never broken: nothing played or queued within the last
:attr:`Rules.replay_gap` tracks, no artist within the last
:attr:`Rules.artist_gap`, no album within the last :attr:`Rules.album_gap`,
no track the listener disliked. When the rules leave nothing, the radio says
so and picks nothing rather than break them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..library import active

#: A track left before this many seconds is a skip ...
SKIP_S = 30.0
#: ... or before this share of its length.
SKIP_FRACTION = 0.25
#: A track played to this share of its length is a completion.
COMPLETE_FRACTION = 0.8
#: ``(label, weight)`` of each outcome; a thumbs-up or -down in ``serve`` weighs 1.
WEIGHTS = {"skip": (0, 1.0), "complete": (1, 0.5), "repeat": (1, 1.5)}


def outcome(played_s: float, duration_s: float | None, repeat: bool = False) -> str | None:
    """What playing ``played_s`` seconds of a ``duration_s`` track says: ``"skip"``, ``"complete"``, ``"repeat"``
    (completed, and played before in this session) or None (nothing). An unknown duration (a stream) says nothing
    but a skip before :data:`SKIP_S`."""
    if not duration_s or duration_s <= 0:
        return "skip" if played_s < SKIP_S else None
    if played_s >= COMPLETE_FRACTION * duration_s:  # first: a 20 s track played to its end is not a skip
        return "repeat" if repeat else "complete"
    if played_s < SKIP_S or played_s < SKIP_FRACTION * duration_s:
        return "skip"
    return None


@dataclass(frozen=True)
class Rules:
    """Variety: how many of the last tracks (played or queued) a pick must not repeat."""

    replay_gap: int = 50
    artist_gap: int = 3
    album_gap: int = 6
    ahead: int = 3  #: tracks kept queued after the one playing


class Radio:
    """Picks tracks of a library and learns from what the listener does with them.

    Parameters
    ----------
    V : np.ndarray [shape=(n_tracks, dim)]
        L2-normalised track vectors (``embed``); a row of zeros is a track that could not be analysed (never
        picked).
    artists, albums : list of str
        Each track's artist and album ("" when unknown: such a track is never held back by the rules).
    scores : np.ndarray [shape=(n_tracks,)] or None
        The taste model's track scores, the taste before the quick learner has a like to learn from.
    labelled : dict
        ``{row: (label, weight)}`` known from the start (likes, judgements, earlier sessions).
    mode : {"learn", "static", "similar", "random"}
        ``learn``: taste x similarity, the taste refitted after every event (the radio); the others are the
        baselines ``experiments/radio.py`` compares it with: the static ranking x similarity with no learning,
        similarity alone (a bliss/AudioMuse radio), random (the rules still hold for all).
    """

    def __init__(self, V: np.ndarray, artists: list[str], albums: list[str], *, scores=None, labelled=None,
                 rules: Rules = Rules(), mode: str = "learn", seed: int = 0):
        if mode not in ("learn", "static", "similar", "random"):
            raise ValueError(f"mode must be learn, static, similar or random, got {mode!r}")
        self.V = np.asarray(V, np.float32)
        self.usable = np.linalg.norm(self.V, axis=1) > 0
        self.artists, self.albums = list(artists), list(albums)
        self.scores = None if scores is None else _ranks(np.asarray(scores, float))
        self.labelled: dict[int, tuple[int, float]] = dict(labelled or {})
        self.rules, self.mode = rules, mode
        self.rng = np.random.default_rng(seed)
        self.recent: deque[int] = deque(maxlen=max(rules.replay_gap, rules.artist_gap, rules.album_gap, 1))
        self.played: set[int] = set()
        self.taste = self._taste()

    # ---- what the listener did ------------------------------------------------------------------------------
    def heard(self, row: int, played_s: float, duration_s: float | None) -> str | None:
        """Record that track ``row`` was played for ``played_s`` seconds; return its outcome (see :func:`outcome`),
        whose label (with its weight) is learnt at once."""
        kind = outcome(played_s, duration_s, repeat=row in self.played)
        self.played.add(row)
        if kind is not None:
            self.learn(row, *WEIGHTS[kind])
        return kind

    def learn(self, row: int, label: int, weight: float = 1.0) -> None:
        """A label for ``row`` (the latest wins); the taste is refitted (milliseconds)."""
        self.labelled[row] = (int(label), float(weight))
        self.taste = self._taste()

    def relabel(self, labelled: dict) -> None:
        """Every label anew (``{row: (label, weight)}``, e.g. another face's judgements); the taste is refitted."""
        self.labelled = {int(r): (int(lab), float(w)) for r, (lab, w) in labelled.items()}
        self.taste = self._taste()

    def rescore(self, scores) -> None:
        """A new taste model's track scores (a retrain): the taste is refitted over them."""
        self.scores = None if scores is None else _ranks(np.asarray(scores, float))
        self.taste = self._taste()

    def queued(self, row: int) -> None:
        """``row`` was played or put in the queue: the variety rules count it from now on."""
        self.recent.append(row)

    def _taste(self) -> np.ndarray:
        if self.mode in ("similar", "random"):
            return np.ones(len(self.V))
        p = None
        if self.mode == "learn" and self.usable.any():
            rows = {r: lab for r, (lab, _) in self.labelled.items() if self.usable[r]}
            p = active.fit(self.V, rows, weights={r: w for r, (_, w) in self.labelled.items()})
        if p is None:
            return self.scores if self.scores is not None else np.full(len(self.V), 0.5)
        return p if self.scores is None else 0.5 * (p + self.scores)

    # ---- what comes next ------------------------------------------------------------------------------------
    def allowed(self, exclude=()) -> np.ndarray:
        """Which tracks the rules allow now [shape=(n_tracks,), bool]."""
        ok = self.usable.copy()
        ok[list(exclude)] = False
        recent = list(self.recent)
        ok[recent[-self.rules.replay_gap:] if self.rules.replay_gap else []] = False
        for gap, names in ((self.rules.artist_gap, self.artists), (self.rules.album_gap, self.albums)):
            held = {names[r] for r in (recent[-gap:] if gap else [])} - {""}
            if held:
                ok &= np.array([n not in held for n in names])
        for r, (lab, _) in self.labelled.items():
            if lab == 0:
                ok[r] = False
        return ok

    def pick(self, current: int | None, n: int = 1, exclude=()) -> list[int]:
        """The next ``n`` tracks after ``current`` (None: nothing playing), best first; each pick is queued
        (:meth:`queued`), so the rules hold within the batch too. Fewer when the rules allow fewer."""
        out = []
        for _ in range(n):
            ok = self.allowed(exclude)
            if not ok.any():
                break
            if self.mode == "random":
                score = self.rng.random(len(self.V))
            else:
                sim = (self.V @ self.V[current] + 1) / 2 if current is not None and self.usable[current] else 1.0
                score = self.taste * sim
            score = np.where(ok, score, -np.inf)
            best = int(np.argmax(score))
            out.append(best)
            self.queued(best)
        return out


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Scores as their rank in [0, 1] (NaN, a track that failed, at 0): a model's scale does not matter."""
    s = np.where(np.isfinite(scores), scores, -np.inf)
    order = np.argsort(np.argsort(s, kind="stable"), kind="stable")
    return order / max(len(s) - 1, 1)
