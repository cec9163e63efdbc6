"""Lists of tracks: reading a listener's likes and dislikes, writing M3U8 playlists.

Encoding policy, one for reading and writing:

- Playlists and lists are read as UTF-8 (a BOM is skipped). A file that is
  not valid UTF-8 is read line by line: each entry is tried as the exact bytes
  of a file name first (POSIX names are bytes) and, if no such file exists, as
  latin-1 text (playlists made on Windows).
- Playlists are written as UTF-8 M3U8. A path that UTF-8 cannot carry (a name
  whose bytes are not UTF-8) or that holds a control character (a newline
  would split the entry) is written as a percent-encoded ``file://`` URI,
  which common players and :func:`read_labelled` read back to the same path.
"""

from __future__ import annotations

import contextvars
import csv
import io
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote_from_bytes, unquote_to_bytes

from ..errors import ParameterError, PlaylistError
from ..fileio import write_text

#: Larger "playlists" are refused (a 200 MB file named .m3u is not a list of likes).
MAX_LIST_BYTES = 64 << 20


def read_labelled(source: str | os.PathLike, default_label: int, extras: dict | None = None) -> list[tuple[str, int]]:
    """Tracks and labels from a playlist, a list, a CSV or a folder.

    Parameters
    ----------
    source : path
        - a folder: every audio file below it, labelled ``default_label``;
        - an ``.m3u`` / ``.m3u8`` playlist: one path or ``file://`` URI per
          line, relative paths resolved against the playlist's folder, ``#``
          lines (``#EXTM3U``, ``#EXTINF``) ignored, other URLs skipped with a
          warning (never fetched);
        - a ``.csv`` with a ``path`` column and a ``label`` (or ``rating``)
          column: label 0 or 1, or a 1-5 star rating where 4-5 = like (1),
          1-2 = dislike (0) and 3 is skipped; relative paths resolve against
          the CSV's folder; optional ``weight`` (a confidence, > 0) and
          ``signal`` (where the label came from) columns, as ``pers-rec likes`` writes;
        - any other text file: one path per line, like an M3U.
    default_label : int
        Label of tracks whose source carries none (1 for ``--likes``, 0 for ``--dislikes``).
    extras : dict or None
        Filled with ``{path: (weight, signal)}`` of the CSV rows that carry them.

    Returns
    -------
    list of (str, int)
        Absolute paths (symlinks resolved where possible) and labels, in list
        order. Entries may name files that do not exist: the caller reports them.

    Raises
    ------
    PlaylistError
        The source cannot be read as a list: the message names the file and line.
    """
    from ..audio.scan import scan

    source = Path(source)
    if source.is_dir():
        return [(os.path.realpath(p), default_label) for p in scan(source)]  # strings, as every other source gives
    if not source.is_file():
        raise PlaylistError(f"{source}: no such playlist, list, CSV or folder")
    size = source.stat().st_size
    if size > MAX_LIST_BYTES:
        raise PlaylistError(f"{source}: {size / 2**20:.0f} MB is too large for a list of tracks "
                            f"(at most {MAX_LIST_BYTES >> 20} MB)")
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise PlaylistError(f"{source}: cannot read it ({exc.strerror or exc})") from None
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise PlaylistError(f"{source}:{line}: holds a NUL byte; not a text playlist")
    token = _FOLDERS.set({})
    try:
        if source.suffix.lower() == ".csv":
            return _read_csv(source, _decode(data), {} if extras is None else extras)
        return [(p, default_label) for p in _read_lines(source, data)]
    finally:
        _FOLDERS.reset(token)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _read_lines(source: Path, data: bytes) -> list[str]:
    try:
        lines = [(line, None) for line in data.decode("utf-8-sig").splitlines()]
    except UnicodeDecodeError:  # each entry: the exact bytes of a name, else latin-1 text
        lines = [(os.fsdecode(raw), raw.decode("latin-1")) for raw in data.splitlines()]
    out = []
    for n, (line, alt) in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("file://"):
            out.append(_resolve(from_uri(line), source.parent))
        elif "://" in line:
            warnings.warn(f"{source}:{n}: skipping URL {line!r} (only local files are used)", stacklevel=3)
        else:
            path = _resolve(line, source.parent)
            if alt is not None and not os.path.exists(path):
                path = _resolve(alt.strip(), source.parent)
            out.append(path)
    return out


