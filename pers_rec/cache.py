"""The feature cache: one SQLite file mapping a file to its feature matrix, or to why it has none.

Why SQLite: it is in the standard library, each entry is written in its own
transaction (an interrupted run never leaves a half-written entry, and
everything committed before Ctrl-C is kept), several processes may share it,
and a lookup is one indexed query.

An entry is keyed by the file's path (its bytes, so any name works) and by the
feature key: :meth:`FeatureConfig.key`, which includes the feature code's
version, so features computed by older code are never served. An entry is
used only while the file's size and modification time are unchanged. A file
that failed for a reason in the file itself (not audio, corrupt, silent, ...)
is not retried until it changes; a failure that may pass by itself (memory,
permissions, a crashed worker: ``AudioError.transient``) is never stored.

Size: 20 MFCCs x 64 fps x 4 bytes = 5 KB per second of audio, ~1.2 MB per
4-minute track. ``pers-rec cache info|prune|clear`` shows and trims it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AudioError, describe, from_description
from .features import FeatureConfig

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries (path BLOB, key TEXT, size INTEGER, mtime_ns INTEGER, n_frames INTEGER,"
    " n_features INTEGER, data BLOB, error TEXT, created REAL, PRIMARY KEY (path, key))"
)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/pers_rec`` (``~/.cache/pers_rec``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pers_rec"


@dataclass
class CacheEntry:
    """A cached result: ``features`` [shape=(n_frames, n_features), float32] or the ``error`` it raised."""

    features: np.ndarray | None
    error: AudioError | None


@dataclass
class CacheInfo:
    """What ``pers-rec cache info`` prints.

    Attributes
    ----------
    entries, failed : int
        All entries, and those that record a failure.
    stale : int
        Entries whose file is gone or has changed since (``prune`` removes them).
    bytes : int
        Size of the cache file(s) on disk.
    """

    path: Path
    entries: int
    failed: int
    stale: int
    bytes: int


class FeatureCache:
    """Features (or errors) of files, keyed by path and feature key, checked against size and mtime."""

    FILE = "features.sqlite"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._db:
            self._db.execute("DROP TABLE IF EXISTS features")  # entries of pers_rec 0.1, keyed without the code version
            self._db.execute(_SCHEMA)

    def get(self, path: str | os.PathLike, cfg: FeatureConfig, stat: os.stat_result) -> CacheEntry | None:
        """The entry of ``path`` if stored under ``cfg`` and the file is unchanged (``stat``), else None.

        Returns
        -------
        CacheEntry or None
            ``features`` of shape ``(n_frames, n_features)`` float32, or the stored error.
        """
        row = self._db.execute(
            "SELECT size, mtime_ns, n_frames, n_features, data, error FROM entries WHERE path=? AND key=?",
            (os.fsencode(path), cfg.key()),
        ).fetchone()
        if row is None or (row[0], row[1]) != (stat.st_size, stat.st_mtime_ns):
            return None
        if row[5] is not None:
            return CacheEntry(None, from_description(path, row[5]))
        return CacheEntry(np.frombuffer(row[4], np.float32).reshape(row[2], row[3]), None)

    def put(self, path: str | os.PathLike, cfg: FeatureConfig, stat: os.stat_result, M: np.ndarray | None,
            error: AudioError | None = None) -> None:
        """Store features ``M`` [shape=(n_frames, n_features)] or ``error``, in its own transaction.

        A transient error is not stored (and removes nothing).
        """
        if error is not None and error.transient:
            return
        data = None if M is None else np.ascontiguousarray(M, np.float32).tobytes()
        shape = (0, 0) if M is None else M.shape
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?,?,?,?,?)",
                (os.fsencode(path), cfg.key(), stat.st_size, stat.st_mtime_ns, shape[0], shape[1], data,
                 None if error is None else describe(error), time.time()),
            )

    def put_vectors(self, path: str | os.PathLike, key: str, stat: os.stat_result, V: np.ndarray) -> None:
        """Store a track's embeddings ``V`` [shape=(n, dim)] as float16 under ``key`` (see ``embed.cache_key``):
        one row for a track vector, one per window for window vectors."""
        V = np.ascontiguousarray(V, np.float16)
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?,?,?,?,?)",
                             (os.fsencode(path), key, stat.st_size, stat.st_mtime_ns, V.shape[0], V.shape[1],
                              V.tobytes(), None, time.time()))

    def get_vectors_many(self, paths: list[str], key: str) -> dict[str, np.ndarray]:
        """The vectors :meth:`put_vectors` stored under ``key`` [each shape=(n, dim), float16] for those ``paths``
        that are stored and unchanged (size and mtime), as ``{path: vectors}``. One query for all: a library of
        100,000 tracks loads in one pass instead of 100,000 lookups."""
        want = {os.fsencode(p): p for p in paths}
        out = {}
        for path, size, mtime, rows, cols, data in self._db.execute(
                "SELECT path, size, mtime_ns, n_frames, n_features, data FROM entries WHERE key=?", (key,)):
            p = want.get(path)
            if p is None:
                continue
            try:
                st = os.stat(p)
            except OSError:
                continue
            if (size, mtime) == (st.st_size, st.st_mtime_ns):
                out[p] = np.frombuffer(data, np.float16).reshape(rows, cols)
        return out

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]

    def _stale(self) -> list[tuple[bytes, str]]:
        out = []
        for path, key, size, mtime_ns in self._db.execute("SELECT path, key, size, mtime_ns FROM entries"):
            try:
                st = os.stat(path)
            except OSError:
                out.append((path, key))
                continue
            if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
                out.append((path, key))
        return out

    def info(self) -> CacheInfo:
        """Counts and size (see :class:`CacheInfo`); checks every entry's file, so it takes a moment."""
        n, failed = self._db.execute("SELECT COUNT(*), COUNT(error) FROM entries").fetchone()
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return CacheInfo(self.path, n, failed, len(self._stale()), size)

    def prune(self) -> int:
        """Remove the entries whose file is gone or changed; return how many."""
        stale = self._stale()
        with self._db:
            self._db.executemany("DELETE FROM entries WHERE path=? AND key=?", stale)
        self._db.execute("VACUUM")
        return len(stale)

    def clear(self) -> int:
        """Remove every entry; return how many."""
        n = len(self)
        with self._db:
            self._db.execute("DELETE FROM entries")
        self._db.execute("VACUUM")
        return n

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FeatureCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_cache(cache_dir: str | os.PathLike | None, enabled: bool = True) -> FeatureCache | None:
    """The cache in ``cache_dir`` (default :func:`default_cache_dir`), or None when disabled."""
    if not enabled:
        return None
    return FeatureCache(Path(cache_dir or default_cache_dir()) / FeatureCache.FILE)
