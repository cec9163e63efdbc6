"""The cache's file under hostile or unlucky conditions: another program's table, a NaN row, a zlib bomb, a cache
that cannot be written (info works; prune and clear say why in one line)."""

import os
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from pers_rec.audio import compact
from pers_rec.audio.cache import FeatureCache
from pers_rec.audio.cache_file import CacheReadOnlyError
from pers_rec.audio.features import FeatureConfig

CFG = FeatureConfig()


def stored(tmp_path, M):
    """A cache with ``M`` stored for a real file; ``(cache, path, stat)``."""
    f = tmp_path / "song.wav"
    f.write_bytes(b"x" * 100)
    cache = FeatureCache(tmp_path / "cache" / FeatureCache.FILE, compact=False)
    cache.put(f, CFG, f.stat(), M)
    return cache, f, f.stat()


def test_a_table_of_another_program_is_set_aside_not_an_error(tmp_path):
    path = tmp_path / FeatureCache.FILE
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE entries (id INTEGER, name TEXT)")
    db.commit()
    db.close()
    with pytest.warns(UserWarning, match="not a pers_rec cache"):
        cache = FeatureCache(path)
    assert len(cache) == 0 and list(tmp_path.glob("features.sqlite.damaged-*"))
    cache.close()


def test_a_nan_row_is_a_miss_and_is_recomputed(tmp_path):
    M = np.ones((100, CFG.n_features), np.float32)
    M[5, 3] = np.nan
    cache, f, st = stored(tmp_path, M)
    assert cache.get(f, CFG, st) is None
    cache.put(f, CFG, st, np.ones((100, CFG.n_features), np.float32))  # the recomputed features replace it
    assert cache.get(f, CFG, st).features.shape == (100, CFG.n_features)


def test_a_zlib_bomb_is_never_inflated_past_its_shape():
    n, d = 100, 20
    head = compact._HEAD.pack(compact.MAGIC, n, d) + np.zeros(2 * d, "<f4").tobytes()
    bomb = head + zlib.compress(b"\0" * (200 * 2**20), 9)  # 200 MB of zeros in about 200 KB
    assert len(bomb) < 400_000
    assert compact.decode(bomb, n, d) is None
    assert compact.decode(head + zlib.compress(b"\0" * (n * d)), 10**9, 10**6) is None  # a shape past the cap
    good = compact.encode(np.arange(n * d, dtype=np.float32).reshape(n, d))
    assert compact.decode(good, n, d).shape == (n, d)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes any file: a read-only cache cannot be made")
def test_a_read_only_cache_is_read_and_prune_and_clear_say_why(tmp_path):
    cache, f, st = stored(tmp_path, np.ones((10, CFG.n_features), np.float32))
    cache.close()
    folder = tmp_path / "cache"
    for p in folder.iterdir():
        p.chmod(0o444)
    folder.chmod(0o555)
    try:
        ro = FeatureCache(folder / FeatureCache.FILE)
        assert ro.get(f, CFG, st).features.shape == (10, CFG.n_features) and ro.info().entries == 1
        for action in (ro.prune, ro.clear):
            with pytest.raises(CacheReadOnlyError, match="read-only"):
                action()
    finally:
        folder.chmod(0o755)


def test_cache_commands_on_a_read_only_cache_are_one_line(tmp_path):
    """As a user who cannot write the cache (run under another uid when the tests run as root)."""
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(dir="/tmp"))  # a folder every user may enter
    cache, f, st = stored(tmp_path, np.ones((10, CFG.n_features), np.float32))
    cache.close()
    folder = tmp_path / "cache"
    os.chmod(tmp_path, 0o755)
    for p in folder.iterdir():
        p.chmod(0o444)
    folder.chmod(0o555)
    pre = [] if os.geteuid() else ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = {**os.environ, "HOME": str(tmp_path)}
    try:
        for action, code in (("info", 0), ("prune", 2), ("clear", 2)):
            r = subprocess.run([*pre, sys.executable, "-m", "pers_rec.cli", "cache", action, "--cache", str(folder)],
                               capture_output=True, text=True, env=env)
            assert r.returncode == code and "Traceback" not in r.stderr, (action, r.stderr)
            if code:
                assert len(r.stderr.strip().splitlines()) == 1 and "read-only" in r.stderr or "cannot remove" in r.stderr
    finally:
        folder.chmod(0o755)
