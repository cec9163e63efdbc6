"""Typed errors and exit codes. Every error about a file names the file and says why.

Errors raised in a decoding worker cross the process boundary as themselves:
:class:`AudioError` pickles with its type, ``path`` and ``reason``, so the
main process (and the ranking CSV's ``error`` column, made by :func:`describe`)
sees exactly what the worker saw.
"""

from __future__ import annotations

import os

#: Exit codes of the ``pers-rec`` command (documented in ``--help`` and the README).
EXIT_OK = 0  #: everything worked
EXIT_SOME_FAILED = 1  #: some files failed; the outputs are complete for the rest
EXIT_USAGE = 2  #: bad arguments or bad input (including model files and likes lists)
EXIT_NOTHING = 3  #: nothing to work on: no audio found, or none could be read
EXIT_INTERNAL = 4  #: a bug: one line, and PERS_REC_DEBUG=1 shows the traceback
EXIT_INTERRUPTED = 130  #: Ctrl-C


class PersRecError(Exception):
    """Base class of every error pers_rec raises on purpose (a user's mistake or bad input: exit 2)."""


class ParameterError(PersRecError, ValueError):
    """An argument or configuration value is invalid."""


class NothingToDoError(PersRecError):
    """There is nothing to work on: a library folder holds no audio file (exit code 3, like every command)."""


class ConfigMismatchError(PersRecError):
    """A model was trained on features other than the ones asked for."""


class ModelFileError(PersRecError):
    """A model file is missing, malformed, not a pers_rec model, or refused as unsafe."""


class PlaylistError(PersRecError):
    """A likes/dislikes list cannot be read; the message names the file (and line)."""


class ScanWarning(UserWarning):
    """A folder (or file) below a library could not be read while scanning: its files are left out.

    The command line prints it as one line naming the folder and the reason, and ends with exit code 1.
    """


class CacheWarning(UserWarning):
    """The feature cache is damaged or cannot be written: the run goes on without it (nothing is lost but time)."""


class AudioError(PersRecError):
    """A file could not be turned into audio (or scores).

    Attributes
    ----------
    path : str
        The file that failed (``os.fsdecode``: undecodable bytes as surrogates).
    reason : str
        Why, in words meant for the user.
    """

    #: Whether the failure may go away by itself (memory, permissions, a crashed worker):
    #: such failures are never cached.
    transient = False

    def __init__(self, path: str | os.PathLike | bytes, reason: str):
        self.path = os.fsdecode(path)
        self.reason = reason
        super().__init__(f"{printable(self.path)}: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: undecodable bytes (surrogates) as ``\\xff``, and every character that
    is not printable (ESC, newlines, other controls, line and paragraph separators) as its Python escape, so no tag
    or file name can recolour, move or rewrite the terminal."""
    if text.isprintable():
        return text
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        text = text.encode("utf-8", "backslashreplace").decode("ascii")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)



class AudioFileNotFoundError(AudioError, FileNotFoundError):
    """The path does not exist (or is a dangling or looping symlink)."""


class NotAFileError(AudioError, IsADirectoryError):
    """The path exists but is a directory, a FIFO, a device or another non-regular file."""


class EmptyFileError(AudioError):
    """The file has zero bytes."""


class DecodeError(AudioError):
    """No decoder could read the file: not audio, corrupt, truncated or unsupported."""


class CorruptFileError(DecodeError):
    """A decoder recognised the format but the data is damaged or truncated.

    Unlike a plain :class:`DecodeError`, no other decoder is tried: the file itself is bad.
    """


class NoAudioError(AudioError):
    """The file decoded to zero samples."""


class SilentAudioError(AudioError):
    """Every sample is (digitally) silent, or only a constant (DC): nothing to learn or rank."""


class InvalidSamplesError(AudioError):
    """The file holds NaN or infinite samples."""


class TooShortError(AudioError):
    """The audio is shorter than the shortest track the features accept."""


class InvalidScoreError(AudioError):
    """The model gave a non-finite score for the file (e.g. samples of absurd magnitude)."""


class ReadFailedError(AudioError):
    """Reading the file failed for a reason outside it (permissions, memory, I/O): retried next run."""

    transient = True


class WorkerCrashedError(AudioError):
    """The decoding worker process died twice on this file (killed, out of memory, or a decoder crash)."""

    transient = True


#: Every AudioError type by name, to rebuild cached errors as their own type.
AUDIO_ERRORS = {cls.__name__: cls for cls in (
    AudioError, AudioFileNotFoundError, NotAFileError, EmptyFileError, DecodeError, CorruptFileError, NoAudioError,
    SilentAudioError, InvalidSamplesError, TooShortError, InvalidScoreError, ReadFailedError, WorkerCrashedError,
)}


def describe(exc: AudioError) -> str:
    """The ``error`` column of a failed file: ``"TypeName: reason"`` (one line)."""
    return f"{type(exc).__name__}: {' '.join(exc.reason.split())}"


def from_description(path: str | os.PathLike | bytes, text: str) -> AudioError:
    """Rebuild the error that :func:`describe` wrote (an unknown type name becomes a plain AudioError)."""
    name, _, reason = text.partition(": ")
    return AUDIO_ERRORS.get(name, AudioError)(path, reason or name)
