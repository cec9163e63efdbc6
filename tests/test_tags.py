"""Tags: read from WAV (raw ID3 frames) and FLAC (Vorbis comments), never raising; labels and per-artist caps."""

import soundfile as sf
from conftest import tag, tone

from pers_rec.audio import tags as T


def test_read_wav_and_flac_tags_and_never_raise(tmp_path):
    for ext in ("wav", "flac"):
        path = tmp_path / f"a.{ext}"
        sf.write(path, tone(440, 1.0, 8000), 8000)
        assert T.read(path) == {}
        tag(path, artist="  Ann  ", title="Song", album="LP", genre="Jazz")
        assert T.read(path) == {"artist": "Ann", "album": "LP", "title": "Song", "genre": "Jazz"}
    (tmp_path / "junk.mp3").write_bytes(b"ID3\x04\x00\x00\xff\xff\xff\xff garbage")
    assert T.read(tmp_path / "junk.mp3") == {} and T.read(tmp_path / "missing.flac") == {}


def test_labels_and_suffixes():
    assert T.label("/m/x.wav", {"artist": "Ann", "title": "Song"}) == "Ann - Song"
    assert T.label("/m/x.wav", {"title": "Song"}) == "Song" and T.label("/m/x.y.wav", {"artist": "Ann"}) == "x.y"
    assert T.suffix({"artist": "Ann"}) == "  (Ann)" and T.suffix({}) == ""


def test_artist_caps_count_case_folded_artists_and_never_block_untagged():
    keys = [T.artist_key(t) for t in ({"artist": "Ann"}, {"artist": " ann "}, {"albumartist": "ANN"}, {}, {}, {"artist": "Bob"})]
    assert keys == ["ann", "ann", "ann", None, None, "bob"]
    assert T.artist_caps(keys, 2) == [True, True, False, True, True, True]
    assert T.artist_caps(keys, None) == [True] * 6
