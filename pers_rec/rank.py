"""Ranking a library with a trained model, writing the results, and explaining one track.

Workers decode and compute features (``library.extract_many``) while this
process scores finished tracks in large batches with the shared-trunk scorer
(``scoring.Scorer``), so inference overlaps decoding. A file that fails is a
row with ``status=error`` and its reason; it never stops the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from . import features as F
from . import scoring
from .fileio import atomic_path, write_text
from .library import Extracted, FeatureCache, extract_many
from .model import SavedModel

COLUMNS = ["rank", "score", "path", "duration_s", "n_windows", "best_start_s", "best_end_s", "best_score", "status", "error"]


def liked_paths(saved: SavedModel) -> set[str]:
    """Paths of the tracks the model was trained on as likes (from its training report)."""
    tracks = saved.info.get("tracks", {}).get("list", [])
    return {t["path"] for t in tracks if t.get("source") == "like"}


def rank(
    paths: Iterable[str | os.PathLike],
    saved: SavedModel,
    *,
    cache: FeatureCache | None = None,
    jobs: int | None = None,
    exclude: set[str] = frozenset(),
    progress: bool = False,
) -> pd.DataFrame:
    """Score every file and return the ranking, best first.

    Parameters
    ----------
    paths : iterable of paths
    saved : SavedModel
    cache : FeatureCache or None
    jobs : int or None
        Decoding worker processes (None: one per core).
    exclude : set of str
        Absolute paths to leave out (e.g. the liked tracks the model was trained on).

    Returns
    -------
    pd.DataFrame
        Columns :data:`COLUMNS`. Scored tracks first, by descending score
        (``rank`` 1, 2, ...); failed files after them with ``status="error"``.
    """
    cfg = saved.feature_config
    scorer = scoring.Scorer(saved)
    todo = [Path(p) for p in paths if str(Path(p).resolve()) not in exclude]
    rows: list[dict] = []
    batch: list[Extracted] = []
    frames = 0
    bar = tqdm(total=len(todo), unit="track", desc="ranking", leave=False, disable=not progress)

    def flush():
        for item, s in zip(batch, scorer.score_many([b.features for b in batch])):
            duration = F.duration_s(item.features, cfg)
            rows.append(_row(item.path, scoring.summarize(s, cfg, duration), duration))
        batch.clear()

    for item in extract_many(todo, cfg, cache=cache, jobs=jobs, progress=bar.update):
        if not item.ok:
            rows.append({"path": str(item.path), "status": "error", "error": item.error})
            continue
        batch.append(item)
        frames += len(item.features)
        if frames >= scoring.TRUNK_FRAMES:
            flush()
            frames = 0
    flush()
    bar.close()
    df = pd.DataFrame(rows, columns=COLUMNS)
    ok = df["status"] == "ok"
    df = pd.concat([df[ok].sort_values(["score", "path"], ascending=[False, True]), df[~ok].sort_values("path")])
    df["rank"] = pd.array([*range(1, int(ok.sum()) + 1)] + [pd.NA] * int((~ok).sum()), dtype="Int64")
    return df.reset_index(drop=True)


def _row(path: Path, s: scoring.TrackScore, duration: float) -> dict:
    return {
        "score": round(s.score, 6),
        "path": str(path),
        "duration_s": round(duration, 3),
        "n_windows": s.n_windows,
        "best_start_s": s.best_start_s,
        "best_end_s": round(s.best_end_s, 3),
        "best_score": round(s.best_score, 6),
        "status": "ok",
        "error": "",
    }


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the ranking CSV atomically (a temporary file renamed into place)."""
    return write_text(path, df.to_csv(index=False))


def write_m3u(df: pd.DataFrame, path: str | os.PathLike, top: int | None = None) -> Path:
    """An extended M3U playlist of the ``top`` best-ranked tracks (all scored tracks if None), absolute paths."""
    ok = df[df["status"] == "ok"]
    if top is not None:
        ok = ok.head(top)
    lines = ["#EXTM3U"]
    for r in ok.itertuples():
        lines += [f"#EXTINF:{int(round(r.duration_s))},{Path(r.path).stem} (score {r.score:.3f})", str(Path(r.path).resolve())]
    return write_text(path, "\n".join(lines) + "\n")


def explain(path: str | os.PathLike, saved: SavedModel, out: str | os.PathLike, *, cache: FeatureCache | None = None) -> scoring.TrackScore:
    """Plot one track's window-score timeline over its features, best segment marked; return its scores.

    Raises
    ------
    AudioError
        The file cannot be decoded.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .errors import AudioError

    cfg = saved.feature_config
    item = next(extract_many([path], cfg, cache=cache, jobs=1))
    if not item.ok:
        kind, _, reason = item.error.partition(": ")
        raise AudioError(path, reason or kind)
    M = item.features
    dur = F.duration_s(M, cfg)
    s = scoring.Scorer(saved).score_track(M, dur)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(12, 6), sharex=True, height_ratios=[2, 1.2], constrained_layout=True)
    shown = (M - M.mean(0)) / (M.std(0) + 1e-6)  # per coefficient, else c0's range hides the rest
    a1.imshow(shown.T, origin="lower", aspect="auto", cmap="viridis", vmin=-3, vmax=3,
              extent=(0, len(M) / cfg.fps, -0.5, M.shape[1] - 0.5))
    a1.set_ylabel(("MFCC" if cfg.kind == "mfcc" else "mel band") + " (standardised)")
    a1.axvspan(s.best_start_s, s.best_end_s, color="white", alpha=0.25, lw=0)
    a1.set_title(f"{Path(path).name}: track score {s.score:.3f} (mean of {s.n_windows} windows); "
                 f"best {s.best_start_s:.0f}-{s.best_end_s:.0f} s at {s.best_score:.3f}")
    centres = s.starts_s + min(cfg.window_s, dur) / 2
    a2.plot(centres, s.window_scores, marker="o", ms=3, color="C1", label=f"window score ({cfg.window_s} s window, hop {cfg.hop_s} s)")
    a2.axhline(s.score, color="C0", ls="--", label="track score")
    a2.axvspan(s.best_start_s, s.best_end_s, color="C1", alpha=0.15, lw=0, label="best segment")
    a2.set(xlabel="time (s)", ylabel="like", ylim=(-0.02, 1.02), xlim=(0, max(dur, cfg.window_s)))
    a2.legend(loc="upper right", fontsize=8)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return s

