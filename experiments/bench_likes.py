"""Reading a listener's lists at scale: a likes CSV of 1,000,000 rows whose files do not exist (what a stale
export gives), and a ListenBrainz history of 1,000,000 listens, timed in one run; the old quadratic membership
test (a list) timed beside the new one (a set) on the same rows, as the baseline.

    python -m experiments.bench_likes [--rows 1000000]   ->  results/bench_likes.{json,md}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--baseline-rows", type=int, default=20_000, help="rows for the quadratic baseline")
    args = ap.parse_args()
    from pers_rec.learn import dataset
    from pers_rec.players import signals
    from pers_rec.players.playlists import read_labelled

    with tempfile.TemporaryDirectory() as tmp:
        likes = Path(tmp) / "likes.csv"
        with open(likes, "w") as f:
            f.write("path,label,weight,signal\n")
            f.writelines(f"/gone/artist {i % 997}/song {i}.flac,1,1.0,starred\n" for i in range(args.rows))
        history = Path(tmp) / "listens.jsonl"
        with open(history, "w") as f:
            f.writelines(json.dumps({"listened_at": i, "track_metadata": {"artist_name": f"A{i % 997}",
                                                                            "track_name": f"T{i}"}}) + "\n"
                         for i in range(args.rows))
        devnull = open(os.devnull, "w")
        stderr, sys.stderr = sys.stderr, devnull  # the missing-files warning
        try:
            t_read, entries = timed(lambda: read_labelled(likes, 1))
            t_check, _ = timed(lambda: _labelled(dataset, likes))
        finally:
            sys.stderr = stderr
        t_hist, (listens, skipped) = timed(lambda: signals.read_listens(history))
        small = [p for p, _ in entries[: args.baseline_rows]]
        t_list, _ = timed(lambda: [p for p in small if p in small])
        t_set, _ = timed(lambda: _with_set(small))
    out = {"rows": args.rows, "likes_read_s": round(t_read, 2), "likes_checked_s": round(t_check, 2),
           "history_read_s": round(t_hist, 2), "listens": len(listens), "skipped": skipped,
           "baseline_rows": args.baseline_rows, "membership_list_s": round(t_list, 3),
           "membership_set_s": round(t_set, 4),
           "list_extrapolated_to_rows_s": round(t_list * (args.rows / args.baseline_rows) ** 2)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_likes.json").write_text(json.dumps(out, indent=1) + "\n")
    md = f"""# Likes lists and histories at scale

`python -m experiments.bench_likes` on the 2-core development machine (one run; the machine is shared).

| what | rows | seconds |
|---|---:|---:|
| likes CSV read (`playlists.read_labelled`) | {args.rows:,} | {t_read:.2f} |
| likes CSV read and checked, every file missing (`dataset.labelled_paths`) | {args.rows:,} | {t_check:.2f} |
| ListenBrainz history read (`signals.read_listens`, JSON lines) | {args.rows:,} | {t_hist:.2f} |
| baseline: "is this path missing?" in a list (the old way) | {args.baseline_rows:,} | {t_list:.3f} |
| the same in a set (the new way) | {args.baseline_rows:,} | {t_set:.4f} |

The list's cost grows with the square of the rows: {t_list:.3f} s at {args.baseline_rows:,} rows extrapolates to
{out['list_extrapolated_to_rows_s']:,} s at {args.rows:,}; the whole check now takes {t_check:.2f} s there.
"""
    (RESULTS / "bench_likes.md").write_text(md)
    print(md)


def _labelled(dataset, likes):
    """The training side's check of a likes list; with every file missing it ends in its one-line error."""
    from pers_rec.errors import ParameterError

    try:
        return dataset.labelled_paths(likes, None)
    except ParameterError:
        return None


def _with_set(items):
    s = set(items)
    return [p for p in items if p in s]


if __name__ == "__main__":
    main()
