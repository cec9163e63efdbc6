"""``--engine ray``: analysing and scoring a library on a Ray cluster (Ray Data) instead of the local process pool.

For catalogues that outgrow one machine (the scale-out plan: ``docs/scale.md``).
Ray Data reads the file list, decodes and computes the features in CPU tasks
(``features.extract``, the same code as the local workers), and scores them in
a pool of actors that each load the model once (GPU actors when the cluster
has GPUs). Each row of the result is the local engine's row (``rank.track_row``):
the same numbers as ``rank --no-cache`` (tested on a local cluster). Results
can be written as Parquet to a local path or any filesystem pyarrow can write
(``s3://``, ``gs://``, ...).

There is no SQLite feature cache on this path: on a cluster the features'
store is the Parquet output of :func:`features`. Ray is an optional extra
(``pip install 'pers_rec[ray]'``); nothing else imports this module.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ParameterError

#: Most files per decoding task, and tracks per scoring batch. A task of 128 files ran a 1,000-track library
#: 1.2x faster than tasks of 32 on the 2-core test machine (fewer tasks to schedule and pass along).
DECODE_BATCH, SCORE_BATCH = 128, 64
#: Retries of a Ray task whose process died (Ray Data's default is to retry forever: a file that always
#: killed its task would never end the run). A decoder crash never gets this far (see :func:`_featurize`).
TASK_RETRIES = 2


def decode_batch(n_files: int, cpus: float) -> int:
    """Files per decoding task: :data:`DECODE_BATCH`, or fewer so that every CPU gets at least 4 tasks."""
    return max(1, min(DECODE_BATCH, -(-n_files // max(1, int(4 * cpus)))))


def _ray():
    try:
        import ray
    except ImportError:
        raise ParameterError("--engine ray needs Ray: pip install 'pers_rec[ray]'") from None
    return ray


def start(address: str | None = None, num_cpus: int | None = None):
    """Connect to the Ray cluster at ``address`` (None: start a local one, or use the one already started).

    Ray's Python log lines stay out of the terminal (``-q`` drops its C++ lines too: ``cli.QUIET_NOISE``), and
    SIGTERM keeps meaning what it means for every pers_rec command (Ctrl-C: exit 130); Ray's handler would
    abort the process with a C++ stack dump. :func:`stop` disconnects before the interpreter exits."""
    import logging
    import signal

    ray = _ray()
    if not ray.is_initialized():
        handler = signal.getsignal(signal.SIGTERM)
        try:
            ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                     log_to_driver=False, ignore_reinit_error=True, logging_level=logging.ERROR)
        except SystemExit as exc:  # Ray's own SIGTERM handler, while it starts: sys.exit(15)
            if exc.code == signal.SIGTERM:
                raise KeyboardInterrupt from None
            raise
        finally:
            if callable(handler):
                signal.signal(signal.SIGTERM, handler)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray


def connected() -> bool:
    """Whether this process is connected to a Ray cluster already (then whoever connected it disconnects)."""
    return _ray().is_initialized()


def stop() -> None:
    """Disconnect from Ray (a local cluster this process started is shut down); quiet if it is already gone."""
    import contextlib

    ray = _ray()
    with contextlib.suppress(Exception):
        if ray.is_initialized():
            ray.shutdown()


def matrix(row, n_features: int) -> np.ndarray:
    """The feature matrix [shape=(n_frames, n_features), float32] of a row of :func:`features`."""
    return np.frombuffer(row["data"], np.float32).reshape(int(row["n_frames"]), n_features)


def _featurize(batch: dict, cfg: dict) -> dict:
    """Decoding task: each path's features as bytes (float32) and shape, or the error's description.

    The files are decoded in a worker process of the task's own (``extract_many`` with one job), as the local
    engine decodes them: a file that crashes the decoder (a segfault, an out-of-memory kill) costs that file, which
    becomes an error row (``WorkerCrashedError``), never the task; so Ray's own retries (bounded:
    :data:`TASK_RETRIES`) are left for a machine that dies."""
    from ..audio.extract import extract_many
    from ..config import FeatureConfig
    from ..errors import describe

    c = FeatureConfig.from_dict(cfg)
    got = {str(e.path): e for e in extract_many([str(p) for p in batch["path"]], c, jobs=1)}
    out = {"path": [], "data": [], "n_frames": [], "error": []}
    for p in map(str, batch["path"]):
        e = got[p]
        if e.ok:
            data, n, err = np.ascontiguousarray(e.features, np.float32).tobytes(), len(e.features), ""
        else:
            data, n, err = b"", 0, describe(e.error)
        out["path"].append(p)
        out["data"].append(data)
        out["n_frames"].append(n)
        out["error"].append(err)
    return {k: np.array(v, dtype=object) for k, v in out.items()}


class _Scorer:
    """Scoring actor: loads the model once, then scores batches of feature matrices like the local engine (a model
    that stacks the teacher's or its start encoder's score gets each track's vector as ``rank`` does)."""

    def __init__(self, model_path: str):
        from ..model import checkpoint, scoring
        from .rank import stack_vectors

        self.saved = checkpoint.load(model_path)
        self.scorer = scoring.Scorer(self.saved)
        self.partners = stack_vectors(self.saved, self.scorer, None)

    def __call__(self, batch: dict) -> dict:
        from pathlib import Path as P

        from ..audio.extract import Extracted
        from ..errors import from_description
        from .rank import COLUMNS, error_row, track_row

        d = self.saved.cfg.n_features
        items, rows = [], []
        for p, data, n, err in zip(batch["path"], batch["data"], batch["n_frames"], batch["error"]):
            if err:
                rows.append(error_row(P(p), from_description(p, err)))
            else:
                items.append(Extracted(P(p), matrix({"data": data, "n_frames": n}, d)))
        for item, s in zip(items, self.scorer.score_many([i.features for i in items])):
            rows.append(track_row(item, s, self.scorer, self.partners))
        cols = COLUMNS[1:]
        return {c: np.array([r.get(c, None) for r in rows], dtype=object) for c in cols}


class _Embedder:
    """Embedding actor: the encoder from the model file's bytes (written to its own temp file), then each
    track's mean-pooled vector, as ``embed`` computes it."""

    def __init__(self, model_bytes: bytes):
        import tempfile

        from ..model import checkpoint
        from . import embed

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "encoder.keras"
            path.write_bytes(model_bytes)
            self.embedder = embed.Embedder(checkpoint.load(path))

    def __call__(self, batch: dict) -> dict:
        d, dim = self.embedder.cfg.n_features, self.embedder.dim
        vecs = [np.zeros(dim, np.float32).tobytes() if err else  # float16-rounded, as the local engine stores them
                self.embedder.track_vector(matrix({"data": data, "n_frames": n}, d))
                .astype(np.float16).astype(np.float32).tobytes()
                for data, n, err in zip(batch["data"], batch["n_frames"], batch["error"])]
        return {"path": batch["path"], "vector": np.array(vecs, dtype=object), "error": batch["error"]}


def embed(paths: list[str | os.PathLike], saved) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
    """Track vectors (mean pooling) of ``paths`` computed on Ray with the encoder of ``saved``: ``(paths that
    worked, V [shape=(n, dim)] L2-normalised, [(path, reason)] of the others)``, in the order given."""
    import tempfile

    from ..model import checkpoint, runtime

    if isinstance(saved.model, runtime.Network):  # Ray's workers run Keras: the same weights, in its form
        saved = checkpoint.SavedModel(runtime.to_keras(saved.model, saved.cfg, saved.mcfg), saved.cfg, saved.mcfg)
    start()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint.save(Path(tmp) / "encoder.keras", saved)
        model_bytes = (Path(tmp) / "encoder.keras").read_bytes()
    rows = features(paths, saved.cfg).map_batches(_Embedder, fn_constructor_args=(model_bytes,),
                                                  batch_size=SCORE_BATCH, concurrency=1, num_cpus=0,
                                                  batch_format="numpy").to_pandas()
    got = {r["path"]: r for r in rows.to_dict("records")}
    ok = [str(p) for p in paths if str(p) in got and not got[str(p)]["error"]]
    failed = [(str(p), got[str(p)]["error"]) for p in paths if str(p) in got and got[str(p)]["error"]]
    dim = len(got[ok[0]]["vector"]) // 4 if ok else 0
    V = np.stack([np.frombuffer(got[p]["vector"], np.float32) for p in ok]) if ok else np.zeros((0, dim), np.float32)
    return ok, V, failed


def features(paths: list[str | os.PathLike], cfg, *, out: str | None = None):
    """A Ray Dataset of every file's features (``path``, ``data`` float32 bytes, ``n_frames``, ``error``), written
    as Parquet to ``out`` when given (the cluster's feature store)."""
    ray = start()
    ds = ray.data.from_items([{"path": str(p)} for p in paths])
    batch = decode_batch(len(paths), ray.cluster_resources().get("CPU", 1))
    with warnings.catch_warnings():  # max_retries has no named parameter yet: Ray warns of ray_remote_args
        warnings.filterwarnings("ignore", message=".*ray_remote_args")
        ds = ds.map_batches(_featurize, fn_kwargs={"cfg": cfg.to_dict()}, batch_size=batch, num_cpus=1,
                            batch_format="numpy", max_retries=TASK_RETRIES)
    if out is not None:
        ds.write_parquet(out)
    return ds


def rank(paths: list[str | os.PathLike], model_path: str | os.PathLike, cfg, *, out: str | None = None,
         actors: int | None = None) -> pd.DataFrame:
    """The ranking of ``paths`` computed on Ray: the local engine's table (``rank.rank``), best first; written as
    Parquet to ``out`` (a folder or URI) when given.

    Parameters
    ----------
    actors : int or None
        Scoring actors (default: one per GPU of the cluster, else 1).
    """
    from .rank import ranking_table
    ray = start()
    gpus = int(ray.cluster_resources().get("GPU", 0))
    n = actors or max(1, gpus)
    ds = features(paths, cfg)
    # num_cpus=0: a CPU scoring actor shares the decoding tasks' cores, as the local engine's main process does;
    # reserving a share of one (0.25 before) left a 2-core machine one decoding task at a time
    scored = ds.map_batches(_Scorer, fn_constructor_args=(str(Path(model_path).resolve()),),
                            batch_size=SCORE_BATCH, concurrency=n, num_gpus=1 if gpus else 0, num_cpus=0,
                            batch_format="numpy")
    df = scored.to_pandas()
    rows = [{k: _plain(v) for k, v in r.items() if not (k in ("genre", "genre_probability") and v is None)}
            for r in df.to_dict("records")]
    table = ranking_table(rows)
    if out is not None:
        ray.data.from_pandas(table.astype({c: str for c in ("genre",) if c in table})).write_parquet(out)
    return table


def _plain(v):
    """A numpy scalar from Arrow as the Python value the local engine has."""
    return v.item() if isinstance(v, np.generic) else v
