"""Progress: no bar frames in a log file, one summary line per stage."""

from pers_rec.progress import bar


def test_no_bar_when_stderr_is_not_a_terminal_but_a_summary(capsys):
    with bar(3, "features", "track", True) as b:
        for _ in range(3):
            b.update()
    err = capsys.readouterr().err
    assert "\r" not in err and err.startswith("features: 3 tracks in ") and err.count("\n") == 1


def test_quiet_prints_nothing(capsys):
    with bar(1, "ranking", "track", False) as b:
        b.update()
    assert capsys.readouterr().err == ""


def test_the_stderr_filter_drops_noise_keeps_the_rest_and_does_not_wait_for_children(tmp_path):
    """Lines the filter lets through reach stderr in order, noise does not; a child started inside the block that
    still holds the pipe (it waits for a flag made after the block) does not hold up the block's end, and its
    later lines still arrive. The old end waited for the pipe to close: 5 s (the join's limit), every command."""
    import subprocess
    import sys

    flag = tmp_path / "left"
    child = (f"import os, time\nwhile not os.path.exists({str(flag)!r}): time.sleep(0.01)\n"
             "os.write(2, b'child late\\n')\n")
    code = (
        "import os, re, subprocess, sys, time\n"
        "from pers_rec.progress import filtered_stderr\n"
        "with filtered_stderr(re.compile('NOISE')):\n"
        "    os.write(2, b'kept 1\\nNOISE here\\n')\n"
        f"    p = subprocess.Popen([sys.executable, '-c', {child!r}])\n"
        "    print('kept 2', file=sys.stderr)\n"
        "    t = time.monotonic()\n"
        "print(f'left after {time.monotonic() - t:.2f} s', file=sys.stderr)\n"
        f"open({str(flag)!r}, 'w').close()\n"
        "p.wait()\n"
        "time.sleep(0.5)\n"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = got.stderr.splitlines()
    assert lines[:2] == ["kept 1", "kept 2"] and "NOISE here" not in got.stderr and "child late" in lines
    assert float(lines[2].split()[2]) < 4.0, lines  # the end of the block waited for nobody (not the old 5 s)
