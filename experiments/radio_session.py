"""A real radio session for docs/radio.md: ``pers-rec radio`` in a real mpd over the demo's library, and a
scripted listener who skips what is not led by a flute after 2 seconds and lets the flute songs play.

    python -m experiments.radio_session DEMO_OUT [--minutes 1.5]

``DEMO_OUT`` is a ``pers-rec demo --out`` folder (its library and model). Prints the command's own output, then
what the listener did and what the store holds.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from experiments.servers import mpd


def listener(where: str, stop: threading.Event, log: list) -> None:
    """Skip (``next``) every song whose file name is not a flute song after 2 s of it; let the others play."""
    from pers_rec import players

    seen = None
    while not stop.is_set():
        try:
            with players.mpd_player(where) as p:
                while not stop.is_set():
                    st = p.status()
                    song = next((q for q in p.queue() if str(q.get("id")) == st.get("songid")), None)
                    if song and song["id"] != seen and float(st.get("elapsed") or 0) >= 2.0:
                        seen = song["id"]
                        if "flute" not in song["file"]:
                            p.client.next()
                            log.append(f"listener: skipped {song['file']}")
                        else:
                            log.append(f"listener: let {song['file']} play")
                    time.sleep(0.2)
        except Exception:  # noqa: BLE001 (MPD between songs, or gone: look again)
            time.sleep(0.5)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", type=Path)
    ap.add_argument("--minutes", type=float, default=1.5)
    args = ap.parse_args(argv)
    music, model = (args.demo / "library").resolve(), args.demo / "model.keras"
    home = args.demo / "mpd"
    cache = args.demo / "cache"
    with mpd(home, music) as (host, port):
        where = f"{host}:{port}"
        stop, log = threading.Event(), []
        t = threading.Thread(target=listener, args=(where, stop, log), daemon=True)
        t.start()
        cmd = [sys.executable, "-m", "pers_rec.cli", "radio", "--mpd", where, "--library", str(music), "--model",
               str(model), "--minutes", str(args.minutes), "--cache", str(cache), "-q"]
        print("$ pers-rec radio --mpd", where, "--library", music.name, "--model model.keras --minutes", args.minutes)
        r = subprocess.run(cmd, capture_output=True, text=True)
        stop.set()
        t.join(5)
        print((r.stderr + r.stdout).replace(str(music) + "/", "").rstrip())
        print(f"(exit {r.returncode})\n")
        print("\n".join(log))
    store = next(cache.glob("serve/*/judgements.sqlite"))
    rows = sqlite3.connect(store).execute("SELECT path, label, weight, source FROM judgements ORDER BY id").fetchall()
    print(f"\n$ sqlite3 {store.parent.name}/judgements.sqlite 'SELECT path, label, weight, source FROM judgements'")
    for p, lab, w, src in rows:
        print(f"{Path(p).name}|{lab}|{w}|{src}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
