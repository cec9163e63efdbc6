"""Small shared test data: tiny configurations and random feature matrices (no audio, no files)."""

import numpy as np

from pers_rec.audio import features as F
from pers_rec.model import networks as Mo

#: A tiny feature config keeps tests fast; its fps (16) still makes 1 s a multiple of the stride 8.
TINY = F.FeatureConfig(sr=8000, hop_length=500, n_fft=512, n_mels=32, n_mfcc=12, window_s=8)
#: A tiny network: three blocks of 8 filters (stride 8).
TINY_M = {"filters": (8, 8, 8), "lstm_units": 8, "dense_units": 8}


def random_stats(cfg, seed=0):
    """Plausible per-coefficient (mean, variance) for a model's Standardize layer."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=cfg.n_features) * 5, rng.uniform(0.5, 20, cfg.n_features)


def features(n_frames, cfg, seed=0):
    """A smooth random feature matrix [shape=(n_frames, n_features), float32] (a random walk, like real MFCCs)."""
    rng = np.random.default_rng(seed)
    return (np.cumsum(rng.normal(size=(n_frames, cfg.n_features)), axis=0) * 0.5).astype(np.float32)


def saved_model(cfg=TINY, seed=0, members=1, **mcfg):
    """An untrained SavedModel with random statistics (``members`` averaged networks)."""
    import keras

    from pers_rec.model.checkpoint import SavedModel

    mcfg = Mo.ModelConfig(**{**TINY_M, **mcfg}) if cfg is TINY else Mo.ModelConfig(**mcfg)
    keras.utils.set_random_seed(seed)
    return SavedModel(Mo.build(cfg, mcfg, members=members, stats=random_stats(cfg, seed)), cfg, mcfg)



def start_encoder(cfg, mcfg, matrices, seed=0):
    """An encoder's weights (``checkpoint.Pretrained``, as ``pretrain`` returns them) from a fresh network
    standardised on ``matrices``: a start encoder without pre-training's cost."""
    import keras

    from pers_rec.audio.features import feature_stats
    from pers_rec.model.checkpoint import Pretrained

    keras.utils.set_random_seed(seed)
    trunk, head = Mo.members(Mo.build(cfg, mcfg, stats=feature_stats(matrices)))[0]
    return Pretrained(trunk.get_weights(), {n: head.get_layer(n).get_weights() for n in Mo.encoder_layers(mcfg)},
                      {"model_config": mcfg.to_dict(), "feature_config": cfg.to_dict()})
