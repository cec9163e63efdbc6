"""Does a restructuring change what pers_rec computes? Real-music tasks trained and ranked before and after.

A pure move (modules into wings, imports rewritten) or a refactor that claims to change no number must leave the
real-music benchmark's figures identical, to the last digit. This runs ``experiments.realmusic`` for the same
tasks, seed and variant twice, each in a fresh folder (its own feature cache and progress file; the excerpts
shared by symbolic links): once in a git worktree of ``--before`` (a commit), once in this checkout, and compares
every figure of every run (test ROC-AUC, AP, NDCG@10 of each scoring, the chosen blend and epochs, the
cross-validated figures). Writes ``results/realmusic_identity.{json,md}``.

    python -m experiments.realmusic_identity --before 1126b3e [--tasks cartoon-4-likes orchestral-within]
        [--variant cnn_lstm+shipped] [--seeds 1]
    python -m experiments.realmusic_identity --before 1126b3e --compare-only   # runs already made in --work
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from experiments import realmusic_data as D
from experiments.common import ROOT, environment, write_results

#: The figures of a run compared (timings are not: they differ between any two runs).
FIGURES = ("default", "network", "stacked", "one_fold_model", "mean_logit", "top10_windows", "blend_chosen",
           "blend_cv", "epochs", "cv_roc_auc")


def prepare(folder: Path) -> None:
    """A fresh realmusic folder whose excerpts and teacher vectors are the cache's (links), with nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    for item in D.cache_dir().iterdir():
        if item.name.startswith("a") and item.is_dir() or item.name == "teacher_tracks.npz":
            link = folder / item.name
            if not link.exists():
                link.symlink_to(item)


def run(checkout: Path, folder: Path, args) -> None:
    env = {**os.environ, "PERS_REC_REALMUSIC_DIR": str(folder)}
    cmd = [sys.executable, "-m", "experiments.realmusic", "--tasks", *args.tasks, "--seeds", str(args.seeds),
           "--variants", args.variant, "--out", str(folder / "out")]
    print(f"realmusic_identity: {' '.join(cmd[2:])} in {checkout}", flush=True)
    subprocess.run(cmd, cwd=checkout, env=env, check=True)


def runs(folder: Path) -> dict:
    return {(r["task"], r["variant"], r["seed"]): r
            for r in map(json.loads, (folder / "realmusic_runs.jsonl").read_text().splitlines())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="the commit before the change")
    p.add_argument("--tasks", nargs="+", default=["cartoon-4-likes", "orchestral-within"])
    p.add_argument("--variant", default="cnn_lstm+shipped")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--after", default=None, help="what the after run was made at (default: this checkout's commit)")
    p.add_argument("--work", default="/tmp/realmusic_identity", help="where the two runs keep their folders")
    p.add_argument("--compare-only", action="store_true", help="compare the runs already in --work")
    p.add_argument("--out", default=str(ROOT / "results"))
    args = p.parse_args(argv)
    work = Path(args.work)
    before, after = work / "before", work / "after"
    if not args.compare_only:
        tree = work / "tree"
        if not tree.exists():
            subprocess.run(["git", "worktree", "add", "-f", str(tree), args.before], cwd=ROOT, check=True)
        for folder, checkout in ((before, tree), (after, ROOT)):
            prepare(folder)
            run(checkout, folder, args)
    a, b = runs(before), runs(after)
    rows, same_all = [], True
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            rows.append({"run": key, "identical": False, "differs": ["missing on one side"]})
            same_all = False
            continue
        differs = [f for f in FIGURES if a[key].get(f) != b[key].get(f)]
        same_all &= not differs
        rows.append({"run": key, "identical": not differs, "differs": differs,
                     "test_roc_auc": [a[key]["default"]["roc_auc"], b[key]["default"]["roc_auc"]],
                     "train_s": [a[key]["train_s"], b[key]["train_s"]]})
    env = environment()
    after_at = args.after or subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                            text=True).stdout.strip()
    md = ["# The real-music benchmark before and after a restructuring", "",
          f"`python -m experiments.realmusic_identity --before {args.before}` on {env['date']} ({env['cpus']} CPUs): "
          f"the same tasks, seed and variant (`{args.variant}`: the default `train`, which starts from the shipped "
          f"encoder) trained and ranked at the commit before and after ({after_at}), each in a fresh cache; every "
          f"figure of each run compared ({', '.join(FIGURES)}).", "",
          "| task | variant | seed | identical | test ROC-AUC before | after | train s before | after |",
          "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        task, variant, seed = r["run"]
        auc, ts = r.get("test_roc_auc", [None, None]), r.get("train_s", [0, 0])
        md.append(f"| {task} | {variant} | {seed} | {'yes' if r['identical'] else 'no: ' + ', '.join(r['differs'])} "
                  f"| {auc[0]!r} | {auc[1]!r} | {ts[0]:.0f} | {ts[1]:.0f} |")
    md += ["", "Every figure identical to the last digit." if same_all else "**Some figures differ.**"]
    write_results("realmusic_identity", {"before": args.before, "after": after_at, "variant": args.variant, "identical": same_all,
                                         "runs": [{**r, "run": list(r["run"])} for r in rows], "environment": env},
                  md, args.out)
    print("\n".join(md))
    return 0 if same_all else 1


if __name__ == "__main__":
    raise SystemExit(main())
