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
