"""pers_rec: learn one listener's taste from the audio itself and rank their library.

Importing the package is cheap and changes nothing: it loads neither TensorFlow nor librosa nor matplotlib,
redirects no stream and switches no backend. The names below are imported on first use::

    import pers_rec

    paths = pers_rec.scan_folder("~/Music")
    saved = pers_rec.load_model("taste.keras")
    ranking = pers_rec.rank_files(paths, saved)          # a pandas DataFrame, best first

See ``docs/python.md``. The package is a ground floor (``config``, ``errors``, ``fileio``, ``progress``,
``device``, ``plots``) under six wings, and data flows one way through them::

    audio (scan, decode, features, extract, cache) -> model (networks, scoring, checkpoint, teacher)
    -> learn (dataset, train, pretrain, distill) -> library (rank, embed, sequence, maps, workflows)
    -> radio (picker, mpd_radio, subsonic_radio); players (playlists, signals, subsonic, mpd) beside them
    -> the faces: cli (the command line) and web (``serve``)

Each wing's ``__init__`` is a docstring and a lazy face: ``import pers_rec.audio`` loads none of its modules.
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
    "DistillConfig": ("config", "DistillConfig"),
    "scan_folder": ("audio.scan", "scan"),
    "extract_features": ("audio.features", "extract"),
    "extract_many": ("audio.extract", "extract_many"),
    "load_model": ("model.checkpoint", "load"),
    "save_model": ("model.checkpoint", "save"),
    "SavedModel": ("model.checkpoint", "SavedModel"),
    "build_model": ("model.networks", "build"),
    "Scorer": ("model.scoring", "Scorer"),
    "rank_files": ("library.rank", "rank"),
    "explain_track": ("library.rank", "explain"),
    "gather_tracks": ("learn.dataset", "gather"),
    "train_taste": ("learn.train", "train"),
    "Embedder": ("library.embed", "Embedder"),
    "embed_files": ("library.embed", "vectors"),
    "nearest": ("library.embed", "nearest"),
    "TrainOutputs": ("library.workflows", "TrainOutputs"),
    "train_to_files": ("library.workflows", "train_to_files"),
    "rank_to_files": ("library.workflows", "rank_to_files"),
    "vectors_and_scores": ("library.workflows", "vectors_and_scores"),
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
