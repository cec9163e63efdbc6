"""Finding a listener's audio files: a recursive scan that follows symlinks, never loops, and says what it
could not read."""

from __future__ import annotations

import errno
import os
import stat as stat_mod
import warnings
from pathlib import Path

from ..errors import ParameterError, ScanWarning, printable
from . import decode


def scan(folder: str | os.PathLike) -> list[Path]:
    """Audio files below ``folder`` (recursive, by extension, hidden files skipped), sorted, as absolute paths.

    Symlinks are followed, but every real folder and file is visited once
    (by device and inode), so a link to a parent folder never loops and a file
    reached by two links is listed once. A link that loops or dangles is
    listed (it becomes an error row). Absolute, so that rankings, caches and
    the liked tracks recorded in a model refer to a file the same way
    whatever the working directory.

    A folder that cannot be read (no permission, a path over the system's
    length limit) is left out with a :class:`ScanWarning` naming it.

    Raises
    ------
    ParameterError
        ``folder`` is not a directory.
    """
    root = os.path.realpath(folder)
    if not os.path.isdir(root):
        raise ParameterError(f"{os.fsdecode(folder)}: not a folder")
    seen: set[tuple[int, int]] = set()
    found: list[Path] = []

    def visit(d: str) -> None:
        try:
            st = os.stat(d)
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:  # its files cannot be listed: said, never silent
            warnings.warn(ScanWarning(f"{printable(os.fsdecode(d))}: cannot read this folder "
                                      f"({exc.strerror or exc}); its files are left out"), stacklevel=2)
            return
        if (st.st_dev, st.st_ino) in seen:
            return
        seen.add((st.st_dev, st.st_ino))
        for e in entries:
            if e.name.startswith("."):
                continue
            try:
                st = e.stat()  # follows symlinks
            except OSError as exc:
                if decode.is_audio_path(e.name):  # listed: it becomes an error row saying why
                    found.append(Path(e.path))
                elif exc.errno not in (errno.ENOENT, errno.ELOOP):  # not a dangling link or a loop: say so
                    warnings.warn(ScanWarning(f"{printable(os.fsdecode(e.path))}: cannot read it "
                                              f"({exc.strerror or exc}); left out"), stacklevel=2)
                continue
            if stat_mod.S_ISDIR(st.st_mode):
                visit(e.path)
            elif decode.is_audio_path(e.name) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                found.append(Path(e.path))

    visit(root)
    return sorted(found)
