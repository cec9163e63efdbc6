"""Model files: one ``.keras`` archive carrying the network, its configurations and its training report.

The configurations travel as an extra ``pers_rec.json`` member of the Keras
zip archive (Keras ignores it). Loading is defensive, because a model file is
input like any other: it must be a ``.keras`` file that is a zip archive and
nothing else (a file that is also HDF5 could reach Keras's legacy loader), its
``pers_rec.json`` must be well formed, the network is loaded with Keras's
``safe_mode`` (no Lambda layers, no arbitrary code; Keras >= 3.11.3 closes the
known bypasses), and its input must match its feature configuration. Every
failure is a :class:`ModelFileError` naming the file, raised before any audio
is decoded.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ModelFileError, ParameterError
from .features import FeatureConfig
from .fileio import atomic_path
from .report import TrainReport

META_NAME = "pers_rec.json"
_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


@dataclass
class SavedModel:
    """A model with everything saved beside it.

    Attributes
    ----------
    model : keras.Model
        ``(batch, window_frames, n_features)`` -> ``(batch, 1)`` like-probability.
    cfg : FeatureConfig
    mcfg : ModelConfig
    report : TrainReport or None
        How it was trained (None for a model built in memory).
    """

    model: keras.Model  # noqa: F821 (Keras is imported only where a model is saved or loaded)
    cfg: FeatureConfig
    mcfg: ModelConfig  # noqa: F821
    report: TrainReport | None = None


def save(path: str | os.PathLike, saved: SavedModel) -> Path:
    """Save ``saved`` to one ``.keras`` file, atomically (an interrupted save leaves no half-written model)."""
    from .model import keras

    path = Path(path)
    if path.suffix != ".keras":
        raise ParameterError(f"{path}: a model file must end in .keras")
    meta = {
        "pers_rec_version": __version__,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "feature_config": saved.cfg.to_dict(),
        "model_config": saved.mcfg.to_dict(),
        "report": None if saved.report is None else saved.report.to_dict(),
    }
    with atomic_path(path) as tmp:
        saved.model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as zf:
            zf.writestr(META_NAME, json.dumps(meta, indent=2, default=json_default))
    return path


def json_default(o):
    """``json.dumps`` hook for numpy scalars and arrays."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def check_file(path: str | os.PathLike) -> Path:
    """Check that ``path`` is a ``.keras`` zip archive and nothing else, without loading anything (nor Keras).

    Raises
    ------
    ModelFileError
        Missing, wrong extension, not a zip, or also an HDF5 file (a polyglot).
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: a model file must end in .keras")
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    with open(path, "rb") as f:
        head = f.read(4)
        if head != _ZIP_MAGIC:
            raise ModelFileError(f"{path}: not a pers_rec model (not a .keras zip archive)")
        size = os.fstat(f.fileno()).st_size
        at = 512  # an HDF5 superblock sits at 0, 512, 1024, 2048, ...
        while at < size:
            f.seek(at)
            if f.read(8) == _HDF5_MAGIC:
                raise ModelFileError(f"{path}: refused: the file is both a zip archive and an HDF5 file")
            at *= 2
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a pers_rec model (a damaged zip archive)")
    return path


def read_meta(path: str | os.PathLike) -> dict:
    """The pers_rec metadata of a model file, checked for its shape, without loading Keras weights.

    Raises
    ------
    ModelFileError
    """
    path = check_file(path)
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read(META_NAME))
    except KeyError:
        raise ModelFileError(f"{path}: not a pers_rec model (no {META_NAME} inside)") from None
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ModelFileError(f"{path}: malformed {META_NAME} ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("feature_config"), dict) \
            or not isinstance(meta.get("model_config"), dict):
        raise ModelFileError(f"{path}: malformed {META_NAME} (no feature_config / model_config objects)")
    return meta


def load(path: str | os.PathLike, expect: FeatureConfig | None = None) -> SavedModel:
    """Load a model saved by :func:`save`, safely (see the module docstring).

    Parameters
    ----------
    expect : FeatureConfig or None
        If given, the model's feature config must equal it, else
        :class:`ConfigMismatchError` lists the differences.

    Raises
    ------
    ModelFileError
        Anything wrong with the file, named with its path.
    """
    from .model import ModelConfig, keras, members

    path = Path(path)
    meta = read_meta(path)
    try:
        cfg = FeatureConfig.from_dict(meta["feature_config"])
        mcfg = ModelConfig(**meta["model_config"])
        report = TrainReport.from_dict(meta["report"]) if meta.get("report") else None
    except (ParameterError, TypeError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: malformed {META_NAME} ({exc})") from None
    if expect is not None:
        cfg.check_matches(expect)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises ValueError, TypeError, OSError, ... for hostile or broken archives
        first = " ".join(str(exc).split())[:300]
        raise ModelFileError(f"{path}: refused or unreadable by Keras safe mode ({type(exc).__name__}: {first})") from None
    if not members(model):
        raise ModelFileError(f"{path}: not a pers_rec network (no trunk/head members)")
    width = model.output_shape[-1] if not isinstance(model.output_shape, list) else None
    if width != max(1, len(mcfg.classes)):
        raise ModelFileError(f"{path}: the network has {width} outputs, but its configuration names "
                             f"{len(mcfg.classes) or 'no'} genres")
    shape = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    if shape != (cfg.window_frames, cfg.n_features):
        raise ModelFileError(f"{path}: the network takes inputs of shape {shape}, but its feature configuration "
                             f"gives windows of {(cfg.window_frames, cfg.n_features)}")
    return SavedModel(model, cfg, mcfg, report)
