"""The command line's own promises, fast (no model trained): help and version without heavy imports, argument
mistakes as one line with exit 2 before TensorFlow loads, internal errors as one line, and 130 after an
interruption whatever happens at interpreter exit."""

import subprocess
import sys

import pytest

from pers_rec import __version__
from pers_rec.cli import main
from pers_rec.errors import EXIT_USAGE


def test_help_and_version_do_not_import_heavy_libraries():
    code = (
        "import sys\n"
        "from pers_rec.cli import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'librosa', 'torch', 'jax') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    out = subprocess.run([sys.executable, "-m", "pers_rec.cli", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"pers-rec {__version__}"


ARG_MISTAKES = [
    (["train", "--likes", "{likes}", "--model", "{tmp}/m.keras", "--epochs", "0"], "--epochs: must be at least 1"),
    (["train", "--likes", "{likes}", "--model", "{tmp}/m.keras", "--epochs", "-3"], "--epochs: must be at least 1"),
    (["train", "--likes", "{likes}", "--model", "{tmp}/m.keras", "--windows-per-track", "0"], "must be at least 1"),
    (["train", "--likes", "{likes}", "--model", "{tmp}/m.keras", "--ensemble", "1"], "at least 2 fold models"),
    (["train", "--likes", "{likes}", "--model", "{tmp}/m.keras", "--folds", "1"], "must be at least 2"),
    (["train", "--likes", "{likes}", "--model", "{tmp}/model"], "--model {tmp}/model: must end in .keras"),
    (["train", "--likes", "{tmp}/nope.m3u", "--model", "{tmp}/m.keras"], "--likes {tmp}/nope.m3u: no such file"),
    (["train", "--likes", "{likes}", "--library", "{tmp}/nolib", "--model", "{tmp}/m.keras"], "no such folder"),
    (["train", "--likes", "{likes}", "--model", "{tmp}/dir.keras"], "is a folder"),
    (["rank", "{tmp}", "--model", "{model}", "--out", "{tmp}/dir.csv"], "is a folder"),
    (["rank", "{tmp}", "--model", "{model}", "--out", "{tmp}"], "--out {tmp}: must end in .csv"),
    (["rank", "{tmp}", "--model", "{model}", "--out", "{tmp}/d.csv/", "--top", "-1"], "--top: must be at least 1"),
    (["rank", "{tmp}", "--model", "{model}", "--jobs", "-1"], "--jobs/-j: must be at least 1"),
    (["rank", "{tmp}", "--model", "{model}", "--m3u", "{tmp}/x.txt"], "must end in .m3u8 or .m3u"),
    (["rank", "{tmp}", "--model", "{model}", "--min-track-s", "-5"], "must be 0 or more seconds"),
    (["rank", "{tmp}", "--model", "{tmp}/x.h5"], "must end in .keras"),
    (["rank", "{tmp}", "--model", "{tmp}/missing.keras"], "no such model file"),
    (["rank", "{tmp}", "--model", "{junk_model}"], "not a .keras zip archive"),
    (["rank", "{tmp}/nowhere", "--model", "{model}"], "no such folder"),
    (["explain", "{tmp}/x.wav", "--model", "{model}"], "no such file"),
    (["rank", "{tmp}", "--cpu", "--model", "{model}", "--top", "0"], "--top: must be at least 1"),
    (["rank", "{tmp}", "--model", "{model}", "--max-per-artist", "0"], "--max-per-artist: must be at least 1"),
    (["similar", "{likes}", "--library", "{tmp}", "--taste-weight", "1.5"], "must be between 0 and 1, got 1.5"),
    (["similar", "{likes}", "--library", "{tmp}", "--taste-weight", "0.5"], "--taste-weight needs --model"),
    (["similar", "{tmp}/x.wav", "--library", "{tmp}"], "TRACK {tmp}/x.wav: no such file"),
    (["playlist", "--library", "{tmp}", "--seed", "{likes}", "--max-per-artist", "0"], "must be at least 1"),
    (["map", "{tmp}", "--out", "{tmp}/map.txt"], "--out {tmp}/map.txt: must end in .html or .htm"),
    (["map", "{tmp}/nowhere"], "library {tmp}/nowhere: no such folder"),
    (["filters", "{tmp}", "--out", "{likes}"], "--out {likes}: not a folder"),
    (["filters", "{tmp}", "--top", "0"], "--top: must be at least 1"),
    (["train", "--target", "genre", "--model", "{tmp}/g.keras"], "--target genre needs --library"),
    (["train", "--target", "genre", "--library", "{tmp}", "--likes", "{likes}", "--model", "{tmp}/g.keras"],
     "--likes and --dislikes are for --target like"),
    (["train", "--target", "genre", "--library", "{tmp}", "--genres", "{tmp}/no.csv", "--model", "{tmp}/g.keras"],
     "--genres {tmp}/no.csv: no such file"),
    (["train", "--model", "{tmp}/m.keras"], "train needs --likes"),
]


@pytest.mark.parametrize("argv, message", ARG_MISTAKES)
def test_argument_mistakes_exit_2_in_one_line_before_tensorflow(tmp_path, argv, message):
    (tmp_path / "likes.m3u").write_text("a.wav\n")
    (tmp_path / "junk.keras").write_text("junk")
    (tmp_path / "dir.keras").mkdir()
    (tmp_path / "dir.csv").mkdir()
    subs = {"tmp": str(tmp_path), "likes": str(tmp_path / "likes.m3u"), "model": str(tmp_path / "m.keras"),
            "junk_model": str(tmp_path / "junk.keras")}
    argv = [a.format(**subs) for a in argv]
    code = ("import sys\nfrom pers_rec.cli import main\ncode = main(sys.argv[1:])\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported'\nsys.exit(code)\n")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    assert out.returncode == EXIT_USAGE, out.stderr
    lines = out.stderr.strip().splitlines()
    assert message.format(**subs) in lines[-1] and "Traceback" not in out.stderr


def test_missing_keras_backend_is_one_line(tmp_path):
    (tmp_path / "likes.m3u").write_text("a.wav\n")
    env = {**__import__("os").environ, "KERAS_BACKEND": "nosuch"}
    out = subprocess.run([sys.executable, "-m", "pers_rec.cli", "train", "--likes", str(tmp_path / "likes.m3u"),
                          "--model", str(tmp_path / "m.keras")], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == EXIT_USAGE and out.stderr.strip() == (
        "pers-rec: error: KERAS_BACKEND='nosuch' is not a Keras backend (tensorflow, jax or torch)")


def test_help_lists_defaults_examples_and_exit_codes():
    from pers_rec.cli import build_parser

    parser = build_parser()
    rank_help = parser._subparsers._group_actions[0].choices["rank"].format_help()
    assert "(default: 50)" in rank_help and "example:" in rank_help and "exit codes:" in rank_help
    assert "4    internal error" in rank_help


def test_internal_errors_are_one_line(monkeypatch, tmp_path, capsys):
    from pers_rec.cli import misc

    monkeypatch.setattr(misc, "synth_dataset", lambda *a: 1 / 0)
    assert main(["synth", "1", "--out", str(tmp_path)]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ZeroDivisionError" in err and "PERS_REC_DEBUG=1" in err


def test_an_interrupted_run_ends_with_130_whatever_happens_at_interpreter_exit():
    """After an interruption (everything cleaned up) the process ends at once with 130: a SIGINT that arrives
    while the interpreter winds down (Ray's driver signalling itself; a late Ctrl-C) cannot make it die by signal."""
    code = ("import atexit, os, signal, sys\n"
            "import pers_rec.cli as cli\n"
            "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
            "atexit.register(lambda: os.kill(os.getpid(), signal.SIGINT))\n"
            "cli.main = lambda: print('pers-rec: interrupted', file=sys.stderr) or 130\n"
            "cli.run()\n")
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert got.returncode == 130 and "pers-rec: interrupted" in got.stderr, (got.returncode, got.stderr)
    code = code.replace("or 130", "or 0").replace("signal.SIGINT))", "signal.SIGINT) if False else None)")
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert got.returncode == 0, got.stderr  # other codes leave through a normal exit (atexit handlers run)


def test_quiet_filters_the_c_libraries_noise_and_keeps_pers_recs_own_lines():
    """What ``-q`` drops (``cli.QUIET_NOISE``, matched at the start of each stderr line): TensorFlow's and Ray's
    log lines and the stack report of Ray's C++ signal handler; pers_rec's own lines and a Python error stay."""
    from pers_rec.cli import QUIET_NOISE

    noise = ["I0000 00:00:1796316173.850006   10887 port.cc:153] oneDNN custom operations are on.",
             "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
             "[2026-12-03 16:49:01,123 W 123 456] core_worker.cc:100: Raylet is dead",
             "(raylet) something", "2026-12-03 16:49:01 INFO worker.py:1 -- Started a local Ray instance.",
             "*** SIGTERM received at time=1796316786 on cpu 1 ***",
             "PC: @     0x7fbf64d28974  (unknown)  __recv",
             "    @     0x7fbf64c5a050  (unknown)  (unknown)"]
    kept = ["pers-rec: interrupted; finished work is kept in the feature cache", "error: /m/a.flac: not audio",
            "warning: skipped /m/@ 0x1.flac", "*** not a signal", "Traceback (most recent call last):"]
    assert [line for line in noise if not QUIET_NOISE.match(line)] == []
    assert [line for line in kept if QUIET_NOISE.match(line)] == []
