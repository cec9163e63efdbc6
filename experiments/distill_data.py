"""Distillation data for the student (issue: "a student that really holds the teacher"): every recording in the
allowed Debian packages (full tracks), music rendered from music21's corpus with FluidSynth (randomised
programs, tempo and transposition; a drum part is not added yet), and the teacher's vectors of every 3 s
patch of every track, cached once per track so that a target exists for every 1-second window.

    python -m experiments.distill_data catalog          # the packages' music -> experiments/distill/recordings.csv
    python -m experiments.distill_data render --hours 30 # music21 -> FLAC in the cache -> experiments/distill/rendered.csv
    python -m experiments.distill_data teacher          # 3 s patch vectors (MSD and MTT musicnn) per track, cached
    python -m experiments.distill_data all

Everything is resumable: a rendered piece or a track's teacher file that exists is kept. Audio and teacher
vectors live in the cache folder (``$PERS_REC_DISTILL_DIR``, default ``~/.cache/pers_rec/distill``), never in the
repository, which keeps only the catalogs. Needs the packages (``apt-get install`` the names in :data:`PACKAGES`,
``fluidsynth fluid-soundfont-gm``), ``music21`` and musicnn's weights (``pip install --no-deps musicnn==0.1.0``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from experiments.common import ROOT

#: The Debian packages whose music the project may use (DEVELOPERS.md).
PACKAGES = ("hedgewars-data", "supertux-data", "supertuxkart-data", "redeclipse-data", "freedroidrpg-data",
            "pingus-data", "neverball-data", "widelands-data", "xmoto-data", "lincity-ng-data", "scorched3d-data",
            "trigger-rally-data", "planetblupi-music-ogg", "megaglest-data", "openclonk-data", "flare-game",
            "freeorion-data", "warmux-data", "naev-data", "endless-sky-data", "freecol")
HERE = ROOT / "experiments" / "distill"
AUDIO = (".ogg", ".oga", ".mp3", ".flac", ".wav", ".opus")
#: A file shorter than this is a sound effect, not a track.
MIN_TRACK_S = 30.0
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
RENDER_SR = 22050
#: The longest rendered piece kept (seconds).
MAX_PIECE_S = 900.0
#: General MIDI programs a rendered part is drawn from (melodic instruments of every family, no effects).
PROGRAMS = tuple(range(0, 96))


def cache_dir() -> Path:
    return Path(os.environ.get("PERS_REC_DISTILL_DIR", Path.home() / ".cache" / "pers_rec" / "distill"))


def track_id(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def duration_s(path: str) -> float | None:
    import soundfile as sf

    try:
        return float(sf.info(path).duration)
    except Exception:  # noqa: BLE001 (a format libsndfile lacks: ask FFmpeg)
        try:
            import av

            with av.open(path) as c:
                return float(c.duration) / 1e6 if c.duration else None
        except Exception:  # noqa: BLE001 (not audio)
            return None


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["id"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ---- recordings ----------------------------------------------------------------------------------------------------

def catalog() -> list[dict]:
    """Every audio file of at least :data:`MIN_TRACK_S` in the installed :data:`PACKAGES`, one row each."""
    rows, missing = [], []
    for package in PACKAGES:
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
        if listing.returncode:
            missing.append(package)
            continue
        for path in sorted(set(listing.stdout.split("\n"))):
            if not path.lower().endswith(AUDIO) or not os.path.isfile(path) or os.path.islink(path):
                continue
            d = duration_s(path)
            if d is not None and d >= MIN_TRACK_S:
                rows.append({"id": track_id(path), "kind": "recording", "package": package, "audio": path,
                             "duration_s": round(d, 2), "detail": ""})
    if missing:
        print(f"distill_data: not installed, left out: {' '.join(missing)}", file=sys.stderr)
    return rows


# ---- rendered from scores ------------------------------------------------------------------------------------------

def render_one(job: tuple[str, int, str]) -> dict | None:
    """Render corpus piece ``source`` with the randomisation drawn from ``seed`` into ``out`` (FLAC, mono)."""
    source, seed, out = job
    import soundfile as sf
    from music21 import converter, instrument, tempo

    rng = np.random.default_rng(seed)
    try:
        score = converter.parse(source)
        score = score.transpose(int(rng.integers(-5, 7)))
        parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
        programs = []
        for part in parts:
            for old in part.recurse().getElementsByClass(instrument.Instrument):
                old.activeSite.remove(old)
            inst = instrument.Instrument()
            inst.midiProgram = int(rng.choice(PROGRAMS))
            programs.append(inst.midiProgram)
            part.insert(0, inst)
        bpm = float(rng.uniform(60, 150))
        for old in list(score.recurse().getElementsByClass(tempo.TempoIndication)):  # the piece's own tempo marks
            old.activeSite.remove(old)  # would override ours (a reel's "Q:" ran renders past the length cap)
        for part in parts[:1]:
            part.insert(0, tempo.MetronomeMark(number=bpm))
        with tempfile.TemporaryDirectory() as tmp:
            mid = Path(tmp) / "piece.mid"
            score.write("midi", fp=str(mid))
            wav = Path(tmp) / "piece.wav"
            written = converter.parse(str(mid))  # the MIDI as written: repeats expanded
            expected_s = max(float(score.highestTime), float(written.highestTime)) * 60.0 / bpm
            synth(mid, wav, cap_s=min(1.5 * expected_s + 30.0, MAX_PIECE_S))
            y, sr = sf.read(wav, dtype="float32", always_2d=True)
        y = y.mean(axis=1)
        nz = np.flatnonzero(np.abs(y) > 1e-4)
        if len(nz) == 0 or (nz[-1] - nz[0]) / sr < 20:
            return None
        y = y[nz[0]:nz[-1] + 1]
        peak = float(np.abs(y).max())
        sf.write(out, (y / peak * 0.8).astype(np.float32), sr, format="FLAC")
        return {"id": track_id(source + f"#{seed}"), "kind": "rendered", "package": "music21", "audio": out,
                "duration_s": round(len(y) / sr, 2),
                "detail": f"{Path(source).name}; programs {'/'.join(map(str, programs))}; {bpm:.0f} bpm"}
    except Exception as exc:  # noqa: BLE001 (a piece music21 or FluidSynth cannot take: left out, said)
        print(f"distill_data: {source}: left out ({type(exc).__name__}: {str(exc)[:120]})", file=sys.stderr)
        return None


def synth(mid: Path, wav: Path, cap_s: float) -> None:
    """FluidSynth ``mid`` -> ``wav``, stopped (an error) once the file holds more than ``cap_s`` seconds: a few of
    music21's MIDI files never end for FluidSynth (one grew to 6.7 GB, 21 hours, before this cap)."""
    import time

    proc = subprocess.Popen(["fluidsynth", "-ni", "-q", "-g", "0.7", "-r", str(RENDER_SR), "-F", str(wav),
                             str(SOUNDFONT), str(mid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cap_bytes = cap_s * RENDER_SR * 2 * 2 + 1024  # 16-bit stereo, and the header
    try:
        while proc.poll() is None:
            if wav.exists() and wav.stat().st_size > cap_bytes:
                raise RuntimeError(f"FluidSynth rendered more than {cap_s:.0f} s: stopped")
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode:
        raise RuntimeError(f"FluidSynth exited with {proc.returncode}")


def render(hours: float, jobs: int, seed: int = 0) -> list[dict]:
    """Render corpus pieces (shuffled with ``seed``) until ``hours`` of audio exist; the ones already rendered are
    kept and counted."""
    from music21 import corpus

    if not SOUNDFONT.is_file():
        sys.exit(f"distill_data: no soundfont at {SOUNDFONT}: apt-get install fluidsynth fluid-soundfont-gm")
    out_dir = cache_dir() / "rendered"
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = [str(p) for p in corpus.getPaths()]
    np.random.default_rng(seed).shuffle(sources)
    known = {r["audio"]: r for r in read_csv(HERE / "rendered.csv")} if (HERE / "rendered.csv").is_file() else {}
    rows = [r for r in known.values() if os.path.isfile(r["audio"])]
    total = sum(float(r["duration_s"]) for r in rows)
    todo = []
    for i, source in enumerate(sources):
        out = str(out_dir / f"{track_id(source + f'#{seed + i}')}.flac")
        if out not in known:
            todo.append((source, seed + i, out))
    with ProcessPoolExecutor(jobs) as pool:
        for start in range(0, len(todo), 4 * jobs):
            if total >= hours * 3600:
                break
            for row in pool.map(render_one, todo[start:start + 4 * jobs]):
                if row is not None:
                    rows.append(row)
                    total += float(row["duration_s"])
            write_csv(HERE / "rendered.csv", rows)  # after every round: an interrupted render keeps its pieces
            print(f"rendered: {len(rows)} pieces, {total / 3600:.2f} h", file=sys.stderr)
    return rows


# ---- the teacher's patches -----------------------------------------------------------------------------------------

def teacher_file(row: dict) -> Path:
    return cache_dir() / "teacher" / f"{row['id']}.npz"


def teacher_patches(rows: list[dict], names=("msd", "mtt")) -> None:
    """For every track without one, ``teacher/<id>.npz``: ``msd`` and (when its weights are there) ``mtt``, the
    penultimate vectors [shape=(n, 200), float16] of the back-to-back 3 s patches, and ``duration_s``."""
    from pers_rec.audio.decode import load
    from pers_rec.errors import AudioError
    from pers_rec.model import teacher as Te

    (cache_dir() / "teacher").mkdir(parents=True, exist_ok=True)
    teachers = {"msd": Te.Teacher()}
    mtt = Te.checkpoint_dir("MTT_musicnn") if "mtt" in names else None
    if mtt is not None:
        try:
            teachers["mtt"] = Te.Teacher(Te.read_weights(mtt))
        except Exception as exc:  # noqa: BLE001 (a checkpoint of another shape: the MSD teacher alone)
            print(f"distill_data: MTT_musicnn not used ({exc})", file=sys.stderr)
    def have(row) -> dict:
        if not teacher_file(row).is_file():
            return {}
        with np.load(teacher_file(row)) as z:
            return {k: z[k] for k in z.files}

    todo = [r for r in rows if not teacher_file(r).is_file() or set(teachers) - set(have(r))]
    for k, row in enumerate(todo, 1):  # a file that lacks a teacher gets it added, the others kept
        try:
            y = load(row["audio"], Te.SR)
        except AudioError as exc:
            print(f"distill_data: {exc}", file=sys.stderr)
            continue
        got = have(row)
        got.update({name: t.track(y, None)[0].astype(np.float16) for name, t in teachers.items() if name not in got})
        got["duration_s"] = np.float32(len(y) / Te.SR)
        out = teacher_file(row)
        tmp = out.with_suffix(".tmp.npz")
        np.savez(tmp, **got)
        os.replace(tmp, out)
        if k % 20 == 0:
            print(f"teacher: {k} of {len(todo)} tracks", file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["catalog", "render", "teacher", "all"])
    ap.add_argument("--hours", type=float, default=30.0, help="hours of rendered music to reach")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--teachers", default="msd,mtt", help="which teachers' vectors to cache (msd, mtt)")
    args = ap.parse_args(argv)
    if args.step in ("catalog", "all"):
        rows = catalog()
        write_csv(HERE / "recordings.csv", rows)
        print(f"recordings: {len(rows)} tracks, {sum(r['duration_s'] for r in rows) / 3600:.2f} h")
    if args.step in ("render", "all"):
        rows = render(args.hours, args.jobs)
        print(f"rendered: {len(rows)} pieces, {sum(float(r['duration_s']) for r in rows) / 3600:.2f} h")
    if args.step in ("teacher", "all"):
        rows = [r for name in ("recordings.csv", "rendered.csv") if (HERE / name).is_file()
                for r in read_csv(HERE / name)]
        teacher_patches(rows, tuple(args.teachers.split(",")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