def _resolve(entry: str, base: Path) -> str:
    """An absolute path for a list entry: ``~`` expanded where it names a user, symlinks resolved.

    ``os.path.realpath`` rather than ``Path.resolve``: it never raises, not
    even on a symlink loop (that file is then reported missing by the caller).
    """
    if "\\" in entry and "/" not in entry:  # a Windows path; on POSIX a backslash is otherwise a name's own
        entry = entry.replace("\\", "/")
    entry = os.path.expanduser(entry)  # an unknown ~user stays as it is
    path = os.path.normpath(entry if os.path.isabs(entry) else os.path.join(base, entry))
    folder, name = os.path.split(path)
    real = _real_folder(folder)
    if real is None or name in ("", ".", ".."):
        return os.path.realpath(path)
    full = os.path.join(real, name)
    return os.path.realpath(full) if os.path.islink(full) else full


def _real_folder(folder: str) -> str | None:
    """``os.path.realpath(folder)``, remembered for the list being read (a list names a few folders many
    times: 1,000,000 entries then cost 1,000,000 ``lstat`` calls, not one per path component each)."""
    cache = _FOLDERS.get()
    if cache is None:
        return None
    if folder not in cache:
        cache[folder] = os.path.realpath(folder)
    return cache[folder]


#: The folders' real paths while one list is read (:func:`read_labelled` sets and clears it).
_FOLDERS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("pers_rec_folders", default=None)


