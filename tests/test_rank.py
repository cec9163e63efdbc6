"""The ranking table: order, types, non-finite scores, CSV quoting and the playlist's selection."""

import csv
import io
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from pers_rec.audio import features as F
from pers_rec.audio.extract import Extracted
from pers_rec.errors import DecodeError
from pers_rec.library import rank as R

cfg = F.FeatureConfig()
#: What ``track_row`` needs of a Scorer: the feature config and the final track score. Here a stacking-like map of the
#: window mean, so ``score`` and ``network_score`` differ and a swap of the two columns is caught.
scorer = SimpleNamespace(cfg=cfg, final_score=lambda w, M, v=None: 0.25 + 0.5 * float(np.mean(w)))


def _item(name, seconds):
    return Extracted(Path(f"/m/{name}"), np.zeros((int(seconds * cfg.fps) + 1, cfg.n_features), np.float32))


def table():
    rows = [R.track_row(_item("a.wav", 60), np.array([0.2, 0.4]), scorer),
            R.track_row(_item("b\r,\"x\".wav", 40), np.array([0.9]), scorer),
            R.track_row(_item("jingle.wav", 3), np.array([0.99]), scorer),
            R.track_row(_item("nan.wav", 60), np.array([0.5, np.nan]), scorer),
            R.error_row(Path("/m/bad.mp3"), DecodeError("/m/bad.mp3", "not audio"))]
    return R.ranking_table(rows)


def test_score_is_the_final_score_and_network_score_the_window_mean():
    df = table()
    ok = df[df["status"] == "ok"]
    assert list(ok["network_score"]) == [0.99, 0.9, 0.3]
    assert list(ok["score"]) == [0.745, 0.7, 0.4]


def test_order_types_and_error_rows():
    df = table()
    assert list(df["path"]) == ["/m/jingle.wav", "/m/b\r,\"x\".wav", "/m/a.wav", "/m/bad.mp3", "/m/nan.wav"]
    assert list(df["rank"][:3]) == [1, 2, 3] and df["rank"][3:].isna().all()
    assert str(df["n_windows"].dtype) == "Int64" and list(df["short"][:3]) == [True, False, False]
    assert df["error"][4] == "InvalidScoreError: the model's score is not a finite number"
    assert df["error"][3] == "DecodeError: not audio" and df["status"][4] == "error"


def test_csv_quotes_every_field_that_needs_it():
    text = R.csv_text(table())
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["path"] for r in rows][1] == "/m/b\r,\"x\".wav" and rows[0]["n_windows"] == "1"
    assert rows[3]["n_windows"] == "" and rows[2]["n_windows"] == "2"


def test_playlist_leaves_out_short_tracks_then_takes_the_top():
    df = table()
    assert [p for p, _, _ in R.playlist_entries(df, top=1, min_track_s=30)] == ["/m/b\r,\"x\".wav"]
    assert [p for p, _, _ in R.playlist_entries(df, min_track_s=0)] == ["/m/jingle.wav", "/m/b\r,\"x\".wav", "/m/a.wav"]
    path, duration_s, title = R.playlist_entries(df, top=1, min_track_s=0)[0]
    assert duration_s == 3.0 and title == "jingle (score 0.745)"


def test_explain_and_rank_give_a_stacked_model_the_same_score(tmp_path):
    """A real model trained with stacking: every track's ``explain`` score is its ranking ``score`` (the stacked
    value), and the network's own mean is ``network_score`` in both."""
    from helpers import TINY, TINY_M

    from pers_rec.config import TrainConfig
    from pers_rec.learn import train as T
    from pers_rec.model import networks as Mo

    paths, tracks = eight_tones(tmp_path)
    saved = T.train(tracks, TINY, Mo.ModelConfig(**TINY_M), TrainConfig(max_epochs=2, folds=2, blend="stacked"))
    assert saved.report.blend.chosen == "stacked"
    df = R.rank(paths, saved, jobs=0).set_index("path")
    stacked = 0
    for p in paths:
        _, s = R.explain(p, saved)
        assert abs(s.score - df.loc[p, "score"]) < 1e-5 and abs(s.network_score - df.loc[p, "network_score"]) < 1e-5
        stacked += abs(s.score - s.network_score) > 1e-4
    assert stacked  # the stacked score is not the network's mean: the test would catch a swap


def eight_tones(tmp_path):
    """Eight 9-s tones (8 kHz WAV; every other one with a 2 kHz partial), three of the plain ones liked: their paths
    and the training tracks ``dataset.gather`` makes of them (two unlabelled tracks per like)."""
    import soundfile as sf
    from conftest import tone
    from helpers import TINY

    from pers_rec.learn import dataset

    lib = tmp_path / "music"
    lib.mkdir()
    paths = []
    for i in range(8):
        y = tone(300 + 60 * i, 9.0, 8000) + (0.2 * tone(2000, 9.0, 8000) if i % 2 else 0)
        sf.write(lib / f"t{i}.wav", y, 8000)
        paths.append(str(lib / f"t{i}.wav"))
    likes = tmp_path / "likes.m3u"
    likes.write_text("".join(f"{p}\n" for p in paths[::2][:3]))
    return paths, dataset.gather(likes, None, lib, TINY, unlabelled_per_like=2, jobs=0)[0]


