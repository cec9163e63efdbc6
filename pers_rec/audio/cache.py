"""The feature cache: one SQLite file mapping a file to its feature matrix, or to why it has none.

Why SQLite: it is in the standard library, each entry is written in its own transaction (an interrupted run
never leaves a half-written entry; everything committed before Ctrl-C is kept), several processes may share it,
and a lookup is one indexed query.

An entry is keyed by the file's path (its bytes: any name works) and the feature key (:meth:`FeatureConfig.key`,
which includes the feature code's version), and used only while the file's size and mtime are unchanged. A
failure in the file itself (not audio, corrupt, silent) is kept until the file changes; a transient one
(memory, permissions, a crashed worker: ``AudioError.transient``) is never stored.

Size: features are stored compactly (:mod:`compact`), about 0.24 MB per 4-minute track instead of 1.2 MB as
float32 (``compact=False``; both are read). ``user_version`` is the file's format (:data:`FORMAT`).
``pers-rec cache info|prune|clear`` shows and trims it; ``prune --max-size`` drops the least recently used.

A cache is only ever a speed-up, so damage never stops a run: a row that does not hold what its columns say is a
miss, recomputed and replaced; a file that is not a database any more is set aside
(``features.sqlite.damaged-<time>``) with one :class:`CacheWarning`; a cache that cannot be written (read-only,
disk full) is used for what it can still give, with one warning.
"""

from __future__ import annotations

import os
import sqlite3
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AudioError, CacheWarning, describe, from_description, printable
from . import compact
from .cache_file import FORMAT, SCHEMA, CacheReadOnlyError, connect, connect_read_only, is_damage, read_only, set_aside  # noqa: F401, E501
from .features import FeatureConfig


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
    """What ``pers-rec cache info`` prints: all ``entries`` and those that record a failure (``failed``), the
    ``stale`` ones (file gone or changed: ``prune`` removes them), the ``damaged`` ones (columns that contradict
    the data: recomputed when met, pruned), and the size on disk (``bytes``)."""

    path: Path
    entries: int
    failed: int
    stale: int
    bytes: int
    damaged: int = 0
    #: Files with features, the bytes of their feature data, and the frames those hold.
    tracks: int = 0
    feature_bytes: int = 0
    frames: int = 0


