"""Scanning folders (symlinks, loops) and extracting many files in workers that may die."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from dying_workers import die_on_kill_me

from pers_rec import features as F
from pers_rec import library
from pers_rec.cache import open_cache
from pers_rec.errors import AudioFileNotFoundError, DecodeError, ParameterError, ScanWarning, WorkerCrashedError

cfg = F.FeatureConfig()


def test_scan_is_recursive_sorted_and_skips_hidden_and_non_audio(lib):
    assert [p.relative_to(lib).as_posix() for p in library.scan(lib)] == ["a/one.wav", "a/two.flac", "three.WAV"]
    with pytest.raises(ParameterError, match="not a folder"):
        library.scan(lib / "three.WAV")


def test_scan_returns_absolute_paths_for_a_relative_folder(lib, monkeypatch):
    monkeypatch.chdir(lib.parent)
    found = library.scan("music")
    assert all(p.is_absolute() for p in found) and found == library.scan(lib)


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
    cache = open_cache(tmp_path / "cache")
    first = {str(e.path): e for e in library.extract_many(library.scan(lib), cfg, cache=cache, jobs=0)}
    assert len(calls) == 3 and not any(e.cached for e in first.values())
    second = {str(e.path): e for e in library.extract_many(library.scan(lib), cfg, cache=cache, jobs=0)}
    assert len(calls) == 3 and all(e.cached for e in second.values())
    for p in first:
        np.testing.assert_array_equal(first[p].features, second[p].features)


def test_failures_are_results_not_exceptions(lib, tmp_path):
    (lib / "broken.mp3").write_text("not music")
    cache = open_cache(tmp_path / "cache")
    out = {e.path.name: e for e in library.extract_many([*library.scan(lib), lib / "gone.wav"], cfg, cache=cache, jobs=0)}
    assert type(out["broken.mp3"].error) is DecodeError and not out["broken.mp3"].ok
    assert type(out["gone.wav"].error) is AudioFileNotFoundError
    assert out["one.wav"].ok
    again = {e.path.name: e for e in library.extract_many([lib / "broken.mp3"], cfg, cache=cache, jobs=0)}
    assert again["broken.mp3"].cached and type(again["broken.mp3"].error) is DecodeError  # not retried


def test_interrupted_run_keeps_finished_work_and_resumes(lib, tmp_path, monkeypatch):
    cache = open_cache(tmp_path / "cache")
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
        list(library.extract_many(paths, cfg, cache=cache, jobs=0))
    cache.close()
    cache = open_cache(tmp_path / "cache")  # as a new process would
    assert len(cache) == 2  # the two finished files were committed
    calls.clear()
    interrupt_at = None
    results = list(library.extract_many(paths, cfg, cache=cache, jobs=0))
    assert calls == [str(paths[2])] and all(r.ok for r in results)  # only the unfinished file is decoded


def test_parallel_workers_equal_in_process(lib, tmp_path):
    one = {str(e.path): e.features for e in library.extract_many(library.scan(lib), cfg, jobs=1)}
    two = {str(e.path): e.features for e in library.extract_many(library.scan(lib), cfg, jobs=2)}
    assert one.keys() == two.keys()
    for p in one:  # workers use one BLAS thread, so the mel product may sum in another order: float32 rounding
        np.testing.assert_allclose(one[p], two[p], atol=1e-3, rtol=1e-5)


def test_errors_cross_the_process_boundary_as_their_type(lib):
    (lib / "broken.mp3").write_text("not music")
    out = {e.path.name: e for e in library.extract_many([lib / "broken.mp3", lib / "three.WAV"], cfg, jobs=2)}
    err = out["broken.mp3"].error
    assert type(err) is DecodeError and err.path == str(lib / "broken.mp3") and "soundfile" in err.reason


def test_symlinks_are_followed_once_and_never_loop(tmp_path):
    root = tmp_path / "m"
    (root / "d").mkdir(parents=True)
    (root / "d" / "song.wav").write_bytes(b"x")
    os.symlink(root, root / "d" / "up")  # a link to an ancestor
    os.symlink(root, root / "again")
    os.symlink(root / "d" / "song.wav", root / "alias.wav")  # the same file twice
    os.symlink(root / "b.wav", root / "a.wav")  # a loop of file links
    os.symlink(root / "a.wav", root / "b.wav")
    os.symlink(root / "nowhere.wav", root / "dangling.wav")
    found = [p.name for p in library.scan(root)]
    assert sorted(found) == ["a.wav", "alias.wav", "b.wav", "dangling.wav"] or sorted(found) == ["a.wav", "b.wav", "dangling.wav", "song.wav"]
    assert len([n for n in found if n in ("alias.wav", "song.wav")]) == 1
    errors = {e.path.name: e.error for e in library.extract_many(library.scan(root), cfg, jobs=1)}
    assert "symlink loop" in errors["a.wav"].reason and "missing file" in errors["dangling.wav"].reason


def test_a_dead_worker_costs_one_file_not_the_run(lib, monkeypatch):
    for i in range(4):
        (lib / f"x{i}.wav").write_bytes((lib / "three.WAV").read_bytes())
    (lib / "kill_me.wav").write_bytes((lib / "three.WAV").read_bytes())
    monkeypatch.setattr(library, "_extract_one", die_on_kill_me)
    paths = library.scan(lib)
    t0 = time.monotonic()
    out = {e.path.name: e for e in library.extract_many(paths, cfg, jobs=2)}
    assert time.monotonic() - t0 < 120  # no hang (a generous bound, not a timing claim)
    assert len(out) == len(paths)
    assert type(out["kill_me.wav"].error) is WorkerCrashedError
    assert all(e.ok for name, e in out.items() if name != "kill_me.wav")


_ORPHAN_SCRIPT = """
import time
from pathlib import Path
from pers_rec import library
from pers_rec.features import FeatureConfig

