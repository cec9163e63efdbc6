"""What the commands share: argument types, common options, checks, the feature cache, console output.

Every mistake a user can make in the arguments (a number out of range, an output path that cannot be
written, a missing input, a model file that is not a safe pers_rec model) is found before TensorFlow is
imported and before any audio is decoded, and reported in one line with exit code 2.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    NothingToDoError,
    ParameterError,
    printable,
)

EXIT_CODES = f"""exit codes:
  {EXIT_OK}    everything worked
  {EXIT_SOME_FAILED}    some files failed or were left out (their rows or warnings say why); the outputs are
       complete for the rest
  {EXIT_USAGE}    bad arguments or bad input (a likes list, a model file, a path)
  {EXIT_NOTHING}    nothing to work on: no audio found, or none could be read
  {EXIT_INTERNAL}    internal error (a bug): run with PERS_REC_DEBUG=1 for the traceback
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); finished work is kept in the feature cache"""


# ---- argument types ----------------------------------------------------------------------------------------------

class Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions and epilogs as written, and every option's default in its help."""


def int_at_least(lo: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {v}")
        return v

    parse.__name__ = f"integer >= {lo}"
    return parse


def ensemble(text: str) -> int:
    v = int_at_least(0)(text)
    if v == 1:
        raise argparse.ArgumentTypeError("an ensemble needs at least 2 fold models (0 turns it off)")
    return v


def float_in(what: str, rule: str, ok):
    """An argparse type: a float for which ``ok(v)`` holds, else "``rule``, got ..." (``what``: what it should be)."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"{rule}, got {text}")
        return v

    parse.__name__ = what
    return parse


fraction = float_in("a number", "must be between 0 and 1", lambda v: 0 <= v <= 1)
seconds = float_in("a number of seconds", "must be 0 or more seconds", lambda v: 0 <= v < float("inf"))


def _common(cache: bool, jobs: bool, runtime: bool = False) -> argparse.ArgumentParser:
    """Options subcommands share (``--cpu`` in every one, so it works before or after the subcommand)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--cpu", action="store_true", default=argparse.SUPPRESS,
                   help="never use a GPU (hides GPUs from the Keras backend)")
    if runtime:
        p.add_argument("--runtime", choices=("light", "keras"), default="light",
                       help="what runs the network: light (numpy, no TensorFlow: starts in a second) or keras "
                            "(the Keras backend, a GPU when there)")
    if cache:
        p.add_argument("--cache", metavar="DIR", help="feature cache folder (default: ~/.cache/pers_rec)")
        p.add_argument("--no-cache", action="store_true", help="do not read or write the feature cache")
    if jobs:
        p.add_argument("--jobs", "-j", type=int_at_least(1), default=None,
                       help="decoding worker processes (default: one per CPU core)")
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or stage summaries")
    return p


def subcommand(sub, name: str, help: str, example: str, cache: bool = False, jobs: bool = False,
               runtime: bool = False) -> argparse.ArgumentParser:
    """A subcommand's parser with the shared options and the exit codes in its epilog (``runtime``: the command
    scores, and takes ``--runtime``)."""
    return sub.add_parser(name, help=help, description=f"{help[0].upper()}{help[1:]}.\n\nexample:\n  {example}",
                          epilog=EXIT_CODES, formatter_class=Formatter, parents=[_common(cache, jobs, runtime)])


# ---- checks ------------------------------------------------------------------------------------------------------

def need_dir(path, what: str) -> None:
    if not os.path.isdir(path):
        raise ParameterError(f"{what} {path}: no such folder")


def need_input(path, what: str) -> None:
    if path is not None and not os.path.exists(path):
        raise ParameterError(f"{what} {path}: no such file or folder")


def check_backend() -> None:
    """A Keras backend that is not installed is a one-line error, not an ImportError traceback."""
    import importlib.util

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}.get(backend)
    if module is None:
        raise ParameterError(f"KERAS_BACKEND={backend!r} is not a Keras backend (tensorflow, jax or torch)")
    if importlib.util.find_spec(module) is None:
        raise ParameterError(f"KERAS_BACKEND={backend} but {module} is not installed (pip install {module})")


def load_model(path, runtime: str = "light"):
    """Check ``path`` and its configuration (without Keras), then load it into ``runtime`` (``--runtime``): a
    :class:`checkpoint.SavedModel`."""
    from ..model.checkpoint import read_meta

    read_meta(path)
    if runtime == "keras":
        check_backend()
    from ..model import checkpoint

    return checkpoint.load(path, runtime=runtime)


def library_files(folder, what: str = "library") -> list:
    """The audio files below ``folder`` (``scan.scan``), the same answer from every command when there are none.

    Raises
    ------
    ParameterError
        ``folder`` is not a folder.
    NothingToDoError
        It holds no audio file (exit code 3).
    """
    from ..audio.scan import scan

    need_dir(folder, what)
    paths = scan(folder)
    if not paths:
        raise NothingToDoError(f"no audio files found under {folder}")
    return paths