class FeatureCache:
    """Features (or errors) of files, keyed by path and feature key, checked against size and mtime."""

    FILE = "features.sqlite"

    def __init__(self, path: str | os.PathLike, compact: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writable, self.compact, self._used = True, compact, []
        try:
            self._db = connect(self.path)
        except sqlite3.DatabaseError as exc:
            if read_only(exc):  # a cache the user may read but not write: read it as it is
                self._db, self._writable = connect_read_only(self.path), False
                return
            if not is_damage(exc):
                raise
            set_aside(self.path, exc)
            self._db = connect(self.path)

    def _damaged(self, exc: sqlite3.DatabaseError) -> None:
        """The database broke while in use: set it aside with one warning and go on with a new one (or, if even
        that fails, with an empty one in memory)."""
        self._db.close()
        try:
            set_aside(self.path, exc)
            self._db = connect(self.path)
        except (OSError, sqlite3.DatabaseError):
            self._db = sqlite3.connect(":memory:")
            self._db.execute(SCHEMA)
            self._writable = False

    def _write(self, sql: str, args, many: bool = False) -> None:
        """One write (``many``: the statement for each of ``args``) in its own transaction; a cache that cannot be
        written (read-only, disk full) is warned about once and then only read."""
        if not self._writable:
            return
        try:
            with self._db:
                (self._db.executemany if many else self._db.execute)(sql, args)
        except sqlite3.OperationalError as exc:
            if is_damage(exc):
                return self._damaged(exc)
            self._writable = False
            warnings.warn(CacheWarning(f"{printable(str(self.path))}: cannot write the feature cache ({exc}); "
                                       "going on without storing new results"), stacklevel=3)
        except sqlite3.DatabaseError as exc:
            self._damaged(exc)

    def _query(self, sql: str, args=()) -> list:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            self._damaged(exc)
            return []

    def get(self, path: str | os.PathLike, cfg: FeatureConfig, stat: os.stat_result) -> CacheEntry | None:
        """The entry of ``path`` if stored under ``cfg`` and the file is unchanged (``stat``), else None.

        A row that does not hold what its columns say (a damaged entry) is None too: the caller recomputes it.

        Returns
        -------
        CacheEntry or None
            ``features`` of shape ``(n_frames, n_features)`` float32, or the stored error.
        """
        rows = self._query(
            "SELECT size, mtime_ns, n_frames, n_features, data, error FROM entries WHERE path=? AND key=?",
            (os.fsencode(path), cfg.key()))
        if not rows or (rows[0][0], rows[0][1]) != (stat.st_size, stat.st_mtime_ns):
            return None
        _, _, n, d, data, error = rows[0]
        if error is not None:
            return CacheEntry(None, from_description(path, error)) if isinstance(error, str) and not data else None
        M = compact.decode(data, n, d) if compact.is_compact(data) else _matrix(data, n, d, np.float32)
        if M is None or d != cfg.n_features or not np.isfinite(M).all():  # damaged (NaN): a miss, recomputed
            return None
        self._used.append((time.time(), os.fsencode(path), cfg.key()))
        if len(self._used) >= 1000:
            self._flush_used()
        return CacheEntry(M, None)

    def _flush_used(self) -> None:
        """Record when the entries read were last used (for ``prune --max-size``), in one transaction."""
        used, self._used = self._used, []
        if used:
            self._write("UPDATE entries SET used=? WHERE path=? AND key=?", used, many=True)

    def put(self, path: str | os.PathLike, cfg: FeatureConfig, stat: os.stat_result, M: np.ndarray | None,
            error: AudioError | None = None) -> np.ndarray | None:
        """Store features ``M`` [shape=(n_frames, n_features)] or ``error``, in its own transaction; return the
        features as stored (compact: quantised). A transient error is not stored (and removes nothing)."""
        if error is not None and error.transient:
            return M
        data = (None if M is None else compact.encode(M) if self.compact and np.isfinite(M).all()
                else np.ascontiguousarray(M, np.float32).tobytes())
        if compact.is_compact(data):  # what a later get gives: a cold run and a warm one score alike
            M = compact.decode(data, *M.shape)
        shape = (0, 0) if M is None else M.shape
        self._write("INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (os.fsencode(path), cfg.key(), stat.st_size, stat.st_mtime_ns, shape[0], shape[1], data,
                     None if error is None else describe(error), time.time(), time.time()))
        return M

    def put_vectors(self, path: str | os.PathLike, key: str, stat: os.stat_result, V: np.ndarray,
                    dtype=np.float16) -> None:
        """Store a track's embeddings ``V`` [shape=(n, dim)] as ``dtype`` (float16) under ``key`` (see
        ``embed.cache_key``): one row for a track vector, one per window for window vectors; or any per-window
        numbers (``rank``'s window scores, float64 so that a cached ranking is the computed one)."""
        V = np.ascontiguousarray(V, dtype)
        self._write("INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (os.fsencode(path), key, stat.st_size, stat.st_mtime_ns, V.shape[0], V.shape[1], V.tobytes(),
                     None, time.time(), time.time()))

    def get_vectors_many(self, paths: list[str], key: str, dtype=np.float16) -> dict[str, np.ndarray]:
        """The vectors :meth:`put_vectors` stored under ``key`` [each shape=(n, dim), float16] for those ``paths``
        that are stored and unchanged (size and mtime), as ``{path: vectors}``. One query for all: a library of
        100,000 tracks loads in one pass instead of 100,000 lookups."""
        want = {os.fsencode(p): p for p in paths}
        out = {}
        for path, size, mtime, rows, cols, data in self._query(
                "SELECT path, size, mtime_ns, n_frames, n_features, data FROM entries WHERE key=?", (key,)):
            p = want.get(path)
            if p is None:
                continue
            try:
                st = os.stat(p)
            except OSError:
                continue
            V = _matrix(data, rows, cols, dtype)
            if V is not None and (size, mtime) == (st.st_size, st.st_mtime_ns) and np.isfinite(V).all():
                out[p] = V
        return out

    def __len__(self) -> int:
        rows = self._query("SELECT COUNT(*) FROM entries")
        return rows[0][0] if rows else 0

    def _stale(self) -> list[tuple[bytes, str]]:
        out = []
        for path, key, size, mtime_ns in self._query("SELECT path, key, size, mtime_ns FROM entries"):
            try:
                st = os.stat(path)
            except (OSError, TypeError, ValueError):
                out.append((path, key))
                continue
            if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
                out.append((path, key))
        return out

    def _damaged_rows(self) -> list[tuple[bytes, str]]:
        """Entries whose columns contradict their data (see :func:`_matrix`)."""
        return [(path, key) for path, key in self._query(
            "SELECT path, key FROM entries WHERE NOT (error IS NOT NULL AND data IS NULL) AND NOT ("
            " error IS NULL AND typeof(data) = 'blob' AND typeof(n_frames) = 'integer'"
            " AND typeof(n_features) = 'integer' AND n_frames > 0 AND n_features > 0"
            " AND (length(data) IN (8 * n_frames * n_features, 4 * n_frames * n_features, 2 * n_frames * n_features)"
            "      OR substr(data, 1, 4) = CAST('PRQ1' AS BLOB)))")]

    def info(self) -> CacheInfo:
        """Counts and size (see :class:`CacheInfo`); checks every entry's file, so it takes a moment."""
        rows = self._query("SELECT COUNT(*), COUNT(error) FROM entries")
        n, failed = rows[0] if rows else (0, 0)
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        t, fb, frames = (self._query("SELECT COUNT(DISTINCT path), SUM(length(data)), SUM(n_frames) FROM entries "
                                     "WHERE data IS NOT NULL AND length(key) = 16") or [(0, 0, 0)])[0]
        return CacheInfo(self.path, n, failed, len(self._stale()), size, len(self._damaged_rows()), t or 0, fb or 0,
                         frames or 0)

    def prune(self, max_bytes: int | None = None) -> int:
        """Remove the entries whose file is gone or changed, and damaged ones, then (``max_bytes``) the least
        recently used until the data left takes at most ``max_bytes``; return how many.

        Raises
        ------
        CacheReadOnlyError
            The cache file cannot be written.
        """
        self._need_writable()
        self._flush_used()
        stale = sorted(set(self._stale()) | set(self._damaged_rows()))
        if max_bytes is not None:
            gone, left = set(stale), 0
            for path, key, size in self._query("SELECT path, key, COALESCE(length(data), 0) + 64 FROM entries "
                                               "ORDER BY COALESCE(used, created) DESC"):
                if (path, key) not in gone:
                    left += size
                    if left > max_bytes:
                        stale.append((path, key))
        self._write("DELETE FROM entries WHERE path=? AND key=?", stale, many=True)
        self._vacuum()
        return len(stale)

    def _need_writable(self) -> None:
        if not self._writable:
            raise CacheReadOnlyError(f"{printable(str(self.path))}: the cache is read-only here: nothing can be "
                                     "removed (make it writable, or give --cache another folder)")

    def clear(self) -> int:
        """Remove every entry; return how many (:class:`CacheReadOnlyError` when the cache is read-only)."""
        self._need_writable()
        n = len(self)
        self._write("DELETE FROM entries", ())
        self._vacuum()
        return n

    def _vacuum(self) -> None:
        """Give freed pages back, the write-ahead log folded in: the size on disk is then the new one."""
        if self._writable:
            self._db.execute("VACUUM").execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._flush_used()
        self._db.close()

    def __enter__(self) -> FeatureCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _matrix(data, rows, cols, dtype) -> np.ndarray | None:
    """``data`` as a ``(rows, cols)`` matrix of ``dtype``, or None when the columns contradict the blob (a damaged
    row: NULL or text data, non-integer or non-positive sizes, a blob of another length)."""
    if not isinstance(data, bytes) or type(rows) is not int or type(cols) is not int or rows <= 0 or cols <= 0:
        return None
    if len(data) != rows * cols * np.dtype(dtype).itemsize:
        return None
    return np.frombuffer(data, dtype).reshape(rows, cols)


