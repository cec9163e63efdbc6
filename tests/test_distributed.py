"""``--engine ray`` on a local Ray cluster started by the test: the same ranking and features as the local engine."""

import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import tone
from helpers import TINY, saved_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_cluster():
    if os.environ.get("CI"):
        import ray  # noqa: F401 (an optional extra, but `make test` installs it: missing it fails under CI)
    else:
        pytest.importorskip("ray", reason="Ray not installed (pip install 'pers_rec[ray]')")
    from pers_rec.library import distributed as Dd

    ray = Dd.start(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("raylib")
    music = root / "music"
    music.mkdir()
    for i in range(7):
        y = tone(110 * (i + 1), 10.0, 8000) + 0.2 * tone(61 * (i + 3), 10.0, 8000)
        sf.write(music / f"t{i}.flac", y.astype(np.float32), 8000)
    (music / "broken.mp3").write_bytes(b"not audio at all" * 50)
    model = root / "m.keras"
    from pers_rec.model.checkpoint import save

    save(model, saved_model(TINY))
    return music, model


def teacher_stacked_model(music, folder):
    """A tiny model trained on the fixture's library that stacks the teacher's score (``--blend teacher``), or None
    where musicnn's weights are not installed (they are under ``make test``)."""
    from dataclasses import replace

    from helpers import TINY_M

    from pers_rec.config import ModelConfig, TrainConfig
    from pers_rec.learn import train
    from pers_rec.learn.dataset import gather
    from pers_rec.model import teacher
    from pers_rec.model.checkpoint import save

    if teacher.checkpoint_dir() is None:
        if os.environ.get("CI"):
            pytest.fail("musicnn's weights are missing: `make test` installs them")
        return None
    tracks, _ = gather({str(music / f"t{i}.flac"): (1, 1.0, "") for i in (0, 2, 4)}, None, music, TINY, jobs=0)
    vectors = teacher.TrackVectors()
    tcfg = replace(TrainConfig(max_epochs=1, folds=2, windows_per_track=2), blend="teacher")
    saved = train.train(tracks, TINY, ModelConfig(**TINY_M), tcfg,
                        teacher_vectors=np.stack([vectors(t.path) for t in tracks]))
    assert saved.report.blend.chosen == "teacher"
    save(folder / "teacher.keras", saved)
    return folder / "teacher.keras"


def test_rank_on_ray_equals_the_local_engine(ray_cluster, library, tmp_path):
    """The same table cell for cell, the broken file an error row in both and in the Parquet copy. The model
    stacks the teacher's score (when musicnn is installed): Ray's scoring actors compute each track's teacher
    vector from its file as the local engine does (such a model used to be refused on Ray)."""
    from pers_rec.cli import main

    music, model = library
    model = teacher_stacked_model(music, tmp_path) or model
    local, remote = tmp_path / "local.csv", tmp_path / "ray.csv"
    base = ["rank", str(music), "--model", str(model), "--quiet", "--min-track-s", "0", "--include-liked"]
    assert main(base + ["--out", str(local), "--no-cache", "--jobs", "1"]) == 1  # the broken file: exit 1
    assert main(base + ["--out", str(remote), "--engine", "ray", "--parquet", str(tmp_path / "pq")]) == 1
    a, b = pd.read_csv(local, keep_default_na=False), pd.read_csv(remote, keep_default_na=False)
    assert list(a["path"]) == list(b["path"]) and len(a) == 8
    pd.testing.assert_frame_equal(a, b)  # the same table, cell for cell
    ok = a["status"] == "ok"
    assert model.name != "teacher.keras" or (a.loc[ok, "score"] != a.loc[ok, "network_score"]).any()  # stacked
    back = pd.read_parquet(tmp_path / "pq")
    assert sorted(back["path"]) == sorted(a["path"]) and back.loc[back["status"] == "error", "error"].str.len().gt(0).all()


def test_the_feature_pass_on_ray_equals_the_local_one(ray_cluster, library):
    from pers_rec.audio.extract import extract_many
    from pers_rec.audio.scan import scan
    from pers_rec.library import distributed as Dd

    music, _ = library
    paths = [str(p) for p in scan(music)]
    local = {str(e.path): e.features for e in extract_many(paths, TINY, jobs=0) if e.ok}
    rows = list(Dd.features(paths, TINY).iter_rows())
    remote = {r["path"]: Dd.matrix(r, TINY.n_features) for r in rows if not r["error"]}
    assert set(remote) == set(local) and len(rows) == len(paths)
    for p in local:  # the same code; float32 FFT sums may differ in the last bit with the thread count
        np.testing.assert_allclose(remote[p], local[p], rtol=1e-5, atol=1e-4)


def test_embed_on_ray_equals_the_local_engine(ray_cluster, library, tmp_path):
    from pers_rec.cli import main
    from pers_rec.config import FeatureConfig
    from pers_rec.model.checkpoint import save

    music, _ = library
    model = tmp_path / "enc.keras"  # embed works at the default feature config
    save(model, saved_model(FeatureConfig(), filters=(8, 8, 8, 8), lstm_units=8, dense_units=8))
    base = ["embed", str(music), "--model", str(model), "--quiet"]
    assert main(base + ["--out", str(tmp_path / "l.npz"), "--no-cache", "--jobs", "1"]) == 1  # the broken file
    assert main(base + ["--out", str(tmp_path / "r.npz"), "--engine", "ray"]) == 1
    a, b = np.load(tmp_path / "l.npz"), np.load(tmp_path / "r.npz")
    assert list(a["path"]) == list(b["path"]) and len(a["path"]) == 7
    np.testing.assert_allclose(a["vector"], b["vector"], atol=1e-3)  # float16 rounding of float32 FFT sums


@pytest.mark.parametrize("n_files, cpus, expected", [(10_000, 2, 128), (50, 2, 7), (8, 2, 1), (0, 2, 1), (1000, 0.5, 128),
                                                     (1000, 64, 4)])
def test_decoding_tasks_are_big_but_every_cpu_gets_several(n_files, cpus, expected):
    from pers_rec.library import distributed as Dd

    assert Dd.decode_batch(n_files, cpus) == expected


def test_a_file_that_kills_its_decoder_is_an_error_row_not_an_endless_retry(library, monkeypatch):
    """What each Ray decoding task runs: the files decode in a worker process of the task's own, so a file
    that kills the decoder costs that file (an error row), and the task itself finishes."""
    from dying_workers import die_on_kill_me

    from pers_rec.audio import extract
    from pers_rec.library import distributed as Dd

    music, _ = library
    victim = music.parent / "kill_me.flac"
    victim.write_bytes((music / "t0.flac").read_bytes())
    monkeypatch.setattr(extract, "_extract_one", die_on_kill_me)
    out = Dd._featurize({"path": np.array([str(music / "t1.flac"), str(victim)], dtype=object)}, TINY.to_dict())
    assert list(out["error"][:1]) == [""] and out["error"][1].startswith("WorkerCrashedError")
    assert out["n_frames"][0] > 0 and Dd.TASK_RETRIES <= 3


def test_sigterm_ends_a_ray_rank_with_130_and_quiet_means_quiet(library, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    pytest.importorskip("ray", reason="Ray not installed (pip install 'pers_rec[ray]')")
    music, model = library
    base = [sys.executable, "-m", "pers_rec.cli", "rank", str(music), "--model", str(model), "--engine", "ray", "-q"]
    proc = subprocess.Popen(base + ["--out", str(tmp_path / "b.csv")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(6)  # inside Ray's start-up, where its own handler used to exit 15 (later: 130 all the same, tested by hand)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err and "*** " not in err and "Traceback" not in err, err
    noise = [line for line in err.splitlines() if line.strip() and not line.startswith(("pers-rec:", "error: "))]
    assert noise == [], err  # no Ray, TensorFlow or decoder log lines under -q
