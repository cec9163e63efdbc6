"""Writing output files atomically: a reader (or an interrupted run) never sees half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ParameterError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; on success it is renamed onto ``path``, else removed.

    The temporary name is unique (``tempfile.mkstemp`` in the target's folder),
    so two writers to one output never collide, and it keeps the extension
    (``.name.<random>.tmp.png``), since writers such as matplotlib and Keras
    choose the format from it. It is removed on any exception, Ctrl-C included.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; an output gets the permissions open() would give it
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str, *, errors: str = "strict") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    ``errors="surrogateescape"`` writes file names that were not valid UTF-8
    back as their original bytes.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", errors=errors, newline="") as f:
            f.write(text)
    return Path(path)


def check_output(path: str | os.PathLike, suffixes: tuple[str, ...], what: str) -> Path:
    """Check before any work that ``path`` can be written: the right extension, not a folder, a writable parent.

    Raises
    ------
    ParameterError
        Naming ``what`` (e.g. ``"--out"``) and the problem.
    """
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise ParameterError(f"{what} {path}: must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise ParameterError(f"{what} {path}: is a folder; give a file name")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # the folders in between will be created
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ParameterError(f"{what} {path}: cannot write in {parent}")
    return path
