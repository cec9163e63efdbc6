"""The Python API: ``import pers_rec`` is cheap and changes nothing, and docs/python.md's session runs as written."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import pers_rec

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_name_resolves_to_what_its_docs_promise():
    from pers_rec import config
    from pers_rec.audio import features, scan
    from pers_rec.library import embed, rank
    from pers_rec.model import checkpoint, scoring

    assert pers_rec.scan_folder is scan.scan and pers_rec.extract_features is features.extract
    assert pers_rec.load_model is checkpoint.load and pers_rec.Scorer is scoring.Scorer
    assert pers_rec.rank_files is rank.rank and pers_rec.explain_track is rank.explain
    from pers_rec.library import workflows

    assert pers_rec.train_to_files is workflows.train_to_files and pers_rec.rank_to_files is workflows.rank_to_files
    assert pers_rec.vectors_and_scores is workflows.vectors_and_scores
    assert pers_rec.embed_files is embed.vectors and pers_rec.FeatureConfig is config.FeatureConfig
    assert set(pers_rec.__all__) <= set(dir(pers_rec))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pers_rec.nope  # noqa: B018


_PROBE = """
import io, os, sys
env, stderr, stdout = dict(os.environ), sys.stderr, sys.stdout
import matplotlib
backend = dict.__getitem__(matplotlib.rcParams, "backend")  # as set, without resolving it (that imports pyplot)
import pers_rec
heavy = sorted(m for m in ("keras", "tensorflow", "librosa", "matplotlib.pyplot", "sklearn") if m in sys.modules)
assert heavy == [], heavy
assert dict(os.environ) == env and sys.stderr is stderr and sys.stdout is stdout
# drawing a figure through pers_rec switches no backend and opens no pyplot figure
import numpy as np
from pers_rec.config import FeatureConfig
from pers_rec.model.report import plot_explain
from pers_rec.model.scoring import summarize
cfg = FeatureConfig()
s = summarize(np.linspace(0, 1, 5), cfg, 12.0)
plot_explain(np.zeros((12 * cfg.fps, cfg.n_features), np.float32), s, cfg, "t", sys.argv[1])
assert dict.__getitem__(matplotlib.rcParams, "backend") == backend  # no backend switched
if "matplotlib.pyplot" in sys.modules:  # TensorFlow imports pyplot itself; pers_rec leaves no figure open in it
    assert sys.modules["matplotlib.pyplot"].get_fignums() == []
print("clean")
"""


def test_import_pers_rec_changes_no_global_state(tmp_path):
    out = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path / "x.png")], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "clean", out.stderr[-2000:]


@pytest.mark.slow
def test_the_notebook_session_in_docs_runs(tmp_path, monkeypatch):
    text = (ROOT / "docs" / "python.md").read_text()
    code = re.search(r"## A notebook session.*?```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/python.md", "exec"), {"__name__": "notebook"})
    assert (tmp_path / "taste.keras").exists()
