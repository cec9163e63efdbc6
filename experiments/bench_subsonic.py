"""Benchmark: ``pers-rec likes subsonic`` on 10,000 starred songs of a local supysonic server.

A synthetic library of ``--songs`` tiny tagged FLAC files (0.3 s each, 20 songs
per album) is served by Debian's supysonic (started on the loopback, as in the
tests); every song is starred. The run then times what ``likes subsonic`` does
end to end (read every song and the starred list, match each to its local
file by path, label, write the CSV), and, inside that, the time spent waiting
for the server's HTTP answers: the server's own share.

``python -m experiments.bench_subsonic [--songs 10000]`` writes ``results/bench_subsonic.{json,md}``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from experiments import servers
from experiments.common import RESULTS, environment, write_results


def make_library(root: Path, n: int, per_album: int = 20) -> list[Path]:
    import soundfile as sf

    from synth.io import tag

    y = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2400) / 8000)).astype(np.float32)
    paths = []
    for i in range(n):
        a = i // per_album
        p = root / f"Artist {a % 50:02d}" / f"Album {a:04d}" / f"{i % per_album:02d} Song {i:05d}.flac"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, y, 8000)
        tag(p, artist=f"Artist {a % 50:02d}", album=f"Album {a:04d}", title=f"Song {i:05d}")
        paths.append(p)
    return paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--songs", type=int, default=10000)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    why = servers.missing("supysonic-server", "supysonic-cli")
    if why:
        raise SystemExit(f"bench_subsonic: {why}")
    import os

    from pers_rec.players import subsonic as Su
    from pers_rec.players import sync as players

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        make_library(tmp / "music", args.songs)
        t_make = time.perf_counter() - t0
        t0 = time.perf_counter()
        with servers.supysonic(tmp / "home", tmp / "music") as url:
            t_scan = time.perf_counter() - t0
            c = Su.Client(url, servers.USER, servers.PASSWORD)
            ids = [s.id for s in c.songs()]
            for i in range(0, len(ids), 500):
                c.call("star", id=ids[i:i + 500])
            os.environ[Su.PASSWORD_ENV] = servers.PASSWORD
            waited = [0.0]
            real = Su.Client._call

            def timed(self, endpoint, params):
                t = time.perf_counter()
                try:
                    return real(self, endpoint, params)
                finally:
                    waited[0] += time.perf_counter() - t

            Su.Client._call = timed
            from pers_rec.audio.scan import scan
            from pers_rec.players import signals as S

            t0 = time.perf_counter()
            paths = scan(tmp / "music")
            client = Su.Client(url, servers.USER, servers.PASSWORD)
            got = players.from_subsonic(client, paths, library=str(tmp / "music"))
            sigs, unmatched, how = got.signals, got.unmatched, got.how
            rows = S.labels(sigs)
            S.write_csv(tmp / "likes.csv", rows)
            t_likes = time.perf_counter() - t0
            Su.Client._call = real
    starred = sum(r[3] == "starred" for r in rows)
    env = environment(keras=False)
    lines = [
        "# Reading a Subsonic server's stars (`pers-rec likes subsonic`)",
        "",
        f"Written by `python -m experiments.bench_subsonic --songs {args.songs}` on this machine ({env['cpus']} CPUs). "
        f"Server: Debian's supysonic under waitress on the loopback, {args.songs} songs in {args.songs // 20} albums "
        f"(made in {t_make:.0f} s, scanned by supysonic in {t_scan:.0f} s), every one starred.",
        "",
        "| step | seconds |",
        "|---|---|",
        f"| `likes subsonic`, end to end (scan the folder, read every song and the stars, match, label, write) "
        f"| {t_likes:.1f} |",
        f"| of which: waiting for the server's answers | {waited[0]:.1f} |",
        f"| of which: pers_rec's own work | {t_likes - waited[0]:.1f} |",
        "",
        f"- Starred songs read and matched: {starred} of {args.songs} ({how.get('path', 0)} by path, "
        f"{how.get('tags', 0)} by tags, {len(unmatched)} unmatched).",
        "- Target: <= 30 s for 10,000 starred songs: " + ("met" if t_likes <= 30 else "not met") + ".",
    ]
    write_results("bench_subsonic", {"env": env, "songs": args.songs, "starred": starred, "make_s": t_make,
                                     "scan_s": t_scan, "likes_s": t_likes, "server_s": waited[0], "how": how,
                                     "unmatched": len(unmatched)}, lines, args.out)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
