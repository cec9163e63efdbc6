"""Likes lists and playlists: every format, the encoding policy, hostile names round trip, bad lists refused."""

import os

import pytest

from pers_rec.errors import PlaylistError
from pers_rec.players import playlists as P


def test_m3u_relative_absolute_comments_and_urls(lib, tmp_path):
    pl = tmp_path / "likes.m3u8"
    pl.write_text(
        "#EXTM3U\n#EXTINF:123,Artist - One\nmusic/a/one.wav\n\n"
        f"{lib / 'three.WAV'}\nhttp://radio.example/stream.mp3\nfile://{lib / 'a' / 'two.flac'}\n"
    )
    with pytest.warns(UserWarning, match="skipping URL"):
        got = P.read_labelled(pl, 1)
    assert got == [(str(lib / "a/one.wav"), 1), (str(lib / "three.WAV"), 1), (str(lib / "a/two.flac"), 1)]


def test_plain_list_and_folder(lib, tmp_path):
    (tmp_path / "list.txt").write_text("music/three.WAV\n# a comment\n")
    assert P.read_labelled(tmp_path / "list.txt", 0) == [(str(lib / "three.WAV"), 0)]
    assert [lab for _, lab in P.read_labelled(lib, 1)] == [1, 1, 1]


def test_csv_labels_and_ratings(lib, tmp_path):
    (tmp_path / "l.csv").write_text("path,label\nmusic/a/one.wav,1\nmusic/three.WAV,0\n")
    assert P.read_labelled(tmp_path / "l.csv", 1) == [(str(lib / "a/one.wav"), 1), (str(lib / "three.WAV"), 0)]
    (tmp_path / "r.csv").write_text("Path,Rating\nmusic/a/one.wav,5\nmusic/a/two.flac,3\nmusic/three.WAV,2\n")
    assert P.read_labelled(tmp_path / "r.csv", 1) == [(str(lib / "a/one.wav"), 1), (str(lib / "three.WAV"), 0)]
    (tmp_path / "bad.csv").write_text("file,score\nx.wav,1\n")
    with pytest.raises(PlaylistError, match="needs a 'path' column"):
        P.read_labelled(tmp_path / "bad.csv", 1)
    (tmp_path / "bad2.csv").write_text("path,label\nx.wav,great\n")
    with pytest.raises(PlaylistError, match="not a number"):
        P.read_labelled(tmp_path / "bad2.csv", 1)
    with pytest.raises(PlaylistError, match="no such playlist"):
        P.read_labelled(tmp_path / "missing.m3u", 1)




def test_utf8_m3u_with_non_ascii_names(tmp_path):
    (tmp_path / "Sigur Rós – Hoppípolla.wav").write_bytes(b"x")
    (tmp_path / "l.m3u").write_text("#EXTM3U\nSigur Rós – Hoppípolla.wav\n", encoding="utf-8")
    assert P.read_labelled(tmp_path / "l.m3u", 1) == [(str(tmp_path / "Sigur Rós – Hoppípolla.wav"), 1)]
    (tmp_path / "bom.m3u8").write_bytes("\ufeffSigur Rós – Hoppípolla.wav\n".encode())
    assert P.read_labelled(tmp_path / "bom.m3u8", 1)[0][0].endswith("Hoppípolla.wav")


def test_latin1_playlist_and_byte_names(tmp_path):
    (tmp_path / "café.wav").write_bytes(b"x")
    (tmp_path / "l.m3u").write_bytes("café.wav\n".encode("latin-1"))  # a Windows playlist
    assert P.read_labelled(tmp_path / "l.m3u", 1) == [(str(tmp_path / "café.wav"), 1)]
    raw = os.fsencode(tmp_path) + b"/\xff\xfe.wav"  # a name that is not UTF-8 at all
    with open(raw, "wb") as f:
        f.write(b"x")
    (tmp_path / "b.m3u").write_bytes(raw + b"\n")
    assert P.read_labelled(tmp_path / "b.m3u", 1) == [(os.fsdecode(raw), 1)]


HOSTILE = ["plain.wav", "space and, comma.wav", "quote\"d.wav", "new\nline.wav", "carriage\rreturn.wav",
           "tab\there.wav", "#hash.wav", "percent%20.wav", "ümlaut ✓ 日本.wav", "back\\slash.wav",
           "emoji 🎵.wav", " leading space.wav"]


