"""Extracting many files in workers that may die, with the cache."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from dying_workers import die_on_kill_me

from pers_rec.audio import extract
from pers_rec.audio import features as F
from pers_rec.audio.cache import open_cache
from pers_rec.audio.scan import scan
from pers_rec.errors import AudioFileNotFoundError, DecodeError, WorkerCrashedError

cfg = F.FeatureConfig()


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
    first = {str(e.path): e for e in extract.extract_many(scan(lib), cfg, cache=cache, jobs=0)}
    assert len(calls) == 3 and not any(e.cached for e in first.values())
    second = {str(e.path): e for e in extract.extract_many(scan(lib), cfg, cache=cache, jobs=0)}
    assert len(calls) == 3 and all(e.cached for e in second.values())
    for p in first:
        np.testing.assert_array_equal(first[p].features, second[p].features)


def test_failures_are_results_not_exceptions(lib, tmp_path):
    (lib / "broken.mp3").write_text("not music")
    cache = open_cache(tmp_path / "cache")
    out = {e.path.name: e for e in extract.extract_many([*scan(lib), lib / "gone.wav"], cfg, cache=cache, jobs=0)}
    assert type(out["broken.mp3"].error) is DecodeError and not out["broken.mp3"].ok
    assert type(out["gone.wav"].error) is AudioFileNotFoundError
    assert out["one.wav"].ok
    again = {e.path.name: e for e in extract.extract_many([lib / "broken.mp3"], cfg, cache=cache, jobs=0)}
    assert again["broken.mp3"].cached and type(again["broken.mp3"].error) is DecodeError  # not retried


def test_interrupted_run_keeps_finished_work_and_resumes(lib, tmp_path, monkeypatch):
    cache = open_cache(tmp_path / "cache")
    paths = scan(lib)
    real, calls = F.extract, []

    def interrupted(path, cfg):
        calls.append(str(path))
        if interrupt_at and len(calls) == interrupt_at:
            raise KeyboardInterrupt  # Ctrl-C while decoding the third file
        return real(path, cfg)

    monkeypatch.setattr(F, "extract", interrupted)
    interrupt_at = 3
    with pytest.raises(KeyboardInterrupt):
        list(extract.extract_many(paths, cfg, cache=cache, jobs=0))
    cache.close()
    cache = open_cache(tmp_path / "cache")  # as a new process would
    assert len(cache) == 2  # the two finished files were committed
    calls.clear()
    interrupt_at = None
    results = list(extract.extract_many(paths, cfg, cache=cache, jobs=0))
    assert calls == [str(paths[2])] and all(r.ok for r in results)  # only the unfinished file is decoded


def test_parallel_workers_equal_in_process(lib, tmp_path):
    one = {str(e.path): e.features for e in extract.extract_many(scan(lib), cfg, jobs=1)}
    two = {str(e.path): e.features for e in extract.extract_many(scan(lib), cfg, jobs=2)}
    assert one.keys() == two.keys()
    for p in one:  # workers use one BLAS thread, so the mel product may sum in another order: float32 rounding
        np.testing.assert_allclose(one[p], two[p], atol=1e-3, rtol=1e-5)


def test_errors_cross_the_process_boundary_as_their_type(lib):
    (lib / "broken.mp3").write_text("not music")
    out = {e.path.name: e for e in extract.extract_many([lib / "broken.mp3", lib / "three.WAV"], cfg, jobs=2)}
    err = out["broken.mp3"].error
    assert type(err) is DecodeError and err.path == str(lib / "broken.mp3") and "soundfile" in err.reason


def test_a_dead_worker_costs_one_file_not_the_run(lib, monkeypatch):
    for i in range(4):
        (lib / f"x{i}.wav").write_bytes((lib / "three.WAV").read_bytes())
    (lib / "kill_me.wav").write_bytes((lib / "three.WAV").read_bytes())
    monkeypatch.setattr(extract, "_extract_one", die_on_kill_me)
    paths = scan(lib)
    t0 = time.monotonic()
    out = {e.path.name: e for e in extract.extract_many(paths, cfg, jobs=2)}
    assert time.monotonic() - t0 < 120  # no hang (a generous bound, not a timing claim)
    assert len(out) == len(paths)
    assert type(out["kill_me.wav"].error) is WorkerCrashedError
    assert all(e.ok for name, e in out.items() if name != "kill_me.wav")


_ORPHAN_SCRIPT = """
import time
from pathlib import Path
from pers_rec.audio import extract
from pers_rec.audio.features import FeatureConfig

pool = extract._new_pool(2, FeatureConfig())
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
    return scan(lib)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_worker_killed_while_it_starts_costs_nothing(lib, monkeypatch, jobs):
    import tempfile

    from dying_workers import die_while_starting

    marker = Path(tempfile.gettempdir()) / f"pers_rec_test_start_{os.getpid()}"
    marker.unlink(missing_ok=True)
    monkeypatch.setattr(extract, "_init_worker", die_while_starting)
    paths = _copies(lib, 5)
    try:
        out = {e.path.name: e for e in extract.extract_many(paths, cfg, jobs=jobs)}
    finally:
        died = marker.exists()
        marker.unlink(missing_ok=True)
    assert died  # the first worker really was killed
    assert len(out) == len(paths) and all(e.ok for e in out.values())  # and no file was blamed for it


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_worker_killed_on_its_first_file_costs_nothing(lib, monkeypatch, jobs):
    from dying_workers import die_on_first_file

    monkeypatch.setattr(extract, "_extract_one", die_on_first_file)
    paths = _copies(lib, 5)
    out = {e.path.name: e for e in extract.extract_many(paths, cfg, jobs=jobs)}
    assert (lib / ".died").exists()
    assert len(out) == len(paths) and all(e.ok for e in out.values())  # retried alone, it decodes


def test_one_job_decodes_in_a_worker_so_a_crash_costs_one_file(lib, monkeypatch):
    (lib / "kill_me.wav").write_bytes((lib / "three.WAV").read_bytes())
    monkeypatch.setattr(extract, "_extract_one", die_on_kill_me)
    out = {e.path.name: e for e in extract.extract_many(scan(lib), cfg, jobs=1)}
    assert type(out["kill_me.wav"].error) is WorkerCrashedError
    assert all(e.ok for name, e in out.items() if name != "kill_me.wav")