def test_a_model_stacking_its_start_encoder_ranks_as_the_stack_of_its_parts(tmp_path, monkeypatch):
    """``--blend encoder``: the frozen start encoder travels in the archive (only then), and every track's ranking
    score, by either runtime, with a cache or without, and ``explain``'s, is the stack of its window mean and the
    regression's score of its start-encoder vector (equal to Keras', window by window, to float16); the vectors
    land in the cache under the key ``embed.vectors`` reads, so a later ``similar`` computes none."""
    import zipfile
    from dataclasses import replace

    import pytest
    from helpers import TINY, TINY_M, start_encoder

    from pers_rec.audio.cache import open_cache
    from pers_rec.audio.extract import extract_many
    from pers_rec.config import ModelConfig, TrainConfig
    from pers_rec.errors import ModelFileError
    from pers_rec.learn import pretrain as P
    from pers_rec.learn import train as T
    from pers_rec.library import embed
    from pers_rec.model import baseline as B
    from pers_rec.model import checkpoint, networks

    mcfg = ModelConfig(**TINY_M)
    paths, tracks = eight_tones(tmp_path)
    pre = start_encoder(TINY, mcfg, [t.features for t in tracks])
    vecs = embed.StartVectors(pre, TINY, mcfg).of_tracks(tracks)
    saved = T.train(tracks, TINY, mcfg, TrainConfig(max_epochs=2, folds=2, blend="encoder"), pretrained=pre,
                    encoder_vectors=vecs)
    blend = saved.report.blend
    assert blend.chosen == "encoder" and saved.start is pre and {"encoder", "encoder_stacked"} <= set(blend.cv_roc_auc)
    net = networks.build(TINY, mcfg)  # the reference: the start encoder in Keras, each window on its own
    P.apply(net, pre)
    reference = embed.Embedder(checkpoint.SavedModel(net, TINY, mcfg))
    reg = B.BaselineModel(**blend.encoder)
    want, start = {}, embed.StartVectors(pre, TINY, mcfg)
    for name in ("none", "cached"):  # the cache keeps features compactly: the references see what the run sees
        features = open_cache(tmp_path / "features") if name == "cached" else None
        for item in extract_many(paths, TINY, cache=features, jobs=0):
            W = reference.encoder.predict(reference.trunk.predict(F.windows(item.features, TINY), verbose=0), verbose=0)
            want[name, str(item.path)] = v = start(item.path, item.features)  # float16-rounded, as cached
            np.testing.assert_allclose(v, embed.normalise(W.mean(0)), atol=2e-3, rtol=0)
            start.known.clear()
    path = checkpoint.save(tmp_path / "m.keras", saved)
    assert checkpoint.START_NAME in zipfile.ZipFile(path).namelist()
    cache = open_cache(tmp_path / "cache")
    for runtime, store in (("light", None), ("keras", None), ("light", cache), ("light", cache)):
        loaded = checkpoint.load(path, runtime=runtime)
        df = R.rank(paths, loaded, cache=store, jobs=0).set_index("path")
        for p in paths:
            v = want["none" if store is None else "cached", p]
            manual = B.stack_apply(blend.weights, blend.intercept, df.loc[p, "network_score"], reg.score_features(v))
            assert abs(df.loc[p, "score"] - manual) < 2e-6, (runtime, p)  # the table's 6 digits
    assert (df["score"] - df["network_score"]).abs().max() > 1e-3  # the stack is applied, not the network alone
    _, s = R.explain(paths[0], checkpoint.load(path, runtime="light"), cache=cache)
    assert abs(s.score - df.loc[paths[0], "score"]) < 1e-5
    monkeypatch.setattr(embed.Embedder, "window_vectors", lambda *a: 1 / 0)
    _, V, _, _ = embed.vectors(paths, embed.Embedder.of_weights(pre, TINY, mcfg), cache=cache, jobs=0)
    assert np.array_equal(V, np.stack([want["cached", p] for p in paths]))
    cache.close()
    other = checkpoint.save(tmp_path / "s.keras", checkpoint.SavedModel(saved.model, TINY, mcfg, saved.report))
    with zipfile.ZipFile(other) as zf:
        assert checkpoint.START_NAME not in zf.namelist()
    with pytest.raises(ModelFileError, match="not in the archive"):  # a stacking model whose start is missing
        checkpoint.load(other, runtime="light")
    broken = tmp_path / "b.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, b"not an npz" if info.filename == checkpoint.START_NAME else src.read(info))
    with pytest.raises(ModelFileError, match=f"b.keras: malformed {checkpoint.START_NAME}"):
        checkpoint.load(broken)
    report = replace(saved.report, blend=replace(blend, chosen="stacked"))
    plain = checkpoint.save(tmp_path / "p.keras", checkpoint.SavedModel(saved.model, TINY, mcfg, report, pre))
    assert checkpoint.START_NAME not in zipfile.ZipFile(plain).namelist()  # only a model that stacks it keeps it


