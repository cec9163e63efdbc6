"""Benchmark: pers_rec beside bliss-rs, and each command end to end in a fresh process.

On the same real recordings (the allowed Debian game soundtracks: the ``--n`` tracks of
``experiments/distill/recordings.csv`` whose length is nearest four minutes, unchanged files), in one run:

- decode only (the floors): soundfile (libsndfile) or PyAV (FFmpeg) reads every file, nothing else;
- pers_rec's cold ``rank`` (decode, MFCC, the network) and cold ``embed``, each with an empty feature cache,
  one worker (``-j 1``), with the light runtime (numpy, the default) and with ``--runtime keras``;
- bliss-rs's analysis (``bliss-audio``, its MIT Python binding: decode with ffmpeg and 20 descriptors per track).

Per core: every tool runs pinned to one CPU (``taskset -c 0``), so its wall time per track is what one core
spends on a track, whatever worker processes or threads the tool starts (bliss-rs analyses with several
threads; pers_rec decodes in a worker process beside the network). Peak memory is the largest process's
resident set (``/usr/bin/time``'s maximum RSS).

Then per command, end to end in fresh processes (``pers-rec ...`` as a user types it): ``explain`` and
``similar`` of one four-minute track, features cached and cold; ``rank`` of 1,000 and 10,000 cached tracks
(tiny files whose cache entries hold four-minute feature matrices of the real tracks, so the cache lookups and
the network's work are those of four-minute songs, without decoding 600 hours of audio).

Needs the packages (``experiments/distill_data.py catalog``) and ``pip install bliss-audio`` (benchmarks only,
never a dependency). Writes ``results/bench_peers.{json,md}``.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from experiments.common import CACHE, environment, write_results

WORK = CACHE / "peers"
PERS_REC = [sys.executable, "-m", "pers_rec.cli"]


def pick(n: int) -> list[str]:
    """The ``n`` catalogued recordings nearest four minutes long."""
    rows = list(csv.DictReader(open(Path(__file__).parent / "distill" / "recordings.csv")))
    rows = [r for r in rows if os.path.exists(r["audio"])]
    rows.sort(key=lambda r: abs(float(r["duration_s"]) - 240.0))
    return [r["audio"] for r in rows[:n]]


def timed(cmd: list[str], one_core: bool = False) -> dict:
    """Run ``cmd`` under ``/usr/bin/time`` (``one_core``: pinned to one CPU with ``taskset``, so its wall time is
    what one core spends, whatever processes or threads it starts): wall seconds, CPU seconds of the process and
    the children it waited for, the largest process's peak RSS."""
    stats = WORK / "time.txt"
    pin = ["taskset", "-c", "0"] if one_core else []
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-o", str(stats), "-f", "%U %S %M", *pin, *cmd], capture_output=True,
                       text=True)
    wall = time.perf_counter() - t0
    user, system, rss = stats.read_text().split()[-3:]
    if r.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd[:6])}: exit {r.returncode}: {r.stderr[-1000:]}")
    return {"wall_s": round(wall, 3), "cpu_s": round(float(user) + float(system), 3), "peak_mb": int(rss) // 1024}


DECODE = "import sys, soundfile as sf\nfor p in sys.argv[1:]: sf.read(p, dtype='float32')\n"
DECODE_AV = ("import sys, av\nfor p in sys.argv[1:]:\n    with av.open(p) as c:\n"
             "        for f in c.decode(c.streams.audio[0]): pass\n")
BLISS = "import sys, bliss_audio\nfor p in sys.argv[1:]: bliss_audio.Song(p).analysis\n"


def library(files: list[str]) -> Path:
    """A folder of links to the chosen recordings (pers_rec scans folders)."""
    lib = WORK / "library"
    shutil.rmtree(lib, ignore_errors=True)
    lib.mkdir(parents=True)
    for i, f in enumerate(files):
        (lib / f"{i:03d}{Path(f).suffix}").symlink_to(f)
    return lib


def taste_model() -> Path:
    """A taste model of the default architecture (the shipped encoder's weights, a fresh output layer)."""
    path = WORK / "taste.keras"
    if not path.exists():
        from pers_rec.config import FeatureConfig, ModelConfig
        from pers_rec.learn import pretrain
        from pers_rec.model import checkpoint
        from pers_rec.model.networks import build

        cfg, mcfg = FeatureConfig(), ModelConfig()
        network = build(cfg, mcfg)
        pretrain.apply(network, pretrain.shipped(cfg, mcfg))
        checkpoint.save(path, checkpoint.SavedModel(network, cfg, mcfg))
    return path


def many_cached(n: int, cache: Path, source_cache: Path, source_lib: Path) -> Path:
    """``n`` tiny WAV files whose cache entries hold the real tracks' four-minute feature matrices, cycled."""
    import soundfile as sf

    from pers_rec.audio.cache import FeatureCache
    from pers_rec.config import FeatureConfig

    cfg = FeatureConfig()
    folder = WORK / f"many_{n}"
    if folder.is_dir() and cache.is_dir():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with FeatureCache(source_cache / FeatureCache.FILE) as src:
        mats = [e.features for p in sorted(source_lib.iterdir())
                if (e := src.get(str(p), cfg, os.stat(p))) is not None and e.features is not None]
    with FeatureCache(cache / FeatureCache.FILE) as dst:
        for i in range(n):
            p = folder / f"{i // 100:03d}" / f"t{i:05d}.wav"
            p.parent.mkdir(exist_ok=True)
            sf.write(p, np.zeros(160, np.float32), 16000)
            dst.put(str(p), cfg, os.stat(p), mats[i % len(mats)])
    return folder


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50, help="real recordings")
    ap.add_argument("--many", type=int, nargs="*", default=[1000, 10000], help="cached libraries to rank")
    ap.add_argument("--many-only", action="store_true",
                    help="only the rows of ranking cached libraries, merged into the last results")
    args = ap.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    files = pick(args.n)
    hours = sum(float(__import__("soundfile").info(f).duration) for f in files) / 3600
    lib, model = library(files), taste_model()
    out: dict = {"environment": environment(), "tracks": len(files), "hours": round(hours, 3), "per_track": {},
                 "commands": {}}
    if args.many_only:
        import json

        from experiments.common import RESULTS

        out = json.loads((RESULTS / "bench_peers.json").read_text())
        light = WORK / "cache_rank_light"
        if not light.is_dir():  # the real tracks' features, for the cached libraries
            timed([*PERS_REC, "rank", str(lib), "--model", str(model), "--out", str(WORK / "r.csv"), "-q", "--cache",
                   str(light)])
        rank_many(args.many, out["commands"], light, lib, model)
        out["many_measured"] = environment()["date"]
        write_results("bench_peers", out, markdown(out))
        return 0
    per = out["per_track"]

    def per_track(name, cmd):
        got = timed(cmd, one_core=True)
        per[name] = {**got, "wall_per_track_s": round(got["wall_s"] / len(files), 4),
                     "cpu_per_track_s": round(got["cpu_s"] / len(files), 4)}
        print(name, per[name], flush=True)

    per_track("decode only (soundfile)", [sys.executable, "-c", DECODE, *files])
    per_track("decode only (PyAV, FFmpeg)", [sys.executable, "-c", DECODE_AV, *files])
    try:
        import bliss_audio  # noqa: F401

        per_track("bliss-rs analysis (bliss-audio)", [sys.executable, "-c", BLISS, *files])
    except ImportError:
        print("bliss-audio not installed: pip install bliss-audio", file=sys.stderr)
    caches = {}
    for name, runtime in (("pers_rec cold rank (light runtime)", "light"), ("pers_rec cold rank (--runtime keras)", "keras")):
        caches[runtime] = WORK / f"cache_rank_{runtime}"
        shutil.rmtree(caches[runtime], ignore_errors=True)
        per_track(name, [*PERS_REC, "rank", str(lib), "--model", str(model), "--out", str(WORK / "r.csv"), "-j", "1",
                         "-q", "--cache", str(caches[runtime]), "--runtime", runtime])
    embed_cache = WORK / "cache_embed"
    shutil.rmtree(embed_cache, ignore_errors=True)
    per_track("pers_rec cold embed (light runtime)", [*PERS_REC, "embed", str(lib), "--out", str(WORK / "v.npz"), "-j",
                                                      "1", "-q", "--cache", str(embed_cache)])
    cmd = out["commands"]
    one = str(sorted(lib.iterdir())[0])
    outside = WORK / f"query{Path(files[0]).suffix}"
    shutil.copyfile(files[0], outside)  # not in the library, not cached: a cold query
    for runtime in ("light", "keras"):
        c = str(caches[runtime])
        cmd[f"explain, cached ({runtime})"] = timed([*PERS_REC, "explain", one, "--model", str(model), "--out",
                                                     str(WORK / "why.png"), "--cache", c, "--runtime", runtime])
        cmd[f"explain, cold ({runtime})"] = timed([*PERS_REC, "explain", str(outside), "--model", str(model), "--out",
                                                   str(WORK / "why.png"), "--no-cache", "--runtime", runtime])
        for kind, query in (("cached", one), ("cold", str(outside))):
            cmd[f"similar, {kind} ({runtime})"] = timed([*PERS_REC, "similar", query, "--library", str(lib), "-q",
                                                         "--cache", str(embed_cache), "--runtime", runtime])
        print({k: v for k, v in cmd.items() if runtime in k}, flush=True)
    rank_many(args.many, cmd, caches["light"], lib, model)
    write_results("bench_peers", out, markdown(out))
    return 0