def cache_dir(args):
    """The cache folder of ``--cache`` (default ``~/.cache/pers_rec``); pre-trained weights live there too."""
    from ..audio.cache import default_cache_dir

    return getattr(args, "cache", None) or default_cache_dir()


@contextmanager
def feature_cache(args) -> Iterator:
    """The feature cache of ``--cache`` / ``--no-cache`` (None when off), closed when the block ends."""
    from ..audio.cache import opened

    with opened(getattr(args, "cache", None), enabled=not getattr(args, "no_cache", True)) as cache:
        yield cache


# ---- console -----------------------------------------------------------------------------------------------------

def say(*args) -> None:
    """Print a result line on stdout, escaping what a terminal would act on (control characters, undecodable bytes).

    When the reader of stdout has gone (``pers-rec rank ... | head``), the rest of the output is dropped and
    the command finishes its work: its files are still written, and it exits with its usual code.
    """
    text = printable(" ".join(str(a) for a in args))
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # also keeps the interpreter's final flush from failing
        os.close(devnull)


def warn(text: str) -> None:
    """Print a warning line on stderr, escaped like :func:`say`."""
    print(printable(text), file=sys.stderr)


def fmt(x: float | None, digits: int = 3) -> str:
    """A figure for the console: ``n/a`` when there is none."""
    return "n/a" if x is None else f"{x:.{digits}f}"


def exit_code(failed) -> int:
    """1 when anything in ``failed`` failed, else 0."""
    return EXIT_SOME_FAILED if failed else EXIT_OK


# ---- players (shared by likes and rank) -----------------------------------------------------------------------------

seconds_above_0 = float_in("a number of seconds", "must be more than 0 seconds", lambda v: 0 < v < 1e6)


def path_map(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ParameterError(f"--path-map {text!r}: give SERVER_PREFIX=LOCAL_PREFIX")
    src, dst = text.split("=", 1)
    return src, os.path.expanduser(dst)


def add_server_options(p, *, writing: bool = False) -> None:
    """The options that say where a Subsonic server or MPD is (shared by ``likes`` and ``rank``)."""
    g = p.add_argument_group("player (Subsonic server or MPD)")
    if writing:
        g.add_argument("--subsonic", metavar="URL", help="the Subsonic server --to-subsonic writes to")
        g.add_argument("--mpd", metavar="HOST[:PORT]", help="the MPD --to-mpd writes to (a host, or a socket path)")
    g.add_argument("--user", help="Subsonic user name")
    g.add_argument("--password-file", metavar="FILE",
                   help="file whose first line is the Subsonic password (mode 600); default: "
                        "$PERS_REC_SUBSONIC_PASSWORD. Never on the command line: it would show in ps")
    g.add_argument("--path-map", type=path_map, action="append", default=[], metavar="SERVER=LOCAL",
                   help="server path prefix -> local path prefix (repeatable); a relative server path is taken "
                        "under the library folder")
    g.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    g.add_argument("--allow-plain-password", action="store_true",
                   help="let the password go hex-encoded over plain HTTP to a server that takes no tokens (anyone on "
                        "the way can read it); without it such a server is refused unless it is https or this machine")
    g.add_argument("--player-timeout", type=seconds_above_0, default=60.0, metavar="SECONDS",
                   help="the most one call to the server may take, a slow answer included")
    g.add_argument("--mpd-music-dir", metavar="DIR",
                   help="MPD's music_directory on this machine (default: the library folder)")


def subsonic_client(url: str, args):
    """The :class:`subsonic.Client` the server options describe (the password from the environment or the file)."""
    from ..players import subsonic

    if not args.user:
        raise ParameterError("a Subsonic server needs --user")
    return subsonic.Client(url, args.user, subsonic.password(args.password_file), verify=not args.insecure,
                           deadline_s=args.player_timeout, allow_plain=args.allow_plain_password)


def bind(host: str, port: int, host_option: str = "--host", port_option: str = "--port") -> socket.socket:
    """A listening socket on ``host``:``port``; :class:`ParameterError` (one line, naming the options) when it
    cannot be had."""
    if port > 65535:
        raise ParameterError(f"{port_option} {port}: a port is 0-65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ParameterError(f"{host_option} {host}: not an address or name this machine knows ({exc})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ParameterError(f"{port_option} {port}: already in use on {host} (another program, or another "
                                 f"pers-rec): choose another port, or {port_option} 0 for any free one") from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            raise ParameterError(f"{host_option} {host}: not an address of this machine") from None
        if exc.errno == errno.EACCES:
            raise ParameterError(f"{port_option} {port}: not allowed (ports below 1024 need root)") from None
        raise ParameterError(f"{host_option} {host} {port_option} {port}: cannot listen there "
                             f"({exc.strerror or exc})") from None
    sock.setblocking(False)
    return sock
