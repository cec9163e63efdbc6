"""End to end through the command line, on tiny generated audio."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import synth
from pers_rec import __version__
from pers_rec.cli import EXIT_NOTHING, EXIT_OK, EXIT_SOME_FAILED, main
from synth.io import write

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
        y = synth.note_sequence(inst, notes, 2.0, 16000, rng, duration=10.0)
        paths.append(write(lib / ("sub" if i % 3 else "") / f"clip{i:02d}.{'flac' if i % 4 == 0 else 'wav'}", y, 16000))
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
    assert report["tracks"]["liked"] == 5 and report["tracks"]["by_source"]["unlabelled"] == 15
    cv = report["cross_validation"]
    assert cv["folds"] == 3 and cv["model"]["roc_auc_mean"] is not None and cv["baseline"]["roc_auc_mean"] is not None
    assert report["feature_config"]["sr"] == 24000 and report["versions"]["backend"] == "tensorflow"


def test_rank_puts_hidden_likes_first(listener, tmp_path, capsys):
    out, m3u = tmp_path / "ranking.csv", tmp_path / "top.m3u"
    code = main(["rank", str(listener["lib"]), "--model", str(listener["model"]), "--out", str(out), "--m3u", str(m3u),
                 "--top", "3", "--cache", str(listener["root"] / "cache"), "--jobs", "2", "--quiet"])
    assert code == EXIT_OK
    df = pd.read_csv(out)
    assert list(df.columns) == ["rank", "score", "path", "duration_s", "n_windows", "best_start_s", "best_end_s", "best_score", "status", "error"]
    assert len(df) == 15  # the 5 liked training tracks are left out
    assert (df["status"] == "ok").all() and list(df["rank"]) == list(range(1, 16))
    assert df["score"].is_monotonic_decreasing and (df["n_windows"] == 3).all()
    y = df["path"].isin(listener["hidden"])
    assert roc_auc_score(y, df["score"]) >= 0.9
    lines = m3u.read_text().splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 7 and lines[2] == df["path"][0]
    assert "ranked 15 tracks" in capsys.readouterr().out


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
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "over 3 windows" in capsys.readouterr().out


def test_bad_input_is_a_clear_error(listener, tmp_path, capsys):
    assert main(["rank", str(tmp_path / "nowhere"), "--model", str(listener["model"])]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["explain", str(tmp_path / "missing.wav"), "--model", str(listener["model"]), "--no-cache"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["train", "--likes", str(listener["root"] / "likes.m3u"), "--model", str(tmp_path / "m.keras"), "--no-cache"]) == 2
    assert "no negatives" in capsys.readouterr().err


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
