"""Extracting the features of many files in worker processes, with the cache, surviving dying workers.

Nothing here imports Keras, so worker processes stay light (numpy, scipy, soundfile).

A worker that dies (killed for memory, a decoder crash) costs at most the file
it was working on, never the run: the pool is ended (its surviving processes
too: Python's pool can hang waiting on a survivor), the files that were in
flight are retried one at a time in a fresh worker, a file that kills a
worker twice becomes a :class:`WorkerCrashedError` row, and the rest go on.
Workers exit by themselves when the main process dies.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..errors import (
    AudioError,
    AudioFileNotFoundError,
    ParameterError,
    ReadFailedError,
    WorkerCrashedError,
)
from . import features
from .cache import FeatureCache
from .features import FeatureConfig


@dataclass
class Extracted:
    """One file's features, or why it has none.

    Attributes
    ----------
    path : Path
    features : np.ndarray [shape=(n_frames, n_features), float32] or None
    error : AudioError or None
        Why the file failed, with its own type (e.g. :class:`DecodeError`).
    cached : bool
        Whether it came from the cache.
    """

    path: Path
    features: np.ndarray | None
    error: AudioError | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.features is not None


def _extract_one(path: str, cfg_dict: dict) -> tuple[str, np.ndarray | None, AudioError | None]:
    """Worker task: never raises for a bad file; the error travels back as itself (it pickles)."""
    cfg = FeatureConfig.from_dict(cfg_dict)
    try:
        M = features.extract(path, cfg)
        features.fit_to_window(M, cfg, path)  # reject too-short tracks here, with the file's name
        return path, M, None
    except AudioError as exc:
        return path, None, exc
    except (MemoryError, OSError) as exc:  # outside the file: retried next run, never cached
        return path, None, ReadFailedError(path, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a decoder bug must not abort a library run
        return path, None, AudioError(path, f"{type(exc).__name__}: {exc}")


def _stat(path: Path) -> os.stat_result | AudioError:
    try:
        return path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return AudioFileNotFoundError(path, "a symlink loop")
        if exc.errno == errno.ENAMETOOLONG:
            return ReadFailedError(path, "the path is longer than the system allows")
        if exc.errno == errno.EACCES:
            return ReadFailedError(path, "permission denied")
        if os.path.islink(path):
            return AudioFileNotFoundError(path, "a symlink to a missing file")
        return AudioFileNotFoundError(path, "no such file")


def extract_many(
    paths: Iterable[str | os.PathLike],
    cfg: FeatureConfig,
    *,
    cache: FeatureCache | None = None,
    jobs: int | None = None,
    on_done: Callable[[], object] | None = None,
) -> Iterator[Extracted]:
    """Features of many files: cached ones first, the rest decoded in ``jobs`` worker processes.

    Results arrive in completion order (not input order) so that the caller can
    score while workers keep decoding. At most ``2 * jobs`` files are in flight,
    so memory stays bounded whatever the library size. Each computed result is
    stored in ``cache`` as soon as it arrives (transient failures are not).

    Parameters
    ----------
    paths : iterable of paths
    cfg : FeatureConfig
    cache : FeatureCache or None
    jobs : int or None
        Worker processes; ``None``: one per CPU core. Even 1 decodes in a worker, so a decoder crash costs
        one file, never the run. 0 decodes in this process (a notebook or a test that patches the decoder;
        a crash then ends the process).
    on_done : callable or None
        Called once per finished file (e.g. a progress bar's ``update``).

    Yields
    ------
    Extracted
        One per path, each path once.
    """
    jobs = (os.cpu_count() or 1) if jobs is None else jobs
    if jobs < 0:
        raise ParameterError(f"jobs must be 0 (in this process) or more, got {jobs}")
    todo = []
    for p in paths:
        path = Path(p)
        st = _stat(path)
        if isinstance(st, AudioError):
            item = Extracted(path, None, st)
        else:
            hit = cache.get(path, cfg, st) if cache is not None else None
            if hit is None:
                todo.append((path, st))
                continue
            item = Extracted(path, hit.features, hit.error, cached=True)
        if on_done:
            on_done()
        yield item

    def finish(path_str: str, M, error, st) -> Extracted:
        if cache is not None:
            M = cache.put(path_str, cfg, st, M, error)  # as stored: a cold run scores as a warm one
        if on_done:
            on_done()
        return Extracted(Path(path_str), M, error)

    if jobs == 0:
        cfg_dict = cfg.to_dict()
        for path, st in todo:
            yield finish(*_extract_one(str(path), cfg_dict), st)
        return
    for path_str, M, error, st in _pooled(todo, cfg, jobs):
        yield finish(path_str, M, error, st)


#: What a pool that lost a process (or its forkserver) raises: at submission, while starting workers, or
#: from a future.
_POOL_DIED = (BrokenProcessPool, BrokenPipeError, ConnectionError, EOFError)

#: Fresh pools in a row that may die before returning anything before the files left are tried one at a time.
_FRUITLESS_POOLS = 3


def _pooled(todo: list[tuple[Path, os.stat_result]], cfg: FeatureConfig, jobs: int) -> Iterator[tuple]:
    """``(path, features, error, stat)`` of every file of ``todo``, decoded by ``jobs`` workers.

    When a worker dies, every file in flight is a suspect: each is retried alone
    in a fresh worker, and one that kills that worker too becomes an error row.
    A pool that dies before any file was handed to it (a worker killed while it
    starts, a forkserver gone) is replaced; the files it never received go back
    in the queue, blameless.
    """
    cfg_dict = cfg.to_dict()
    queue = list(reversed(todo))
    suspects: list[tuple[Path, os.stat_result]] = []
    fruitless = 0
    while queue or suspects:
        if suspects:
            path, st = suspects.pop()
            yield (*_extract_alone(str(path), cfg), st)
            continue
        if fruitless >= _FRUITLESS_POOLS:  # pools keep dying at start-up: each file alone, blamed if it dies twice
            suspects, queue = queue, []
            continue
        pool = None
        pending: dict[Future, tuple[Path, os.stat_result]] = {}
        broken, returned = False, 0
        try:
            pool = _new_pool(jobs, cfg)
            while not broken:
                while queue and len(pending) < 2 * jobs:
                    path, st = queue.pop()
                    try:
                        pending[pool.submit(_extract_one, str(path), cfg_dict)] = (path, st)
                    except _POOL_DIED:  # the pool died before it took this file: the file is not to blame
                        queue.append((path, st))
                        broken = True
                        break
                if broken or not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    path, st = pending.pop(fut)
                    try:
                        result = fut.result()
                    except _POOL_DIED:
                        suspects.append((path, st))
                        broken = True
                        continue
                    returned += 1
                    yield (*result, st)
        except _POOL_DIED:  # while starting its workers
            broken = True
        finally:
            suspects += pending.values()
            if pool is not None:
                _end_pool(pool, kill=broken or bool(pending))
            pending.clear()
        fruitless = fruitless + 1 if broken and not returned else 0


def _extract_alone(path: str, cfg: FeatureConfig) -> tuple:
    """One file in a fresh single worker: its result, or :class:`WorkerCrashedError` if the worker dies."""
    pool = None
    try:
        pool = _new_pool(1, cfg)
        return pool.submit(_extract_one, path, cfg.to_dict()).result()
    except _POOL_DIED:
        return path, None, WorkerCrashedError(path, "the decoding worker died on this file twice "
                                                    "(killed, out of memory, or a decoder crash)")
    finally:
        if pool is not None:
            _end_pool(pool, kill=True)


#: What the forkserver imports once, before any worker: each worker is then a fork that has them. A fresh
#: worker importing them itself spent ~0.25 s of CPU (numpy, scipy.fft) on the 2-core test machine.
WORKER_PRELOAD = ["__main__", "pers_rec.audio.extract", "scipy.fft", "soundfile", "soxr", "threadpoolctl"]


def _context():
    # forkserver: workers never inherit a parent that may already hold TensorFlow threads
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_PRELOAD)  # no effect once the forkserver runs
    return ctx


def start_early() -> None:
    """Start the forkserver that decoding workers fork from now, in the background.

    Its imports then run while the caller does its own start-up (``rank`` loading TensorFlow and the
    model) instead of after it. Optional: the first pool starts it otherwise.
    """
    from multiprocessing import forkserver

    _context()
    forkserver.ensure_running()


#: Whether decoding workers silence what decoder libraries print on stderr (``-q``: libmpg123's "Note: Illegal
#: Audio-MPEG-Header" and the like). Their failures still arrive, as the errors of the files.
QUIET_DECODERS = False


def _new_pool(jobs: int, cfg: FeatureConfig) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=jobs, mp_context=_context(), initializer=_init_worker,
                               initargs=(cfg.to_dict(), *features.analysis_arrays(cfg), QUIET_DECODERS, os.getpid()))


def _end_pool(pool: ProcessPoolExecutor, kill: bool) -> None:
    """Shut a pool down; with ``kill``, end its processes first.

    After a worker died, Python 3.11's pool can wait forever on a survivor
    stuck sending a large result, so the survivors are killed, not joined.
    ``_processes`` is private, but it is the only handle on them.
    """
    if kill:
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.kill()
    pool.shutdown(wait=not kill, cancel_futures=True)


#: Address-space limit of a decoding worker (bytes): one file cannot take the machine.
#: ``PERS_REC_WORKER_MEMORY_MB`` changes it; 0 lifts it.
WORKER_MEMORY_MB = int(os.environ.get("PERS_REC_WORKER_MEMORY_MB", "4096"))


def _init_worker(cfg_dict: dict, mel: np.ndarray, window: np.ndarray, dct: np.ndarray, quiet: bool,
                 main_pid: int) -> None:
    """Each worker: one BLAS thread (the workers already fill the cores; with two threads each, two
    workers on two cores ran extraction 1.9x slower), a memory limit, Ctrl-C left to the main
    process, exit when the main process dies, the analysis arrays from the parent, and (``quiet``)
    the decoders' own stderr lines silenced."""
    from threadpoolctl import threadpool_limits

    if quiet:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_when_gone, args=(main_pid, os.getppid()), daemon=True).start()
    threadpool_limits(1)
    if WORKER_MEMORY_MB > 0:
        import resource

        limit = WORKER_MEMORY_MB << 20
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or hard > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    features.prime(FeatureConfig.from_dict(cfg_dict), mel, window, dct)


def _exit_when_gone(main_pid: int, parent_pid: int) -> None:
    """End this worker within a second of the main process (or its forkserver parent) going away."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(main_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass
        if os.getppid() != parent_pid:
            os._exit(1)
