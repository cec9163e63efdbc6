"""A listener's files: scanning folders, reading likes lists, caching and extracting features in parallel.

Nothing here imports Keras, so worker processes stay light (numpy, librosa, soundfile).

Feature cache
-------------
One SQLite file (``features.sqlite``) maps ``(path, feature-config key)`` to the
file's size and modification time and either its feature matrix (float32
bytes) or the error it raised. SQLite because it is in the standard library,
each entry is written in its own transaction (an interrupted run never leaves
a half-written entry, and everything committed before Ctrl-C is kept), and a
lookup is one indexed query. A changed file (size or mtime) is recomputed; a
file that failed is not retried until it changes. Size: 20 MFCCs x 64 fps x
4 bytes = 5 KB per second of audio, ~1.2 MB per 4-minute track.
"""

from __future__ import annotations

import csv
import os
import sqlite3
import time
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from . import audio, features
from .errors import AudioError, ParameterError
from .features import FeatureConfig


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/pers_rec`` (``~/.cache/pers_rec``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pers_rec"


def scan(folder: str | os.PathLike) -> list[Path]:
    """Audio files below ``folder`` (recursive, by extension, hidden files skipped), sorted, as absolute paths.

    Absolute, so that rankings, caches and the liked tracks recorded in a model
    refer to a file the same way whatever the working directory.

    Raises
    ------
    ParameterError
        ``folder`` is not a directory.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ParameterError(f"{folder}: not a folder")
    folder = folder.resolve()
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in files if not f.startswith(".") and audio.is_audio_path(f)]
    return sorted(found)


# ---- likes / dislikes lists -------------------------------------------------

def read_labelled(source: str | os.PathLike, default_label: int) -> list[tuple[Path, int]]:
    """Tracks and labels from a playlist, a list, a CSV or a folder.

    Parameters
    ----------
    source : path
        - a folder: every audio file below it, labelled ``default_label``;
        - an ``.m3u`` / ``.m3u8`` playlist: one path per line, relative paths
          resolved against the playlist's folder, ``#`` lines (``#EXTM3U``,
          ``#EXTINF``) ignored, URLs skipped with a warning (never fetched);
        - a ``.csv`` with a ``path`` column and a ``label`` (or ``rating``)
          column: label 0 or 1, or a 1-5 star rating where 4-5 = like (1),
          1-2 = dislike (0) and 3 is skipped; relative paths resolve against
          the CSV's folder;
        - any other text file: one path per line, like an M3U.
    default_label : int
        Label of tracks whose source carries none (1 for ``--likes``, 0 for ``--dislikes``).

    Returns
    -------
    list of (absolute Path, label)
    """
    source = Path(source)
    if source.is_dir():
        return [(p.resolve(), default_label) for p in scan(source)]
    if not source.is_file():
        raise ParameterError(f"{source}: no such playlist, list, CSV or folder")
    if source.suffix.lower() == ".csv":
        return _read_csv(source)
    out = []
    text = source.read_text(encoding="utf-8-sig" if source.suffix.lower() != ".m3u" else "latin-1", errors="replace")
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "://" in line and not line.startswith("file://"):
            warnings.warn(f"{source}:{n}: skipping URL {line!r} (only local files are used)", stacklevel=2)
            continue
        out.append((_resolve(line.removeprefix("file://"), source.parent), default_label))
    return out


def _resolve(entry: str, base: Path) -> Path:
    p = Path(entry.replace("\\", "/")).expanduser()
    return (p if p.is_absolute() else base / p).resolve()


def _read_csv(source: Path) -> list[tuple[Path, int]]:
    with open(source, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return []
    cols = {c.lower().strip(): c for c in rows[0]}
    if "path" not in cols or not ({"label", "rating"} & set(cols)):
        raise ParameterError(f"{source}: a likes CSV needs a 'path' column and a 'label' or 'rating' column, got {list(rows[0])}")
    value_col = cols.get("label") or cols["rating"]
    values = []
    for n, row in enumerate(rows, 2):
        try:
            values.append(float(row[value_col]))
        except (TypeError, ValueError):
            raise ParameterError(f"{source}:{n}: {value_col} {row[value_col]!r} is not a number") from None
    binary = set(values) <= {0.0, 1.0}
    out = []
    for row, v in zip(rows, values):
        if binary:
            label = int(v)
        elif 1 <= v <= 5:
            label = 1 if v >= 4 else 0 if v <= 2 else None
        else:
            raise ParameterError(f"{source}: {value_col} values must be 0/1 or 1-5 star ratings, got {v}")
        if label is not None:
            out.append((_resolve(row[cols["path"]], source.parent), label))
    return out


# ---- the cache ----------------------------------------------------------------

@dataclass
class CacheEntry:
    features: np.ndarray | None
    error: str | None


class FeatureCache:
    """Features (or errors) of files, keyed by path and feature config, checked against size and mtime."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS features (path TEXT, config TEXT, size INTEGER, mtime_ns INTEGER,"
            " n_frames INTEGER, n_features INTEGER, data BLOB, error TEXT, created REAL, PRIMARY KEY (path, config))"
        )
        self._db.commit()

    def get(self, path: Path, cfg: FeatureConfig, stat: os.stat_result | None = None) -> CacheEntry | None:
        """The cached entry if the file is unchanged since it was stored, else None."""
        try:
            stat = stat or path.stat()
        except OSError:
            return None
        row = self._db.execute(
            "SELECT size, mtime_ns, n_frames, n_features, data, error FROM features WHERE path=? AND config=?",
            (str(path), cfg.key()),
        ).fetchone()
        if row is None or (row[0], row[1]) != (stat.st_size, stat.st_mtime_ns):
            return None
        if row[5] is not None:
            return CacheEntry(None, row[5])
        return CacheEntry(np.frombuffer(row[4], np.float32).reshape(row[2], row[3]), None)

    def put(self, path: Path, cfg: FeatureConfig, stat: os.stat_result, M: np.ndarray | None, error: str | None) -> None:
        """Store one entry in its own transaction."""
        data = None if M is None else np.ascontiguousarray(M, np.float32).tobytes()
        shape = (0, 0) if M is None else M.shape
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO features VALUES (?,?,?,?,?,?,?,?,?)",
                (str(path), cfg.key(), stat.st_size, stat.st_mtime_ns, shape[0], shape[1], data, error, time.time()),
            )

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM features").fetchone()[0]

    def close(self) -> None:
        self._db.close()


