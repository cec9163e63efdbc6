"""Compact feature storage: the error bound, damaged blobs, scores against the float32 path, old caches, LRU pruning."""

import os
import sqlite3

import numpy as np
import pytest
import soundfile as sf
from conftest import tone
from helpers import TINY, saved_model

from pers_rec.audio import compact as C
from pers_rec.audio.cache import FORMAT, FeatureCache, open_cache
from pers_rec.library import rank as R


def test_each_value_is_within_half_a_level_of_its_columns_range():
    rng = np.random.default_rng(0)
    M = np.cumsum(rng.normal(size=(3000, 20)), axis=0).astype(np.float32)
    M[:, 5] = 7.25  # a constant column is exact
    R_ = C.decode(C.encode(M), *M.shape)
    step = (M.max(0) - M.min(0)) / 255
    assert R_.dtype == np.float32 and (np.abs(R_ - M) <= step / 2 + 1e-5 * np.abs(M).max()).all()
    assert (R_[:, 5] == 7.25).all()
    assert len(C.encode(M)) < M.nbytes / 4  # 8 bits, and the deltas deflate
    assert C.decode(C.encode(np.zeros((0, 20))), 0, 20).shape == (0, 20)


def test_a_damaged_blob_is_none_never_a_crash():
    blob = C.encode(np.ones((50, 4), np.float32))
    for bad, shape in [(blob[:-3], (50, 4)), (blob, (49, 4)), (blob, (50, 5)), (b"PRQ1", (50, 4)),
                       (b"PRQ1" + bytes(200), (50, 4)), (blob[:10], (50, 4))]:
        assert C.decode(bad, *shape) is None


def test_ranking_from_the_compact_cache_is_within_0_002_of_the_float32_path(tmp_path):
    paths = []
    for i in range(6):
        y = tone(110 * (i + 1), 12.0, 8000) + 0.3 * tone(37 * (i + 2), 12.0, 8000) * np.linspace(0, 1, 96000)
        paths.append(tmp_path / f"{i}.wav")
        sf.write(paths[-1], y.astype(np.float32), 8000)
    saved = saved_model(TINY)
    exact = R.rank(paths, saved, jobs=0).set_index("path")
    cache = open_cache(tmp_path / "c")
    cold = R.rank(paths, saved, cache=cache, jobs=0).set_index("path")
    warm = R.rank(paths, saved, cache=cache, jobs=0).set_index("path")
    diff = np.abs(cold["score"] - exact.loc[cold.index, "score"]).max()
    assert diff <= 0.002
    assert (warm.loc[cold.index, "score"] == cold["score"]).all()  # a cold run scores as a warm one
    cache.close()


def test_an_old_float32_cache_is_read_and_upgraded(tmp_path):
    path = tmp_path / "features.sqlite"
    db = sqlite3.connect(path)  # a format-1 cache: no "used" column, float32 blobs, user_version 0
    db.execute("CREATE TABLE entries (path BLOB, key TEXT, size INTEGER, mtime_ns INTEGER, n_frames INTEGER,"
               " n_features INTEGER, data BLOB, error TEXT, created REAL, PRIMARY KEY (path, key))")
    audio = tmp_path / "a.wav"
    sf.write(audio, tone(440, 2.0, 8000), 8000)
    st = os.stat(audio)
    M = np.arange(40 * TINY.n_features, dtype=np.float32).reshape(40, TINY.n_features)
    db.execute("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?)", (os.fsencode(str(audio)), TINY.key(), st.st_size,
               st.st_mtime_ns, 40, TINY.n_features, M.tobytes(), None, 0.0))
    db.commit()
    db.close()
    with FeatureCache(path) as cache:
        np.testing.assert_array_equal(cache.get(audio, TINY, st).features, M)
        assert cache.info().damaged == 0
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == FORMAT


def test_cache_info_reports_size_per_track_and_prune_keeps_the_recently_used(tmp_path, capsys):
    from pers_rec.cli import main

    cache_dir = tmp_path / "c"
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"{i}.wav")
        sf.write(paths[-1], tone(200 + 50 * i, 8.0, 8000), 8000)
    with open_cache(cache_dir) as cache:
        for p in paths:
            cache.put(p, TINY, os.stat(p), np.random.default_rng(0).normal(size=(400, TINY.n_features)))
        for p in paths[2:]:  # the last two were read since: the first two are the least recently used
            cache._used.append((2e9, os.fsencode(str(p)), TINY.key()))
    assert main(["cache", "info", "--cache", str(cache_dir)]) == 0
    out = capsys.readouterr().out
    assert "features of 4 files:" in out and "MB per 4 minutes of audio" in out
    with open_cache(cache_dir) as cache:
        each = max(r[0] for r in cache._query("SELECT length(data) FROM entries")) + 64
    assert each < 400 * TINY.n_features * 1.1  # about a byte per value, even for noise
    assert main(["cache", "prune", "--max-size", str(2 * each), "--cache", str(cache_dir)]) == 0
    assert "removed 2 stale, damaged or least recently used entries" in capsys.readouterr().out
    with open_cache(cache_dir) as cache:
        left = {os.fsdecode(r[0]) for r in cache._query("SELECT path FROM entries")}
    assert left == {str(p) for p in paths[2:]}
    with pytest.raises(SystemExit) as bad:  # argparse: a usage error, exit 2
        main(["cache", "prune", "--max-size", "ten", "--cache", str(cache_dir)])
    assert bad.value.code == 2
    assert main(["cache", "info", "--max-size", "1G", "--cache", str(cache_dir)]) == 2
