"""Hostile player servers on the loopback: redirects elsewhere, a trickle, an endless body, a huge answer, wrong
types, endless album pages; a hostile MPD (an endless answer, non-UTF-8, a stall); the password file's checks."""

import contextlib
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pers_rec.players import subsonic as Su
from pers_rec.players import transport

OK = {"subsonic-response": {"status": "ok", "version": "1.16.1"}}


@contextlib.contextmanager
def fake_server(handle):
    """An HTTP server on a free loopback port whose every POST is answered by ``handle(handler, seen)``;
    yields ``(base URL, seen)`` where ``seen`` lists ``(path, form body)`` of every request."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            seen.append((self.path, body))
            try:
                handle(self, seen)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def answer(h, obj, status=200):
    data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def test_credentials_never_follow_a_redirect_to_another_origin():
    with fake_server(lambda h, seen: answer(h, {"x": 1})) as (elsewhere, theirs):
        def redirect(h, seen):
            h.send_response(307)
            h.send_header("Location", elsewhere + "/rest/ping")
            h.send_header("Content-Length", "0")
            h.end_headers()

        with fake_server(redirect) as (base, ours):
            client = Su.Client(base, "me", "secret", retries=0)
            with pytest.raises(Su.SubsonicError, match="redirects to .*refused"):
                client.ping()
    assert len(ours) == 1 and theirs == []  # the other host never heard of us


def test_a_redirect_within_the_origin_is_followed():
    def handle(h, seen):
        if h.path.startswith("/old"):
            h.send_response(308)
            h.send_header("Location", "/new" + h.path[4:])
            h.send_header("Content-Length", "0")
            h.end_headers()
        else:
            answer(h, OK)

    with fake_server(handle) as (base, seen):
        assert Su.Client(base + "/old", "me", "secret", retries=0).ping() == "1.16.1"
        assert [p for p, _ in seen] == ["/old/rest/ping", "/new/rest/ping"]


def test_a_trickling_server_cannot_hold_a_call_past_its_deadline():
    def trickle(h, seen):
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        for _ in range(100):
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(0.2)

    with fake_server(trickle) as (base, _):
        client = Su.Client(base, "me", "secret", retries=0, deadline_s=1.5)
        t0 = time.monotonic()
        with pytest.raises(Su.SubsonicError, match="deadline|within"):
            client.ping()
        assert time.monotonic() - t0 < 4


def test_an_answer_over_the_cap_is_refused_without_reading_it_all(monkeypatch):
    monkeypatch.setattr(transport, "MAX_ANSWER", 100_000)

    def huge(h, seen):
        h.send_response(200)
        h.end_headers()  # no length: an endless body
        with contextlib.suppress(OSError):
            for _ in range(10_000):
                h.wfile.write(b"x" * 65536)

    with fake_server(huge) as (base, _):
        with pytest.raises(Su.SubsonicError, match="over 0 MB|refused"):
            Su.Client(base, "me", "secret", retries=0).ping()


@pytest.mark.parametrize("body", [b'{"subsonic-response":"ok"}', b"[" * 200_000, b"\xff\xfe", b"null", b"[1,2]",
                                  b'{"subsonic-response":{"status":"failed","error":"x"}}',
                                  b'{"subsonic-response":{"status":"ok","version":NaN}}'])
def test_malformed_answers_are_one_line_errors(body):
    with fake_server(lambda h, seen: answer(h, body)) as (base, _):
        with pytest.raises(Su.SubsonicError) as info:
            Su.Client(base, "me", "secret", retries=0).ping()
    assert "\n" not in str(info.value)


def test_songs_of_the_wrong_type_keep_what_is_valid_or_are_counted():
    songs = [{"id": "1", "path": "a.flac", "duration": "three minutes", "playCount": -5, "userRating": 9},
             {"id": 2, "title": ["x"], "duration": 1e308, "playCount": 7, "userRating": 4, "starred": "2020"},
             "not a song", {"title": "no id"}, {"id": True}, 5]
    starred = {"subsonic-response": {"status": "ok", "starred2": {"song": songs}}}
    with fake_server(lambda h, seen: answer(h, starred)) as (base, _):
        client = Su.Client(base, "me", "secret", retries=0)
        got = client.starred()
    assert [(s.id, s.duration, s.plays, s.rating, s.starred, s.title) for s in got] == [
        ("1", None, None, None, False, ""), ("2", None, 7, 4, True, "")]
    assert client.skipped == 4


def test_album_pages_that_never_end_are_stopped():
    def handle(h, seen):
        if "getAlbumList2" in h.path:
            answer(h, {"subsonic-response": {"status": "ok", "albumList2": {"album": [{"id": "a1"}, {"id": "a2"}]}}})
        else:
            answer(h, {"subsonic-response": {"status": "ok", "album": {"song": []}}})

    with fake_server(handle) as (base, seen):
        with pytest.raises(Su.SubsonicError, match="same albums again"):
            Su.Client(base, "me", "secret", retries=0).songs(page=2)
    assert len(seen) < 10


def test_the_hex_password_never_goes_over_plain_http_to_another_machine_unless_allowed():
    def old_server(h, seen):
        if "t=" in seen[-1][1]:
            answer(h, {"subsonic-response": {"status": "failed", "error": {"code": 41, "message": "no tokens"}}})
        else:
            answer(h, OK)

    with fake_server(old_server) as (base, seen):
        client = Su.Client(base, "me", "secret", retries=0)
        client.safe = False  # as for http://music.example.org
        with pytest.raises(Su.SubsonicError, match="allow-plain-password"):
            client.ping()
        assert all("p=enc" not in body for _, body in seen)
        client.allow_plain = True
        client.ping()
        assert "p=enc%3A" + b"secret".hex() in seen[-1][1]


# ---- the password file ---------------------------------------------------------------------------------------------

def test_the_password_file_is_checked_before_a_byte_is_read(tmp_path):
    with pytest.raises(Su.ParameterError, match="not a regular file"):
        Su.password("/dev/zero")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(Su.ParameterError, match="not a regular file"):
        Su.password(fifo)  # does not wait for a writer
    big = tmp_path / "big"
    big.write_bytes(b"x" * 300_000)
    big.chmod(0o600)
    with pytest.raises(Su.ParameterError, match="at most 4096"):
        Su.password(big)
    binary = tmp_path / "bin"
    binary.write_bytes(b"s3cr\xffet\n")
    binary.chmod(0o600)
    with pytest.raises(Su.ParameterError) as info:
        Su.password(binary)
    assert "s3cr" not in str(info.value) and "\\xff" not in str(info.value) and "UTF-8" in str(info.value)
    open_file = tmp_path / "open"
    open_file.write_text("s3cret\n")
    open_file.chmod(0o644)
    with pytest.raises(Su.ParameterError, match="readable by others"):
        Su.password(open_file)
    open_file.chmod(0o600)
    assert Su.password(open_file) == "s3cret"


# ---- a hostile MPD -------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def fake_mpd(reply):
    """A line server speaking MPD's greeting, then ``reply(command line, connection)`` for every command."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve():
        with contextlib.suppress(OSError):
            conn, _ = srv.accept()
            conn.sendall(b"OK MPD 0.23.5\n")
            f = conn.makefile("rb")
            for line in f:
                reply(line.decode("utf-8", "replace").rstrip("\n"), conn)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield srv.getsockname()[1]
    finally:
        srv.close()


