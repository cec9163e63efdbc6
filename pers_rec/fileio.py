"""Writing output files atomically: a reader (or an interrupted run) never sees half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .errors import ParameterError, printable


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
    fd, name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=f".tmp{path.suffix}", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; an output gets the permissions open() would give it
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


#: Bytes a temporary name adds to the output's: "." + "." + mkstemp's 8 random characters + ".tmp".
_TEMP_EXTRA = 14


def _temp_prefix(path: Path) -> str:
    """``.<stem>.``, the stem cut (at a character boundary) so the whole temporary name fits in a name's limit."""
    stem = os.fsencode(path.stem)
    room = max(1, _name_max(path.parent) - _TEMP_EXTRA - len(os.fsencode(path.suffix)))
    if len(stem) > room:
        stem = stem[:room].decode("utf-8", "ignore").encode("utf-8") if is_utf8(stem) else stem[:room]
    return f".{os.fsdecode(stem)}."


def is_utf8(b: bytes) -> bool:
    """Whether ``b`` (a name's bytes: ``os.fsencode(name)``) is valid UTF-8."""
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _name_max(folder: Path) -> int:
    """The longest file name (bytes) the file system of ``folder`` (or its nearest existing parent) takes."""
    while folder != folder.parent:
        try:
            if folder.exists():
                break
        except OSError:  # a name too long to look up: its parent decides
            pass
        folder = folder.parent
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


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


#: The longest path the system takes (bytes, the terminating NUL included).
PATH_MAX = os.pathconf("/", "PC_PATH_MAX") if hasattr(os, "pathconf") else 4096


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
    shown = printable(str(path)) if len(str(path)) <= 200 else printable(str(path)[:100]) + "..." + path.suffix
    if len(os.fsencode(os.path.abspath(path))) >= PATH_MAX:
        raise ParameterError(f"{what} {shown}: the path is longer than the {PATH_MAX} bytes the system allows")
    try:
        limit = _name_max(path.parent)
        if any(len(os.fsencode(part)) > limit for part in path.parts):
            raise ParameterError(f"{what} {shown}: a name in the path is longer than the {limit} bytes the file "
                                 "system allows")
        is_dir = path.is_dir()
    except OSError as exc:
        raise ParameterError(f"{what} {shown}: cannot be written ({exc.strerror or exc})") from None
    if is_dir:
        raise ParameterError(f"{what} {path}: is a folder; give a file name")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # the folders in between will be created
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ParameterError(f"{what} {path}: cannot write in {parent}")
    return path


def check_not_inputs(outputs: dict[str, str | os.PathLike | None], inputs: dict[str, str | os.PathLike | None]) -> None:
    """Refuse, before any work, an output that would overwrite an input (or another output).

    Parameters
    ----------
    outputs, inputs : dict
        ``{what: path}`` (``what`` names it in the message, e.g. ``"--model's report"``); None values are ignored.

    Raises
    ------
    ParameterError
        ``"<output what> <path>: is also <input what>"``.
    """
    seen: dict[str, str] = {}
    for what, p in inputs.items():
        if p is not None:
            seen.setdefault(os.path.realpath(p), what)
    for what, p in outputs.items():
        if p is None:
            continue
        real = os.path.realpath(p)
        if real in seen:
            raise ParameterError(f"{what} {p}: is also {seen[real]}; refusing to overwrite it")
        seen[real] = what


def json_default(o):
    """``json.dumps`` hook for numpy scalars and arrays."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
