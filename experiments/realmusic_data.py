"""The real-music benchmark's data: a catalog of game-soundtrack recordings, normalised excerpts, task splits.

Sources are Debian packages of free game soundtracks, and only these:
``PACKAGES``. Their audio is never committed. ``python -m experiments.realmusic_data``
(also run by ``experiments.realmusic``):

1. ``--catalog``: lists the music files the installed packages hold
   (``dpkg -L``; music folders only, no sound effects, >= 45 s, duplicates
   across packages dropped) and writes ``experiments/realmusic/catalog.csv``:
   track id, package, original path, style label, how confident the label is,
   duration, original sample rate and format. Committed; rebuilt only on request.
2. builds the excerpts (idempotent) into the cache folder
   (``$PERS_REC_REALMUSIC_DIR``, default ``~/.cache/pers_rec/realmusic``): every
   track becomes ``<album>/<id>.flac``: mono, 24 kHz, 16-bit FLAC, the middle
   120 s (a shorter track is looped to 120 s, as its game loops it), RMS
   normalised to -20 dBFS with a peak ceiling. The album folder is an anonymous
   code per package, so pers-rec groups cross-validation folds by it (its
   parent-folder rule) without seeing the package's name. File format, rate,
   length and loudness are the same for every track, so none of them can leak
   the label.
3. ``tasks()``: the like-a-style tasks and their train/test splits, written to
   ``experiments/realmusic/tasks.json`` (committed).

Style labels are assigned from the game and the music folder, not by
listening; the ``confidence`` column says how sure that is. Cross-source
tasks only use styles of medium or high confidence.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.common import ROOT

PACKAGES = ("hedgewars-data", "supertux-data", "supertuxkart-data", "redeclipse-data", "freedroidrpg-data",
            "pingus-data", "neverball-data", "widelands-data", "xmoto-data", "lincity-ng-data", "scorched3d-data",
            "trigger-rally-data")
HERE = ROOT / "experiments" / "realmusic"
CATALOG = HERE / "catalog.csv"
TASKS = HERE / "tasks.json"
SR = 24000
EXCERPT_S = 120.0
MIN_S = 45.0
TARGET_DBFS = -20.0

#: (package, path fragment, style, confidence), first match wins; None style = not music (left out).
RULES = [
    ("widelands-data", "/data/music/", "orchestral", "high"),
    ("supertux-data", "/music/forest/", "orchestral", "medium"),
    ("supertux-data", "/music/castle/", "orchestral", "low"),
    ("supertux-data", "/music/", "supertux-other", "low"),
    ("redeclipse-data", "/sounds/music/", "electronic", "medium"),
    ("redeclipse-data", "/sounds/theme.ogg", "electronic", "medium"),
    ("redeclipse-data", "/sounds/original.ogg", "electronic", "medium"),
    ("redeclipse-data", "/maps/", "electronic", "low"),
    ("freedroidrpg-data", "/sound/music/", "electronic", "medium"),
    ("xmoto-data", "/Musics/", "electronic", "medium"),
    ("hedgewars-data", "/Data/Music/", "cartoon", "medium"),
    ("supertuxkart-data", "/data/music/", "kart", "low"),
    ("supertuxkart-data", "/tracks/", "kart", "low"),
    ("scorched3d-data", "/data/music/", "other", "low"),
]


def cache_dir() -> Path:
    return Path(os.environ.get("PERS_REC_REALMUSIC_DIR", Path.home() / ".cache" / "pers_rec" / "realmusic"))


def _style(package: str, path: str):
    for pkg, frag, style, conf in RULES:
        if pkg == package and frag in path:
            return style, conf
    return None, None


def build_catalog() -> list[dict]:
    """Rows for every music file of the installed packages (see the module docstring)."""
    import soundfile as sf

    rows, seen = [], set()
    for package in PACKAGES:
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
        for path in sorted(listing.stdout.split()):
            if not path.lower().endswith((".ogg", ".wav", ".flac", ".mp3", ".opus")):
                continue
            style, conf = _style(package, path)
            if style is None:
                continue
            try:
                info = sf.info(path)
            except (RuntimeError, OSError):
                continue
            digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()
            if info.duration < MIN_S or digest in seen or Path(path).name in {r["name"] for r in rows}:
                continue  # too short to be a piece, or the same recording shipped by two games
            seen.add(digest)
            rows.append({"id": "t" + hashlib.sha1(path.encode()).hexdigest()[:8], "package": package, "path": path,
                         "name": Path(path).name, "style": style, "confidence": conf,
                         "duration_s": round(info.duration, 2), "orig_sr": info.samplerate, "format": info.format,
                         "sha1": digest})
    return rows


def read_catalog() -> list[dict]:
    with open(CATALOG, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["duration_s"], r["orig_sr"] = float(r["duration_s"]), int(r["orig_sr"])
    return rows


def album_code(package: str) -> str:
    return "a" + hashlib.sha1(package.encode()).hexdigest()[:6]


def albums(rows: list[dict]) -> dict[str, str]:
    """Each catalogued track's album: its package's code and its folder (what the experiments group by)."""
    return {r["id"]: album_code(r["package"]) + "/" + r["path"].rsplit("/", 2)[-2] for r in rows}


def excerpt_path(row: dict, root: Path | None = None) -> Path:
    return (root or cache_dir()) / album_code(row["package"]) / f"{row['id']}.flac"


def excerpt(y: np.ndarray, sr: int) -> np.ndarray:
    """The middle ``EXCERPT_S`` seconds (looped to that length when shorter), RMS-normalised."""
    n = int(EXCERPT_S * sr)
    if len(y) >= n:
        start = (len(y) - n) // 2
        y = y[start : start + n]
    else:
        y = np.resize(y, n)  # repeats from the start, as a game loops its music
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    y = y * (10 ** (TARGET_DBFS / 20) / max(rms, 1e-9))
    peak = float(np.max(np.abs(y)))
    return (y / peak * 0.99 if peak > 0.99 else y).astype(np.float32)


def _make(row: dict) -> str:
    import soundfile as sf

    from pers_rec.audio import decode as audio

    out = excerpt_path(row)
    if out.exists():
        return "kept"
    y = excerpt(audio.load(row["path"], SR), SR)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    sf.write(tmp, y, SR, format="FLAC", subtype="PCM_16")
    tmp.replace(out)
    return "made"


def build_excerpts(rows: list[dict], jobs: int) -> dict:
    """Make every missing excerpt (idempotent); the packages must be installed."""
    missing = sorted({r["package"] for r in rows if not Path(r["path"]).exists() and not excerpt_path(r).exists()})
    if missing:
        sys.exit(f"realmusic: install the soundtrack packages first: apt-get install {' '.join(missing)}")
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(jobs) as pool:
        done = list(pool.map(_make, rows))
    return {"made": done.count("made"), "kept": done.count("kept")}


# ---------------------------------------------------------------------------------------------------------------------
# tasks


@dataclass
class Task:
    """One like-a-style task: training tracks (likes and others) and the test library to rank."""

    name: str
    kind: str  # "within-source" or "cross-source"
    description: str
    train_pos: list[str]
    train_neg: list[str]
    test_pos: list[str]
    test_neg: list[str]


def _halves(rows: list[dict], seed: int = 0) -> dict[str, str]:
    """Each package's tracks split in two (by track, seeded): 'train' or 'test'."""
    side = {}
    rng = np.random.default_rng(seed)
    for package in sorted({r["package"] for r in rows}):
        ids = sorted(r["id"] for r in rows if r["package"] == package)
        rng.shuffle(ids)
        for i, t in enumerate(ids):
            side[t] = "train" if i % 2 == 0 else "test"
    return side


