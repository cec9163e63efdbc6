"""``pers-rec cache info|prune|clear``: show, trim or empty the feature cache."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import EXIT_OK, ParameterError, printable
from .common import say, subcommand


def add_parser(sub) -> None:
    c = subcommand(sub, "cache", "show, prune or clear the feature cache", "pers-rec cache info")
    c.add_argument("action", choices=["info", "prune", "clear"],
                   help="info: entries, failures, stale and damaged entries, size; prune: drop entries of gone or "
                        "changed files and damaged ones; clear: drop everything, however damaged")
    c.add_argument("--cache", metavar="DIR", help="feature cache folder (default: ~/.cache/pers_rec)")
    c.add_argument("--max-size", type=size, metavar="SIZE",
                   help="prune: then drop the least recently used entries until the data takes at most SIZE "
                        "(e.g. 10G, 500M)")
    c.set_defaults(run=run)


def size(text: str) -> int:
    """``10G``, ``500M``, ``1.5GB``, ``2048`` (bytes) as a number of bytes."""
    import re

    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)i?b?\s*", text.lower())
    if not m:
        raise ParameterError(f"--max-size {text!r}: give a size such as 10G, 500M or 2048")
    return int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2) or " "))


def run(args) -> int:
    if args.max_size is not None and args.action != "prune":
        raise ParameterError("--max-size goes with prune")
    return cache_command(args.action, args.cache, args.max_size)


def cache_command(action: str, cache_dir, max_size: int | None = None) -> int:
    """``info``, ``prune`` or ``clear`` the cache in ``cache_dir`` (default ``~/.cache/pers_rec``); a cache that
    cannot be read (permissions) is one line and exit 2, one that cannot be written is read by ``info``."""
    from ..audio.cache import FeatureCache, default_cache_dir

    path = Path(cache_dir or default_cache_dir()) / FeatureCache.FILE
    try:
        return _cache_command(action, cache_dir, path, max_size)
    except OSError as exc:
        raise ParameterError(f"{printable(str(path))}: cannot use the cache ({exc.strerror or exc})") from None


def _cache_command(action: str, cache_dir, path: Path, max_size: int | None) -> int:
    from ..audio.cache import FeatureCache, remove
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
            if i.tracks:
                say(f"features of {i.tracks} files: {i.feature_bytes / i.tracks / 1e3:.0f} KB per file, "
                    f"{i.feature_bytes / max(i.frames, 1) * 64 * 240 / 1e6:.2f} MB per 4 minutes of audio (at 64 fps)")
        else:
            n = cache.prune(max_size)
            say(f"removed {n} {'stale, damaged or least recently used' if max_size else 'stale or damaged'} entries "
                f"from {path}" + (f"; {cache.info().bytes / 2**20:.1f} MB left" if max_size else ""))
    return EXIT_OK
