import numpy as np
import pytest
from conftest import tone

from pers_rec import features as F
from pers_rec import library
from pers_rec.errors import ParameterError

CFG = F.FeatureConfig()


@pytest.fixture
def lib(tmp_path, write_audio):
    (tmp_path / "music" / "a").mkdir(parents=True)
    (tmp_path / "music" / ".hidden").mkdir()
    paths = []
    for i, rel in enumerate(["a/one.wav", "a/two.flac", "three.WAV", ".hidden/x.wav", "a/.dot.wav"]):
        paths.append(write_audio(f"music/{rel}", tone(200 + 50 * i, 2.0, 16000), 16000))
    (tmp_path / "music" / "cover.jpg").write_bytes(b"\xff\xd8")
    return tmp_path / "music"


def test_scan_is_recursive_sorted_and_skips_hidden_and_non_audio(lib):
    assert [p.relative_to(lib).as_posix() for p in library.scan(lib)] == ["a/one.wav", "a/two.flac", "three.WAV"]
    with pytest.raises(ParameterError, match="not a folder"):
        library.scan(lib / "three.WAV")


def test_scan_returns_absolute_paths_for_a_relative_folder(lib, monkeypatch):
    monkeypatch.chdir(lib.parent)
    found = library.scan("music")
    assert all(p.is_absolute() for p in found) and found == library.scan(lib)


def test_m3u_relative_absolute_comments_and_urls(lib, tmp_path):
    pl = tmp_path / "likes.m3u8"
    pl.write_text(
        "#EXTM3U\n#EXTINF:123,Artist - One\nmusic/a/one.wav\n\n"
        f"{lib / 'three.WAV'}\nhttp://radio.example/stream.mp3\nfile://{lib / 'a' / 'two.flac'}\n"
    )
    with pytest.warns(UserWarning, match="skipping URL"):
        got = library.read_labelled(pl, 1)
    assert got == [((lib / "a/one.wav").resolve(), 1), ((lib / "three.WAV").resolve(), 1), ((lib / "a/two.flac").resolve(), 1)]


def test_plain_list_and_folder(lib, tmp_path):
    (tmp_path / "list.txt").write_text("music/three.WAV\n# a comment\n")
    assert library.read_labelled(tmp_path / "list.txt", 0) == [((lib / "three.WAV").resolve(), 0)]
    assert [lab for _, lab in library.read_labelled(lib, 1)] == [1, 1, 1]


def test_csv_labels_and_ratings(lib, tmp_path):
    (tmp_path / "l.csv").write_text("path,label\nmusic/a/one.wav,1\nmusic/three.WAV,0\n")
    assert library.read_labelled(tmp_path / "l.csv", 1) == [((lib / "a/one.wav").resolve(), 1), ((lib / "three.WAV").resolve(), 0)]
    (tmp_path / "r.csv").write_text("Path,Rating\nmusic/a/one.wav,5\nmusic/a/two.flac,3\nmusic/three.WAV,2\n")
    assert library.read_labelled(tmp_path / "r.csv", 1) == [((lib / "a/one.wav").resolve(), 1), ((lib / "three.WAV").resolve(), 0)]
    (tmp_path / "bad.csv").write_text("file,score\nx.wav,1\n")
    with pytest.raises(ParameterError, match="needs a 'path' column"):
        library.read_labelled(tmp_path / "bad.csv", 1)
    (tmp_path / "bad2.csv").write_text("path,label\nx.wav,great\n")
    with pytest.raises(ParameterError, match="not a number"):
        library.read_labelled(tmp_path / "bad2.csv", 1)
    with pytest.raises(ParameterError, match="no such playlist"):
        library.read_labelled(tmp_path / "missing.m3u", 1)


