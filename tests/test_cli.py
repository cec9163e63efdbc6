"""End to end through the command line, on tiny generated audio."""

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import tag
from sklearn.metrics import roc_auc_score

import synth
from pers_rec.cli import main
from pers_rec.errors import EXIT_NOTHING, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE
from synth.io import write

pytestmark = pytest.mark.slow

OTHERS = ["guitar", "clarinet", "piano", "strings"]


@pytest.fixture(scope="module")
def listener(tmp_path_factory):
    """20 clips of 10 s: 8 flute (the taste), 12 other instruments. 5 flute clips are the known likes."""
    root = tmp_path_factory.mktemp("e2e")
    lib = root / "music"
    rng = np.random.default_rng(0)
    kinds = ["flute"] * 8 + [OTHERS[i % 4] for i in range(12)]
    paths = []
    for i, inst in enumerate(kinds):
        notes = [float(m) for m in rng.integers(55, 79, 5)]
        y = synth.note_sequence(inst, notes, 2.0, 16000, rng, duration_s=10.0)
        paths.append(write(lib / ("sub" if i % 3 else "") / f"clip{i:02d}.{'flac' if i % 4 == 0 else 'wav'}", y, 16000))
        if i % 4 == 0:  # the FLAC clips are tagged: clips 0, 4 by "Ann", 8, 12, 16 by "Bob"
            tag(paths[-1], artist="Ann" if i < 8 else "Bob", album="Synth", title=f"Clip {i}")
    (root / "likes.m3u").write_text("#EXTM3U\n" + "".join(f"music/{p.relative_to(lib).as_posix()}\n" for p in paths[:5]))
    model = root / "taste.keras"
    code = main(["train", "--likes", str(root / "likes.m3u"), "--library", str(lib), "--model", str(model),
                 "--epochs", "8", "--folds", "3", "--cache", str(root / "cache"), "--jobs", "1", "--quiet"])
    return {"root": root, "lib": lib, "paths": paths, "hidden": {str(p.resolve()) for p in paths[5:8]}, "model": model, "code": code}


def test_train_writes_model_report_and_curves(listener):
    assert listener["code"] == EXIT_OK
    model = listener["model"]
    assert model.exists() and model.with_suffix(".png").exists()
    report = json.loads(model.with_suffix(".json").read_text())
    assert sum(t["source"] == "like" for t in report["tracks"]) == 5
    assert sum(t["source"] == "unlabelled" for t in report["tracks"]) == 15
    cv = report["cross_validation"]
    assert cv["folds"] == 3 and cv["model"]["roc_auc_mean"] is not None and cv["baseline"]["roc_auc_mean"] is not None
    assert report["feature_config"]["sr"] == 24000 and report["versions"]["backend"] == "tensorflow"
    from pers_rec.model.teacher import checkpoint_dir

    if checkpoint_dir() is not None:  # the teacher's reference, on the same folds, beside the MFCC baseline
        assert cv["teacher"]["roc_auc_mean"] is not None and len(cv["teacher"]["per_fold"]) == 3