def test_an_endless_mpd_answer_is_cut(monkeypatch):
    from pers_rec.players import mpd_player as M

    pytest.importorskip("mpd")
    monkeypatch.setattr(M, "MAX_ANSWER", 200_000)

    def endless(cmd, conn):
        with contextlib.suppress(OSError):
            for i in range(10**6):
                conn.sendall(f"file: song{i}.flac\nsticker: rating=10\n".encode())

    with fake_mpd(endless) as port, M.Player("127.0.0.1", port) as p:
        with pytest.raises(M.MPDError, match="too large"):
            p.stickers()


def test_a_stalled_mpd_answer_is_cut_at_the_deadline():
    from pers_rec.players import mpd_player as M

    pytest.importorskip("mpd")

    def trickle(cmd, conn):
        with contextlib.suppress(OSError):
            for _ in range(100):
                conn.sendall(b"f")
                time.sleep(0.2)

    with fake_mpd(trickle) as port, M.Player("127.0.0.1", port, deadline_s=1.0) as p:
        t0 = time.monotonic()
        with pytest.raises(M.MPDError, match="within 1 s"):
            p.stickers()
        assert time.monotonic() - t0 < 3


def test_mpd_values_out_of_range_or_not_utf8_are_left_out():
    from pers_rec.players import mpd_player as M

    pytest.importorskip("mpd")
    replies = {"rating": b"file: a.flac\nsticker: rating=1e400\nfile: b.flac\nsticker: rating=8\n"
                         b"file: c\xff.flac\nsticker: rating=-5\n",
               "like": b"file: a.flac\nsticker: like=x\n", "playCount": b"file: d.flac\nsticker: playCount=3\n",
               "skipCount": b""}

    def reply(cmd, conn):
        name = cmd.rsplit('"', 2)[-2] if cmd.count('"') >= 2 else ""
        conn.sendall(replies.get(name, b"") + b"OK\n")

    with fake_mpd(reply) as port, M.Player("127.0.0.1", port) as p:
        got = {s.uri: s for s in p.stickers()}
        assert set(got) == {"b.flac", "d.flac"} and got["b.flac"].rating == 4.0 and got["d.flac"].plays == 3
        assert p.skipped == 3
