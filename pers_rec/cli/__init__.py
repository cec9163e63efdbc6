"""The ``pers-rec`` command line: one module per command, each holding its parser, its checks and its body.

``main`` parses the arguments and runs the chosen command's ``run(args)``; each command module has
``add_parser(subparsers)``. Shared options, checks, the cache and console output are in ``common``. Heavy
libraries are imported only by the commands that need them, so ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import warnings

from .. import __version__
from ..errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    NothingToDoError,
    PersRecError,
    ScanWarning,
    printable,
)
from . import cache, embed, explain, filters, likes, map, misc, playlist, pretrain, radio, rank, serve, similar, train
from .common import EXIT_CODES, Formatter

#: The commands, in the order ``--help`` lists them.
COMMANDS = (likes, train, pretrain, serve, radio, similar, playlist, map, filters, embed, rank, explain, cache, misc)


def build_parser() -> argparse.ArgumentParser:
    about = "Learn one listener's taste from the audio itself and rank their music library."
    p = argparse.ArgumentParser(prog="pers-rec", formatter_class=Formatter, epilog=EXIT_CODES, description=about)
    p.add_argument("--version", action="version", version=f"pers-rec {__version__}")
    p.add_argument("--cpu", action="store_true", help="never use a GPU (hides GPUs from the Keras backend)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


#: What ``-q`` keeps off the terminal besides progress: the C++ log lines of TensorFlow (absl's
#: ``E0000 00:00:... file.cc:N] ...``) and of Ray (``[date time,ms L pid tid] file.cc:N: ...``), and Ray's workers'
#: prefixed lines. pers_rec's own lines (results, warnings, errors) never look like these.
#: What ``-q`` keeps off the terminal: TensorFlow's and Ray's C++ log lines, Ray's Python ones, and the stack report
#: Ray's C++ signal handler writes when a signal arrives while Ray starts (``*** SIGTERM received ...``, then
#: ``PC: @`` and ``@ 0x...`` frames; the command itself still says "interrupted" and exits 130).
QUIET_NOISE = re.compile(r"[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\] |WARNING: All log messages before absl|"
                         r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [IWEF] \d+ \d+\] |\((raylet|MapWorker|"
                         r"MapBatches|pid=)|.*Started a local Ray instance|\*\*\* SIG[A-Z]+ received at time=|"
                         r"PC: @ +0x[0-9a-f]+ |\s+@ +0x[0-9a-f]+ ")


def _quiet(args):
    """``-q``: the command runs with :data:`QUIET_NOISE` filtered out of stderr (and decoders silenced)."""
    import contextlib

    if not getattr(args, "quiet", False):
        return contextlib.nullcontext()
    from ..audio import extract
    from ..progress import filtered_stderr

    extract.QUIET_DECODERS = True
    return filtered_stderr(QUIET_NOISE)


#: Set by SIGTERM. The KeyboardInterrupt it raises can land inside a garbage-collection callback (JAX registers
#: one), where Python prints and drops it; the command then finishes, and the flag still makes its exit 130.
_terminated = False


def _on_sigterm(signum, frame):
    global _terminated
    _terminated = True
    raise KeyboardInterrupt  # the same clean-up as Ctrl-C: temporary files removed, finished work kept


def _unraisable(hook):
    """``sys.unraisablehook`` that stays quiet about our own SIGTERM's KeyboardInterrupt dropped in a callback."""
    def quiet(info):
        if not (_terminated and isinstance(info.exc_value, KeyboardInterrupt)):
            hook(info)
    return quiet


def main(argv: list[str] | None = None) -> int:
    """Run ``pers-rec`` with ``argv``; return the exit code (documented in ``--help``)."""
    global _terminated
    _terminated = False
    sys.unraisablehook = _unraisable(sys.__unraisablehook__)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "cpu", False):
        from ..device import force_cpu

        force_cpu()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    warned: list = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", ScanWarning)
            warnings.showwarning = lambda message, category, *rest: _show_warning(message, category, warned)
            with _quiet(args):
                code = args.run(args)
        if _terminated:  # the signal's exception was swallowed on the way (see _terminated)
            raise KeyboardInterrupt
        return EXIT_SOME_FAILED if code == EXIT_OK and warned else code
    except NothingToDoError as exc:
        print(f"pers-rec: {_one_line(exc)}", file=sys.stderr)
        return EXIT_NOTHING
    except PersRecError as exc:
        print(f"pers-rec: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        kept = "; finished work is kept in the feature cache" if not getattr(args, "no_cache", True) else ""
        print(f"\npers-rec: interrupted{kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one line, the traceback on request
        if os.environ.get("PERS_REC_DEBUG"):
            raise
        print(f"pers-rec: internal error: {type(exc).__name__}: {_one_line(exc)} "
              "(run with PERS_REC_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        signal.signal(signal.SIGTERM, previous)


def run() -> None:
    """The ``pers-rec`` program: :func:`main`, then exit with its code.

    After an interruption everything is already cleaned up (temporary files removed, a Ray cluster stopped), so
    the process ends at once with 130: a normal interpreter exit could still be turned into a death by SIGINT
    (a late Ctrl-C, or Ray's driver signalling itself while it stops; seen once as exit -2 in CI).
    """
    code = main()
    if code == EXIT_INTERRUPTED:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)


def _show_warning(message, category, warned: list) -> None:
    """A warning as one escaped line on stderr; a :class:`ScanWarning` (files left out) turns exit 0 into 1."""
    print(f"pers-rec: warning: {_one_line(message)}", file=sys.stderr)
    if issubclass(category, ScanWarning):
        warned.append(message)


def _one_line(exc: BaseException) -> str:
    return printable(" ".join(str(exc).split()))