def test_pretrain_then_train_starts_from_the_stored_weights(listener, tmp_path, capsys):
    cache = tmp_path / "cache"
    args = ["pretrain", str(listener["lib"]), "--epochs", "2", "--batch-size", "8", "--cache", str(cache), "--jobs", "1"]
    assert main(args + ["--quiet"]) == EXIT_OK
    out = capsys.readouterr().out
    stored = list((cache / "pretrained").glob("*.npz"))
    assert len(stored) == 1 and "pre-trained cnn_lstm on 20 tracks" in out and "contrastive loss" in out
    info = json.loads(stored[0].with_suffix(".json").read_text())
    assert info["tracks"] == 20 and len(info["losses"]) == 2
    assert main(args + ["--quiet"]) == EXIT_OK and "already pre-trained" in capsys.readouterr().out
    model = tmp_path / "m.keras"
    train = ["train", "--likes", str(listener["root"] / "likes.m3u"), "--library", str(listener["lib"]), "--model",
             str(model), "--epochs", "1", "--folds", "2", "--cache", str(cache), "--jobs", "1"]
    assert main(train + ["--blend", "encoder"]) == EXIT_OK  # the start encoder travels with the model
    out = capsys.readouterr().out
    assert "starting from the library's pre-trained weights" in out
    assert json.loads(model.with_suffix(".json").read_text())["train_config"]["pretrained"] == str(stored[0])
    assert "track score: network stacked with the start encoder's vectors" in out
    assert "reference (the start encoder's own vectors + logistic regression): ROC-AUC" in out
    assert json.loads(model.with_suffix(".json").read_text())["blend"]["chosen"] == "encoder"
    csv_path = tmp_path / "r.csv"
    assert main(["rank", str(listener["lib"]), "--model", str(model), "--out", str(csv_path), "--cache", str(cache),
                 "--jobs", "1", "--quiet"]) == EXIT_OK
    ranked = pd.read_csv(csv_path)
    assert len(ranked) == 15 and (ranked["score"] - ranked["network_score"]).abs().max() > 1e-4
    assert main(train + ["--no-pretrained", "--quiet"]) == EXIT_OK
    assert json.loads(model.with_suffix(".json").read_text())["train_config"]["pretrained"] is None


def test_similar_lists_the_nearest_tracks_without_the_seed(listener, tmp_path, capsys):
    seed = listener["paths"][0]  # a flute clip
    m3u = tmp_path / "near.m3u8"
    code = main(["similar", str(seed), "--library", str(listener["lib"]), "--model", str(listener["model"]), "--n", "7",
                 "--m3u", str(m3u), "--cache", str(listener["root"] / "cache"), "--jobs", "1", "--quiet"])
    assert code == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    rows = [ln.split() for ln in lines if re.match(r"^\s+\d+\s+[-0-9.]+\s+/", ln)]
    assert len(rows) == 7 and [int(r[0]) for r in rows] == list(range(1, 8))
    cos = [float(r[1]) for r in rows]
    assert cos == sorted(cos, reverse=True) and str(seed) not in {r[2] for r in rows}
    assert {r[2] for r in rows} <= {str(p) for p in listener["paths"]}
    assert m3u.read_text().count("#EXTINF:-1,") == 7
    code = main(["similar", str(seed), "--library", str(listener["lib"]), "--model", str(listener["model"]), "--n", "3",
                 "--pooling", "distinctive", "--cache", str(listener["root"] / "cache"), "--jobs", "1", "--quiet"])
    rows = [ln.split() for ln in capsys.readouterr().out.splitlines() if re.match(r"^\s+\d+\s+[-0-9.]+\s+/", ln)]
    assert code == EXIT_OK and len(rows) == 3 and str(seed) not in {r[2] for r in rows}


def test_playlists_continue_and_join_without_repeats(listener, tmp_path, capsys):
    paths, lib, model = listener["paths"], listener["lib"], listener["model"]
    common = ["--library", str(lib), "--model", str(model), "--cache", str(listener["root"] / "cache"), "--jobs", "1",
              "--quiet"]
    m3u, out = tmp_path / "p.m3u8", tmp_path / "p.csv"
    assert main(["playlist", "--seed", str(paths[0]), "--n", "6", "--m3u", str(m3u)] + common) == EXIT_OK
    rows = [re.search(r"\s(/\S+)", ln)[1] for ln in capsys.readouterr().out.splitlines() if re.match(r"^\s*\d+\s", ln)]
    assert len(rows) == 7 and len(set(rows)) == 7 and rows[0] == str(paths[0]) and m3u.read_text().count("#EXTINF") == 7
    assert main(["playlist", "--from", str(paths[0]), "--to", str(paths[12]), "--n", "5", "--csv", str(out)] + common) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["position", "path", "artist", "title", "cosine_to_previous"] and len(df) == 5
    assert df["path"].iloc[0] == str(paths[0]) and df["path"].iloc[-1] == str(paths[12]) and df["path"].is_unique
    assert df["cosine_to_previous"].isna().tolist() == [True, False, False, False, False]
    capsys.readouterr()
    assert main(["playlist", "--from", str(paths[0]), "--n", "5"] + common) == EXIT_USAGE
    assert "--from and --to go together" in capsys.readouterr().err


