"""The library's end-to-end workflows: train from a listener's lists to a model, report and curves; rank to a
table and a playlist, the liked tracks left out unless asked for."""

import json

import pandas as pd
import pytest
import soundfile as sf
from conftest import tone
from helpers import TINY, TINY_M

from pers_rec.config import ModelConfig, TrainConfig
from pers_rec.library.workflows import TrainOutputs, rank_to_files, train_to_files
from pers_rec.model import checkpoint

pytestmark = pytest.mark.slow


def test_train_then_rank_to_files(tmp_path):
    music = tmp_path / "music"
    paths = []
    for i in range(8):
        p = music / f"a{i % 4}" / f"s{i}.flac"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, tone(220 * (1 + i % 2), 9.0, 8000) + 0.05 * tone(97 * (i + 1), 9.0, 8000), 8000)
        paths.append(p)
    likes = tmp_path / "likes.m3u"
    likes.write_text("".join(f"{p}\n" for p in paths[:4:2]))
    said = []
    out = TrainOutputs.beside(tmp_path / "taste.keras")
    saved = train_to_files(likes, None, music, out, TINY, ModelConfig(**TINY_M), TrainConfig(max_epochs=1, folds=2),
                           jobs=0, log=said.append)
    assert out.model.is_file() and out.curves.is_file()
    report = json.loads(out.report.read_text())
    assert sorted(t["path"] for t in report["tracks"] if t["source"] == "like") == sorted(str(p) for p in paths[:4:2])
    assert checkpoint.load(out.model, runtime="light").cfg == TINY and saved.report is not None
    ranked = rank_to_files(paths, saved, out_csv=tmp_path / "r.csv", m3u=tmp_path / "top.m3u8", top=3, min_track_s=0,
                           jobs=0)
    table = pd.read_csv(tmp_path / "r.csv")
    assert len(ranked) == len(table) == 6 and str(paths[0]) not in set(table["path"])  # the likes left out
    assert (tmp_path / "top.m3u8").read_text().count(".flac") == 3
    everything = rank_to_files(paths, saved, out_csv=tmp_path / "all.csv", include_liked=True, jobs=0)
    assert len(everything) == 8


def test_vectors_and_scores_in_one_pass_equal_the_two_passes(tmp_path, monkeypatch):
    """The model's own encoder: the vectors and the ranking come from one trunk pass (the embedder never runs its
    trunk) and equal ``embed.vectors`` and ``rank.rank`` run apart; another encoder takes two passes."""
    import numpy as np
    from helpers import saved_model

    from pers_rec.library import embed, rank
    from pers_rec.library.workflows import vectors_and_scores

    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"t{i}.wav"))
        sf.write(paths[-1], tone(250 + 70 * i, 6.0 + 5 * i, 8000), 8000)
    (tmp_path / "bad.wav").write_text("no")
    paths.append(str(tmp_path / "bad.wav"))
    saved = saved_model(TINY, members=2)
    own, other = embed.Embedder(saved), embed.Embedder(saved_model(TINY, seed=3))
    ok0, V0, _, _ = embed.vectors(paths, own, jobs=0)
    df0 = rank.rank(paths, saved, jobs=0)
    window_steps = embed.Embedder.window_steps
    calls = []
    monkeypatch.setattr(embed.Embedder, "window_steps", lambda self, M: calls.append(1) or window_steps(self, M))
    ok, V, failed, df = vectors_and_scores(paths, saved, own, jobs=0)
    assert calls == [] and ok == ok0 == paths[:3] and df.equals(df0)
    np.testing.assert_allclose(V, V0, atol=2e-3, rtol=0)
    assert [(p, type(e).__name__) for p, e in failed] == [(paths[3], "DecodeError")] and failed[0][1].reason
    ok, V, failed, df = vectors_and_scores(paths, saved, other, jobs=0)
    assert len(calls) == 3 and ok == paths[:3] and df.equals(df0) and len(failed) == 1
