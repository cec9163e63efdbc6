"""Real servers started on a free loopback port in a temp folder and stopped afterwards: Debian's supysonic (a
Subsonic API server, under waitress) and mpd. Used by the player tests (``tests/servers.py``) and by
``experiments.bench_subsonic``."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time

USER, PASSWORD = "alice", "s3cret pass"


def missing(*programs) -> str | None:
    """Why the servers cannot run here (None when they can)."""
    gone = [p for p in programs if shutil.which(p) is None]
    return (f"{', '.join(gone)} not installed (make servers: apt-get install supysonic python3-waitress mpd)"
            if gone else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, proc, log, seconds: float = 30.0) -> None:
    t0 = time.time()
    while time.time() - t0 < seconds:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}): {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the server did not listen on {port} in {seconds:.0f} s: {log.read_text()[-2000:]}")


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def supysonic(home, music):
    """A supysonic server for ``music`` (user :data:`USER`, scanned), yielding its URL."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "supysonic.conf").write_text(
        f"[base]\ndatabase_uri = sqlite:///{home}/supysonic.db\n[webapp]\ncache_dir = {home}/cache\n"
        f"log_level = WARNING\n[daemon]\nsocket = {home}/daemon.sock\n")
    env = {**os.environ, "HOME": str(home)}
    env.pop("PYTHONPATH", None)

    def cli(*args):
        subprocess.run(["supysonic-cli", *args], cwd=home, env=env, check=True, capture_output=True, timeout=120)

    cli("user", "add", USER, "-p", PASSWORD)
    cli("folder", "add", "lib", str(music))
    cli("folder", "scan", "lib")
    port, log = free_port(), home / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(["supysonic-server", "-S", "waitress", "-h", "127.0.0.1", "-p", str(port)],
                                cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


@contextlib.contextmanager
def mpd(home, music, port=None):
    """An mpd for ``music`` (database updated), yielding ``(host, port)``; ``port``: that one (a restart), else a
    free one. Its ``null`` output plays in real time, so a song ends when its length has passed."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "playlists").mkdir(exist_ok=True)
    port, log = port or free_port(), home / "mpd.log"
    conf = home / "mpd.conf"
    conf.write_text(f'music_directory "{music}"\nplaylist_directory "{home}/playlists"\n'
                    f'db_file "{home}/db"\nsticker_file "{home}/sticker.sql"\nstate_file "{home}/state"\n'
                    f'log_file "{log}"\nbind_to_address "127.0.0.1"\nport "{port}"\n'
                    'audio_output {\n type "null"\n name "none"\n mixer_type "none"\n}\n')
    log.touch()
    proc = subprocess.Popen(["mpd", "--no-daemon", str(conf)], cwd=home, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    try:
        _wait(port, proc, log)
        from pers_rec.players.mpd_player import Player

        with Player("127.0.0.1", port) as p:
            p.update()
        yield "127.0.0.1", port
    finally:
        _stop(proc)