def test_artist_rules_in_the_ranking_m3u_and_playlists(listener, tmp_path, capsys):
    paths, bob = listener["paths"], {str(listener["paths"][i]) for i in (8, 12, 16)}
    common = ["--model", str(listener["model"]), "--cache", str(listener["root"] / "cache"), "--jobs", "1", "--quiet"]
    m3u = tmp_path / "top.m3u8"
    assert main(["rank", str(listener["lib"]), "--out", str(tmp_path / "r.csv"), "--m3u", str(m3u), "--top", "20",
                 "--min-track-s", "0", "--max-per-artist", "1"] + common) == EXIT_OK
    lines = m3u.read_text().splitlines()
    entries = lines[2::2]
    assert len(entries) == 13 and len(bob & set(entries)) == 1  # 15 ranked, 2 of Bob's 3 held back
    bob_title = lines[lines.index(next(e for e in entries if e in bob)) - 1]
    assert re.match(r"#EXTINF:10,Bob - Clip \d+ \(score 0\.\d{3}\)$", bob_title)
    out = capsys.readouterr().out
    assert "(Bob - Clip" in out  # the printed table names tagged tracks
    assert main(["playlist", "--library", str(listener["lib"]), "--seed", str(paths[0]), "--n", "18",
                 "--max-per-artist", "1", "--csv", str(tmp_path / "p.csv")] + common) == EXIT_OK
    df = pd.read_csv(tmp_path / "p.csv")
    assert len(df) == 17 and (df["artist"] == "Bob").sum() == 1 and str(paths[4]) not in set(df["path"])  # seed is Ann


def test_similar_with_taste_weight_one_follows_the_taste_scores(listener, tmp_path, capsys):
    common = ["--model", str(listener["model"]), "--cache", str(listener["root"] / "cache"), "--jobs", "1", "--quiet"]
    assert main(["rank", str(listener["lib"]), "--out", str(tmp_path / "r.csv"), "--include-liked"] + common) == 0
    scores = pd.read_csv(tmp_path / "r.csv").set_index("path")["score"]
    capsys.readouterr()
    seed = str(listener["paths"][13])
    assert main(["similar", seed, "--library", str(listener["lib"]), "--n", "5", "--taste-weight", "1"] + common) == 0
    rows = [ln.split() for ln in capsys.readouterr().out.splitlines() if re.match(r"^\s+\d+\s+[-0-9.]+\s+[0-9.]+\s+/", ln)]
    assert [r[3] for r in rows] == list(scores.drop(seed).sort_values(ascending=False, kind="stable").index[:5])
    assert [float(r[2]) for r in rows] == pytest.approx(list(scores.drop(seed).sort_values(ascending=False)[:5]), abs=1e-3)
    assert main(["similar", seed, "--library", str(listener["lib"]), "--taste-weight", "0.5", "--quiet"]) == EXIT_USAGE
    assert "--taste-weight needs --model" in capsys.readouterr().err


def test_map_writes_a_page_and_a_png_coloured_by_taste(listener, tmp_path, capsys):
    from test_maps import open_page, page_data

    out = tmp_path / "maps" / "map.html"
    out.parent.mkdir()
    code = main(["map", str(listener["lib"]), "--model", str(listener["model"]), "--out", str(out), "--cache",
                 str(listener["root"] / "cache"), "--jobs", "1", "--quiet"])
    assert code == EXIT_OK and out.with_suffix(".png").stat().st_size > 1000
    assert f"mapped 20 tracks (5 likes, 0 dislikes marked, coloured by taste score) -> {out}" in capsys.readouterr().out
    data = page_data(out.read_text(encoding="utf-8"))
    assert sorted(d["file"] for d in data) == sorted(map(str, listener["paths"]))
    assert sum(d["mark"] == "like" for d in data) == 5 and all(isinstance(d["score"], float) for d in data)
    assert {d["label"] for d in data} >= {"Ann - Clip 0", "Bob - Clip 8"}  # tagged tracks show artist and title
    facts, errors = open_page(out.as_uri())
    assert errors == [] and facts["n"] == 20 and facts["likes"] == 5 and facts["src"].startswith("file:///")


