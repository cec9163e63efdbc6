"""Progress on stderr: a bar while a stage runs (only on a terminal), one summary line when it ends.

One type for every ``progress`` argument in pers_rec: a bool saying whether
the user asked to see progress (``--quiet`` turns it off).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_local = threading.local()


@contextmanager
def listening(callback: Callable[[str, int, int], None]) -> Iterator[None]:
    """Call ``callback(desc, done, total)`` on every update of every :func:`bar` this thread opens meanwhile
    (``pers-rec serve`` draws its page's progress bar so)."""
    _local.callback = callback
    try:
        yield
    finally:
        _local.callback = None


@contextmanager
def bar(total: int, desc: str, unit: str, progress: bool) -> Iterator:
    """A tqdm bar for ``total`` items, drawn only when ``progress`` and stderr is a terminal.

    When the stage ends (normally) and ``progress`` is on, one line says what
    was done and how long it took: ``features: 42 tracks in 3.1 s``. Bars
    never write their frames into a log file, and leave no half-drawn line.
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    b = _Counter(tqdm(total=total, desc=desc, unit=unit, leave=False, disable=not (progress and sys.stderr.isatty())),
                 getattr(_local, "callback", None), desc, total)
    try:
        yield b
    finally:
        b.bar.close()
    if progress:
        print(f"{desc}: {b.n} {unit}{'s' if b.n != 1 else ''} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


class _Counter:
    """Counts updates itself (a disabled tqdm does not) and forwards them to the bar."""

    def __init__(self, bar, callback=None, desc: str = "", total: int = 0):
        self.bar, self.n, self.callback, self.desc, self.total = bar, 0, callback, desc, total
        if callback is not None:
            callback(desc, 0, total)

    def update(self, n: int = 1) -> None:
        self.n += n
        self.bar.update(n)
        if self.callback is not None:
            self.callback(self.desc, self.n, self.total)

    def set_postfix(self, **kw) -> None:
        self.bar.set_postfix(**kw)

    def set_description(self, desc: str) -> None:
        self.bar.set_description(desc)
        self.desc = desc


@contextmanager
def filtered_stderr(noise) -> Iterator[None]:
    """While the block runs, every line written to file descriptor 2 (by Python, C or C++ code of this process)
    reaches the real stderr except those that match ``noise`` (a compiled regular expression): a pipe and a
    thread that forwards line by line, so nothing else is held back or lost. Where there is no stderr to filter,
    the block just runs.

    Leaving the block waits only for what this process wrote (a marker line written last comes out of the pipe
    after it), not for the pipe to close: worker processes started inside the block (the decoding pool's
    forkserver) hold its write end until they exit, which used to cost every command a 5 s wait at its end. The
    thread goes on forwarding their lines until they do."""
    import os
    import threading

    try:
        sys.stderr.flush()
        saved = os.dup(2)
        r, w = os.pipe()
    except OSError:
        yield
        return
    marker = b"\x00pers_rec stderr filter: end of block\x00\n"
    reached = threading.Event()

    def forward():
        with os.fdopen(r, "rb") as pipe:
            try:
                for line in pipe:
                    if line == marker:
                        reached.set()
                    elif not noise.match(line.decode("utf-8", "replace")):
                        os.write(saved, line)
            except OSError:  # the real stderr closed: nothing more can be said
                return
            finally:
                reached.set()
                os.close(saved)

    thread = threading.Thread(target=forward, daemon=True, name="pers_rec stderr filter")
    thread.start()
    os.dup2(w, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.write(w, marker)  # after everything this process wrote to the pipe
        os.close(w)
        reached.wait(5)
