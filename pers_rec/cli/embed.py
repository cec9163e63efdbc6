"""``pers-rec embed``: every track's embedding in one file, for other tools."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from .common import exit_code, say, subcommand, warn
from .embedding import add_pooling, embedder_and_cache, library_vectors

FORMATS = (".npz", ".parquet")


def add_parser(sub) -> None:
    e = subcommand(sub, "embed", "write every track's embedding (path, artist, title, vector) to one file",
                   "pers-rec embed ~/Music --model taste.keras --out vectors.npz", cache=True, jobs=True, runtime=True)
    e.add_argument("library", help="music folder (scanned recursively)")
    e.add_argument("--model", help="use this taste model's encoder (default: the library's pre-trained weights)")
    e.add_argument("--out", default="embeddings.npz",
                   help=".npz (numpy: arrays path, artist, title, vector) or .parquet (one row per track; needs "
                        "pyarrow)")
    add_pooling(e)
    e.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="ray: features and vectors computed on a Ray cluster (--ray-address; mean pooling; no "
                        "feature cache; pip install 'pers_rec[ray]')")
    e.add_argument("--ray-address", metavar="ADDR", help="with --engine ray: the cluster (default: a local one)")
    e.set_defaults(run=run)


def run(args) -> int:
    from ..fileio import check_not_inputs, check_output

    check_output(args.out, FORMATS, "--out")
    if Path(args.out).suffix.lower() == ".parquet":
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise ParameterError(f"--out {args.out}: Parquet needs pyarrow (pip install pyarrow), or write .npz")
    check_not_inputs({"--out": args.out}, {"--model": args.model})
    if args.engine == "ray" and args.pooling != "mean":
        raise ParameterError("--engine ray computes mean-pooled vectors: leave out --pooling")
    with embedder_and_cache(args, library_flag="library") as (embedder, cache):
        return embed(args.library, embedder, args.out, pooling=args.pooling, cache=cache, jobs=args.jobs,
                     progress=not args.quiet, engine=args.engine, ray_address=args.ray_address)


def embed(library_dir, embedder, out, *, pooling: str = "mean", cache=None, jobs=None, progress: bool = False,
          engine: str = "local", ray_address: str | None = None) -> int:
    """The library's track embeddings (L2-normalised, float32) with their paths and tags, written to ``out``."""
    from ..audio import tags
    from ..fileio import atomic_path, is_utf8

    if engine == "ray":
        from ..library import distributed
        from .common import library_files

        distributed.start(ray_address, num_cpus=jobs)
        paths, V, bad = distributed.embed(library_files(library_dir, "--library"), embedder.saved)
        for path, reason in bad:
            warn(f"skipped {path}: {reason}")
        failed = bad
    else:
        paths, V, failed, _ = library_vectors(library_dir, embedder, cache, jobs, progress, pooling)
    info = [tags.read(p) for p in paths]
    table = {"path": np.array(paths, dtype=str), "artist": np.array([t.get("artist", "") for t in info], dtype=str),
             "title": np.array([t.get("title", "") for t in info], dtype=str),
             "vector": np.asarray(V, np.float32).reshape(len(paths), embedder.dim)}
    out = Path(out)
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".npz":
            with open(tmp, "wb") as f:
                np.savez(f, **table)
        else:
            import pandas as pd

            cols = {k: list(v) if k == "vector" else pd.Series(v, dtype=object) for k, v in table.items()}
            # Parquet text is UTF-8: when a name's bytes are not, every path goes as bytes
            if not all(is_utf8(os.fsencode(p)) for p in paths):
                warn("pers-rec: warning: some file names are not valid UTF-8: the Parquet 'path' column holds "
                     "every path as bytes (os.fsencode)")
                cols["path"] = pd.Series([os.fsencode(p) for p in paths], dtype=object)
            for k in ("artist", "title"):
                cols[k] = pd.Series([x.encode("utf-8", "replace").decode("utf-8") for x in cols[k]], dtype=object)
            df = pd.DataFrame(cols)
            df.to_parquet(tmp, index=False)
    say(f"wrote {len(paths)} track embeddings ({embedder.dim}-d, {pooling} of windows) -> {out}")
    return exit_code(failed)