def test_filters_writes_playlists_index_and_kernels(listener, tmp_path, capsys):
    out = tmp_path / "filters"
    code = main(["filters", str(listener["lib"]), "--model", str(listener["model"]), "--out", str(out), "--top", "3",
                 "--cache", str(listener["root"] / "cache"), "--jobs", "1", "--quiet"])
    assert code == EXIT_OK
    assert "analysed 32 filters over 20 tracks: 64 playlists of the top 3" in capsys.readouterr().out
    lists = sorted(out.glob("filter_*.m3u8"))
    assert len(lists) == 64 and (out / "index.md").exists() and (out / "kernels.png").stat().st_size > 10000
    lines = lists[0].read_text().splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 1 + 3 * 4
    starts = [float(x.split("=")[1]) for x in lines if x.startswith("#EXTVLCOPT:start-time=")]
    assert len(starts) == 3 and all(0 <= s_ <= 2 for s_ in starts)  # 10 s clips: windows start at 0, 1 or 2 s
    assert set(lines[4::4]) <= {str(p) for p in listener["paths"]}
    index = (out / "index.md").read_text()
    assert index.count("## Filter ") == 32 and "filter_31_mean.m3u8" in index
    assert main(["filters", str(listener["lib"]), "--out", str(lists[0]), "--quiet"]) == EXIT_USAGE
    assert "not a folder" in capsys.readouterr().err


def test_genre_model_from_a_csv_column_then_rank_writes_genres(listener, tmp_path, capsys):
    lib, paths = listener["lib"], listener["paths"]
    rows = "".join(f"{p.relative_to(lib).as_posix()},{'flute' if i < 8 else OTHERS[(i - 8) % 4]}\n"
                   for i, p in enumerate(paths))
    (lib.parent / "genres.csv").write_text("path,lead\n" + "".join("music/" + r for r in rows.splitlines(True)))
    model = tmp_path / "genre.keras"
    common = ["--cache", str(listener["root"] / "cache"), "--jobs", "1", "--quiet"]
    code = main(["train", "--target", "genre", "--library", str(lib), "--genres", str(lib.parent / "genres.csv"),
                 "--genre-column", "lead", "--model", str(model), "--epochs", "2", "--folds", "3"] + common)
    out = capsys.readouterr().out
    assert code == EXIT_OK and "trained a 5-genre cnn_lstm model on 20 tracks" in out and "baseline" in out
    report = json.loads(model.with_suffix(".json").read_text())
    assert report["classes"] == ["clarinet", "flute", "guitar", "piano", "strings"]
    assert report["counts"] == {"clarinet": 3, "flute": 8, "guitar": 3, "piano": 3, "strings": 3}
    assert np.array(report["network"]["confusion"]).sum() == 20 and np.array(report["baseline"]["confusion"]).sum() == 20
    assert model.with_suffix(".png").exists()
    assert main(["rank", str(lib), "--model", str(model), "--out", str(tmp_path / "g.csv")] + common) == EXIT_OK
    df = pd.read_csv(tmp_path / "g.csv")
    assert len(df) == 20 and set(df["genre"]) <= set(report["classes"])
    assert np.allclose(df["genre_probability"], df["score"]) and (df["score"] > 0.2).all()  # max of 5 >= 1/5
    out = tmp_path / "genres.html"
    assert main(["map", str(lib), "--model", str(model), "--out", str(out)] + common) == EXIT_OK
    assert "coloured by predicted genre" in capsys.readouterr().out
    from test_maps import page_data

    data = page_data(out.read_text(encoding="utf-8"))
    by_path = df.set_index("path")["genre"]
    assert all(d["genre"] == by_path[d["file"]] for d in data)
    assert len({d["colour"] for d in data}) == len(set(by_path))  # one colour per predicted genre
    png = tmp_path / "why.png"
    assert main(["explain", str(paths[0]), "--model", str(model), "--out", str(png), "--cache",
                 str(listener["root"] / "cache")]) == EXIT_OK and png.exists()
    row = df.set_index("path").loc[str(paths[0])]
    assert f"score {row['score']:.3f}" in capsys.readouterr().out  # the predicted genre's probability, as in rank
    seed = str(paths[0])
    assert main(["similar", seed, "--library", str(lib), "--model", str(model), "--taste-weight", "0.5"] + common) == 2
    assert "--taste-weight needs a taste model; this is a genre model" in capsys.readouterr().err
    capsys.readouterr()
    bad = ["train", "--target", "genre", "--model", str(tmp_path / "x.keras")]
    assert main(bad) == EXIT_USAGE and "--target genre needs --library" in capsys.readouterr().err
    assert main(bad + ["--library", str(lib), "--genres", str(lib.parent / "genres.csv")]) == EXIT_USAGE
    assert "no 'genre' column (columns: path, lead)" in capsys.readouterr().err
    assert main(bad + ["--library", str(lib)] + common) == EXIT_USAGE  # no genre tags: says how many have one
    assert "0 of 20 tracks have a genre (genre tags)" in capsys.readouterr().err
    assert main(["train", "--model", str(tmp_path / "x.keras")]) == EXIT_USAGE
    assert "train needs --likes" in capsys.readouterr().err


