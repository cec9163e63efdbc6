"""Which tracks to ask the listener about next: the questions that teach the model most (active learning).

``pers-rec serve``'s "ask me" queue. A quick learner (:func:`fit`: standardised
logistic regression on the track embeddings, refitted after every answer in
milliseconds) gives each unjudged track a like-probability ``p``; the queue
(:func:`ask`) takes tracks near its decision boundary (uncertainty
``1 - |2p - 1|``) and spreads them over the embedding space: each next pick
maximises uncertainty plus its cosine distance to the tracks already judged or
picked (so not ten versions of one sound), at most one track per album in a
batch while other albums remain. With only likes known, the rest of the
library stands in for the negatives, as in training. ``experiments.active``
measures the queue against asking in random order on the real-music tasks.
"""

from __future__ import annotations

import numpy as np

#: How much a track's distance to the judged and picked tracks counts against its uncertainty.
DIVERSITY = 1.0


def fit(V: np.ndarray, labelled: dict[int, int], seed: int = 0, max_negatives: int = 200, weights=None):
    """A like-probability for every row of ``V`` [shape=(n, dim)] from ``labelled`` ``{row: 0/1}``, or None
    when there is no like yet (see :func:`learner`)."""
    model = learner(V, labelled, seed, max_negatives, weights)
    return None if model is None else model(V)


def learner(V: np.ndarray, labelled: dict[int, int], seed: int = 0, max_negatives: int = 200, weights=None):
    """The quick learner fitted on the labelled rows of ``V``: a function from vectors [shape=(m, dim)] to
    like-probabilities, or None when there is no like yet. Rows not labelled stand in for negatives (at most
    ``max_negatives``, drawn with ``seed``, weight 1) when no dislike is known. ``weights`` ``{row: weight}``:
    how much each labelled row counts (default 1; a radio's skip counts less than a thumbs-down)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rows = np.array(sorted(labelled), int)
    y = np.array([labelled[r] for r in rows], int)
    if not (y == 1).any():
        return None
    if not (y == 0).any():
        rest = np.setdiff1d(np.arange(len(V)), rows)
        if len(rest) == 0:
            return None
        rest = np.random.default_rng(seed).choice(rest, size=min(len(rest), max_negatives), replace=False)
        rows, y = np.r_[rows, rest], np.r_[y, np.zeros(len(rest), int)]
    w = np.array([(weights or {}).get(int(r), 1.0) for r in rows], float)
    scaler = StandardScaler().fit(V[rows])
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed)
    clf.fit(scaler.transform(V[rows]), y, sample_weight=w)
    return lambda X: clf.predict_proba(scaler.transform(X))[:, 1]


def ask(V: np.ndarray, labelled: dict[int, int], n: int = 10, *, p: np.ndarray | None = None, groups=None,
        mode: str = "ask", seed: int = 0, exclude=()) -> list[int]:
    """The next ``n`` rows of ``V`` (L2-normalised embeddings) to ask about, best first.

    Parameters
    ----------
    labelled : dict
        ``{row: 0/1}`` of the tracks judged (or listed) so far; they are never asked again, nor ``exclude``.
    p : np.ndarray or None
        Like-probabilities of every row (default: :func:`fit`); None from :func:`fit` (no like yet) makes the
        queue spread out over the library alone.
    groups : sequence or None
        Each row's album (or any group): at most one per group in a batch while others remain.
    mode : str
        ``"ask"`` (uncertainty and diversity) or ``"top"`` (the highest ``p`` first: just play what it likes).
    """
    n_rows = len(V)
    free = np.ones(n_rows, bool)
    free[list(labelled)] = False
    free[list(exclude)] = False
    if p is None:
        p = fit(V, labelled, seed)
    if mode == "top":
        order = np.argsort(-(p if p is not None else np.zeros(n_rows)), kind="stable")
        return [int(i) for i in order if free[i]][:n]
    u = np.full(n_rows, 0.5) if p is None else 1.0 - np.abs(2 * p - 1)
    u = u + np.random.default_rng(seed).uniform(0, 1e-6, n_rows)  # ties broken at random, reproducibly
    seen = [r for r in labelled]
    dist = np.ones(n_rows) if not seen else 1.0 - (V @ V[seen].T).max(axis=1)
    picked, used = [], set()
    while len(picked) < n and free.any():
        score = np.where(free, u + DIVERSITY * dist, -np.inf)
        if groups is not None:
            fresh = np.array([free[i] and groups[i] not in used for i in range(n_rows)])
            if fresh.any():
                score = np.where(fresh, score, -np.inf)
        i = int(np.argmax(score))
        picked.append(i)
        free[i] = False
        if groups is not None:
            used.add(groups[i])
        dist = np.minimum(dist, 1.0 - V @ V[i])
    return picked
