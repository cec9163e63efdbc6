"""Real radio sessions for docs/radio.md over the demo's library.

    python -m experiments.radio_session DEMO_OUT [--minutes 1.5]   # in a real mpd
    python -m experiments.radio_session DEMO_OUT --subsonic         # through the Subsonic relay, supysonic upstream

MPD: ``pers-rec radio --mpd`` and a scripted listener who skips what is not led by a flute after 2 seconds and
lets the flute songs play. Subsonic: ``pers-rec radio --subsonic`` in front of a real supysonic, and a scripted
Subsonic client that asks for similar songs and a sonic path, skips a piano song and plays a flute song through.
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

from experiments.servers import PASSWORD, USER, free_port, mpd, supysonic


def listener(where: str, stop: threading.Event, log: list) -> None:
    """Skip (``next``) every song whose file name is not a flute song after 2 s of it; let the others play."""
    from pers_rec.players import sync as players

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


def subsonic_session(music: Path, model: Path, cache: Path, home: Path) -> None:
    """The relay in front of supysonic, and a scripted client that speaks only to the relay."""
    import requests

    auth = {"u": USER, "p": "enc:" + PASSWORD.encode().hex(), "v": "1.10.2", "c": "session", "f": "json"}
    with supysonic(home, music) as url:
        port = free_port()
        cmd = [sys.executable, "-m", "pers_rec.cli", "radio", "--subsonic", url, "--listen", f"127.0.0.1:{port}",
               "--library", str(music), "--model", str(model), "--cache", str(cache), "-q"]
        print(f"$ pers-rec radio --subsonic {url} --listen 127.0.0.1:{port} --library {music.name} "
              "--model model.keras")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        me = f"http://127.0.0.1:{port}/rest"

        def call(endpoint, **params):
            return requests.get(f"{me}/{endpoint}", params={**auth, **params}, timeout=60).json()["subsonic-response"]

        for _ in range(1200):
            try:
                call("ping")
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        songs = []
        for album in call("getAlbumList2", type="alphabeticalByName", size=500)["albumList2"]["album"]:
            songs += call("getAlbum", id=album["id"])["album"]["song"]
        by_path = {s["path"]: s for s in songs}
        flute, piano, strings = (by_path[p] for p in ("song_000_flute_a_minor.wav", "song_003_piano_g_minor.wav",
                                                      "song_002_strings_c_major.wav"))
        log = []

        def show(what, answer, key):
            log.append(f"client: {what}")
            for m in answer:
                entry = m.get("entry", m)
                extra = f"  similarity {m['similarity']:.3f}" if "similarity" in m else ""
                log.append(f"    {entry['path']}{extra}")

        show(f"getSimilarSongs2 id={flute['path']} count=5",
             call("getSimilarSongs2", id=flute["id"], count=5)["similarSongs2"]["song"], "song")
        show(f"getSonicSimilarTracks id={piano['path']} count=3",
             call("getSonicSimilarTracks", id=piano["id"], count=3)["sonicMatch"], "sonicMatch")
        show(f"findSonicPath {flute['path']} -> {strings['path']} count=5",
             call("findSonicPath", startSongId=flute["id"], endSongId=strings["id"], count=5)["sonicMatch"], "")
        ext = call("getOpenSubsonicExtensions")["openSubsonicExtensions"]
        log.append(f"client: getOpenSubsonicExtensions -> {ext}")
        call("scrobble", id=piano["id"], submission="false")
        time.sleep(2)
        call("scrobble", id=flute["id"], submission="false")
        log.append(f"client: now playing {piano['path']}, after 2 s now playing {flute['path']}")
        call("scrobble", id=flute["id"], submission="true")
        log.append(f"client: scrobbled {flute['path']} (played)")
        show(f"getSimilarSongs2 id={flute['path']} count=5 (again)",
             call("getSimilarSongs2", id=flute["id"], count=5)["similarSongs2"]["song"], "song")
        wrong = requests.get(f"{me}/getSimilarSongs2", params={**auth, "p": "wrong", "id": flute["id"]},
                             timeout=60).json()["subsonic-response"]
        log.append(f"client: the same with a wrong password -> {wrong['status']}, error {wrong['error']}")
        proc.send_signal(2)
        out, _ = proc.communicate(timeout=60)
    print(out.replace(str(music) + "/", "").rstrip())
    print(f"(exit {proc.returncode})\n")
    print("\n".join(log))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", type=Path)
    ap.add_argument("--minutes", type=float, default=1.5)
    ap.add_argument("--subsonic", action="store_true", help="the Subsonic relay's session instead of MPD's")
    args = ap.parse_args(argv)
    music, model = (args.demo / "library").resolve(), args.demo / "model.keras"
    home = args.demo / "mpd"
    cache = args.demo / "cache"
    if args.subsonic:
        subsonic_session(music, model, cache, args.demo / "subsonic")
        print_store(cache)
        return 0
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
    print_store(cache)
    return 0


def print_store(cache: Path) -> None:
    store = next(cache.glob("serve/*/judgements.sqlite"))
    rows = sqlite3.connect(store).execute("SELECT path, label, weight, source FROM judgements ORDER BY id").fetchall()
    print(f"\n$ sqlite3 {store.parent.name}/judgements.sqlite 'SELECT path, label, weight, source FROM judgements'")
    for p, lab, w, src in rows:
        print(f"{Path(p).name}|{lab}|{w}|{src}")


if __name__ == "__main__":
    raise SystemExit(main())
