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

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..audio.features import FeatureConfig
from ..config import ModelConfig
from ..errors import ModelFileError, ParameterError
from ..fileio import atomic_path, json_default  # noqa: F401 (re-exported)
from .report import TrainReport

META_NAME = "pers_rec.json"
#: The member that keeps the encoder a model started from, when its score stacks that encoder's vectors.
START_NAME = "pers_rec_start.npz"
_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


@dataclass
class Pretrained:
    """An encoder's weights (``pers-rec pretrain``, the shipped encoder): the trunk's and the encoder layers' of the
    head, and how they were made."""

    trunk: list[np.ndarray]
    encoder: dict[str, list[np.ndarray]]
    info: dict = field(default_factory=dict)


def pack(pre: Pretrained) -> bytes:
    """``pre`` as the bytes of an ``.npz`` (no pickles): ``trunk_000``.., ``enc_<layer>_000``.., ``info_json``."""
    arrays = {f"trunk_{i:03d}": w for i, w in enumerate(pre.trunk)}
    for name, ws in pre.encoder.items():
        arrays.update({f"enc_{name}_{i:03d}": w for i, w in enumerate(ws)})
    arrays["info_json"] = np.frombuffer(json.dumps(pre.info, default=json_default).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def unpack(source) -> Pretrained:
    """The :class:`Pretrained` of :func:`pack`'s bytes (a path or a file object); ``ValueError``, ``KeyError``,
    ``OSError`` ... when it is not one."""
    with np.load(source, allow_pickle=False) as z:
        names = sorted(z.files)
        trunk = [z[n] for n in names if n.startswith("trunk_")]
        encoder: dict[str, list] = {}
        for n in names:
            if n.startswith("enc_"):
                encoder.setdefault(n[4:].rsplit("_", 1)[0], []).append(z[n])
        info = json.loads(bytes(z["info_json"]).decode())
    return Pretrained(trunk, encoder, info)


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
    start : Pretrained or None
        The encoder the network started from, frozen, when the track score stacks its vectors' regression
        (``Blend.chosen == "encoder"``); saved in the archive with it.
    """

    model: keras.Model  # noqa: F821 (Keras is imported only where a model is saved or loaded)
    cfg: FeatureConfig
    mcfg: ModelConfig  # noqa: F821
    report: TrainReport | None = None
    start: Pretrained | None = None


def save(path: str | os.PathLike, saved: SavedModel) -> Path:
    """Save ``saved`` to one ``.keras`` file, atomically (an interrupted save leaves no half-written model)."""
    from .networks import keras

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
            if saved.start is not None and stacks_encoder(saved.report):
                zf.writestr(START_NAME, pack(saved.start))
    return path


def stacks_encoder(report: TrainReport | None) -> bool:
    """Whether a model's track score stacks the regression on its start encoder's vectors."""
    return report is not None and report.blend is not None and report.blend.chosen == "encoder"


def read_start(path, report: TrainReport | None, cfg: FeatureConfig, mcfg: ModelConfig) -> Pretrained | None:
    """The start encoder kept in the archive (:data:`START_NAME`) when the model's score stacks it, checked against
    the network's configuration; None for any other model.

    Raises
    ------
    ModelFileError
        The model stacks the encoder and the member is missing, malformed or of other shapes.
    """
    if not stacks_encoder(report):
        return None
    from . import runtime

    try:
        with zipfile.ZipFile(path) as zf:
            data = zf.read(START_NAME)
    except KeyError:
        raise ModelFileError(f"{path}: the model stacks its start encoder's vectors, but {START_NAME} is not in "
                             "the archive") from None
    try:
        start = unpack(io.BytesIO(data))
        runtime.from_pretrained(cfg, mcfg, start)  # every shape checked as the light runtime builds it
        if not all(np.isfinite(w).all() for w in start.trunk + sum(start.encoder.values(), [])):
            raise ValueError("a weight is not finite")
    except (zipfile.BadZipFile, ValueError, KeyError, TypeError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: malformed {START_NAME} ({type(exc).__name__}: {str(exc)[:200]})") from None
    return start


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


#: The most a model archive may inflate to, member by member and in all (bytes): read from the zip's directory
#: before anything is inflated. pers_rec's networks are well under 10 MB; a report lists every training track.
MEMBER_LIMITS = {META_NAME: 64 << 20, "config.json": 4 << 20, "metadata.json": 1 << 20,
                 "model.weights.h5": 128 << 20, START_NAME: 16 << 20}
TOTAL_LIMIT = 192 << 20
#: A member this many times larger than its compressed bytes is refused (a zip bomb); weights compress little.
MAX_RATIO = 100


def check_members(path, members: list[zipfile.ZipInfo]) -> None:
    """Refuse an archive whose members would inflate past :data:`MEMBER_LIMITS` / :data:`TOTAL_LIMIT` or by more than
    :data:`MAX_RATIO`, or that holds members pers_rec never writes, before a byte is inflated.

    Raises
    ------
    ModelFileError
    """
    total = 0
    for m in members:
        limit = MEMBER_LIMITS.get(m.filename)
        if limit is None:
            raise ModelFileError(f"{path}: refused: unexpected member {m.filename[:100]!r} in the archive")
        if m.file_size > limit:
            raise ModelFileError(f"{path}: refused: {m.filename} would inflate to {m.file_size / 2**20:.0f} MB "
                                 f"(at most {limit >> 20} MB)")
        if m.file_size > (1 << 20) and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            fold = m.file_size // max(m.compress_size, 1)
            raise ModelFileError(f"{path}: refused: {m.filename} inflates {fold}-fold (a zip bomb?)")
        total += m.file_size
    if total > TOTAL_LIMIT:
        raise ModelFileError(f"{path}: refused: the archive would inflate to {total / 2**20:.0f} MB "
                             f"(at most {TOTAL_LIMIT >> 20} MB)")


def read_meta(path: str | os.PathLike) -> dict:
    """The pers_rec metadata of a model file, checked for its shape, without loading Keras weights.

    Raises
    ------
    ModelFileError
    """
    path = check_file(path)
    try:
        with zipfile.ZipFile(path) as zf:
            check_members(path, zf.infolist())
            meta = json.loads(zf.read(META_NAME))
    except KeyError:
        raise ModelFileError(f"{path}: not a pers_rec model (no {META_NAME} inside)") from None
    except (zipfile.BadZipFile, ValueError, UnicodeDecodeError, OSError, RecursionError, NotImplementedError) as exc:
        raise ModelFileError(f"{path}: malformed {META_NAME} ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("feature_config"), dict) \
            or not isinstance(meta.get("model_config"), dict):
        raise ModelFileError(f"{path}: malformed {META_NAME} (no feature_config / model_config objects)")
    configs(path, meta)  # every value typed and in range, before any framework is imported
    return meta


def configs(path, meta: dict) -> tuple[FeatureConfig, ModelConfig]:
    """The feature and model configurations of a model file's metadata; :class:`ModelFileError` naming the file
    and the value when one is of the wrong type or out of range (``lstm_units: "32"``, ``filters: [10**9]``)."""
    try:
        return FeatureConfig.from_dict(meta["feature_config"]), ModelConfig(**meta["model_config"])
    except (ParameterError, TypeError, KeyError, ValueError, AttributeError, OverflowError) as exc:
        raise ModelFileError(f"{path}: malformed {META_NAME} ({str(exc)[:300]})") from None


#: The runtimes a model can be loaded into: ``light`` (numpy, :mod:`runtime`; scoring only) or ``keras``.
RUNTIMES = ("light", "keras")


def load(path: str | os.PathLike, expect: FeatureConfig | None = None, runtime: str = "keras") -> SavedModel:
    """Load a model saved by :func:`save`, safely (see the module docstring).

    Parameters
    ----------
    expect : FeatureConfig or None
        If given, the model's feature config must equal it, else
        :class:`ConfigMismatchError` lists the differences.
    runtime : {"keras", "light"}
        ``keras``: a Keras model (to train, fine-tune or export). ``light``: a :class:`runtime.Network`, the same
        forward pass in numpy, read without importing Keras or TensorFlow (every scoring command's default).

    Raises
    ------
    ModelFileError
        Anything wrong with the file, named with its path.
    """
    path = Path(path)
    meta = read_meta(path)
    cfg, mcfg = configs(path, meta)
    try:
        report = TrainReport.from_dict(meta["report"]) if meta.get("report") else None
    except (ParameterError, TypeError, KeyError, ValueError, AttributeError, OverflowError) as exc:
        raise ModelFileError(f"{path}: malformed {META_NAME} ({str(exc)[:300]})") from None
    if expect is not None:
        cfg.check_matches(expect)
    if runtime not in RUNTIMES:
        raise ParameterError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r:.40}")
    if runtime == "light":
        from . import archive

        return SavedModel(archive.read(path, cfg, mcfg), cfg, mcfg, report, read_start(path, report, cfg, mcfg))
    from .networks import keras, members

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises ValueError, TypeError, OSError, ... for hostile or broken archives
        first = " ".join(str(exc).split())[:300]
        raise ModelFileError(f"{path}: refused or unreadable by Keras safe mode "
                             f"({type(exc).__name__}: {first})") from None
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
    check_network(path, model, cfg, mcfg)
    return SavedModel(model, cfg, mcfg, report, read_start(path, report, cfg, mcfg))


#: Layer settings compared between a loaded network and the one its configuration describes.
_SETTINGS = ("filters", "kernel_size", "strides", "padding", "pool_size", "units", "rate", "return_sequences",
             "activation")


def _layout(model) -> list[tuple]:
    """Every layer of every member, as (class, weight shapes, the settings of :data:`_SETTINGS` it has)."""
    from .networks import members

    out = []
    for trunk, head in members(model):
        for layer in [*trunk.layers, *head.layers]:
            conf = layer.get_config()
            out.append((type(layer).__name__, tuple(tuple(w.shape) for w in layer.weights),
                        tuple((k, str(conf[k])) for k in _SETTINGS if k in conf)))
    return out


def check_network(path, model, cfg: FeatureConfig, mcfg) -> None:
    """The loaded network must be the one its configuration describes (architecture, filters, kernel and pool
    sizes, widths: an edited ``pool_size`` or ``arch`` would make commands disagree), and every weight finite.

    Raises
    ------
    ModelFileError
    """
    from .networks import build, members

    for w in model.weights:
        if not np.isfinite(np.asarray(w.numpy() if hasattr(w, "numpy") else w)).all():
            raise ModelFileError(f"{path}: refused: the weight {w.path} holds NaN or infinite values")
    try:
        expected = build(cfg, mcfg, members=len(members(model)))
    except ParameterError as exc:
        raise ModelFileError(f"{path}: its configuration describes no network ({exc})") from None
    got, want = _layout(model), _layout(expected)
    if got != want:
        diff = next(((g, w) for g, w in zip(got, want) if g != w), (got[len(want):][:1], want[len(got):][:1]))
        raise ModelFileError(f"{path}: the network is not the one its configuration describes "
                             f"(arch {mcfg.arch}, filters {list(mcfg.filters)}, pool {mcfg.pool_size}): "
                             f"layer {diff[0]} where the configuration gives {diff[1]}")