pool = library._new_pool(2, FeatureConfig())
busy = [pool.submit(time.sleep, 600) for _ in range(2)]  # both workers busy, as in the middle of a long decode
time.sleep(1.0)
print("ready", flush=True)
time.sleep(600)
"""


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


def test_workers_and_forkserver_exit_after_the_main_process_is_killed():
    main = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT], stdout=subprocess.PIPE, text=True)
    try:
        assert main.stdout.readline().strip() == "ready"
        forkserver = _children(main.pid)
        workers = set().union(*(_children(p) for p in forkserver))
        assert len(workers) >= 2  # the two busy workers (under the forkserver)
        main.kill()
        main.wait()
        deadline = time.monotonic() + 60  # they poll once a second; a generous bound, not a timing claim
        while time.monotonic() < deadline and any(_alive(p) for p in forkserver | workers):
            time.sleep(0.2)
        assert not [p for p in forkserver | workers if _alive(p)]
    finally:
        main.kill()


def _copies(lib, n):
    for i in range(n):
        (lib / f"x{i}.wav").write_bytes((lib / "three.WAV").read_bytes())
    return library.scan(lib)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_worker_killed_while_it_starts_costs_nothing(lib, monkeypatch, jobs):
    import tempfile

    from dying_workers import die_while_starting

    marker = Path(tempfile.gettempdir()) / f"pers_rec_test_start_{os.getpid()}"
    marker.unlink(missing_ok=True)
    monkeypatch.setattr(library, "_init_worker", die_while_starting)
    paths = _copies(lib, 5)
    try:
        out = {e.path.name: e for e in library.extract_many(paths, cfg, jobs=jobs)}
    finally:
        died = marker.exists()
        marker.unlink(missing_ok=True)
    assert died  # the first worker really was killed
    assert len(out) == len(paths) and all(e.ok for e in out.values())  # and no file was blamed for it


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_worker_killed_on_its_first_file_costs_nothing(lib, monkeypatch, jobs):
    from dying_workers import die_on_first_file

    monkeypatch.setattr(library, "_extract_one", die_on_first_file)
    paths = _copies(lib, 5)
    out = {e.path.name: e for e in library.extract_many(paths, cfg, jobs=jobs)}
    assert (lib / ".died").exists()
    assert len(out) == len(paths) and all(e.ok for e in out.values())  # retried alone, it decodes


def test_one_job_decodes_in_a_worker_so_a_crash_costs_one_file(lib, monkeypatch):
    (lib / "kill_me.wav").write_bytes((lib / "three.WAV").read_bytes())
    monkeypatch.setattr(library, "_extract_one", die_on_kill_me)
    out = {e.path.name: e for e in library.extract_many(library.scan(lib), cfg, jobs=1)}
    assert type(out["kill_me.wav"].error) is WorkerCrashedError
    assert all(e.ok for name, e in out.items() if name != "kill_me.wav")


def test_an_unreadable_folder_is_named_not_skipped_silently(lib, monkeypatch):
    locked = lib / "locked"
    locked.mkdir()
    (locked / "song.wav").write_bytes(b"x")
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads a mode-000 folder: refuse it as the kernel would for a user
        real = os.scandir

        def scandir(d):
            if os.path.basename(d) == "locked":
                raise PermissionError(13, "Permission denied", d)
            return real(d)

        monkeypatch.setattr(library.os, "scandir", scandir)
    try:
        with pytest.warns(ScanWarning, match=r"locked: cannot read this folder \(Permission denied\)"):
            found = library.scan(lib)
    finally:
        locked.chmod(0o755)
    assert [p.name for p in found] == ["one.wav", "two.flac", "three.WAV"]


def test_a_folder_path_over_the_system_limit_is_named(tmp_path):
    root = tmp_path / "deep"
    d = root
    d.mkdir()
    fd = os.open(d, os.O_RDONLY)  # build the chain relative to each folder: the full path exceeds PATH_MAX
    try:
        for _ in range(20):
            os.mkdir("d" * 250, dir_fd=fd)
            nfd = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.close(os.open("song.wav", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)
    with pytest.warns(ScanWarning, match="File name too long"):  # the deepest folder cannot be listed
        library.scan(root)