def test_similar_without_pretraining_uses_the_shipped_encoder(listener, tmp_path, capsys, monkeypatch):
    args = ["similar", str(listener["paths"][0]), "--library", str(listener["lib"]), "--cache", str(tmp_path),
            "--jobs", "1", "--quiet", "--n", "3"]
    assert main(args) == EXIT_OK  # a fresh install: no pretrain, no teacher, still an answer
    assert "3 tracks nearest clip00.flac" in capsys.readouterr().out
    from pers_rec.learn import pretrain

    monkeypatch.setattr(pretrain, "SHIPPED", tmp_path / "none.npz")  # without it: one line saying what to do
    assert main(args) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "pers-rec pretrain" in err and len(err.strip().splitlines()) == 1


def test_rank_puts_hidden_likes_first(listener, tmp_path, capsys):
    out, m3u = tmp_path / "ranking.csv", tmp_path / "top.m3u8"
    code = main(["rank", str(listener["lib"]), "--model", str(listener["model"]), "--out", str(out), "--m3u", str(m3u),
                 "--top", "3", "--min-track-s", "0", "--cache", str(listener["root"] / "cache"), "--jobs", "2", "--quiet"])
    assert code == EXIT_OK
    df = pd.read_csv(out)
    assert list(df.columns) == ["rank", "score", "path", "artist", "album", "title", "duration_s", "n_windows", "best_start_s", "best_end_s",
                                "best_score", "short", "network_score", "genre", "genre_probability", "status", "error"]
    assert len(df) == 15  # the 5 liked training tracks are left out
    assert (df["status"] == "ok").all() and list(df["rank"]) == list(range(1, 16))
    assert df["score"].is_monotonic_decreasing and (df["n_windows"] == 3).all()
    by_path = pd.read_csv(out, keep_default_na=False).set_index("path")
    assert by_path.loc[str(listener["paths"][8]), ["artist", "album", "title"]].tolist() == ["Bob", "Synth", "Clip 8"]
    assert by_path.loc[str(listener["paths"][5]), ["artist", "album", "title"]].tolist() == ["", "", ""]
    y = df["path"].isin(listener["hidden"])
    assert roc_auc_score(y, df["score"]) >= 0.9
    lines = m3u.read_text().splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 7 and lines[2] == df["path"][0]
    assert "ranked 15 tracks" in capsys.readouterr().out
    code = main(["rank", str(listener["lib"]), "--model", str(listener["model"]), "--out", str(out), "--m3u", str(m3u),
                 "--cache", str(listener["root"] / "cache"), "-q"])  # default --min-track-s 30: 10 s clips stay out
    assert code == EXIT_OK and m3u.read_text() == "#EXTM3U\n"


