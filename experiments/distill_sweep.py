"""The distillation sweep in one table: every ``distill_dense`` run's held-out-source figures side by side.

Each ``python -m experiments.distill_dense`` run writes ``results/NAME.{json,md}``; this reads them all and writes
``results/distill.{json,md}``: per run its settings (filters, LSTM width, MFCC coefficients, epochs, augmentation,
hours of 1 s windows) and, on the sources it never heard, R^2 of the teacher's vector and the centred cosine per
window and per track, for the student's own head and a ridge probe of its 32/64-d vectors, against the MFCC
statistics' probe and the training mean measured in the same run; then the issue's targets (R^2 >= 0.5, centred
cosine >= 0.7) against the best run.

    python -m experiments.distill_sweep
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from experiments.common import RESULTS, environment, write_results

TARGET_R2, TARGET_COS = 0.5, 0.7
#: Where each sweep point's taste numbers are: the real-music benchmark's results file and variant that started
#: ``train`` from that student (``experiments.realmusic``; the 32/32 student was measured as the candidate it
#: shipped as, the both-teachers one as a candidate in its own file).
TASTE = {"distill_dense_f32_l32_e40": ("realmusic.json", "cnn_lstm+candidate"),
         "distill_dense_f64_l64_e40": ("realmusic.json", "cnn_lstm+student-f64"),
         "distill_dense_m40_e40": ("realmusic.json", "cnn_lstm+student-m40"),
         "distill_dense_mtt_e40": ("realmusic_mtt_candidate.json", "cnn_lstm+candidate")}


def taste(folder: Path, run: str) -> dict | None:
    """The sweep point's real-music figures: mean test ROC-AUC of the default blend over tasks (each the mean of
    its seeds) and the number of runs; None when it was not measured."""
    import numpy as np

    where = TASTE.get(run)
    path = folder / where[0] if where else None
    if path is None or not path.exists():
        return None
    runs = [r for r in json.loads(path.read_text()).get("runs", []) if r.get("variant") == where[1]]
    per_task: dict[str, list] = {}
    for r in runs:
        per_task.setdefault(r["task"], []).append(r["default"]["roc_auc"])
    if len(per_task) < 6:
        return None
    return {"mean": float(np.mean([np.mean(v) for v in per_task.values()])), "runs": len(runs),
            "per_task": {k: float(np.mean(v)) for k, v in per_task.items()}}


def load(folder: Path) -> list[dict]:
    runs = []
    for path in sorted(folder.glob("distill_dense*.json")):
        d = json.loads(path.read_text())
        if "results" in d and "args" in d:
            runs.append({"name": path.stem, **d})
    return runs


def row_of(results: dict, prefix: str) -> dict | None:
    return next((v for k, v in results.items() if k.startswith(prefix)), None)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    runs = load(Path(args.results))
    if not runs:
        raise SystemExit("distill_sweep: no results/distill_dense*.json: run experiments.distill_dense first")
    table = []
    for r in runs:
        a, res = r["args"], r["results"]
        table.append({
            "run": r["name"], "filters": a["filters"], "lstm": a["lstm"], "n_mfcc": a.get("n_mfcc", 20),
            "epochs": a["epochs"], "augment": not a.get("no_augment", False), "train_h": r["hours"]["train"],
            "held_out": r["held_out"], "date": r["env"]["date"],
            "head": row_of(res, "student, its own head"), "probe": row_of(res, "new student, ridge probe"),
            "shipped": row_of(res, "shipped encoder"), "mfcc": row_of(res, "MFCC window statistics"),
            "losses_last": r["losses"][-1] if r.get("losses") else None, "taste": taste(Path(args.results), r["name"])})
    best = max(table, key=lambda t: t["probe"]["r2"])

    def cells(m):
        return f"{m['r2']:.3f} | {m['cos_window']:.3f} | {m['cos_track']:.3f}" if m else "- | - | -"

    held = sorted({s for t in table for s in t["held_out"]})
    md = ["# Distillation: the sweep, measured on sources the students never heard", "",
          f"`python -m experiments.distill_sweep` ({environment()['date']}) collects every "
          "`experiments.distill_dense` run in `results/`. Held out, whole: " + ", ".join(held) + ". "
          "R^2: variance of the teacher's (MSD musicnn, 200-d) window vector explained, per dimension, averaged; "
          "cos: cosine after centring on the training mean, per 1 s-hop window and per track (windows averaged). "
          "The probe is a ridge regression from the encoder's window vectors fitted on the training sources. "
          "Taste: the student as `train`'s start on the six real-music tasks (`experiments.realmusic`, default "
          "blend, 3 seeds): mean test ROC-AUC over the tasks.", "",
          "| run | filters | LSTM | MFCC | epochs | augment | train h | final loss | head R^2 | head cos win | "
          "head cos track | probe R^2 | probe cos win | probe cos track | MFCC stats R^2 | cos win | cos track | "
          "taste |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in table:
        loss = f"{t['losses_last']:.3f}" if t["losses_last"] is not None else "-"
        md.append(f"| {t['run']} | {t['filters']} | {t['lstm']} | {t['n_mfcc']} | {t['epochs']} | "
                  f"{'yes' if t['augment'] else 'no'} | {t['train_h']:.1f} | {loss} | {cells(t['head'])} | "
                  f"{cells(t['probe'])} | {cells(t['mfcc'])} | "
                  + (f"{t['taste']['mean']:.3f} |" if t["taste"] else "- |"))
    pr = best["probe"]
    md += ["", "## Against the targets", "",
           f"- Best run by probe R^2: `{best['run']}`: R^2 {pr['r2']:.3f} (target {TARGET_R2}: "
           + ("met" if pr["r2"] >= TARGET_R2 else f"missed by {TARGET_R2 - pr['r2']:.3f}") + f"), centred cosine "
           f"{pr['cos_window']:.3f} per window and {pr['cos_track']:.3f} per track (target {TARGET_COS}: "
           + ", ".join(f"{what} " + ("met" if v >= TARGET_COS else f"missed by {TARGET_COS - v:.3f}")
                       for what, v in (("per window", pr["cos_window"]), ("per track", pr["cos_track"]))) + ").",
           "- Width (32 -> 64 filters and LSTM units) and the MFCC count (20 -> 40) are compared on the same held-out "
           "sources and training hours: what they change on unheard sources is the table's answer to whether the "
           "student is limited by its size and input or by the variety of what it heard."]
    write_results("distill", {"runs": table, "best": best["run"], "targets": {"r2": TARGET_R2, "cos": TARGET_COS}},
                  md, args.out)
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
