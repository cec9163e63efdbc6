"""The listener's judgements (thumbs up, down, skip, and what the radio hears), kept in SQLite in the cache folder.

Each judgement is one row (path, label, weight, time, source), committed with
``synchronous=FULL`` before the reply is sent: a server killed right after a
click (or a radio right after a skip) loses nothing. The latest judgement of a
track is its label; a ``serve`` skip (label NULL) is kept as a fact but labels
nothing. ``source`` says where a row came from: ``serve`` (a click), the
radio's ``radio:skip``, ``radio:complete`` and ``radio:repeat`` (see
:mod:`radio`, whose rules set the weights), or where an import came from.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """CREATE TABLE IF NOT EXISTS judgements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    label INTEGER,            -- 1 like, 0 dislike, NULL skip
    at REAL NOT NULL,         -- seconds since the epoch
    source TEXT NOT NULL,     -- "serve" (a click), "radio:skip", ..., or where an import came from
    weight REAL NOT NULL DEFAULT 1.0  -- how much the label counts in training
)"""


class Judgements:
    """The judgements file ``path`` (created when missing); safe to use from several threads.

    ``legacy``: a judgements file of an older layout (one file for every library); when ``path`` is new, the
    rows of ``legacy`` whose path lies below the folder ``under`` are copied in, so no judgement is lost.
    """

    def __init__(self, path: str | os.PathLike, legacy: str | os.PathLike | None = None, under: str | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        self.lock = threading.Lock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(judgements)")}
        if "weight" not in columns:  # a file written before weights: every judgement so far counts 1
            self.db.execute("ALTER TABLE judgements ADD COLUMN weight REAL NOT NULL DEFAULT 1.0")
        if new and legacy is not None and under is not None and Path(legacy).is_file():
            self._adopt(Path(legacy), under)

    def _adopt(self, legacy: Path, under: str) -> None:
        prefix = under.rstrip(os.sep) + os.sep
        try:
            old = sqlite3.connect(f"file:{legacy}?mode=ro", uri=True)
            rows = old.execute("SELECT path, label, at, source FROM judgements ORDER BY id").fetchall()
            old.close()
        except sqlite3.Error:
            return  # an unreadable old file adopts nothing; it stays where it is
        with self.lock:
            self.db.executemany("INSERT INTO judgements (path, label, at, source) VALUES (?, ?, ?, ?)",
                                [r for r in rows if isinstance(r[0], str) and r[0].startswith(prefix)])

    def add(self, path: str, label: int | None, source: str = "serve", weight: float = 1.0) -> None:
        """Store one judgement durably (committed when this returns)."""
        if label not in (0, 1, None):
            raise ValueError(f"a judgement is 1, 0 or None (skip), got {label!r}")
        if not (isinstance(weight, (int, float)) and 0 < weight <= 100):
            raise ValueError(f"a judgement's weight is a number in (0, 100], got {weight!r}")
        with self.lock:
            self.db.execute("INSERT INTO judgements (path, label, at, source, weight) VALUES (?, ?, ?, ?, ?)",
                            (path, label, time.time(), source, float(weight)))

    def weighted(self) -> dict[str, tuple[int, float, str]]:
        """``{path: (label, weight, source)}`` from each track's latest judgement (a ``serve`` skip labels nothing)."""
        with self.lock:
            rows = self.db.execute("SELECT path, label, weight, source FROM judgements j WHERE id = "
                                   "(SELECT MAX(id) FROM judgements WHERE path = j.path)").fetchall()
        return {p: (int(lab), float(w), src) for p, lab, w, src in rows if lab is not None}

    def labels(self) -> dict[str, int]:
        """``{path: label}`` from each track's latest judgement (skips label nothing)."""
        return {p: lab for p, (lab, _, _) in self.weighted().items()}

    def since(self, row_id: int) -> list[tuple[int, str, int | None, str]]:
        """The judgements stored after row ``row_id``: ``[(id, path, label, source)]``, oldest first."""
        with self.lock:
            return self.db.execute("SELECT id, path, label, source FROM judgements WHERE id > ? ORDER BY id",
                                   (row_id,)).fetchall()

    def count(self) -> int:
        with self.lock:
            return self.db.execute("SELECT COUNT(*) FROM judgements").fetchone()[0]

    def csv_text(self) -> str:
        """The labels as the CSV ``train --likes`` reads (``path,label,weight,signal``)."""
        import csv
        import io

        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["path", "label", "weight", "signal"])
        w.writerows((p, lab, str(wt), src) for p, (lab, wt, src) in sorted(self.weighted().items()))
        return buf.getvalue()

    def close(self) -> None:
        with self.lock:
            self.db.close()


def library_home(cache_dir, root: Path) -> Path:
    """The serve folder of the library ``root`` under ``cache_dir``: its name, then a hash of its real path."""
    real = os.path.realpath(root)
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", os.path.basename(real))[:40] or "library"
    return Path(cache_dir) / "serve" / f"{slug}-{hashlib.sha1(os.fsencode(real)).hexdigest()[:12]}"
