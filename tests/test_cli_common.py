"""What the commands share: console output, argument types, the answer to an empty library."""

import argparse
import os

import numpy as np
import pytest

from pers_rec.cli import main
from pers_rec.cli.common import float_in, int_at_least, say
from pers_rec.errors import EXIT_NOTHING


def test_printed_names_are_escaped(capsys):
    say("/m/\udcff\nx.wav")
    assert capsys.readouterr().out == "/m/\\xff\\nx.wav\n"  # undecodable byte and newline escaped


def test_argument_types_say_what_they_want():
    with pytest.raises(argparse.ArgumentTypeError, match="must be at least 2, got 1"):
        int_at_least(2)("1")
    with pytest.raises(argparse.ArgumentTypeError, match="'x' is not a whole number"):
        int_at_least(2)("x")
    half = float_in("a fraction", "must be below 1", lambda v: v < 1)
    assert half("0.5") == 0.5
    with pytest.raises(argparse.ArgumentTypeError, match="must be below 1, got 2"):
        half("2")


@pytest.mark.parametrize("command", [
    ["pretrain", "{lib}"], ["rank", "{lib}", "--model", "{model}"], ["map", "{lib}"], ["filters", "{lib}"],
    ["similar", "{song}", "--library", "{lib}"], ["playlist", "--library", "{lib}", "--seed", "{song}"],
    ["train", "--target", "genre", "--library", "{lib}", "--model", "{out}"],
])
def test_every_command_answers_an_empty_library_the_same_way(command, tmp_path, capsys):
    from helpers import saved_model

    from pers_rec.config import FeatureConfig
    from pers_rec.model import checkpoint

    lib = tmp_path / "empty"
    (lib / "sub").mkdir(parents=True)
    (lib / "cover.jpg").write_bytes(b"x")
    song = tmp_path / "song.wav"
    song.write_bytes(b"x")
    model = tmp_path / "m.keras"
    checkpoint.save(model, saved_model(FeatureConfig(), filters=(8, 8, 8, 8), lstm_units=8, dense_units=8))
    args = [a.format(lib=lib, model=model, song=song, out=tmp_path / "g.keras") for a in command]
    if command[0] in ("map", "filters", "similar", "playlist"):
        args += ["--model", str(model)]
    assert main(args + ["--cache", str(tmp_path / "cache")]) == EXIT_NOTHING
    assert capsys.readouterr().err == f"pers-rec: no audio files found under {lib}\n"


@pytest.mark.slow
def test_embed_writes_every_tracks_vector_with_its_tags(tmp_path, capsys):
    import soundfile as sf
    from conftest import tag, tone
    from helpers import saved_model

    from pers_rec.config import FeatureConfig
    from pers_rec.model import checkpoint

    lib = tmp_path / "music"
    lib.mkdir()
    for i in range(3):
        sf.write(lib / f"t{i}.wav", tone(200 + 100 * i, 9.0, 8000), 8000)
    tag(lib / "t1.wav", artist="Ann", title="One")
    model = tmp_path / "m.keras"
    checkpoint.save(model, saved_model(FeatureConfig(), filters=(8, 8, 8, 8), lstm_units=8, dense_units=8))
    out = tmp_path / "v.npz"
    assert main(["embed", str(lib), "--model", str(model), "--out", str(out), "--no-cache", "-q"]) == 0
    z = np.load(out)
    assert [os.path.basename(p) for p in z["path"]] == ["t0.wav", "t1.wav", "t2.wav"]
    assert list(z["artist"]) == ["", "Ann", ""] and list(z["title"]) == ["", "One", ""]
    assert z["vector"].shape == (3, 8) and np.allclose(np.linalg.norm(z["vector"], axis=1), 1, atol=1e-2)
    assert "wrote 3 track embeddings" in capsys.readouterr().out
    # Parquet: text is UTF-8 there, so a name with undecodable bytes makes the path column bytes (with a warning)
    os.rename(lib / "t2.wav", lib / os.fsdecode(b"t2\xff.wav"))
    pq = tmp_path / "v.parquet"
    assert main(["embed", str(lib), "--model", str(model), "--out", str(pq), "--no-cache", "-q"]) == 0
    import pandas as pd

    back = pd.read_parquet(pq)
    assert [os.path.basename(p) for p in back["path"]] == [b"t0.wav", b"t1.wav", b"t2\xff.wav"]
    assert "not valid UTF-8" in capsys.readouterr().err and len(back["vector"][0]) == 8


def test_a_sigterm_whose_exception_a_callback_swallowed_still_ends_with_130(monkeypatch, capsys):
    """JAX's garbage-collection callback can swallow the KeyboardInterrupt SIGTERM raises: the command then
    finishes, and still exits 130 (with no 'Exception ignored' traceback)."""
    import gc
    import os
    import signal

    from pers_rec import cli

    def run(args):
        def swallow(phase, info):
            if phase == "start":
                gc.callbacks.remove(swallow)
                os.kill(os.getpid(), signal.SIGTERM)  # delivered while the callback runs: dropped there
                for _ in range(1000):
                    pass
        gc.callbacks.append(swallow)
        gc.collect()
        return 0

    monkeypatch.setattr(cli, "build_parser", lambda: type("P", (), {"parse_args": lambda self, argv: type(
        "A", (), {"run": staticmethod(run), "quiet": False})()})())
    assert cli.main([]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err and "Exception ignored" not in err