# ---- extraction ---------------------------------------------------------------

@dataclass
class Extracted:
    """One file's features, or why it has none.

    Attributes
    ----------
    path : Path
    features : np.ndarray [shape=(n_frames, n_features)] or None
    error : str or None
        ``"ErrorType: message"`` when the file failed.
    cached : bool
        Whether it came from the cache.
    """

    path: Path
    features: np.ndarray | None
    error: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.features is not None


def _extract_one(path: str, cfg_dict: dict) -> tuple[str, np.ndarray | None, str | None]:
    """Worker task: never raises for a bad file; the error travels back as text."""
    cfg = FeatureConfig.from_dict(cfg_dict)
    try:
        M = features.extract(path, cfg)
        features.fit_to_window(M, cfg, path)  # reject too-short tracks here, with the file's name
        return path, M, None
    except AudioError as exc:
        return path, None, f"{type(exc).__name__}: {exc.reason}"
    except Exception as exc:  # a decoder bug must not abort a library run
        return path, None, f"{type(exc).__name__}: {exc}"


def extract_many(
    paths: Iterable[str | os.PathLike],
    cfg: FeatureConfig,
    *,
    cache: FeatureCache | None = None,
    jobs: int | None = None,
    progress=None,
) -> Iterator[Extracted]:
    """Features of many files: cached ones first, the rest decoded in ``jobs`` worker processes.

    Results arrive in completion order (not input order) so that the caller can
    score while workers keep decoding. At most ``2 * jobs`` files are in flight,
    so memory stays bounded whatever the library size. Each computed result is
    stored in ``cache`` as soon as it arrives.

    Parameters
    ----------
    jobs : int or None
        Worker processes; ``None``: one per CPU core; 1: decode in this process.
    progress : callable or None
        Called once per finished file.
    """
    jobs = jobs or os.cpu_count() or 1
    todo = []
    for p in paths:
        path = Path(p)
        try:
            stat = path.stat()
        except OSError:
            stat = None
        hit = cache.get(path, cfg, stat) if (cache is not None and stat is not None) else None
        if hit is not None:
            if progress:
                progress()
            yield Extracted(path, hit.features, hit.error, cached=True)
        else:
            todo.append((path, stat))
    if not todo:
        return

    def finish(path_str, M, error, stat):
        path = Path(path_str)
        if cache is not None and stat is not None:
            cache.put(path, cfg, stat, M, error)
        if progress:
            progress()
        return Extracted(path, M, error)

    cfg_dict = cfg.to_dict()
    if jobs == 1:
        for path, stat in todo:
            yield finish(*_extract_one(str(path), cfg_dict), stat)
        return
    # forkserver: workers never inherit a parent that may already hold TensorFlow threads
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("forkserver"), initializer=_init_worker,
                               initargs=(cfg_dict, *features.analysis_arrays(cfg)))
    with pool:
        pending: dict[Future, os.stat_result | None] = {}
        queue = iter(todo)
        try:
            while True:
                while len(pending) < 2 * jobs:
                    nxt = next(queue, None)
                    if nxt is None:
                        break
                    pending[pool.submit(_extract_one, str(nxt[0]), cfg_dict)] = nxt[1]
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield finish(*fut.result(), pending.pop(fut))
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _init_worker(cfg_dict: dict, mel: np.ndarray, window: np.ndarray) -> None:
    """Each worker: one BLAS thread (the workers already fill the cores; with two threads each, two
    workers on two cores ran extraction 1.9x slower), and the analysis arrays from the parent."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    features.prime(FeatureConfig.from_dict(cfg_dict), mel, window)


def open_cache(cache_dir: str | os.PathLike | None, enabled: bool = True) -> FeatureCache | None:
    """The cache in ``cache_dir`` (default :func:`default_cache_dir`), or None when disabled."""
    if not enabled:
        return None
    return FeatureCache(Path(cache_dir or default_cache_dir()) / "features.sqlite")
