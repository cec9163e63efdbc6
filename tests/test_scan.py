"""Scanning folders: recursive, sorted, symlinks followed once, never a loop, unreadable folders named."""

import os

import pytest

from pers_rec.audio import extract
from pers_rec.audio import scan as scan_module
from pers_rec.audio.features import FeatureConfig
from pers_rec.audio.scan import scan
from pers_rec.errors import ParameterError, ScanWarning

cfg = FeatureConfig()


def test_scan_is_recursive_sorted_and_skips_hidden_and_non_audio(lib):
    assert [p.relative_to(lib).as_posix() for p in scan(lib)] == ["a/one.wav", "a/two.flac", "three.WAV"]
    with pytest.raises(ParameterError, match="not a folder"):
        scan(lib / "three.WAV")


def test_scan_returns_absolute_paths_for_a_relative_folder(lib, monkeypatch):
    monkeypatch.chdir(lib.parent)
    found = scan("music")
    assert all(p.is_absolute() for p in found) and found == scan(lib)


def test_symlinks_are_followed_once_and_never_loop(tmp_path):
    root = tmp_path / "m"
    (root / "d").mkdir(parents=True)
    (root / "d" / "song.wav").write_bytes(b"x")
    os.symlink(root, root / "d" / "up")  # a link to an ancestor
    os.symlink(root, root / "again")
    os.symlink(root / "d" / "song.wav", root / "alias.wav")  # the same file twice
    os.symlink(root / "b.wav", root / "a.wav")  # a loop of file links
    os.symlink(root / "a.wav", root / "b.wav")
    os.symlink(root / "nowhere.wav", root / "dangling.wav")
    found = [p.name for p in scan(root)]
    assert sorted(found) == ["a.wav", "alias.wav", "b.wav", "dangling.wav"] or sorted(found) == ["a.wav", "b.wav", "dangling.wav", "song.wav"]
    assert len([n for n in found if n in ("alias.wav", "song.wav")]) == 1
    errors = {e.path.name: e.error for e in extract.extract_many(scan(root), cfg, jobs=1)}
    assert "symlink loop" in errors["a.wav"].reason and "missing file" in errors["dangling.wav"].reason


def test_an_unreadable_folder_is_named_not_skipped_silently(lib, monkeypatch):
    locked = lib / "locked"
    locked.mkdir()
    (locked / "song.wav").write_bytes(b"x")
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads a mode-000 folder: refuse it as the kernel would for a user
        real = os.scandir

        def scandir(d):
            if os.path.basename(d) == "locked":
                raise PermissionError(13, "Permission denied", d)
            return real(d)

        monkeypatch.setattr(scan_module.os, "scandir", scandir)
    try:
        with pytest.warns(ScanWarning, match=r"locked: cannot read this folder \(Permission denied\)"):
            found = scan(lib)
    finally:
        locked.chmod(0o755)
    assert [p.name for p in found] == ["one.wav", "two.flac", "three.WAV"]


def test_a_folder_path_over_the_system_limit_is_named(tmp_path):
    root = tmp_path / "deep"
    d = root
    d.mkdir()
    fd = os.open(d, os.O_RDONLY)  # build the chain relative to each folder: the full path exceeds PATH_MAX
    try:
        for _ in range(20):
            os.mkdir("d" * 250, dir_fd=fd)
            nfd = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.close(os.open("song.wav", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)
    with pytest.warns(ScanWarning, match="File name too long"):  # the deepest folder cannot be listed
        scan(root)
