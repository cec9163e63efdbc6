"""Typed errors. Every error about a file names the file and says why."""

from __future__ import annotations

import os


class PersRecError(Exception):
    """Base class of every error pers_rec raises on purpose."""


class ParameterError(PersRecError, ValueError):
    """An argument or configuration value is invalid."""


class ConfigMismatchError(PersRecError):
    """A model was trained on features other than the ones asked for."""


class AudioError(PersRecError):
    """A file could not be turned into audio.

    Attributes
    ----------
    path : str
        The file that failed.
    reason : str
        Why, in words meant for the user.
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class AudioFileNotFoundError(AudioError, FileNotFoundError):
    """The path does not exist."""


class NotAFileError(AudioError, IsADirectoryError):
    """The path exists but is a directory or other non-regular file."""


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
    """Every sample is (digitally) silent, so there is nothing to learn or rank."""


class InvalidSamplesError(AudioError):
    """The file holds NaN or infinite samples."""


class TooShortError(AudioError):
    """The audio is shorter than the shortest track the features accept."""
