"""Typed errors: every AudioError names its file, pickles as itself, and round-trips through its description."""

import pickle

import pytest

from pers_rec import errors as E

AUDIO_ERRORS = sorted(E.AUDIO_ERRORS.values(), key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", AUDIO_ERRORS, ids=lambda c: c.__name__)
def test_each_audio_error_names_the_file_and_pickles(cls):
    exc = cls("/music/a b.wav", "why it failed")
    assert str(exc) == "/music/a b.wav: why it failed"
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is cls and (back.path, back.reason) == (exc.path, exc.reason)
    again = E.from_description(exc.path, E.describe(exc))
    assert type(again) is cls and again.reason == "why it failed"


def test_describe_is_one_line_and_names_are_printable():
    assert E.describe(E.DecodeError("x", "line one\nline two")) == "DecodeError: line one line two"
    exc = E.DecodeError(b"/m/\xff.wav", "bad")
    assert exc.path == "/m/\udcff.wav" and "\\udcff" not in str(exc) and "\\xff" in str(exc)
    assert str(E.DecodeError("/m/new\nline.wav", "bad")) == "/m/new\\nline.wav: bad"


def test_only_outside_failures_are_transient():
    assert {c.__name__ for c in AUDIO_ERRORS if c.transient} == {"ReadFailedError", "WorkerCrashedError"}


def test_the_documented_exit_codes_are_the_ones_used():
    """--help and the README's table list exactly the codes of errors.EXIT_*, once each."""
    import re
    from pathlib import Path

    from pers_rec.cli.common import EXIT_CODES

    codes = sorted(v for k, v in vars(E).items() if k.startswith("EXIT_"))
    assert len(set(codes)) == len(codes)
    assert sorted(int(c) for c in re.findall(r"(?m)^  (\d+) ", EXIT_CODES)) == codes
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert sorted(int(c) for c in re.findall(r"(?m)^\| (\d+) \|", readme)) == codes
