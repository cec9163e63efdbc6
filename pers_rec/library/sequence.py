"""Playlists that walk the embedding space (Deej-A.I.): continue from a track, or join two tracks in even steps
along the sphere; with artist rules, and the playlist's table of steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .embed import normalise


@dataclass
class ArtistRules:
    """Per-artist rules of a playlist.

    Attributes
    ----------
    artists : np.ndarray [shape=(n_tracks,), int]
        Each row's artist as a code; -1 for an untagged track, which no rule blocks.
    max_per_artist : int or None
        At most this many tracks of one artist in the playlist (None: no limit).
    not_in_a_row : bool
        Never two tracks of one artist one after the other.
    """

    artists: np.ndarray
    max_per_artist: int | None = None
    not_in_a_row: bool = False

    @classmethod
    def from_names(cls, names: list[str | None], max_per_artist: int | None = None, not_in_a_row: bool = False):
        codes: dict[str, int] = {}
        return cls(np.array([-1 if a is None else codes.setdefault(a, len(codes)) for a in names], int),
                   max_per_artist, not_in_a_row)

    def blocked(self, order: list[int]) -> np.ndarray:
        """Rows these rules forbid as the next track after ``order``."""
        out = np.zeros(len(self.artists), bool)
        used = self.artists[order]
        if self.max_per_artist is not None:
            codes, counts = np.unique(used[used >= 0], return_counts=True)
            out |= np.isin(self.artists, codes[counts >= self.max_per_artist])
        if self.not_in_a_row and used[-1] >= 0:
            out |= self.artists == used[-1]
        return out


def _pick(V: np.ndarray, q: np.ndarray, blocked: np.ndarray) -> int | None:
    """The row of ``V`` nearest ``q`` that is not ``blocked``; None when every row is."""
    if blocked.all():
        return None
    return int(np.argmax(np.where(blocked, -np.inf, V @ normalise(q))))


def _use(V: np.ndarray, row: int, blocked: np.ndarray, duplicate_cos: float) -> None:
    """Block ``row`` and every duplicate of it (one product per track used, not one per step and used track)."""
    blocked |= V @ V[row] >= duplicate_cos
    blocked[row] = True


def _blocked(blocked: np.ndarray, rules: ArtistRules | None, order: list[int]) -> np.ndarray:
    return blocked if rules is None else blocked | rules.blocked(order)


def continue_from(V: np.ndarray, start: int, n: int, history: int = 3, duplicate_cos: float = 0.99999,
                  rules: ArtistRules | None = None) -> list[int]:
    """A playlist of ``n`` rows of ``V`` after ``start``: each next track is the one nearest the mean of the
    last ``history`` tracks (so it drifts slowly instead of jumping), never a track already used, a
    duplicate of one, or one the artist ``rules`` forbid. Returns the row indices, ``start`` first."""
    order, blocked = [start], np.zeros(len(V), bool)
    _use(V, start, blocked, duplicate_cos)
    while len(order) <= n:
        nxt = _pick(V, V[order[-history:]].mean(axis=0), _blocked(blocked, rules, order))
        if nxt is None:
            break
        order.append(nxt)
        _use(V, nxt, blocked, duplicate_cos)
    return order


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """The point a fraction ``t`` of the way from unit vector ``a`` to ``b`` along the great circle."""
    omega = float(np.arccos(np.clip(a @ b, -1.0, 1.0)))
    if omega < 1e-6:
        return a.copy()
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def join(V: np.ndarray, a: int, b: int, n: int, duplicate_cos: float = 0.99999,
         rules: ArtistRules | None = None) -> list[int]:
    """A playlist of ``n`` rows of ``V`` (``a`` and ``b`` included) from ``a`` to ``b`` whose steps are small and even:
    the i-th track is the unused one nearest the point i/(n-1) of the way from ``a`` to ``b`` on the sphere
    (Deej-A.I.'s "join the dots"). Never repeats a track; ends at ``b`` (shorter when the library runs out).
    With artist ``rules``, ``b`` counts as already used for ``max_per_artist``, and the track before ``b``
    is not by ``b``'s artist when ``not_in_a_row``."""
    if n < 2 or a == b:
        raise ValueError("join needs two different tracks and n >= 2")
    blocked = np.zeros(len(V), bool)
    _use(V, a, blocked, duplicate_cos)
    _use(V, b, blocked, duplicate_cos)
    path = [a]
    targets = np.linspace(0, 1, n)[1:-1]
    for k, t in enumerate(targets):
        extra = _blocked(blocked, rules, [b] + path)  # b counted as used
        if rules is not None and rules.not_in_a_row and k == len(targets) - 1 and rules.artists[b] >= 0:
            extra = extra | (rules.artists == rules.artists[b])
        nxt = _pick(V, slerp(V[a], V[b], float(t)), extra)
        if nxt is None:
            break
        path.append(nxt)
        _use(V, nxt, blocked, duplicate_cos)
    return path + [b]


def steps(V: np.ndarray, order: list[int]) -> list[float | None]:
    """The cosine from each track of a playlist to the one before it (None for the first)."""
    return [None] + [float(V[i] @ V[j]) for i, j in zip(order, order[1:])]


def frame(order: list[int], paths: list[str], info: list[dict], steps: list[float | None]):
    """The playlist as a table: position, path, artist, title, cosine to the previous track (``playlist --csv``)."""
    import pandas as pd

    def text(values):  # object, not pandas 3's Arrow strings: a name's undecodable bytes (surrogates) must fit
        return pd.Series(values, dtype=object)

    return pd.DataFrame({"position": range(1, len(order) + 1), "path": text([paths[i] for i in order]),
                         "artist": text([info[i].get("artist", "") for i in order]),
                         "title": text([info[i].get("title", "") for i in order]), "cosine_to_previous": steps})