def rank_many(sizes, cmd: dict, light_cache: Path, lib: Path, model: Path) -> None:
    """``rank`` of cached libraries: features cached (the network runs), then the same again (its window scores
    kept in the cache under the model's identity: no network), and with ``--runtime keras``."""
    for n in sizes:
        many_cache = WORK / f"cache_many_{n}"
        shutil.rmtree(many_cache, ignore_errors=True)
        shutil.rmtree(WORK / f"many_{n}", ignore_errors=True)
        folder = many_cached(n, many_cache, light_cache, lib)
        for name, runtime in (("light", "light"), ("light, again: window scores kept", "light"), ("keras", "keras")):
            cmd[f"rank {n} cached tracks ({name})"] = timed(
                [*PERS_REC, "rank", str(folder), "--model", str(model), "--out", str(WORK / "many.csv"), "-q",
                 "--cache", str(many_cache), "--runtime", runtime])
            print(n, name, cmd[f"rank {n} cached tracks ({name})"], flush=True)


def markdown(out: dict) -> list[str]:
    env = out["environment"]
    per = out["per_track"]
    floor = per["decode only (PyAV, FFmpeg)"]["wall_per_track_s"]
    lines = ["# pers_rec beside bliss-rs, and commands end to end", "",
             f"`python -m experiments.bench_peers` on {env['date']}, {env['cpus']} CPUs ({env['processor'] or env['machine']}), "
             "a shared machine: other work ran beside it.", "",
             f"{out['tracks']} real recordings (the catalogued Debian game soundtracks nearest four minutes long, "
             f"{out['hours']:.2f} h in all), each tool in a fresh process, one worker.", "",
             "| analysis (one core) | s / track | tracks per core-minute | x FFmpeg decode | peak MB |",
             "|---|---:|---:|---:|---:|"]
    for name, r in per.items():
        lines.append(f"| {name} | {r['wall_per_track_s']:.3f} | {60 / max(r['wall_per_track_s'], 1e-9):.0f} | "
                     f"{r['wall_per_track_s'] / floor:.2f} | {r['peak_mb']} |")
    bliss = per.get("bliss-rs analysis (bliss-audio)")
    ours = per["pers_rec cold rank (light runtime)"]
    if bliss:
        ratio = bliss["wall_per_track_s"] / ours["wall_per_track_s"]
        lines += ["", f"On one core pers_rec's cold `rank` (decode, MFCC, the network, the cache written) gets through "
                  f"**{ratio:.2f}x** as many tracks as bliss-rs's analysis (target: at least 2x: "
                  + ("met" if ratio >= 2 else f"not met, by {2 - ratio:.2f}") + ")."]
    lines += ["", "## Commands end to end (fresh process, as typed)", "",
              "| command | wall s | CPU s | peak MB |", "|---|---:|---:|---:|"]
    for name, r in out["commands"].items():
        lines.append(f"| {name} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_mb']} |")
    lines += ["", "`cached`: the track's features (and, for `similar`, the library's vectors) are in the feature "
              "cache; `cold`: a copy of a track outside the library, decoded and analysed by the command. The cached "
              "libraries are tiny files whose cache entries hold the real tracks' four-minute feature matrices.",
              "`explain` includes drawing and writing its PNG (matplotlib: most of its time).",
              "`rank N cached tracks`: the features are cached and the network runs on every window (the first rank "
              "with a model); `again: window scores kept`: the same command once more, which reads each track's "
              "window scores from the cache under the model's identity (a re-rank after adding a few tracks, or "
              "with other output options) and runs no network" + (f" (these rows measured on {out['many_measured']})"
              if out.get("many_measured") else "") + "."]
    return lines


if __name__ == "__main__":
    sys.exit(main())