def test_include_liked(listener, tmp_path):
    out = tmp_path / "all.csv"
    main(["rank", str(listener["lib"]), "--model", str(listener["model"]), "--out", str(out), "--include-liked",
          "--cache", str(listener["root"] / "cache"), "--jobs", "1", "-q"])
    assert len(pd.read_csv(out)) == 20


def test_a_corrupt_file_does_not_stop_the_run(listener, tmp_path, capsys):
    lib = tmp_path / "lib"
    lib.mkdir()
    for p in listener["paths"][10:13]:
        (lib / p.name).write_bytes(p.read_bytes())
    (lib / "broken.mp3").write_text("definitely not an mp3")
    (lib / "empty.wav").write_bytes(b"")
    out = tmp_path / "r.csv"
    code = main(["rank", str(lib), "--model", str(listener["model"]), "--out", str(out), "--no-cache", "--jobs", "1", "-q"])
    assert code == EXIT_SOME_FAILED
    df = pd.read_csv(out)
    assert list(df["status"]) == ["ok"] * 3 + ["error"] * 2 and list(df["rank"][:3]) == [1, 2, 3]
    assert re.search(r",10\.0,3,\d+\.\d,", out.read_text())  # n_windows stays an integer beside error rows
    errors = dict(zip(df["path"].map(lambda p: p.rsplit("/", 1)[-1]), df["error"]))
    assert errors["broken.mp3"].startswith("DecodeError") and errors["empty.wav"].startswith("EmptyFileError")
    assert "broken.mp3" in capsys.readouterr().err


def test_nothing_rankable(listener, tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "x.wav").write_text("nope")
    assert main(["rank", str(tmp_path / "lib"), "--model", str(listener["model"]), "--out", str(tmp_path / "r.csv"),
                 "--no-cache", "-q", "--jobs", "1"]) == EXIT_NOTHING
    (tmp_path / "empty").mkdir()
    assert main(["rank", str(tmp_path / "empty"), "--model", str(listener["model"]), "-q"]) == EXIT_NOTHING


def test_explain_plots_a_timeline(listener, tmp_path, capsys):
    out = tmp_path / "why.png"
    assert main(["explain", str(listener["paths"][6]), "--model", str(listener["model"]), "--out", str(out), "--no-cache"]) == EXIT_OK
    import matplotlib.image

    img = matplotlib.image.imread(out)
    assert img.shape[1] > 500 and img.std() > 0.05  # a drawn figure, not a blank page
    assert "over 3 windows" in capsys.readouterr().out


