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
