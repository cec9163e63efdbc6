"""The staged experiments run end to end on tiny settings, and their tables come from their own numbers."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_quick_run_writes_every_table_and_figure(tmp_path):
    out = subprocess.run([sys.executable, "-m", "experiments", "all", "--quick", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    for name in ["stages.md", "stages.json", "exp1.md", "exp1_filters.png", "exp1_activations.png",
                 "exp1_tone_response.png", "exp2.md", "exp2.json", "exp2_tolerance.png", "settings.md"]:
        assert (tmp_path / name).stat().st_size > 0, name
    stages = json.loads((tmp_path / "stages.json").read_text())
    assert sorted(stages, key=int) == [str(k) for k in range(1, 9)]
    table = (tmp_path / "stages.md").read_text()
    acc = stages["8"]["cnn_lstm"]["acc"]
    assert f"{np.mean(acc):.3f} ± {np.std(acc):.3f}" in table.splitlines()[-1]
    exp2 = json.loads((tmp_path / "exp2.json").read_text())
    row = next(line for line in (tmp_path / "exp2.md").read_text().splitlines() if line.startswith("| B->A |"))
    assert row.startswith("| B->A | 0.000 | 0.002 |")  # the seed's columns beside ours
    assert f"{np.mean(exp2['cnn_gpool']['rows']['B->A']):.3f}" in row
    assert "Run time" in (tmp_path / "settings.md").read_text()


def test_realmusic_identity_compares_every_figure_and_names_what_differs(tmp_path):
    from experiments.realmusic_identity import main

    run = {"task": "t", "variant": "cnn_lstm+shipped", "seed": 0, "train_s": 50.0, "rank_s": 1.0,
           "default": {"roc_auc": 0.75, "ap": 0.5}, "network": {"roc_auc": 0.75}, "blend_chosen": "network",
           "epochs": 8, "cv_roc_auc": 0.8}
    for side, changes in (("before", {}), ("after", {"train_s": 70.0})):  # a timing is not a figure
        (tmp_path / side).mkdir()
        (tmp_path / side / "realmusic_runs.jsonl").write_text(json.dumps({**run, **changes}) + "\n")
    args = ["--before", "abc", "--after", "def", "--compare-only", "--work", str(tmp_path), "--out", str(tmp_path)]
    assert main(args) == 0
    assert "Every figure identical" in (tmp_path / "realmusic_identity.md").read_text()
    (tmp_path / "after" / "realmusic_runs.jsonl").write_text(json.dumps({**run, "epochs": 9}) + "\n")
    assert main(args) == 1
    md = (tmp_path / "realmusic_identity.md").read_text()
    assert "| t | cnn_lstm+shipped | 0 | no: epochs |" in md and "Some figures differ" in md


def test_distill_sweep_tabulates_every_run_and_judges_the_best_against_the_targets(tmp_path):
    from experiments.distill_sweep import main

    def run(name, filters, r2, cos, n_mfcc=20):
        m = {"r2": r2, "cos_window": cos - 0.05, "cos_track": cos}
        (tmp_path / f"{name}.json").write_text(json.dumps({
            "env": {"date": "2026-12-03"}, "held_out": ["freecol"], "hours": {"train": 25.0}, "losses": [0.5, 0.4],
            "args": {"filters": filters, "lstm": filters, "epochs": 40, "no_augment": False, "n_mfcc": n_mfcc},
            "results": {"student, its own head (200-d)": m, f"new student, ridge probe ({filters}-d)": m,
                        "MFCC window statistics, ridge probe (40-d)": {"r2": 0.02, "cos_window": 0.44,
                                                                       "cos_track": 0.47}}}))

    run("distill_dense_a", 32, 0.15, 0.69)
    run("distill_dense_b", 32, 0.52, 0.71, n_mfcc=40)
    (tmp_path / "other.json").write_text("{}")
    assert main(["--results", str(tmp_path), "--out", str(tmp_path)]) == 0
    md = (tmp_path / "distill.md").read_text()
    assert "| distill_dense_b | 32 | 32 | 40 | 40 | yes | 25.0 | 0.400 | 0.520 | 0.660 | 0.710 |" in md
    assert "Best run by probe R^2: `distill_dense_b`: R^2 0.520 (target 0.5: met)" in md
    assert "(target 0.7: per window missed by 0.040, per track met)" in md
    assert json.loads((tmp_path / "distill.json").read_text())["best"] == "distill_dense_b"
