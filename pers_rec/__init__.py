"""pers_rec: learn one listener's taste from the audio itself and rank their library.

Importing the package is cheap and changes nothing: it loads neither TensorFlow nor librosa nor matplotlib,
redirects no stream and switches no backend. The names below are imported on first use::

    import pers_rec

    paths = pers_rec.scan_folder("~/Music")
    saved = pers_rec.load_model("taste.keras")
    ranking = pers_rec.rank_files(paths, saved)          # a pandas DataFrame, best first

See ``docs/python.md``. Data flows one way::

    audio (decode, mono, resample) -> features (MFCC once, 8 s / 1 s window views)
    -> model (time-only CNN + LSTM) -> scoring (window scores -> track score)
    -> rank / train / embed -> the apps (filters, maps, genre, sequence) -> cli
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: The public API: name -> (module, attribute), imported on first use.
_API = {
    "FeatureConfig": ("config", "FeatureConfig"),
    "ModelConfig": ("config", "ModelConfig"),
    "TrainConfig": ("config", "TrainConfig"),
    "PretrainConfig": ("config", "PretrainConfig"),
    "scan_folder": ("scan", "scan"),
    "extract_features": ("features", "extract"),
    "extract_many": ("extract", "extract_many"),
    "load_model": ("checkpoint", "load"),
    "save_model": ("checkpoint", "save"),
    "SavedModel": ("checkpoint", "SavedModel"),
    "build_model": ("model", "build"),
    "Scorer": ("scoring", "Scorer"),
    "rank_files": ("rank", "rank"),
    "explain_track": ("rank", "explain"),
    "gather_tracks": ("dataset", "gather"),
    "train_taste": ("train", "train"),
    "Embedder": ("embed", "Embedder"),
    "embed_files": ("embed", "vectors"),
    "nearest": ("embed", "nearest"),
    "TrainOutputs": ("workflows", "TrainOutputs"),
    "train_to_files": ("workflows", "train_to_files"),
    "rank_to_files": ("workflows", "rank_to_files"),
    "vectors_and_scores": ("workflows", "vectors_and_scores"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'pers_rec' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