def csv_rows(source, text: str, what: str = "CSV") -> list[list[str]]:
    """The rows of CSV ``text`` read from ``source``, one per line: a quoted field never runs over a line end
    (:class:`PlaylistError` naming the line of an unclosed quote), in linear time."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows, last = [], 0
    try:
        for row in reader:
            if reader.line_num != last + 1:  # the row took several lines: a quote left open on line last + 1
                raise PlaylistError(f"{source}:{last + 1}: an unclosed quote (a quoted field runs past the end of "
                                    "the line)")
            last = reader.line_num
            rows.append(row)
    except csv.Error:  # not strict CSV somewhere: line by line, as the CSV module reads each
        return [csv_line(source, n, line) for n, line in enumerate(io.StringIO(text, newline=""), 1)]
    return rows


def csv_line(source, n: int, line: str) -> list[str]:
    """The fields of one CSV line; :class:`PlaylistError` for a quoted field left open at the line's end (which a
    CSV reader would silently continue over the following lines)."""
    try:
        return next(csv.reader([line], strict=True), [])
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise PlaylistError(f"{source}:{n}: an unclosed quote (a quoted field runs past the end of the line)"
                                ) from None
    try:
        return next(csv.reader([line]), [])  # a stray quote inside a field ('a,"b" c'): read as the CSV module does
    except csv.Error as exc:
        raise PlaylistError(f"{source}:{n}: not readable as CSV ({exc})") from None



def _read_csv(source: Path, text: str, extras: dict) -> list[tuple[str, int]]:
    rows = csv_rows(source, text)
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    if "path" not in header or not ({"label", "rating"} & set(header)):
        raise PlaylistError(f"{source}:1: a likes CSV needs a 'path' column and a 'label' or 'rating' column, "
                            f"got {rows[0]}")
    col_path = header.index("path")
    col_value = header.index("label") if "label" in header else header.index("rating")
    col_w = header.index("weight") if "weight" in header else None
    col_s = header.index("signal") if "signal" in header else None
    entries, more = [], {}
    for n, row in enumerate(rows[1:], 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise PlaylistError(f"{source}:{n}: {len(row)} fields where the header has {len(header)}")
        try:
            entries.append((n, row[col_path], float(row[col_value])))
        except ValueError:
            raise PlaylistError(f"{source}:{n}: {header[col_value]} {row[col_value]!r} is not a number") from None
        try:
            weight = 1.0 if col_w is None else float(row[col_w])
        except ValueError:
            weight = -1.0
        if not (0 < weight < 1e6):
            raise PlaylistError(f"{source}:{n}: weight {row[col_w]!r} is not a positive number")
        more[n] = (weight, "" if col_s is None else row[col_s].strip())
    # a "rating" column is always stars (all 1-star rows are dislikes); a "label" column may also hold stars
    binary = header[col_value] == "label" and {v for _, _, v in entries} <= {0.0, 1.0}
    out = []
    for n, path, v in entries:
        if binary:
            label = int(v)
        elif 1 <= v <= 5:
            label = 1 if v >= 4 else 0 if v <= 2 else None
        else:
            raise PlaylistError(f"{source}:{n}: {header[col_value]} values must be 0/1 or 1-5 star ratings, got {v:g}")
        if label is not None:
            out.append((_resolve(from_uri(path) if path.lower().startswith("file://") else path, source.parent), label))
            if col_w is not None or col_s is not None:
                extras[out[-1][0]] = more[n]
    return out


# ---- writing ---------------------------------------------------------------------

#: Characters that end a line for ``str.splitlines`` (which the reader uses) beyond the C0 controls:
#: NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR.
_LINE_BREAKS = frozenset("\x85\u2028\u2029")


def needs_uri(path: str) -> bool:
    """Whether ``path`` must be written as a ``file://`` URI: not valid UTF-8, or it holds a control character
    or any other character that a reader could take for the end of a line (NEL, U+2028, U+2029)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return any(ord(c) < 32 or ord(c) == 127 or c in _LINE_BREAKS for c in path)


def extinf_title(title: str) -> str:
    """A title for an ``#EXTINF`` line: valid UTF-8 (undecodable bytes replaced), on one line."""
    title = title.encode("utf-8", "replace").decode("utf-8")
    return " ".join("".join(" " if c in _LINE_BREAKS or not c.isprintable() else c for c in title).split())


def to_uri(path: str) -> str:
    """``file://`` URI of an absolute path, percent-encoding its exact bytes."""
    return "file://" + quote_from_bytes(os.fsencode(path), safe="/")


def from_uri(uri: str) -> str:
    """The path of a ``file://`` URI (``file:///a%20b`` or ``file://localhost/a``), bytes kept exact."""
    rest = uri[len("file://"):]
    if not rest.startswith("/"):
        host, _, rest = rest.partition("/")
        if host.lower() not in ("", "localhost"):
            raise ParameterError(f"{uri}: not a local file")
        rest = "/" + rest
    return os.fsdecode(unquote_to_bytes(rest))


def entry(path: str) -> str:
    """A playlist's line for ``path``: the path itself, or its ``file://`` URI when :func:`needs_uri`."""
    return to_uri(path) if needs_uri(path) else path


def m3u_text(entries: Iterable[tuple[str, float, str]]) -> str:
    """An extended M3U8 playlist of ``(path, duration_s, title)`` entries (see the module docstring)."""
    lines = ["#EXTM3U"]
    for path, duration_s, title in entries:
        lines += [f"#EXTINF:{int(round(duration_s))},{extinf_title(title)}", entry(path)]
    return "\n".join(lines) + "\n"


def write_m3u(path: str | os.PathLike, entries: Iterable[tuple[str, float, str]]) -> Path:
    """Write :func:`m3u_text` to ``path`` atomically, as UTF-8."""
    return write_text(path, m3u_text(entries))
