import pytest

from pers_rec.fileio import atomic_path, write_text


def test_write_text_replaces_atomically(tmp_path):
    path = write_text(tmp_path / "sub" / "a.csv", "x,y\n")
    assert path.read_text() == "x,y\n"
    write_text(path, "new\n")
    assert path.read_text() == "new\n" and sorted(p.name for p in path.parent.iterdir()) == ["a.csv"]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_text(tmp_path / "a.png", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            assert tmp.suffix == ".png"  # writers pick the format from the extension
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_two_writers_never_share_a_temporary_name(tmp_path):
    from pers_rec.fileio import atomic_path

    with atomic_path(tmp_path / "out.csv") as a, atomic_path(tmp_path / "out.csv") as b:
        assert a != b and a.suffix == b.suffix == ".csv"
        a.write_text("a")
        b.write_text("b")
    assert (tmp_path / "out.csv").read_text() == "a" and sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_interrupted_write_leaves_no_temporary(tmp_path):
    import pytest

    from pers_rec.fileio import atomic_path

    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "m.keras") as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_check_output(tmp_path):
    import pytest

    from pers_rec.errors import ParameterError
    from pers_rec.fileio import check_output

    assert check_output(tmp_path / "new" / "deeper" / "r.csv", (".csv",), "--out").name == "r.csv"
    with pytest.raises(ParameterError, match="--out .*: must end in .csv"):
        check_output(tmp_path / "r.txt", (".csv",), "--out")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(ParameterError, match="is a folder"):
        check_output(tmp_path / "d.csv", (".csv",), "--out")


def test_outputs_get_the_usual_permissions_not_mkstemps_private_ones(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        p = write_text(tmp_path / "r.csv", "a\n")
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644


def test_an_output_path_too_long_for_the_system_is_one_line(tmp_path):
    from pers_rec.errors import ParameterError
    from pers_rec.fileio import check_output

    for path in (tmp_path / (("d" * 200 + "/") * 25 + "out.csv"), tmp_path / ("x" * 300 + ".csv"),
                 tmp_path / ("y" * 300) / "out.csv"):
        with pytest.raises(ParameterError, match="longer than") as info:
            check_output(path, (".csv",), "--out")
        assert len(str(info.value)) < 400 and "\n" not in str(info.value)