def make_tasks(rows: list[dict]) -> list[Task]:
    """The six tasks (see ``results/realmusic.md`` for what each asks)."""
    side = _halves(rows)
    by_pkg = {}
    for r in rows:
        by_pkg.setdefault(r["package"], []).append(r)

    def ids(pkg, half=None, style=None):
        return sorted(r["id"] for r in by_pkg[pkg] if (half is None or side[r["id"]] == half)
                      and (style is None or r["style"] == style))

    def negatives(half, exclude):
        return sorted(r["id"] for r in rows if r["package"] not in exclude and side[r["id"]] == half)

    def cross(name, desc, train_pkgs, test_pkgs, style):
        same_style = {r["package"] for r in rows if r["style"] == style}
        return Task(name, "cross-source", desc,
                    sorted(sum((ids(p, style=style) for p in train_pkgs), [])), negatives("train", same_style),
                    sorted(sum((ids(p, style=style) for p in test_pkgs), [])), negatives("test", same_style))

    tasks = []
    w_pos_train, w_pos_test = ids("widelands-data", "train"), ids("widelands-data", "test")
    tasks.append(Task("orchestral-within", "within-source",
                      "likes: half of Widelands' orchestral score; find the other half",
                      w_pos_train, negatives("train", {"widelands-data"}), w_pos_test,
                      negatives("test", {"widelands-data"})))
    hw = sorted(r["id"] for r in by_pkg["hedgewars-data"])
    rng = np.random.default_rng(4)
    few = sorted(rng.choice(hw, 4, replace=False).tolist())
    tasks.append(Task("cartoon-4-likes", "within-source",
                      "likes: only 4 Hedgewars tracks; find the other Hedgewars tracks",
                      few, negatives("train", {"hedgewars-data"}), sorted(set(hw) - set(few)),
                      negatives("test", {"hedgewars-data"})))
    tasks.append(cross("electronic-redeclipse-to-freedroid",
                       "likes: Red Eclipse's electronic tracks; find FreedroidRPG's",
                       ["redeclipse-data"], ["freedroidrpg-data"], "electronic"))
    tasks.append(cross("electronic-freedroid-to-redeclipse",
                       "likes: FreedroidRPG's electronic tracks; find Red Eclipse's and X-Moto's",
                       ["freedroidrpg-data"], ["redeclipse-data", "xmoto-data"], "electronic"))
    tasks.append(cross("orchestral-widelands-to-supertux",
                       "likes: Widelands' orchestral score; find SuperTux's orchestral forest tracks",
                       ["widelands-data"], ["supertux-data"], "orchestral"))
    tasks.append(cross("orchestral-supertux-to-widelands",
                       "likes: SuperTux's orchestral forest tracks; find Widelands' score",
                       ["supertux-data"], ["widelands-data"], "orchestral"))
    for t in tasks:
        assert not set(t.train_pos + t.train_neg) & set(t.test_pos + t.test_neg), t.name
    return tasks


def write_tasks(tasks: list[Task]) -> None:
    from dataclasses import asdict

    from pers_rec.fileio import write_text

    write_text(TASKS, json.dumps([asdict(t) for t in tasks], indent=1) + "\n")


def read_tasks() -> list[Task]:
    return [Task(**t) for t in json.loads(TASKS.read_text())]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--catalog", action="store_true", help="rebuild the catalog from the installed packages")
    p.add_argument("--jobs", type=int, default=os.cpu_count())
    args = p.parse_args(argv)
    from pers_rec.fileio import write_text

    if args.catalog or not CATALOG.exists():
        rows = build_catalog()
        if not rows:
            sys.exit("realmusic: no music found; apt-get install " + " ".join(PACKAGES))
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        write_text(CATALOG, buf.getvalue())
        write_tasks(make_tasks(read_catalog()))
    rows = read_catalog()
    print(f"catalog: {len(rows)} tracks from {len({r['package'] for r in rows})} packages", flush=True)
    print(build_excerpts(rows, args.jobs), "->", cache_dir())
    for t in read_tasks():
        print(f"{t.name}: train {len(t.train_pos)}+{len(t.train_neg)}, test {len(t.test_pos)}+{len(t.test_neg)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
