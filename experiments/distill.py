"""The shipped encoder: the seed's network distilled from the musicnn teacher on audio the project may use.

    python -m experiments.distill            # needs the Debian soundtrack packages (see experiments.realmusic_data)

Data: every full track of the catalog's game-soundtrack packages (`experiments/realmusic/catalog.csv`, the free
recordings the project may use) and synthetic songs made here by `synth`. Targets: the teacher's vector of a
window every 10 s (`pers_rec.learn.distill`), MSE on standardised targets. Writes `pers_rec/data/encoder.npz` (the
trunk's and the LSTM's weights, as `pers-rec pretrain` stores them) and `pers_rec/data/encoder.json`: its
provenance (data, teacher, commit, loss, the file's SHA-256). `train`, `similar`, `playlist`, `map`,
`filters` and `embed` start from it when the library has no pre-training of its own.

Its audio overlaps the real-music benchmark's (the same soundtracks, unlabelled): figures measured with it on
that benchmark are optimistic for music it has never heard.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "pers_rec" / "data"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--synth", type=int, default=48, help="synthetic songs added to the soundtracks")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    import synth
    from experiments import realmusic_data as D
    from pers_rec.audio import decode as audio
    from pers_rec.audio.cache import open_cache
    from pers_rec.audio.extract import extract_many
    from pers_rec.audio.features import FeatureConfig, n_windows
    from pers_rec.learn import distill
    from pers_rec.learn import pretrain as P
    from pers_rec.model import networks as Mo
    from pers_rec.model import teacher as T
    from synth.io import write

    t0 = time.perf_counter()
    rows = [r for r in D.read_catalog() if Path(r["path"]).exists()]
    work = D.cache_dir() / "shipped"
    rng = np.random.default_rng(args.seed)
    songs = []
    for i in range(args.synth):
        lead = ("flute", "clarinet", "strings", "piano")[i % 4]
        path = work / f"synth_{i:03d}_{lead}.wav"
        if not path.exists():
            y, _ = synth.random_song(synth.stages.SR, rng, lead, 30.0)
            write(path, y, synth.stages.SR)
        songs.append(str(path))
    paths = [r["path"] for r in rows] + songs
    cfg, mcfg = FeatureConfig(), Mo.ModelConfig()
    from pers_rec.config import DistillConfig

    dcfg = DistillConfig(epochs=args.epochs, seed=args.seed)
    cache = open_cache(D.cache_dir() / "pers_rec_cache")
    feats = {str(e.path): e.features for e in extract_many(paths, cfg, cache=cache) if e.ok}
    teacher, t1 = T.Teacher(), time.perf_counter()
    goals = {p: distill.targets(audio.load(p, T.SR), n_windows(len(M), cfg), cfg, dcfg, teacher)
             for p, M in feats.items()}
    teacher_s = time.perf_counter() - t1
    ids = sorted(feats)
    pre = distill.distill([feats[i] for i in ids], [goals[i] for i in ids], cfg, mcfg, dcfg, progress=True)
    out = Path(args.out)
    npz = P.save(out / "encoder.npz", pre)
    (out / "encoder.json").unlink(missing_ok=True)  # P.save writes its info beside it: replaced by the provenance
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    packages = sorted({r["package"] for r in rows})
    provenance = {
        "what": "the trunk and LSTM of pers_rec's default cnn_lstm network, distilled from musicnn's MSD_musicnn",
        "teacher": "musicnn 0.1.0, MSD_musicnn, 200-d penultimate layer (Pons & Serra 2019; ISC licence)",
        "data": {"soundtracks": {pkg: sum(r["package"] == pkg for r in rows) for pkg in packages},
                 "synthetic_songs": len(songs), "tracks": len(ids), "windows": pre.info["windows"],
                 "hours": round(sum(len(M) for M in feats.values()) / cfg.fps / 3600, 2)},
        "made_by": "python -m experiments.distill", "commit": commit,
        "loss": {"kind": dcfg.loss, "first_epoch": pre.info["losses"][0], "last_epoch": pre.info["losses"][-1]},
        "heldout_cosine": pre.info.get("heldout_cosine"),
        "heldout_cosine_of_the_mean_target": pre.info.get("heldout_cosine_of_the_mean_target"),
        "teacher_s": round(teacher_s, 1), "distill_s": pre.info["elapsed_s"],
        "distill_config": pre.info["distill_config"], "model_config": mcfg.to_dict(), "feature_config": cfg.to_dict(),
        "sha256": hashlib.sha256(npz.read_bytes()).hexdigest(), "bytes": npz.stat().st_size,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    (out / "encoder.json").write_text(json.dumps(provenance, indent=1) + "\n")
    print(json.dumps(provenance, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