def test_m3u_round_trip_over_hostile_names(tmp_path):
    names = [os.fsencode(n) for n in HOSTILE] + [b"\xff\xfe bytes.wav", b"mixed \xe9t\xe9.wav"]
    paths = []
    for n in names:
        p = os.fsencode(tmp_path) + b"/" + n
        with open(p, "wb") as f:
            f.write(b"x")
        paths.append(os.fsdecode(p))
    out = P.write_m3u(tmp_path / "out.m3u8", [(p, 61.4, os.path.basename(p)) for p in paths])
    text = out.read_bytes().decode("utf-8")  # always valid UTF-8
    assert text.startswith("#EXTM3U\n#EXTINF:61,") and text.count("\n") == 1 + 2 * len(paths)
    assert [p for p, _ in P.read_labelled(out, 1)] == paths
    assert "file://" in text and f"\n{paths[0]}\n" in text  # only names that need it become URIs


def test_file_uri_forms():
    assert P.from_uri("file:///a%20b/c.wav") == "/a b/c.wav"
    assert P.from_uri("file://localhost/x.wav") == "/x.wav"
    assert P.to_uri("/a b/\n.wav") == "file:///a%20b/%0A.wav"


@pytest.mark.parametrize("name, content, match", [
    ("nul.m3u", b"a.wav\n\0b.wav\n", "nul.m3u:2: holds a NUL byte"),
    ("ragged.csv", b"path,label\na.wav,1\nb.wav,1,extra\n", "ragged.csv:3: 3 fields where the header has 2"),
    ("nonum.csv", b"path,label\nx.wav,great\n", "nonum.csv:2: label 'great' is not a number"),
    ("cols.csv", b"file,score\nx.wav,1\n", "cols.csv:1: a likes CSV needs a 'path' column"),
    ("stars.csv", b"path,rating\nx.wav,7\n", "stars.csv:2: rating values must be 0/1 or 1-5"),
])
def test_bad_lists_name_the_file_and_line(tmp_path, name, content, match):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(PlaylistError, match=match):
        P.read_labelled(tmp_path / name, 1)


def test_huge_junk_playlist_is_refused_without_reading_it(tmp_path, monkeypatch):
    monkeypatch.setattr(P, "MAX_LIST_BYTES", 1000)
    (tmp_path / "junk.m3u").write_bytes(b"x" * 2000)
    with pytest.raises(PlaylistError, match="too large"):
        P.read_labelled(tmp_path / "junk.m3u", 1)


def test_unknown_user_and_symlink_loops_become_missing_entries(tmp_path):
    os.symlink(tmp_path / "b.wav", tmp_path / "a.wav")
    os.symlink(tmp_path / "a.wav", tmp_path / "b.wav")
    (tmp_path / "l.m3u").write_text("~nosuchuser_zz/x.wav\na.wav\n")
    got = [p for p, _ in P.read_labelled(tmp_path / "l.m3u", 1)]
    assert got[0].endswith("~nosuchuser_zz/x.wav") and len(got) == 2
    assert not any(os.path.isfile(p) for p in got)


def test_non_utf8_csv(tmp_path):
    (tmp_path / "song é.wav").write_bytes(b"x")
    (tmp_path / "l.csv").write_bytes("path,label\nsong é.wav,1\n".encode("latin-1"))
    assert P.read_labelled(tmp_path / "l.csv", 1) == [(str(tmp_path / "song é.wav"), 1)]


def test_a_folder_of_likes_gives_real_path_strings_like_every_other_source(lib):
    from pers_rec.players.playlists import read_labelled

    got = read_labelled(lib, 1)
    assert got and all(isinstance(p, str) and p == os.path.realpath(p) and label == 1 for p, label in got)


def test_entries_resolve_exactly_as_realpath_with_the_folders_remembered(tmp_path):
    """Linked folders, a linked file, a dangling link, a loop, '..' and a missing folder: each entry of a list
    resolves to what os.path.realpath gives (the list reader remembers each folder's real path)."""
    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    (real / "sub" / "a.flac").write_bytes(b"x")
    os.symlink(real, tmp_path / "linkdir")
    os.symlink(real / "sub" / "a.flac", real / "sub" / "b.flac")
    os.symlink(tmp_path / "nowhere.flac", real / "sub" / "dangling.flac")
    os.symlink(real / "sub" / "loop.flac", real / "sub" / "loop.flac")
    entries = ["linkdir/sub/a.flac", "linkdir/sub/b.flac", "real/sub/dangling.flac", "real/sub/loop.flac",
               "linkdir/sub/../sub/a.flac", "missing/dir/x.flac", "linkdir/sub/", str(real / "sub" / "a.flac")]
    listed = tmp_path / "list.m3u"
    listed.write_text("\n".join(entries) + "\n")
    got = [p for p, _ in P.read_labelled(listed, 1)]
    assert got == [os.path.realpath(os.path.join(tmp_path, e)) for e in entries]
