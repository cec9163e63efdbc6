"""``pers-rec cache info|prune|clear``: show, trim or empty the feature cache."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import EXIT_OK
from .common import say, subcommand


def add_parser(sub) -> None:
    c = subcommand(sub, "cache", "show, prune or clear the feature cache", "pers-rec cache info")
    c.add_argument("action", choices=["info", "prune", "clear"],
                   help="info: entries, failures, stale and damaged entries, size; prune: drop entries of gone or "
                        "changed files and damaged ones; clear: drop everything, however damaged")
    c.add_argument("--cache", metavar="DIR", help="feature cache folder (default: ~/.cache/pers_rec)")
    c.set_defaults(run=run)


def run(args) -> int:
    return cache_command(args.action, args.cache)


def cache_command(action: str, cache_dir) -> int:
    """``info``, ``prune`` or ``clear`` the cache in ``cache_dir`` (default ``~/.cache/pers_rec``)."""
    from ..cache import FeatureCache, default_cache_dir, remove

    path = Path(cache_dir or default_cache_dir()) / FeatureCache.FILE
    if not path.exists():
        say(f"no cache at {path}")
        return EXIT_OK
    if action == "clear":  # works on any cache, however damaged or locked out: its files go
        try:
            with FeatureCache(path) as cache:
                n = f"{len(cache)} "
        except (OSError, sqlite3.Error):
            n = ""
        remove(cache_dir)
        say(f"removed all {n}entries from {path}")
        return EXIT_OK
    with FeatureCache(path) as cache:
        if action == "info":
            i = cache.info()
            say(f"{i.path}: {i.entries} entries ({i.failed} failed files), {i.stale} stale (file gone or changed), "
                + (f"{i.damaged} damaged (recomputed when met), " if i.damaged else "") + f"{i.bytes / 2**20:.1f} MB")
        else:
            say(f"removed {cache.prune()} stale or damaged entries from {path}")
    return EXIT_OK
