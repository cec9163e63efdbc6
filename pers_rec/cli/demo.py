"""The demo: a synthetic library, a synthetic listener, training, ranking, and how well it did.

Needs no music: ``synth`` writes a library of short songs (melody, chords,
bass, drums in random keys and tempi). The listener likes songs whose lead
melody is played by a flute, a taste only the audio reveals. They have told
us about half of the flute songs (``likes.m3u``); the other flute songs are
hidden among the rest of the library, which also serves as unlabelled
negatives. The demo trains exactly as ``pers-rec train`` does, ranks the
library as ``pers-rec rank`` does, and checks where the hidden flute songs
landed: ROC-AUC and precision over the top of the ranking.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..fileio import write_text

LEADS = ("flute", "clarinet", "strings", "piano")
#: The demo's artists: song ``i`` is by ``ARTISTS[i % 8]``, so each artist always plays one lead instrument.
ARTISTS = ("Ada Reed", "Basalt", "Cora Strand", "Dune Hall", "Echo Field", "Fennel", "Glass Harbour", "Hollow Pine")


def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def make_library(out: Path, n_tracks: int, duration_s: float, seed: int) -> list[dict]:
    """Write ``n_tracks`` songs under ``out``; a quarter have a flute lead. Returns one dict per song.

    Each song is tagged (ID3 in the WAV): artist, an album per artist, a title, and the lead instrument as its genre.
    """
    import synth
    from synth.io import tag, write

    from ..audio.tags import read as read_tags

    rng = np.random.default_rng(seed)
    songs = []
    for i in range(n_tracks):
        lead = LEADS[i % len(LEADS)]
        y, meta = synth.random_song(synth.stages.SR, rng, lead, duration_s)
        gain = float(10 ** (rng.uniform(-9, 0) / 20))  # drawn whether or not the file exists: same songs every run
        key, mode = meta["key"].split()
        path = out / f"song_{i:03d}_{lead}_{key.lower()}_{mode}.wav"
        if not path.exists():
            write(path, y * gain, synth.stages.SR)
        artist = ARTISTS[i % len(ARTISTS)]
        want = {"artist": artist, "album": f"{artist}: demo tapes", "title": f"Song {i} in {meta['key']}",
                "genre": lead}
        if read_tags(path) != want:  # only when needed: rewriting would change the file and void its cached features
            tag(path, **want)
        songs.append({"path": str(path.resolve()), "lead": lead, "key": meta["key"], "tempo": round(meta["tempo"]),
                      "artist": artist})
    keep = {Path(s["path"]).name for s in songs}
    for stale in out.glob("song_*.wav"):  # from an earlier demo with other settings
        if stale.name not in keep:
            stale.unlink()
    return songs


def run(out: str = "demo_out", *, n_tracks: int = 48, duration_s: float = 12.0, seed: int = 0, max_epochs: int = 12,
        folds: int = 4, jobs: int | None = None, quiet: bool = False) -> dict:
    """Run the whole demo under ``out``; print and return its summary."""
    from sklearn.metrics import roc_auc_score

    from ..audio.cache import opened
    from ..audio.scan import scan
    from ..config import FeatureConfig, ModelConfig, TrainConfig
    from ..library.workflows import TrainOutputs, rank_to_files, train_to_files
    from ..model import checkpoint
    from ..model.report import describe_blend

    say = (lambda *a: None) if quiet else print
    t0 = time.time()
    out = Path(out)
    lib_dir = out / "library"
    lib_dir.mkdir(parents=True, exist_ok=True)
    say(f"1/4 generating a library of {n_tracks} synthetic songs ({duration_s:.0f} s each) in {lib_dir}")
    songs = make_library(lib_dir, n_tracks, duration_s, seed)
    flute = [s for s in songs if s["lead"] == "flute"]
    rng = np.random.default_rng(seed)
    told = set(rng.choice([s["path"] for s in flute], size=len(flute) // 2, replace=False))
    likes = out / "likes.m3u"
    write_text(likes, "#EXTM3U\n" + "".join(f"library/{Path(p).name}\n" for p in sorted(told)))
    say(f"   the listener likes flute-lead songs and has liked {len(told)} of the {len(flute)}: {likes}")

    say("2/4 training (cross-validation grouped by artist or album; the fold models are averaged)")
    with opened(out / "cache") as cache:
        cfg, mcfg = FeatureConfig(), ModelConfig()
        tcfg = TrainConfig(max_epochs=max_epochs, folds=folds, seed=seed)
        outputs = TrainOutputs.beside(out / "model.keras")
        saved = train_to_files(likes, None, lib_dir, outputs, cfg, mcfg, tcfg, cache=cache, jobs=jobs,
                               progress=not quiet)
        cv = saved.report.cross_validation
        say(f"   cross-validated track ROC-AUC {cv.model.roc_auc_mean:.3f} +- {cv.model.roc_auc_std:.3f} "
            f"at {cv.model.epochs} epochs; baseline (MFCC statistics + logistic regression) "
            f"{cv.baseline.roc_auc_mean:.3f} +- {cv.baseline.roc_auc_std:.3f}")
        say(f"   final model: {saved.report.final_kind}; track score: {describe_blend(saved.report.blend)}")

        say("3/4 ranking the library (liked tracks left out)")
        saved = checkpoint.load(outputs.model, expect=cfg)
        df = rank_to_files(scan(lib_dir), saved, out_csv=out / "ranking.csv", m3u=out / "top.m3u8", top=10,
                           min_track_s=0, cache=cache, jobs=jobs)
        hidden = {s["path"] for s in flute} - told
        y = df["path"].isin(hidden).to_numpy()
        auc = float(roc_auc_score(y, df["score"])) if 0 < y.sum() < len(y) else None
        k = len(hidden)
        precision = float(y[:k].mean()) if k else None

        say("4/4 explaining the top track")
        from ..library.rank import explain
        from ..model.report import plot_explain

        top = df.iloc[0]
        M, s = explain(top["path"], saved, cache=cache)
        plot_explain(M, s, cfg, Path(top["path"]).name, out / "explain_top.png", saved.report.blend)

    say("")
    say(f"Top 10 of {len(df)} unliked tracks ({k} hidden flute-lead songs among them):")
    say(f"{'rank':>4}  {'score':>6}  {'best 8 s':>9}  track")
    for r in df.head(10).itertuples():
        mark = "  <- hidden flute song" if r.path in hidden else ""
        say(f"{r.rank:>4}  {r.score:6.3f}  {r.best_start_s:3.0f}-{r.best_end_s:3.0f} s  {Path(r.path).name}"
            f"  ({r.artist}){mark}")
    summary = {
        "tracks": len(songs), "liked": len(told), "hidden_likes": k, "ranked": len(df),
        "heldout_roc_auc": auc, f"precision_at_{k}": precision,
        "cv_roc_auc": cv.model.roc_auc_mean, "baseline_cv_roc_auc": cv.baseline.roc_auc_mean,
        "epochs": cv.model.epochs, "elapsed_s": round(time.time() - t0, 1),
        "outputs": {n: str(out / n) for n in ("model.keras", "model.json", "model.png", "ranking.csv", "top.m3u8",
                                              "explain_top.png")},
    }
    write_text(out / "demo_summary.json", json.dumps(summary, indent=2))
    say("")
    say(f"Held-out: the {k} hidden flute songs vs the rest: ROC-AUC {_fmt(auc)}, precision at {k} {_fmt(precision, 2)}")
    say(f"Done in {summary['elapsed_s']:.0f} s. Outputs in {out}/: model.keras (+ model.json report, model.png "
        "curves), ranking.csv, top.m3u8, explain_top.png")
    return summary