def test_bad_input_is_a_clear_error(listener, tmp_path, capsys):
    assert main(["rank", str(tmp_path / "nowhere"), "--model", str(listener["model"])]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["explain", str(tmp_path / "missing.wav"), "--model", str(listener["model"]), "--no-cache"]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "junk.wav").write_text("junk")
    assert main(["explain", str(tmp_path / "junk.wav"), "--model", str(listener["model"]), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "junk.wav" in err and "not a readable audio file" in err
    assert main(["train", "--likes", str(listener["root"] / "likes.m3u"), "--model", str(tmp_path / "m.keras"), "--no-cache"]) == 2
    assert "no negatives" in capsys.readouterr().err


def _wav(path, y, sr=16000, **kw):
    import soundfile as sf

    sf.write(path, y, sr, **kw)


def _song(seconds=10.0, sr=16000, seed=0):
    rng = np.random.default_rng(seed)
    return synth.note_sequence("flute", [float(m) for m in rng.integers(60, 72, 5)], 2.0, sr, rng, duration_s=seconds)


def _corpus(root):
    """Bad and odd files, each with the status its row must have (ok or the error type)."""
    import os
    import struct

    from conftest import write_m4a

    lib = root / "corpus"
    lib.mkdir()
    y = _song()
    b = os.fsencode(lib)
    expect = {}

    def add(name, status, make):
        make(lib / name)
        expect[name] = status

    add("ok.wav", "ok", lambda p: _wav(p, y))
    add("ok.flac", "ok", lambda p: _wav(p, y))
    add("ok.ogg", "ok", lambda p: _wav(p, y, format="OGG", subtype="VORBIS"))
    add("ok.mp3", "ok", lambda p: write(p, y, 16000))
    add("ok.m4a", "ok", lambda p: write_m4a(p, y, 16000))
    add("ok.aiff", "ok", lambda p: _wav(p, y))
    add("ok_upper.WAV", "ok", lambda p: _wav(p, y))
    add("stereo.wav", "ok", lambda p: _wav(p, np.stack([y, y[::-1]], 1)))
    add("six_channels.wav", "ok", lambda p: _wav(p, np.tile(y[:, None], (1, 6)) / 6))
    add("rate_8k.wav", "ok", lambda p: _wav(p, _song(sr=8000), 8000))
    add("rate_96k.wav", "ok", lambda p: _wav(p, _song(sr=96000), 96000))
    add("pcm24.wav", "ok", lambda p: _wav(p, y, subtype="PCM_24"))
    add("pcm8.wav", "ok", lambda p: _wav(p, y, subtype="PCM_U8"))
    add("float.wav", "ok", lambda p: _wav(p, y, subtype="FLOAT"))
    add("short_3s.wav", "ok", lambda p: _wav(p, y[: 3 * 16000]))
    add("noise_3s.wav", "ok", lambda p: _wav(p, np.random.default_rng(1).uniform(-0.5, 0.5, 48000)))
    add("truncated.mp3", "ok", lambda p: (write(p, y, 16000), p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])))
    add("comma, \"quoted\".wav", "ok", lambda p: _wav(p, y))
    add("ümlaut ✓ 日本.wav", "ok", lambda p: _wav(p, y))
    add("too_short.wav", "TooShortError", lambda p: _wav(p, y[:8000]))
    add("empty.wav", "EmptyFileError", lambda p: p.write_bytes(b""))
    add("text.mp3", "DecodeError", lambda p: p.write_text("not music at all"))
    add("random.wav", "DecodeError", lambda p: p.write_bytes(np.random.default_rng(2).bytes(5000)))
    add("random.ogg", "DecodeError", lambda p: p.write_bytes(np.random.default_rng(3).bytes(5000)))
    add("truncated.wav", "CorruptFileError", lambda p: (_wav(p, y), p.write_bytes(p.read_bytes()[:20000])))
    add("truncated.aiff", "CorruptFileError", lambda p: (_wav(p, y), p.write_bytes(p.read_bytes()[:20000])))
    add("corrupt.flac", "CorruptFileError", lambda p: (_wav(p, y), p.write_bytes(p.read_bytes()[:3000] + b"\xff" * 30000)))
    add("header_only.wav", "NoAudioError", lambda p: _wav(p, np.zeros(0, np.float32)))
    add("silent.wav", "SilentAudioError", lambda p: _wav(p, np.zeros(16000 * 10, np.float32)))
    add("dc_only.wav", "SilentAudioError", lambda p: _wav(p, np.full(16000 * 10, 0.3, np.float32)))
    add("nan.wav", "InvalidSamplesError", lambda p: _wav(p, np.where(np.arange(len(y)) == 5000, np.nan, y), subtype="FLOAT"))
    add("inf.wav", "InvalidSamplesError", lambda p: _wav(p, np.where(np.arange(len(y)) == 5000, np.inf, y), subtype="FLOAT"))
    add("huge_values.wav", "InvalidSamplesError", lambda p: _wav(p, y * 1e20, subtype="FLOAT"))
    add("rate_1hz.wav", "CorruptFileError", lambda p: (_wav(p, y[:40000]), p.write_bytes(
        p.read_bytes()[:24] + struct.pack("<II", 1, 2) + p.read_bytes()[32:])))
    add("fifo.wav", "NotAFileError", lambda p: os.mkfifo(p))
    add("dangling.wav", "AudioFileNotFoundError", lambda p: os.symlink(lib / "nowhere.wav", p))
    add("loop_a.wav", "AudioFileNotFoundError", lambda p: (os.symlink(lib / "loop_b.wav", p), os.symlink(p, lib / "loop_b.wav")))
    expect["loop_b.wav"] = "AudioFileNotFoundError"
    for raw, status in ((b"bytes_\xff\xfe.wav", "ok"), (b"new\nline.wav", "ok"), (b"carriage\rreturn.wav", "ok")):
        _wav(b + b"/" + raw, y)
        expect[os.fsdecode(raw)] = status
    os.symlink(lib, lib / "self_link")  # a folder linking to itself: no loop, no duplicates
    os.symlink(lib / "ok.wav", lib / "alias_of_ok.wav")  # the same file twice: listed once
    (lib / "notes.txt").write_text("not audio by extension: no row")
    (lib / ".hidden.wav").write_bytes(b"hidden: no row")
    return lib, expect


