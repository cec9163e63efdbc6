"""Retraining shared by serve and the radio: the models kept (current, previous, a worse candidate), a real retrain
filed by its cross-validated score, and the background retrainer (a threshold, never two at once, a failure said)."""

import threading
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import tone
from helpers import TINY, saved_model

from pers_rec.library.retrain import Background, Versions, retrain
from pers_rec.model import checkpoint


def test_model_versions_swap_keep_at_most_three_and_survive_a_tampered_state(tmp_path):
    v = Versions(tmp_path / "models")

    def new():
        p = v.new_path()
        p.write_bytes(b"model")
        return p

    first = new()
    assert first.name == "0001.keras" and v.accept(first, better=True) == "current"
    assert (v.state.current, v.state.previous) == ("0001.keras", "start")
    worse = new()
    assert v.accept(worse, better=False) == "candidate" and v.state.current == "0001.keras"
    v.use("previous")  # back to the --model, one click
    assert (v.state.current, v.state.previous, v.state.candidate) == (None, "0001.keras", "0002.keras")
    v.use("previous")  # and forth again
    assert (v.state.current, v.state.previous) == ("0001.keras", "start")
    v.use("candidate")
    assert (v.state.current, v.state.previous, v.state.candidate) == ("0002.keras", "0001.keras", None)
    third = new()
    v.accept(third, better=True)
    assert sorted(p.name for p in (tmp_path / "models").glob("*.keras")) == ["0002.keras", "0003.keras"]
    assert Versions(tmp_path / "models").state == v.state  # a restart reads the same state
    with pytest.raises(LookupError):
        v.use("candidate")
    (tmp_path / "models" / "state.json").write_text('{"current": "../../etc/passwd", "previous": 5}')
    assert Versions(tmp_path / "models").state.current is None  # a tampered state names nothing
    (tmp_path / "models" / "state.json").write_text("[[[")
    assert Versions(tmp_path / "models").path("current") is None


def songs(root, n=8):
    paths = []
    for i in range(n):
        p = root / "music" / f"a{i % 4}" / f"s{i}.flac"
        p.parent.mkdir(parents=True, exist_ok=True)
        y = tone(220 * (1 + i % 2), 9.0, 8000) + 0.05 * tone(97 * (i + 1), 9.0, 8000)
        sf.write(p, y, 8000)
        paths.append(str(p))
    return paths


def job_for(tmp_path, paths, rows, model):
    return {"paths": paths, "root": str(tmp_path / "music"), "cache_dir": str(tmp_path / "cache"), "rows": rows,
            "model": str(model) if model else None, "models": str(tmp_path / "home" / "models"),
            "options": {"max_epochs": 1, "folds": 2}, "old_auc": None}


def test_the_background_retrainer_waits_for_its_threshold_runs_one_at_a_time_and_says_a_failure(tmp_path):
    results, finished = [], threading.Event()

    def done(path, role, auc):
        results.append((path, role, auc))
        finished.set()

    bg = Background(3, lambda: job_for(tmp_path, [], {}, None), done, count_now=10)
    assert not bg.check(12)  # 2 new labels: not yet
    assert bg.check(13) and bg.running.is_set()
    assert not bg.check(40)  # one at a time
    assert finished.wait(120)
    path, reason, _ = results[0]
    assert path is None and "at least 2 liked" in reason  # nothing to learn from: said, in one line
    for _ in range(50):
        if not bg.running.is_set():
            break
        time.sleep(0.1)
    assert not bg.running.is_set() and bg.runs == 1 and bg.check(16) and finished.wait(120)
    assert Background(0, None, None).check(10**6) is False  # 0: never


@pytest.mark.slow
def test_a_retrain_in_a_child_process_is_filed_and_ranks(tmp_path):
    paths = songs(tmp_path)
    start = tmp_path / "start.keras"
    checkpoint.save(start, saved_model(TINY))
    rows = {paths[0]: (1, 1.0, "serve"), paths[2]: (1, 0.5, "radio:complete"), paths[1]: (0, 1.0, "radio:skip")}
    got, finished = [], threading.Event()
    bg = Background(1, lambda: job_for(tmp_path, paths, rows, start), lambda *r: (got.append(r), finished.set()))
    assert bg.check(1) and finished.wait(300)
    path, role, auc = got[0]
    assert path is not None and path.is_file() and role == "current" and path.parent.name == "models"
    assert Versions(path.parent).state.current == path.name
    saved = checkpoint.load(path, runtime="light")
    assert saved.cfg == TINY and saved.report is not None  # the start model's settings, and a report
    assert {t.path for t in saved.report.tracks if t.source in ("like", "dislike")} == {paths[0], paths[1], paths[2]}
    weights = {t.path: t.weight for t in saved.report.tracks if t.source == "like"}
    assert weights[paths[2]] == pytest.approx(0.5)  # a completion counts half
    again = retrain(paths, tmp_path / "music", tmp_path / "cache", rows, saved, Versions(path.parent),
                    {"max_epochs": 1, "folds": 2}, old_auc=2.0)  # nothing beats 2.0: a candidate
    assert again[2] == "candidate" and Versions(path.parent).state.candidate == again[1].name
    assert np.isfinite(again[3]) or again[3] is None
