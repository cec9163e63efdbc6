"""Track embeddings and similar tracks: a trunk's window vectors pooled over a track, compared by cosine.

Dieleman's and Murray's recommenders and Deej-A.I. describe a track by the
average of what a network makes of its slices, and find similar tracks by
cosine similarity. Here a window's vector is the output of the taste
model's encoder (the trunk, then the LSTM for ``cnn_lstm`` or the head's
hidden dense layer otherwise), the layer ``pers-rec pretrain`` trains. A
track's vector is the mean of its windows' vectors, L2-normalised.

The encoder comes from a taste model (``--model``: its first member) or, with
no likes at all, from the library's pre-trained weights. Vectors are stored
as float16 in the feature cache beside the features, keyed by the file, the
feature configuration and a hash of the encoder's weights, so they are
computed once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..audio import features
from ..model import runtime
from ..model.checkpoint import SavedModel
from ..model.scoring import Scorer


class Embedder:
    """Window and track vectors of one encoder.

    Parameters
    ----------
    saved : SavedModel
        A taste model, or a model initialised from pre-trained weights; its
        first member's trunk and encoder layer are used.
    """

    def __init__(self, saved: SavedModel):
        self.cfg, self.mcfg = saved.cfg, saved.mcfg
        #: The model the encoder comes from (a taste model can also score: ``similar --taste-weight``).
        self.saved = saved
        self.scorer = Scorer(SavedModel(saved.model, saved.cfg, saved.mcfg), fast=True)
        self.trunk, head = runtime.members(saved.model)[0]
        if isinstance(head, runtime.Head):  # the light runtime (numpy)
            self.encoder = head.encoder()
            self.dim, weights = self.encoder.dim, list(head.hidden)
        else:
            import keras

            from ..model.networks import encoder_layers

            layer = head.get_layer(encoder_layers(self.mcfg)[-1])
            self.encoder = keras.Model(head.inputs, layer.output, name="encoder")
            self.dim, weights = int(self.encoder.output.shape[-1]), layer.get_weights()
        #: Identifies the encoder: part of the cache key (the same whichever runtime computes the vectors).
        self.identity = runtime.identity(self.trunk, weights)

    @classmethod
    def of_weights(cls, pre, cfg, mcfg) -> Embedder:
        """The embedder of an encoder's weights alone (``checkpoint.Pretrained``), run by the light runtime."""
        return cls(SavedModel(runtime.from_pretrained(cfg, mcfg, pre), cfg, mcfg))

    def window_steps(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The trunk (the last conv block) run once over a whole track [shape=(n_frames, n_features)], and each
        window's rows of it.

        Returns
        -------
        T : np.ndarray [shape=(n_steps, n_filters)]
        idx : np.ndarray [shape=(n_windows, steps_per_window), int]
            ``T[idx[k]]`` is exactly the trunk's output for window ``k`` alone (see ``Scorer.trunk_steps``).
        """
        M = features.fit_to_window(M, self.cfg)
        S, H = self.mcfg.stride, self.cfg.hop_frames // self.mcfg.stride
        T = self.scorer.trunk_steps(self.trunk, np.pad(M, ((0, (-len(M)) % S), (0, 0))))
        idx = H * np.arange(features.n_windows(len(M), self.cfg))[:, None] + np.arange(self.scorer.steps)[None, :]
        return T, idx

    def window_vectors(self, M: np.ndarray) -> np.ndarray:
        """Every window's vector [shape=(n_windows, dim), float32] of one track [shape=(n_frames, n_features)]."""
        return self.vectors_of_steps(*self.window_steps(M))

    def vectors_of_steps(self, T: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """The window vectors [shape=(len(idx), dim), float32] from the trunk's output ``T`` and each window's rows
        ``idx`` in it (:meth:`window_steps`, or the scorer's own pass: ``Scorer.score_and_embed``)."""
        encoder = self.encoder
        if isinstance(encoder, runtime.Encoder):  # light: the LSTM's input projected once per track
            T, encoder = self.scorer.head_input(encoder.head, T, encoder_only=True)
        b = self.scorer.head_batch  # each window's steps cut out one batch at a time
        return np.concatenate([self.scorer.predict_rows(encoder, T[idx[i : i + b]])
                               for i in range(0, len(idx), b)]).astype(np.float32)

    def track_vector(self, M: np.ndarray) -> np.ndarray:
        """The track's vector [shape=(dim,), float32]: the mean of its window vectors, L2-normalised."""
        return normalise(self.window_vectors(M).mean(axis=0))


def as_stored(W: np.ndarray) -> np.ndarray:
    """A track's vector [shape=(dim,), float32] from its window vectors: their mean, L2-normalised, rounded to
    float16 as the cache keeps it (the same answer cached or not)."""
    return normalise(W.mean(axis=0)).astype(np.float16).astype(np.float32)


def normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


def keep(cache, path, key: str, rows: np.ndarray, dtype) -> None:
    """``cache.put_vectors`` for a file as it is now (one gone since it was read is not kept)."""
    try:
        st = os.stat(path)
    except OSError:
        return
    cache.put_vectors(path, key, st, rows, dtype=dtype)


class StartVectors:
    """Track vectors of the encoder a taste model started from, frozen (``SavedModel.start``), for the logistic
    regression its score stacks (``train --blend encoder``, or ``auto+encoder``'s choice): the vectors ``embed.vectors``
    gives with mean pooling, read from the cache where stored (a library ``similar`` embedded costs nothing) and
    else computed from the features at hand and stored there.

    Parameters
    ----------
    pre : checkpoint.Pretrained
    cfg, mcfg : FeatureConfig, ModelConfig
    cache : FeatureCache or None
    """

    def __init__(self, pre, cfg, mcfg, cache=None):
        self.embedder = Embedder.of_weights(pre, cfg, mcfg)
        self.cache, self.key, self.known, self.asked = cache, cache_key(self.embedder), {}, set()

    def prefetch(self, paths) -> None:
        """Read the stored vectors of ``paths`` in one query."""
        if self.cache is not None:
            paths = [str(p) for p in paths]
            self.asked.update(paths)
            stored = self.cache.get_vectors_many(paths, self.key)
            self.known.update({p: v[0].astype(np.float32) for p, v in stored.items()})

    def __call__(self, path, M: np.ndarray) -> np.ndarray:
        """The vector [shape=(dim,), float32] of the track at ``path`` whose features are ``M``."""
        path = str(path)
        v = self.known.get(path)
        if v is None and self.cache is not None and path not in self.asked:
            self.prefetch([path])
            v = self.known.get(path)
        if v is None:
            v = self.known[path] = as_stored(self.embedder.window_vectors(M))
            if self.cache is not None:
                keep(self.cache, path, self.key, v[None], np.float16)
        return v

    def of_tracks(self, tracks) -> np.ndarray:
        """The vectors [shape=(n, dim)] of training tracks (``dataset.Track``: ``path``, ``features``)."""
        self.prefetch([t.path for t in tracks])
        return np.stack([self(t.path, t.features) for t in tracks])


#: How a track's window vectors become its vector: their mean, or Deej-A.I.'s TF-IDF weighting of distinctive windows.
POOLINGS = ("mean", "distinctive")


def cache_key(embedder: Embedder, windows: bool = False) -> str:
    """Cache key of the track vectors (or, ``windows``, of every window's vector) of this encoder and feature config."""
    return f"{'embw' if windows else 'emb'}:{embedder.identity}:{embedder.cfg.key()}"


def _stored(paths, embedder: Embedder, key: str, compute, cache, jobs, progress) -> tuple[list[str], dict, list]:
    """``compute(features)`` [shape=(n, dim)] of each file, from the cache where stored, else computed and stored."""
    from ..audio.extract import extract_many
    from ..progress import bar

    paths = [str(p) for p in paths]
    stored = cache.get_vectors_many(paths, key) if cache is not None else {}
    got = {p: v.astype(np.float32) for p, v in stored.items()}
    todo = [p for p in paths if p not in got]
    failed = []
    with bar(len(todo), "embeddings", "track", progress and bool(todo)) as b:
        for item in extract_many(todo, embedder.cfg, cache=cache, jobs=jobs, on_done=b.update):
            p = str(item.path)
            if not item.ok:
                failed.append((p, item.error))
                continue
            # as stored: the same answer cached or not
            got[p] = compute(item.features).astype(np.float16).astype(np.float32)
            if cache is not None:
                keep(cache, p, key, got[p], np.float16)
    return [p for p in paths if p in got], got, failed


def window_sets(paths: list[str | os.PathLike], embedder: Embedder, *, cache=None, jobs=None, progress: bool = False
                ) -> tuple[list[str], list[np.ndarray], list]:
    """Every window's vector of many files (cached as float16): the files that worked, their matrices
    [each shape=(n_windows_i, dim), float32], and the failures ``(path, AudioError)``."""
    ok, got, failed = _stored(paths, embedder, cache_key(embedder, windows=True), embedder.window_vectors,
                              cache, jobs, progress)
    return ok, [got[p] for p in ok], failed


def vectors(paths: list[str | os.PathLike], embedder: Embedder, *, pooling: str = "mean", reference=None, cache=None,
            jobs=None, progress: bool = False) -> tuple[list[str], np.ndarray, list, IdfReference | None]:
    """Track vectors of many files, from the cache where stored, else computed (and stored).

    Parameters
    ----------
    pooling : str
        ``"mean"``: the mean of the windows' vectors (stored per track, 2 bytes per dimension).
        ``"distinctive"``: Deej-A.I.'s TF-IDF weighting (:class:`IdfReference`); the window
        vectors are stored, and the weights need the library they are judged against.
    reference : IdfReference or None
        For ``"distinctive"``: the library's windows; None builds it from ``paths`` (a library
        embeds itself so, and passes the result on to tracks judged against it).

    Returns
    -------
    paths : list of str
        The files that worked, in the order given.
    V : np.ndarray [shape=(n_ok, dim), float32]
        L2-normalised.
    failed : list of (path, AudioError)
    reference : IdfReference or None
        The one used (None for ``"mean"``, or when no file worked).
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if pooling == "mean":
        ok, got, failed = _stored(paths, embedder, cache_key(embedder), lambda M: embedder.track_vector(M)[None],
                                  cache, jobs, progress)
        rows = [got[p][0] for p in ok]
    else:
        ok, Ws, failed = window_sets(paths, embedder, cache=cache, jobs=jobs, progress=progress)
        if reference is None and Ws:
            reference = IdfReference.build(Ws)
        rows = [reference.pool(W) for W in Ws]
    V = np.stack(rows) if rows else np.zeros((0, embedder.dim), np.float32)
    return ok, V, failed, reference


class IdfReference:
    """The library's windows that Deej-A.I.'s TF-IDF weights are judged against.

    Two windows are "the same term" when their cosine is at least ``threshold``: the
    ``near_quantile`` of the cosines between windows of different reference tracks
    (so "near" means the same for any encoder; over every pair up to 2,048 reference
    windows, else over 200,000 pairs drawn at random, which keeps memory small). For a window w of a track:

    - tf(w) = the fraction of the track's windows near w (w itself included);
    - idf(w) = log((1 + N) / (1 + df(w))) + 1, df(w) the number of the N reference
      tracks with a window near w (scikit-learn's smoothed idf);

    and the track's vector is the sum of its windows' vectors weighted by tf x idf,
    L2-normalised: windows that recur in the track but are rare in the library count most.
    """

    def __init__(self, windows: np.ndarray, track_of: np.ndarray, threshold: float):
        self.windows, self.track_of, self.threshold = windows, track_of, float(threshold)
        self.n_tracks = int(track_of.max()) + 1 if len(track_of) else 0

    @classmethod
    def build(cls, Ws: list[np.ndarray], max_tracks: int = 400, per_track: int = 24, near_quantile: float = 0.98,
              seed: int = 0) -> IdfReference:
        """From up to ``max_tracks`` tracks' window matrices (a seeded sample), ``per_track`` evenly spaced windows
        each."""
        rng = np.random.default_rng(seed)
        pick = sorted(rng.choice(len(Ws), min(len(Ws), max_tracks), replace=False)) if Ws else []
        rows, owner = [], []
        for k, i in enumerate(pick):
            W = Ws[i]
            idx = np.unique(np.linspace(0, len(W) - 1, min(len(W), per_track)).round().astype(int))
            rows.append(normalise(W[idx]))
            owner += [k] * len(idx)
        if not rows:
            raise ValueError("an IDF reference needs at least one track")
        R, owner = np.concatenate(rows), np.array(owner)
        i, j = np.triu_indices(len(R), k=1) if len(R) <= 2048 else rng.integers(0, len(R), (2, 200_000))
        other = owner[i] != owner[j]  # pairs of windows of different tracks: all, or 200,000 drawn at random
        cos = np.einsum("ij,ij->i", R[i[other]], R[j[other]])
        return cls(R, owner, np.quantile(cos, near_quantile) if len(cos) else 1.0)

    def weights(self, W: np.ndarray) -> np.ndarray:
        """tf x idf of each window of one track [shape=(n_windows,)]."""
        Wn = normalise(W)
        tf = (Wn @ Wn.T >= self.threshold).mean(axis=1)
        near = Wn @ self.windows.T >= self.threshold  # (n_windows, n_reference_windows)
        # each track's windows are contiguous
        starts = np.flatnonzero(np.r_[True, self.track_of[1:] != self.track_of[:-1]])
        df = np.logical_or.reduceat(near, starts, axis=1).sum(axis=1)  # reference tracks with any near window
        return tf * (np.log((1 + self.n_tracks) / (1 + df)) + 1)

    def pool(self, W: np.ndarray) -> np.ndarray:
        """The track's TF-IDF weighted vector [shape=(dim,)], L2-normalised."""
        return normalise(self.weights(W) @ W)


@dataclass
class Neighbour:
    path: str
    cosine: float


def nearest(seeds: np.ndarray, paths: list[str], V: np.ndarray, n: int, exclude: set[str] = frozenset(),
            duplicate_cos: float = 0.99999, bonus: np.ndarray | None = None, weight: float = 1.0) -> list[Neighbour]:
    """The ``n`` tracks nearest the seeds' mean direction by cosine, best first.

    Parameters
    ----------
    seeds : np.ndarray [shape=(n_seeds, dim)]
        The seed tracks' vectors; the query is their mean, L2-normalised.
    paths : list of str
        The candidates, one per row of ``V`` [shape=(n_tracks, dim), L2-normalised].
    exclude : set of str
        Paths to leave out (the seeds themselves; also matched by real path).
    duplicate_cos : float
        A candidate this close to any seed is the same recording under another name and is left out.
    bonus, weight : np.ndarray [shape=(n_tracks,)] or None, float
        Rank by ``weight * cosine + bonus`` instead of the cosine (a NaN bonus ranks last); the
        neighbours still carry their plain cosine.

    Ties are broken by path, so the answer does not depend on the scan order.
    """
    seeds = normalise(np.atleast_2d(seeds))
    if not len(V):
        return []
    cos = V @ normalise(seeds.mean(axis=0))
    key = -(cos if bonus is None else np.nan_to_num(weight * cos + bonus, nan=-np.inf))  # ascending = best first
    m = min(len(V), 2 * (n + len(exclude)) + 16)
    while True:  # sort only the best m (and everything tied with the m-th), widening if too many are left out
        cand = np.flatnonzero(key <= np.partition(key, m - 1)[m - 1]) if m < len(V) else np.arange(len(V))
        cand = cand[np.lexsort((np.array([paths[i] for i in cand], dtype=object).astype(str), key[cand]))]
        dup = (V[cand] @ seeds.T).max(axis=1) >= duplicate_cos
        out = []
        for i, d in zip(cand, dup):
            if d or paths[i] in exclude or os.path.realpath(paths[i]) in exclude:
                continue
            out.append(Neighbour(paths[i], float(cos[i])))
            if len(out) == n:
                return out
        if len(cand) == len(V):
            return out
        m = min(len(V), 4 * m)
