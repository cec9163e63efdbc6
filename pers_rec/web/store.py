"""The listener's judgements (thumbs up, down, skip), kept in SQLite in the cache folder.

Each judgement is one row (path, label, time, source), committed with
``synchronous=FULL`` before the reply is sent: a server killed right after a
click loses nothing. The latest judgement of a track is its label; a skip
(label NULL) is kept as a fact but labels nothing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """CREATE TABLE IF NOT EXISTS judgements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    label INTEGER,            -- 1 like, 0 dislike, NULL skip
    at REAL NOT NULL,         -- seconds since the epoch
    source TEXT NOT NULL      -- "serve" (a click), or where an import came from
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

    def add(self, path: str, label: int | None, source: str = "serve") -> None:
        """Store one judgement durably (committed when this returns)."""
        if label not in (0, 1, None):
            raise ValueError(f"a judgement is 1, 0 or None (skip), got {label!r}")
        with self.lock:
            self.db.execute("INSERT INTO judgements (path, label, at, source) VALUES (?, ?, ?, ?)",
                            (path, label, time.time(), source))

    def labels(self) -> dict[str, int]:
        """``{path: label}`` from each track's latest judgement (skips label nothing)."""
        with self.lock:
            rows = self.db.execute("SELECT path, label FROM judgements j WHERE id = "
                                   "(SELECT MAX(id) FROM judgements WHERE path = j.path)").fetchall()
        return {p: int(lab) for p, lab in rows if lab is not None}

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
        w.writerows((p, lab, "1.0", "serve") for p, lab in sorted(self.labels().items()))
        return buf.getvalue()

    def close(self) -> None:
        with self.lock:
            self.db.close()
