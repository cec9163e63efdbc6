"""Where a model's starting weights come from: the library's pre-trained encoder, else the shipped one, else none;
and a damaged pre-trained file costs the head start, not the run."""

import pytest
from helpers import TINY

from pers_rec.config import ModelConfig, TrainConfig
from pers_rec.errors import ModelFileError
from pers_rec.learn import pretrain
from pers_rec.library import encoders


class Found:
    def __init__(self, name):
        self.name = name

    def __str__(self):
        return f"/cache/{self.name}"


def test_the_librarys_weights_first_then_the_shipped_encoder_then_none(monkeypatch):
    said = []
    shipped = type("W", (), {"info": {"provenance": {"sha256": "abcdef0123456789"}}})()
    library = type("W", (), {"info": {"tracks": 12}})()
    monkeypatch.setattr(pretrain, "shipped", lambda cfg, mcfg: shipped)
    monkeypatch.setattr(pretrain, "find", lambda d, paths, cfg, mcfg: Found("lib.weights.npz") if paths else None)
    monkeypatch.setattr(pretrain, "load", lambda found: library)
    tcfg = TrainConfig()
    pre, t = encoders.start_weights(["/m/a.flac"], "/cache", TINY, ModelConfig(), tcfg, log=said.append)
    assert pre is library and t.pretrained == "/cache/lib.weights.npz" and "12 tracks" in said[-1]
    pre, t = encoders.start_weights(None, "/cache", TINY, ModelConfig(), tcfg, log=said.append)
    assert pre is shipped and t.pretrained == "shipped encoder abcdef012345" and "shipped encoder" in said[-1]
    assert encoders.start_weights(["/m/a.flac"], None, TINY, ModelConfig(), tcfg) == (None, tcfg)  # --no-pretrained
    monkeypatch.setattr(pretrain, "shipped", lambda cfg, mcfg: None)
    assert encoders.start_weights(None, "/cache", TINY, ModelConfig(), tcfg) == (None, tcfg)


def test_damaged_library_weights_warn_and_fall_back_to_the_shipped_encoder(monkeypatch):
    shipped = type("W", (), {"info": {"provenance": {"sha256": "0" * 64}}})()
    monkeypatch.setattr(pretrain, "shipped", lambda cfg, mcfg: shipped)
    monkeypatch.setattr(pretrain, "find", lambda d, paths, cfg, mcfg: Found("lib.weights.npz"))

    def damaged(found):
        raise ModelFileError(f"{found}: truncated")

    monkeypatch.setattr(pretrain, "load", damaged)
    with pytest.warns(UserWarning, match="ignoring damaged pre-trained weights: /cache/lib.weights.npz: truncated"):
        pre, _ = encoders.start_weights(["/m/a.flac"], "/cache", TINY, ModelConfig(), TrainConfig())
    assert pre is shipped
