"""The feature cache: hits, invalidation, what is never cached, the code version, and its maintenance."""

import os
import sqlite3

import numpy as np
import pytest

from pers_rec.audio import features as F
from pers_rec.audio.cache import FeatureCache, open_cache
from pers_rec.errors import DecodeError, ReadFailedError, WorkerCrashedError

cfg = F.FeatureConfig()


def test_cache_hit_miss_and_invalidation(lib, tmp_path):
    cache = FeatureCache(tmp_path / "c" / "features.sqlite")
    path = lib / "three.WAV"
    assert cache.get(path, cfg, path.stat()) is None
    M = np.arange(40, dtype=np.float32).reshape(2, 20)
    cache.put(path, cfg, path.stat(), M, None)
    np.testing.assert_array_equal(cache.get(path, cfg, path.stat()).features, M)
    assert cache.get(path, F.FeatureConfig(n_mfcc=13), path.stat()) is None  # another feature config
    path.write_bytes(path.read_bytes() + b"\0\0")  # the file changed
    assert cache.get(path, cfg, path.stat()) is None
    cache.put(path, cfg, path.stat(), None, DecodeError(path, "broken"))
    hit = cache.get(path, cfg, path.stat())
    assert type(hit.error) is DecodeError and hit.error.reason == "broken" and hit.error.path == str(path)
    assert len(cache) == 1




@pytest.mark.parametrize("error", [ReadFailedError("x", "MemoryError: "), WorkerCrashedError("x", "died")])
def test_transient_failures_are_never_cached(lib, tmp_path, error):
    cache = FeatureCache(tmp_path / "f.sqlite")
    path = lib / "three.WAV"
    cache.put(path, cfg, path.stat(), None, error)
    assert cache.get(path, cfg, path.stat()) is None and len(cache) == 0


def test_key_includes_the_feature_code_version(monkeypatch):
    before = cfg.key()
    from pers_rec import config

    monkeypatch.setattr(config, "FEATURE_CODE_VERSION", config.FEATURE_CODE_VERSION + 1)
    assert cfg.key() != before


def test_byte_names_are_cached(tmp_path):
    raw = os.fsencode(tmp_path) + b"/\xff\xfe.wav"
    with open(raw, "wb") as f:
        f.write(b"x")
    cache = FeatureCache(tmp_path / "f.sqlite")
    path = os.fsdecode(raw)
    M = np.ones((3, 20), np.float32)
    cache.put(path, cfg, os.stat(raw), M)
    np.testing.assert_array_equal(cache.get(path, cfg, os.stat(raw)).features, M)


def test_info_prune_clear(lib, tmp_path):
    cache = open_cache(tmp_path / "c")
    for name in ("three.WAV", "a/one.wav", "a/two.flac"):
        p = lib / name
        cache.put(p, cfg, p.stat(), np.zeros((2, 20), np.float32))
    cache.put(lib / "a" / "two.flac", cfg, (lib / "a" / "two.flac").stat(), None, DecodeError("x", "bad"))
    (lib / "three.WAV").unlink()
    (lib / "a" / "one.wav").write_bytes(b"changed")
    info = cache.info()
    assert (info.entries, info.failed, info.stale) == (3, 1, 2) and info.bytes > 0
    assert cache.prune() == 2 and len(cache) == 1
    assert cache.clear() == 1 and len(cache) == 0


def test_opened_closes_the_cache_however_the_block_ends(tmp_path):
    from pers_rec.audio.cache import opened

    with pytest.raises(RuntimeError), opened(tmp_path / "c") as cache:
        held = cache
        raise RuntimeError("the block fails")
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        held._db.execute("SELECT 1")  # closed: its connection refuses any query
    with opened(tmp_path / "c", enabled=False) as cache:
        assert cache is None