@contextmanager
def opened(cache_dir: str | os.PathLike | None, enabled: bool = True) -> Iterator[FeatureCache | None]:
    """:func:`open_cache` for a ``with`` block: the cache (or None: disabled, or it cannot be opened), closed when
    the block ends, however it ends."""
    cache = open_cache(cache_dir, enabled)
    try:
        yield cache
    finally:
        if cache is not None:
            cache.close()


def open_cache(cache_dir: str | os.PathLike | None, enabled: bool = True) -> FeatureCache | None:
    """The cache in ``cache_dir`` (default :func:`default_cache_dir`), or None when disabled or when it cannot be
    opened at all (a folder that cannot be created or read): then a :class:`CacheWarning` says why, and the
    command runs without a cache."""
    if not enabled:
        return None
    path = Path(cache_dir or default_cache_dir()) / FeatureCache.FILE
    try:
        return FeatureCache(path)
    except (OSError, sqlite3.DatabaseError) as exc:
        warnings.warn(CacheWarning(f"{printable(str(path))}: cannot open the feature cache ({exc}); going on "
                                   "without it"), stacklevel=2)
        return None


def remove(cache_dir: str | os.PathLike | None) -> int:
    """Delete the cache's files outright (for ``cache clear`` on a cache too damaged to open); return how many."""
    path = Path(cache_dir or default_cache_dir()) / FeatureCache.FILE
    gone = 0
    for p in path.parent.glob(path.name + "*"):
        if p.is_file():
            try:
                p.unlink()
            except OSError as exc:
                raise CacheReadOnlyError(f"{printable(str(p))}: cannot remove it ({exc.strerror or exc})") from None
            gone += 1
    return gone