def test_bad_input_corpus_end_to_end(listener, tmp_path):
    """Over 40 kinds of bad and odd files: one row each, with the expected status, and every other output intact."""
    import os

    lib, expect = _corpus(tmp_path)
    assert len(expect) >= 40
    out, m3u = tmp_path / "r.csv", tmp_path / "top.m3u8"
    code = main(["rank", str(lib), "--model", str(listener["model"]), "--out", str(out), "--m3u", str(m3u),
                 "--min-track-s", "5", "--cache", str(tmp_path / "cache"), "--jobs", "2", "-q"])
    assert code == EXIT_SOME_FAILED
    import csv

    with open(out, newline="", encoding="utf-8", errors="surrogateescape") as f:  # names are bytes on POSIX
        rows = list(csv.DictReader(f))
    got = {os.path.basename(r["path"]): r["status"] if r["status"] == "ok" else r["error"].split(":")[0] for r in rows}
    assert len(rows) == len(got)  # one row per real file: no duplicates through links
    if "alias_of_ok.wav" in got:  # scanning keeps one of the two names of that file
        got["ok.wav"] = got.pop("alias_of_ok.wav")
    assert got == expect
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(np.isfinite(float(r["score"])) for r in ok) and all(r["n_windows"].isdigit() for r in ok)
    short = {os.path.basename(r["path"]): r["short"] for r in ok}
    assert short["short_3s.wav"] == "True" and short.get("ok.wav", short.get("alias_of_ok.wav")) == "False"
    from pers_rec.players.playlists import read_labelled

    listed = {os.path.basename(p) for p, _ in read_labelled(m3u, 1)}
    assert "short_3s.wav" not in listed and "noise_3s.wav" not in listed and "new\nline.wav" in listed
    again = main(["rank", str(lib), "--model", str(listener["model"]), "--out", str(tmp_path / "r2.csv"),
                  "--cache", str(tmp_path / "cache"), "--jobs", "1", "-q"])  # from the cache: the same rows
    assert again == EXIT_SOME_FAILED and (tmp_path / "r2.csv").read_bytes() == out.read_bytes()


def test_a_closed_stdout_drops_output_but_finishes_the_work(listener, tmp_path):
    out = tmp_path / "r.csv"
    cmd = (f"{sys.executable} -m pers_rec.cli rank {listener['lib']} --model {listener['model']} --out {out} "
           f"--cache {listener['root'] / 'cache'} --jobs 1 -q | head -c 1")
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and len(pd.read_csv(out)) == 15
    assert "pers-rec:" not in proc.stderr and "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
