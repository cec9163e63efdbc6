"""The feature cache's SQLite file: opened in WAL mode with its table made or checked, opened read-only when it
cannot be written, set aside when it is damaged or is not a pers_rec cache at all (another program's table of the
same name), so a run always has a cache to use or none, never an error.
"""

from __future__ import annotations

import os
import sqlite3
import time
import warnings
from pathlib import Path

from ..errors import CacheWarning, PersRecError, printable

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries (path BLOB, key TEXT, size INTEGER, mtime_ns INTEGER, n_frames INTEGER,"
    " n_features INTEGER, data BLOB, error TEXT, created REAL, PRIMARY KEY (path, key))"
)
_COLUMNS = {"path", "key", "size", "mtime_ns", "n_frames", "n_features", "data", "error", "created"}


#: The cache file's format (``PRAGMA user_version``): 2 adds compact features and a last-used time.
FORMAT = 2


def connect(path: Path) -> sqlite3.Connection:
    """The cache file at ``path``, opened for writing in WAL mode, its table made or checked (a table ``entries``
    of another shape: :class:`sqlite3.DatabaseError`, set aside by the caller)."""
    db = sqlite3.connect(path, timeout=60)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        with db:
            db.execute("DROP TABLE IF EXISTS features")  # entries of pers_rec 0.1, keyed without the code version
            db.execute(SCHEMA)
            columns = {r[1] for r in db.execute("PRAGMA table_info(entries)")}
            if not _COLUMNS <= columns:  # a table of that name made by something else
                missing = sorted(_COLUMNS - columns)
                raise sqlite3.DatabaseError(f"not a pers_rec cache (a table 'entries' without {missing})")
            if "used" not in columns:
                db.execute("ALTER TABLE entries ADD COLUMN used REAL")  # a format-1 cache: read as it is
            db.execute(f"PRAGMA user_version = {FORMAT}")
    except BaseException:
        db.close()
        raise
    return db


def connect_read_only(path: Path) -> sqlite3.Connection:
    """The cache opened for reading only (``immutable``: no write-ahead log or lock files are made)."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
    columns = {r[1] for r in db.execute("PRAGMA table_info(entries)")}
    if not _COLUMNS <= columns:
        db.close()
        raise sqlite3.DatabaseError("not a pers_rec cache (read-only, and without the table of one)")
    if "used" not in columns:
        db.close()
        raise sqlite3.DatabaseError("a read-only cache of an older format: make it writable once (chmod u+w)")
    return db


def set_aside(path: Path, exc: Exception) -> None:
    """Move a damaged database file (and its journal) out of the way, with one warning."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            os.replace(src, str(aside) + suffix)
    warnings.warn(CacheWarning(f"{printable(str(path))}: damaged feature cache ({exc}); set aside as "
                               f"{aside.name}, starting a new one"), stacklevel=4)


class CacheReadOnlyError(PersRecError):
    """The cache cannot be written, so ``prune`` or ``clear`` cannot remove anything (exit code 2)."""


def read_only(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "unable to open database file" in text


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite says the file itself is broken (not a database, malformed), not that it is busy or locked."""
    text = str(exc).lower()
    return not isinstance(exc, sqlite3.OperationalError) or "malformed" in text or "not a database" in text \
        or "disk image" in text or "not a pers_rec cache" in text