def test_cache_hit_miss_and_invalidation(lib, tmp_path):
    cache = library.FeatureCache(tmp_path / "c" / "features.sqlite")
    path = lib / "three.WAV"
    assert cache.get(path, CFG) is None
    M = np.arange(40, dtype=np.float32).reshape(2, 20)
    cache.put(path, CFG, path.stat(), M, None)
    np.testing.assert_array_equal(cache.get(path, CFG).features, M)
    assert cache.get(path, F.FeatureConfig(n_mfcc=13)) is None  # another feature config
    path.write_bytes(path.read_bytes() + b"\0\0")  # the file changed
    assert cache.get(path, CFG) is None
    cache.put(path, CFG, path.stat(), None, "DecodeError: broken")
    assert cache.get(path, CFG).error == "DecodeError: broken" and len(cache) == 1


def count_decodes(monkeypatch):
    calls = []
    real = F.extract

    def counting(path, cfg):
        calls.append(str(path))
        return real(path, cfg)

    monkeypatch.setattr(F, "extract", counting)
    return calls


def test_second_run_decodes_nothing(lib, tmp_path, monkeypatch):
    calls = count_decodes(monkeypatch)
    cache = library.open_cache(tmp_path / "cache")
    first = {str(e.path): e for e in library.extract_many(library.scan(lib), CFG, cache=cache, jobs=1)}
    assert len(calls) == 3 and not any(e.cached for e in first.values())
    second = {str(e.path): e for e in library.extract_many(library.scan(lib), CFG, cache=cache, jobs=1)}
    assert len(calls) == 3 and all(e.cached for e in second.values())
    for p in first:
        np.testing.assert_array_equal(first[p].features, second[p].features)


def test_failures_are_results_not_exceptions(lib, tmp_path):
    (lib / "broken.mp3").write_text("not music")
    cache = library.open_cache(tmp_path / "cache")
    out = {e.path.name: e for e in library.extract_many([*library.scan(lib), lib / "gone.wav"], CFG, cache=cache, jobs=1)}
    assert out["broken.mp3"].error.startswith("DecodeError:") and not out["broken.mp3"].ok
    assert out["gone.wav"].error.startswith("AudioFileNotFoundError:")
    assert out["one.wav"].ok
    again = {e.path.name: e for e in library.extract_many([lib / "broken.mp3"], CFG, cache=cache, jobs=1)}
    assert again["broken.mp3"].cached and again["broken.mp3"].error.startswith("DecodeError:")  # not retried


def test_interrupted_run_keeps_finished_work_and_resumes(lib, tmp_path, monkeypatch):
    cache = library.open_cache(tmp_path / "cache")
    paths = library.scan(lib)
    real, calls = F.extract, []

    def extract(path, cfg):
        calls.append(str(path))
        if interrupt_at and len(calls) == interrupt_at:
            raise KeyboardInterrupt  # Ctrl-C while decoding the third file
        return real(path, cfg)

    monkeypatch.setattr(F, "extract", extract)
    interrupt_at = 3
    with pytest.raises(KeyboardInterrupt):
        list(library.extract_many(paths, CFG, cache=cache, jobs=1))
    cache.close()
    cache = library.open_cache(tmp_path / "cache")  # as a new process would
    assert len(cache) == 2  # the two finished files were committed
    calls.clear()
    interrupt_at = None
    results = list(library.extract_many(paths, CFG, cache=cache, jobs=1))
    assert calls == [str(paths[2])] and all(r.ok for r in results)  # only the unfinished file is decoded


def test_parallel_workers_equal_in_process(lib, tmp_path):
    one = {str(e.path): e.features for e in library.extract_many(library.scan(lib), CFG, jobs=1)}
    two = {str(e.path): e.features for e in library.extract_many(library.scan(lib), CFG, jobs=2)}
    assert one.keys() == two.keys()
    for p in one:  # workers use one BLAS thread, so the mel product may sum in another order: float32 rounding
        np.testing.assert_allclose(one[p], two[p], atol=1e-3, rtol=1e-5)
