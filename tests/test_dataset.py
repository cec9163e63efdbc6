"""Gathering a listener's labelled tracks, class weights and the windows an epoch trains on."""

import numpy as np
import pytest
import soundfile as sf
from conftest import tag, tone

from pers_rec.audio import features as F
from pers_rec.errors import ParameterError
from pers_rec.learn import dataset as D

TINY = F.FeatureConfig(sr=8000, hop_length=500, n_fft=512, n_mels=32, n_mfcc=12, window_s=4, min_s=1.0)


def fake(n_pos, n_neg, seed=0, source="dislike"):
    rng = np.random.default_rng(seed)
    return [D.Track(f"/t/{seed}_{i}.wav", int(i < n_pos), "like" if i < n_pos else source,
                    rng.normal(size=(int(rng.integers(60, 200)), TINY.n_features)).astype(np.float32))
            for i in range(n_pos + n_neg)]


def test_track_weights_balance_classes_and_downweight_unlabelled():
    ts = fake(2, 0) + fake(0, 2, seed=1) + fake(0, 4, seed=2, source="unlabelled")
    w = D.track_weights(ts, unlabelled_weight=0.5)
    labels = np.array([t.label for t in ts])
    assert w[labels == 1].sum() == pytest.approx(w[labels == 0].sum()) == pytest.approx(len(ts) / 2)
    assert w[2] == pytest.approx(2 * w[4])  # a dislike weighs twice an unlabelled track


def test_window_sampling_augments_offsets_and_gain():
    ts = fake(1, 1)
    X, y, w = D.sample_windows(ts, TINY, np.array([1.0, 2.0]), per_track=5, gain_db=6.0, rng=np.random.default_rng(0))
    assert X.shape == (10, TINY.window_frames, TINY.n_features) and list(y) == [1] * 5 + [0] * 5
    assert list(w) == [1.0] * 5 + [2.0] * 5
    M = F.fit_to_window(ts[0].features, TINY)
    for x in X[:5]:  # a (looped) slice of its track plus a constant on coefficient 0 only
        diffs = [np.abs((x - M[s : s + len(x)])[:, 1:]).max() for s in range(len(M) - len(x) + 1)]
        s = int(np.argmin(diffs))
        assert diffs[s] < 1e-5
        offset = x[:, 0] - M[s : s + len(x), 0]
        assert np.ptp(offset) < 1e-3 and abs(offset[0]) <= 6.0 * np.sqrt(TINY.n_mels) + 1e-3


@pytest.fixture
def music(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(8):
        sf.write(lib / f"t{i}.wav", tone(200 + 40 * i, 2.0, 8000), 8000)
    return lib


def test_missing_likes_are_listed_and_negatives_follow_the_likes_found(music, tmp_path, capsys):
    (tmp_path / "likes.m3u").write_text("lib/t0.wav\nlib/t1.wav\nlib/gone1.wav\nlib/gone2.wav\n")
    tracks, failed = D.gather(tmp_path / "likes.m3u", None, music, TINY, unlabelled_per_like=2, jobs=1)
    assert "2 of 4 liked tracks not found: " in capsys.readouterr().err
    assert sum(t.label for t in tracks) == 2 and sum(t.source == "unlabelled" for t in tracks) == 4 and not failed


def test_labels_in_memory_train_as_the_same_labels_in_a_csv(music, tmp_path):
    """A retrain hands its judgements over as a dict: the same tracks, labels, weights and signals as the CSV."""
    from pers_rec.players.signals import write_csv

    lib = tmp_path / "lib"
    rows = {str(lib / "t0.wav"): (1, 0.5, "radio:complete"), str(lib / "t1.wav"): (1, 1.0, "serve"),
            str(lib / "t2.wav"): (0, 1.0, "radio:skip")}
    write_csv(tmp_path / "labels.csv", [(p, *v) for p, v in rows.items()])
    from_csv, _ = D.gather(tmp_path / "labels.csv", None, music, TINY, unlabelled_per_like=1, jobs=0)
    in_memory, _ = D.gather(rows, None, music, TINY, unlabelled_per_like=1, jobs=0)
    key = [(t.path, t.label, t.source, t.weight, t.signal) for t in from_csv]
    assert key == [(t.path, t.label, t.source, t.weight, t.signal) for t in in_memory]
    assert {(t.weight, t.signal) for t in in_memory if t.source == "like"} == {(0.5, "radio:complete"), (1.0, "serve")}


def test_no_like_found_names_the_missing_files(tmp_path):
    (tmp_path / "likes.m3u").write_text("a.wav\nb.wav\n")
    with pytest.raises(ParameterError, match=r"no liked track to learn from \(2 of 2 listed tracks not found: .*a.wav"):
        D.labelled_paths(tmp_path / "likes.m3u", None)


def test_a_csv_of_one_star_ratings_is_not_a_likes_list(music, tmp_path):
    (tmp_path / "r.csv").write_text("path,rating\nlib/t0.wav,1\nlib/t1.wav,1\n")
    with pytest.raises(ParameterError, match="holds no like"):
        D.labelled_paths(tmp_path / "r.csv", None)


def test_liked_and_disliked_at_once(music, tmp_path):
    (tmp_path / "l.m3u").write_text("lib/t0.wav\n")
    with pytest.raises(ParameterError, match="both as a like and as a dislike"):
        D.labelled_paths(tmp_path / "l.m3u", tmp_path / "l.m3u")


def test_tags_and_fold_groups_by_album_then_artist(tmp_path):
    def flac(name, **tags):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone(440, 0.5, 8000), 8000, format="FLAC")
        tag(path, **tags)
        return str(path)

    a = flac("x/a.flac", artist="Ann", album="One", title="Song A")
    b = flac("x/b.flac", artist="Bob", album="Two")
    c = flac("y/c.flac")  # untagged: its folder is its album
    d = flac("y/d.flac", artist="Ann", album="One")
    assert D.tags(a) == {"artist": "Ann", "album": "One", "title": "Song A"} and D.tags(c) == {}
    assert D.tags(tmp_path / "missing.flac") == {}
    m = np.zeros((1, 1), np.float32)
    tracks = [D.Track(a, 1, "like", m), D.Track(b, 0, "dislike", m), D.Track(c, 0, "dislike", m), D.Track(d, 1, "like", m)]
    groups, rule = D.fold_groups(tracks)
    assert rule == "album" and groups[0] == groups[3] and len(set(groups)) == 3  # one liked artist: by album
    tracks[1] = D.Track(b, 1, "like", m)
    groups, rule = D.fold_groups(tracks)
    assert rule == "artist" and groups[0] == groups[3] != groups[1] and groups[2][0] == "album"


@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_tags_written_by_synth_are_read_back(tmp_path, ext):
    path = tmp_path / f"a.{ext}"
    sf.write(path, tone(440, 0.5, 8000), 8000)
    tag(path, artist="Ann", album="One", title="Sóng", genre="Flute")
    tag(path, artist="Bob")  # replaces, never duplicates
    assert D.tags(path) == {"artist": "Bob", "album": "One", "title": "Sóng", "genre": "Flute"}
    assert sf.info(path).frames == 4000  # the audio is untouched
