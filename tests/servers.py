"""The real servers of the player tests (``experiments/servers.py`` starts them): where one cannot run, the test is
skipped with the reason, and fails under CI (``make test`` installs them)."""

import contextlib
import os

import pytest

from experiments import servers as _S
from experiments.servers import PASSWORD, USER, free_port  # noqa: F401 (for the tests)


def need(*programs) -> None:
    why = _S.missing(*programs)
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


@contextlib.contextmanager
def supysonic(home, music):
    """A supysonic server for ``music`` (user ``USER``, scanned), yielding its URL."""
    need("supysonic-server", "supysonic-cli")
    with _S.supysonic(home, music) as url:
        yield url


@contextlib.contextmanager
def mpd(home, music, port=None):
    """An mpd for ``music`` (database updated), yielding ``(host, port)`` (``port``: that one, e.g. to restart)."""
    need("mpd")
    if os.environ.get("CI"):
        import mpd as _  # noqa: F401 (python-mpd2 is a test dependency: missing it fails under CI)
    else:
        pytest.importorskip("mpd", reason="python-mpd2 not installed (pip install 'pers_rec[mpd]')")
    with _S.mpd(home, music, port) as where:
        yield where
