"""The demo end to end on a small library, in a relative output folder as `make demo` uses."""

import json

import pytest

from pers_rec.cli import demo

pytestmark = pytest.mark.slow


def test_demo_small_library_relative_out(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    summary = demo.run("out", n_tracks=16, duration_s=9.0, max_epochs=8, folds=2, jobs=1)
    assert summary["tracks"] == 16 and summary["liked"] == 2 and summary["hidden_likes"] == 2
    assert summary["ranked"] == 14 and summary["heldout_roc_auc"] >= 0.9  # the 2 hidden flute songs rank high
    for name in ("model.keras", "model.json", "model.png", "ranking.csv", "top.m3u8", "explain_top.png", "demo_summary.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "out" / "demo_summary.json").read_text())["ranked"] == 14
    assert "Top 10 of 14 unliked tracks" in capsys.readouterr().out
    import pandas as pd

    ranking = pd.read_csv(tmp_path / "out" / "ranking.csv")
    assert set(ranking["artist"]) <= set(demo.ARTISTS) and ranking["title"].str.startswith("Song ").all()
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "library").iterdir()}
    demo.make_library(tmp_path / "out" / "library", 16, 9.0, 0)  # a re-run rewrites nothing (cached features stay)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "library").iterdir()} == mtimes