def test_likes_are_left_out_by_path_or_real_path_for_every_engine(tmp_path):
    from pers_rec.library.rank import not_excluded

    real = tmp_path / "real.flac"
    real.write_bytes(b"x")
    link = tmp_path / "link.flac"
    os.symlink(real, link)
    other = tmp_path / "other.flac"
    other.write_bytes(b"y")
    assert not_excluded([link, other, real], {str(real)}) == [other]  # the like recorded by its real path
    assert not_excluded([str(link), str(other)], {str(link)}) == [str(other)]


def four_tones(tmp_path):
    """A folder of four tones of 5 to 17 s (8 kHz WAV) and their paths."""
    import soundfile as sf
    from conftest import tone

    music = tmp_path / "music"
    music.mkdir()
    paths = []
    for i in range(4):
        paths.append(music / f"t{i}.wav")
        sf.write(paths[-1], tone(200 + 90 * i, 5.0 + 4 * i, 8000), 8000)
    return music, paths


def test_ranking_again_with_the_same_model_reads_the_window_scores_and_gives_the_same_table(tmp_path, monkeypatch):
    """The window scores are kept under the model's identity: a re-rank runs no network and gives the identical
    table; another model, or a changed file, is scored anew."""
    from helpers import TINY, saved_model

    from pers_rec.audio.cache import open_cache
    from pers_rec.model import scoring

    music, paths = four_tones(tmp_path)
    saved = saved_model(TINY)
    cache = open_cache(tmp_path / "cache")
    first = R.rank(paths, saved, cache=cache, jobs=0)
    calls = []
    real = scoring.Scorer.score_many
    monkeypatch.setattr(scoring.Scorer, "score_many", lambda self, tracks: calls.append(len(list(tracks := list(tracks))))
                        or real(self, tracks))
    again = R.rank(paths, saved, cache=cache, jobs=0)
    assert calls == [0] and again.equals(first)  # nothing scored; the same table to the last digit
    os.utime(paths[1], ns=(1, 1))  # a changed file: its scores are a miss
    R.rank(paths, saved, cache=cache, jobs=0)
    assert calls[-1] == 1
    other = saved_model(TINY, seed=1)
    assert scoring.Scorer(other).identity() != scoring.Scorer(saved).identity()
    R.rank(paths, other, cache=cache, jobs=0)
    assert calls[-1] == 4  # another model: every track scored
    cache.prune()  # the kept scores are not mistaken for damaged rows
    R.rank(paths, other, cache=cache, jobs=0)
    assert calls[-1] == 0
    cache.close()


def test_ranking_with_an_embedder_gives_embed_vectors_from_the_same_pass(tmp_path, monkeypatch):
    """``rank(..., embedder=, vectors=)``: every ranked track's vector equals ``embed.vectors``' (as cached, float16)
    and the table is unchanged, with a cache or without; the vectors land in the cache, where ``embed.vectors``
    then runs no network."""
    from helpers import TINY, saved_model

    from pers_rec.audio.cache import open_cache
    from pers_rec.library import embed

    music, paths = four_tones(tmp_path)
    (music / "bad.wav").write_bytes(b"not audio")
    saved = saved_model(TINY, members=2)
    embedder = embed.Embedder(saved)
    for name in ("none", "cached"):  # the cache keeps features compactly: the references see what the run sees
        def cache(who, name=name):
            return None if name == "none" else open_cache(tmp_path / f"{name}-{who}")

        _, want, _, _ = embed.vectors(paths, embedder, cache=cache("vectors"), jobs=0)
        plain = R.rank(paths + [music / "bad.wav"], saved, cache=cache("plain"), jobs=0)
        got = {}
        one_pass = cache("one-pass")
        df = R.rank(paths + [music / "bad.wav"], saved, cache=one_pass, jobs=0, embedder=embedder, vectors=got)
        assert df.equals(plain) and sorted(got) == sorted(map(str, paths))
        np.testing.assert_allclose(np.stack([got[str(p)] for p in paths]), want, atol=2e-3, rtol=0)
    kept = open_cache(tmp_path / "scores-kept")
    R.rank(paths, saved, cache=kept, jobs=0)
    again = {}  # the window scores kept from that rank, the vectors not: they are computed on their own
    assert R.rank(paths, saved, cache=kept, jobs=0, embedder=embedder, vectors=again).equals(R.rank(paths, saved,
                                                                                                  cache=kept, jobs=0))
    np.testing.assert_allclose(np.stack([again[str(p)] for p in paths]), np.stack([got[str(p)] for p in paths]), atol=2e-3)
    kept.close()
    monkeypatch.setattr(embed.Embedder, "window_vectors", lambda *a: 1 / 0)
    ok, V, failed, _ = embed.vectors(paths + [music / "bad.wav"], embedder, cache=one_pass, jobs=0)
    assert ok == list(map(str, paths)) and np.array_equal(V, np.stack([got[str(p)] for p in paths]))
    assert [p for p, _ in failed] == [str(music / "bad.wav")]
    one_pass.close()
