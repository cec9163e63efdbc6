"""Benchmark: ``similar`` over 100,000 cached track embeddings, and what each costs on disk.

Synthetic unit vectors stand in for a library's embeddings (the search does
not care where they came from), at the default encoder's width (32). Timed,
fastest of ``--repeats``:

- ``embed.nearest`` for one seed track and for the mean of five, n = 20;
- the reference in the same run: a brute-force answer (every cosine, a full
  sort by cosine then path), which ``nearest`` must equal;
- loading all the vectors back from the feature cache (``get_vectors_many``:
  one query, each file stat'ed: the files are empty stand-ins in a temp folder).

Storage: the float16 vector's bytes, and the cache file's size per track
(path, key, size and mtime included).

``python -m experiments.bench_similarity`` writes ``results/bench_similarity.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from experiments.common import RESULTS, best_of, environment, write_results


def brute_force(seeds: np.ndarray, paths: list[str], V: np.ndarray, n: int) -> list[str]:
    q = seeds.mean(0)
    q /= np.linalg.norm(q)
    cos = V @ q
    order = sorted(range(len(V)), key=lambda i: (-cos[i], paths[i]))
    seed_rows = {int(np.argmax(V @ s)) for s in seeds}
    return [paths[i] for i in order if i not in seed_rows][:n]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tracks", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)

    from pers_rec.audio.cache import FeatureCache
    from pers_rec.library import embed as E

    rng = np.random.default_rng(0)
    V = E.normalise(rng.normal(size=(args.tracks, args.dim))).astype(np.float16).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, f"artist{i % 997:03d}", f"track{i:06d}.flac") for i in range(args.tracks)]
        for d in {os.path.dirname(x) for x in paths}:
            os.makedirs(d)
        for x in paths:
            open(x, "wb").close()
        res = {"env": environment(), "tracks": args.tracks, "dim": args.dim}
        for k in (1, 5):
            rows = rng.choice(args.tracks, k, replace=False)
            seeds, exclude = V[rows], {paths[i] for i in rows}
            t, got = best_of(lambda s=seeds, x=exclude: E.nearest(s, paths, V, 20, exclude=x), args.repeats)
            t_ref, want = best_of(lambda s=seeds: brute_force(s, paths, V, 20), max(1, args.repeats // 3))
            assert [nb.path for nb in got] == want, "nearest differs from the brute-force answer"
            res[f"nearest_{k}_seed_ms"], res[f"brute_force_{k}_seed_ms"] = 1000 * t, 1000 * t_ref
            print(f"{k} seed(s): nearest {1000 * t:.1f} ms, brute force {1000 * t_ref:.0f} ms", flush=True)

        cache = FeatureCache(os.path.join(tmp, "cache", "features.sqlite"))
        t0 = time.perf_counter()
        with cache._db:  # one transaction for the bulk insert (put_vectors commits each one)
            for x, v in zip(paths, V):
                st = os.stat(x)
                cache._db.execute("INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?,?,?,?,?)",
                                  (os.fsencode(x), "emb:0123456789abcdef:72ffe53b474edf3a", st.st_size,
                                   st.st_mtime_ns, 1, args.dim, v.astype(np.float16).tobytes(), None, 0.0))
        print(f"stored {args.tracks:,} vectors in {time.perf_counter() - t0:.0f} s", flush=True)
        cache._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = sum(os.path.getsize(os.path.join(tmp, "cache", f)) for f in os.listdir(os.path.join(tmp, "cache")))
        t_load, loaded = best_of(lambda: cache.get_vectors_many(paths, "emb:0123456789abcdef:72ffe53b474edf3a"), 3)
        assert len(loaded) == args.tracks
        cache.close()
    res.update(load_all_s=t_load, vector_bytes=2 * args.dim, cache_bytes_per_track=size / args.tracks,
               path_bytes_mean=float(np.mean([len(os.fsencode(x)) for x in paths])))
    env = res["env"]
    lines = [
        "# `similar` on a large library",
        "",
        f"Written by `python -m experiments.bench_similarity` on {env['cpus']} CPUs ({env['machine']}, {env['date']}). "
        f"{args.tracks:,} random unit vectors of {args.dim} dimensions (the default encoder's width), stored and "
        f"searched as `pers-rec similar` does; fastest of {args.repeats} runs. The answers equal the brute-force "
        "reference's (checked in the run).",
        "",
        "| step | time | reference in the same run | ratio |",
        "|---|---|---|---|",
    ]
    for k in (1, 5):
        a, b = res[f"nearest_{k}_seed_ms"], res[f"brute_force_{k}_seed_ms"]
        lines.append(f"| nearest 20 to {k} seed track{'s' if k > 1 else ''} (`embed.nearest`) | **{a:.1f} ms** | "
                     f"brute force: every cosine, full sort by cosine then path: {b:.0f} ms | {b / a:.0f}x faster |")
    lines += [
        f"| load all {args.tracks:,} vectors from the cache (one query, each file stat'ed) | {t_load:.2f} s | | |",
        "",
        f"Target: an answer in <= 100 ms once embeddings are cached: the search takes {res['nearest_1_seed_ms']:.0f} ms "
        f"for one seed. Loading the vectors and checking that {args.tracks:,} files are unchanged takes "
        f"{t_load:.1f} s more per command (scanning the folder for its files, not measured here, comes on top); a "
        "long-running service would pay both once.",
        "",
        f"Storage per track: {2 * args.dim} bytes of float16 vector; {size / args.tracks:.0f} bytes in the cache "
        f"file, including its path ({res['path_bytes_mean']:.0f} bytes here), the key, size, mtime and the index. "
        "With `--pooling distinctive`, every window's vector is stored too: a 4-minute track has 233 windows, "
        f"{233 * 2 * args.dim:,} bytes.",
    ]
    write_results("bench_similarity", res, lines, args.out)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
