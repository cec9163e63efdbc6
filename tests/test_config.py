"""The settings: frozen, range-checked, round-tripped through dicts, their choice lists the CLI's."""

import dataclasses

import pytest

from pers_rec.config import ARCHS, BLENDS, FeatureConfig, ModelConfig, PretrainConfig, TrainConfig
from pers_rec.errors import ParameterError


@pytest.mark.parametrize("cls", [FeatureConfig, ModelConfig, TrainConfig, PretrainConfig])
def test_every_config_is_frozen_and_changes_through_replace(cls):
    c = cls()
    name = dataclasses.fields(c)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(c, name, getattr(c, name))
    assert dataclasses.replace(c) == c


def test_train_config_settles_folds_and_ensemble_once():
    assert (TrainConfig(folds=4).ensemble, TrainConfig(ensemble=3).folds, TrainConfig(ensemble=0).folds) == (4, 3, 5)
    with pytest.raises(ParameterError, match="blend must be one of"):
        TrainConfig(blend="magic")


@pytest.mark.parametrize("field, value, message", [
    ("sr", 10**300, "sr must be in 1000..384000"), ("n_fft", 2**30, "n_fft must be in 16..65536"),
    ("n_mels", 200_000, "n_mels must be in 1..512"), ("sr", 8000.5, "sr must be a finite whole number"),
    ("fmax", 20000.0, "fmax <= sr / 2"), ("amin", float("nan"), "amin must be a finite number"),
])
def test_feature_config_ranges(field, value, message):
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        FeatureConfig(**{field: value})


def test_dicts_round_trip_and_unknown_fields_are_refused():
    cfg = FeatureConfig(n_mfcc=13)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg and ModelConfig(**ModelConfig().to_dict()) == ModelConfig()
    with pytest.raises(ParameterError, match="unknown FeatureConfig fields"):
        FeatureConfig.from_dict({"sr": 24000, "bogus": 1})


def test_the_cli_offers_the_config_choices():
    from pers_rec.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices
    train = {a.dest: a for a in sub["train"]._actions}
    assert tuple(train["arch"].choices) == ARCHS and tuple(train["blend"].choices) == BLENDS
