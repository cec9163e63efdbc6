"""``pers-rec likes``: a listener's likes and dislikes from their player (a Subsonic server, MPD) or listening
history (ListenBrainz, Last.fm), as the CSV ``train --likes`` reads; and the server options ``rank`` uses to
write its playlist back (``--to-subsonic``, ``--to-mpd``)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import EXIT_OK, ParameterError, printable
from .common import float_in, int_at_least, library_files, need_dir, say, subcommand, warn

seconds_above_0 = float_in("a number of seconds", "must be more than 0 seconds", lambda v: 0 < v < 1e6)

SOURCES = ("subsonic", "mpd", "listenbrainz", "lastfm")


def path_map(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ParameterError(f"--path-map {text!r}: give SERVER_PREFIX=LOCAL_PREFIX")
    src, dst = text.split("=", 1)
    return src, os.path.expanduser(dst)


def add_server_options(p, *, writing: bool = False) -> None:
    """The options that say where a Subsonic server or MPD is (shared by ``likes`` and ``rank``)."""
    g = p.add_argument_group("player (Subsonic server or MPD)")
    if writing:
        g.add_argument("--subsonic", metavar="URL", help="the Subsonic server --to-subsonic writes to")
        g.add_argument("--mpd", metavar="HOST[:PORT]", help="the MPD --to-mpd writes to (a host, or a socket path)")
    g.add_argument("--user", help="Subsonic user name")
    g.add_argument("--password-file", metavar="FILE",
                   help="file whose first line is the Subsonic password (mode 600); default: "
                        "$PERS_REC_SUBSONIC_PASSWORD. Never on the command line: it would show in ps")
    g.add_argument("--path-map", type=path_map, action="append", default=[], metavar="SERVER=LOCAL",
                   help="server path prefix -> local path prefix (repeatable); a relative server path is taken "
                        "under the library folder")
    g.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    g.add_argument("--allow-plain-password", action="store_true",
                   help="let the password go hex-encoded over plain HTTP to a server that takes no tokens (anyone on "
                        "the way can read it); without it such a server is refused unless it is https or this machine")
    g.add_argument("--player-timeout", type=seconds_above_0, default=60.0, metavar="SECONDS",
                   help="the most one call to the server may take, a slow answer included")
    g.add_argument("--mpd-music-dir", metavar="DIR",
                   help="MPD's music_directory on this machine (default: the library folder)")


def add_parser(sub) -> None:
    lk = subcommand(sub, "likes", "read likes and dislikes from a player or listening history into a likes CSV",
                    "PERS_REC_SUBSONIC_PASSWORD=... pers-rec likes subsonic https://music.example.org --user me "
                    "--library ~/Music --out likes.csv   # then: pers-rec train --likes likes.csv --library ~/Music")
    lk.add_argument("source", choices=SOURCES, help="where the listener's taste is recorded")
    lk.add_argument("where", nargs="?",
                    help="subsonic: the server's URL; mpd: HOST[:PORT] or a socket path (default localhost:6600); "
                         "listenbrainz: an export (JSON lines); lastfm: a scrobble CSV")
    lk.add_argument("--library", required=True, help="the local music folder the songs are matched to")
    lk.add_argument("--out", default="likes.csv", help="the likes CSV (path,label,weight,signal)")
    lk.add_argument("--min-plays", type=int_at_least(1), default=3,
                    help="plays (or skips) that make an unrated track a like (or a dislike)")
    add_server_options(lk)
    lk.set_defaults(run=run)


def run(args) -> int:
    from .. import signals as S
    from ..fileio import check_output

    need_dir(args.library, "--library")
    check_output(args.out, (".csv",), "--out")
    if args.source in ("subsonic", "listenbrainz", "lastfm") and not args.where:
        raise ParameterError(f"likes {args.source}: give the {'server URL' if args.source == 'subsonic' else 'file'}")
    paths = library_files(args.library)
    reader = {"subsonic": from_subsonic, "mpd": from_mpd, "listenbrainz": from_history, "lastfm": from_history}
    sigs, unmatched, how = reader[args.source](args, paths)
    rows = S.labels(sigs, args.min_plays)
    S.write_csv(args.out, rows)
    matched = ", ".join(f"{n} by {k}" for k, n in how.items() if n)
    say(f"matched {sum(how.values())} of {sum(how.values()) + len(unmatched)} {args.source} songs to files "
        f"under {args.library}" + (f" ({matched})" if matched else ""))
    if unmatched:
        report = Path(args.out).with_suffix(".unmatched.txt")
        from ..fileio import write_text

        write_text(report, "".join(f"{printable(u)}\n" for u in unmatched))  # a tag's escape codes stay text
        warn(f"pers-rec: warning: {len(unmatched)} not matched (e.g. {unmatched[0]}); all of them in {report}")
    by = {}
    for _, lab, _, sig in rows:
        by[(lab, sig)] = by.get((lab, sig), 0) + 1
    say(f"wrote {args.out}: {sum(r[1] for r in rows)} likes, {sum(1 - r[1] for r in rows)} dislikes ("
        + (", ".join(f"{'like' if lab else 'dislike'} from {sig} {n}" for (lab, sig), n in sorted(by.items()))
           or "no signal made a label") + ")")
    return EXIT_OK


def subsonic_client(url: str, args):
    from .. import subsonic as Su

    if not args.user:
        raise ParameterError("a Subsonic server needs --user")
    return Su.Client(url, args.user, Su.password(args.password_file), verify=not args.insecure,
                     deadline_s=args.player_timeout, allow_plain=args.allow_plain_password)


def match_songs(songs, args, paths):
    """``{song id: local path}`` and the songs that match no file: by path (``--path-map``), else tags + duration."""
    from .. import signals as S

    known = {os.path.abspath(p) for p in paths}
    out, unmatched, how, index = {}, [], {"path": 0, "tags": 0}, None
    for s in songs:
        local = os.path.abspath(S.map_path(s.path, args.path_map, args.library)) if s.path else None
        if local in known:
            out[s.id], how["path"] = local, how["path"] + 1
            continue
        index = index or S.TagIndex(paths)
        hit = index.find(s.artist, s.title, s.duration)
        if hit is None:
            unmatched.append(f"{s.artist} - {s.title} ({s.path or s.id})")
        else:
            out[s.id], how["tags"] = os.path.abspath(hit), how["tags"] + 1
    return out, unmatched, how


def from_subsonic(args, paths):
    from .. import signals as S

    client = subsonic_client(args.where, args)
    songs = {s.id: s for s in client.songs()}
    songs.update({s.id: s for s in client.starred()})  # a starred song outside the album walk still counts
    local, unmatched, how = match_songs(list(songs.values()), args, paths)
    sigs = [S.Signal(local[i], starred=s.starred, rating=s.rating, plays=s.plays or 0) for i, s in songs.items()
            if i in local]
    if client.skipped:
        warn(f"pers-rec: warning: {client.skipped} entries of the server's answers were not songs (no id, or not "
             "an object): left out")
    return sigs, unmatched, how


def mpd_player(where: str | None, deadline_s: float = 60.0):
    from .. import mpd_player as M

    where = where or "localhost:6600"
    if where.startswith("/"):
        return M.Player(where, deadline_s=deadline_s)
    host, _, port = where.rpartition(":") if ":" in where else (where, "", "6600")
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ParameterError(f"{where}: give MPD as HOST[:PORT] or a socket path")
    return M.Player(host or "localhost", int(port), password=os.environ.get("MPD_PASSWORD"), deadline_s=deadline_s)


def from_mpd(args, paths):
    from .. import signals as S

    music = args.mpd_music_dir or args.library
    known = {os.path.abspath(p) for p in paths}
    sigs, unmatched = [], []
    with mpd_player(args.where, args.player_timeout) as player:
        for s in player.stickers():
            local = os.path.abspath(os.path.join(music, s.uri))
            if local not in known:
                unmatched.append(s.uri)
                continue
            sigs.append(S.Signal(local, rating=s.rating or None, plays=s.plays or 0, skips=s.skips or 0,
                                 loved=None if s.like in (None, 1) else s.like == 2))
        if player.skipped:
            warn(f"pers-rec: warning: {player.skipped} MPD stickers were not numbers in range: left out")
    return sigs, unmatched, {"path": len(sigs)}


def from_history(args, paths):
    from .. import signals as S

    listens, skipped = S.read_listens(args.where)
    if skipped:
        warn(f"pers-rec: warning: {args.where}: {skipped} entries were not listens (no artist and title): left out")
    index = S.TagIndex(paths)
    plays, unmatched = {}, {}
    for artist, title in listens:
        hit = index.find(artist, title)
        if hit is None:
            unmatched[f"{artist} - {title}"] = unmatched.get(f"{artist} - {title}", 0) + 1
        else:
            plays[hit] = plays.get(hit, 0) + 1
    say(f"read {len(listens)} listens from {args.where}: {len(listens) - sum(unmatched.values())} matched")
    return ([S.Signal(p, plays=n) for p, n in sorted(plays.items())],
            [f"{k} ({n} listens)" for k, n in sorted(unmatched.items())], {"tags": len(plays)})


# ---- writing playlists back (rank --to-subsonic / --to-mpd) -------------------------------------------------------

def push_subsonic(args, name: str, entries: list[str], paths) -> None:
    """Write the playlist ``entries`` (local paths, in order) to the Subsonic server as ``name``."""
    if not args.subsonic:
        raise ParameterError("--to-subsonic needs --subsonic URL (and --user)")
    client = subsonic_client(args.subsonic, args)
    by_path = {p: i for i, p in match_songs(client.songs(), args, paths)[0].items()}
    ids = [by_path[os.path.abspath(e)] for e in entries if os.path.abspath(e) in by_path]
    client.write_playlist(name, ids)
    say(f"wrote playlist {name!r} to {args.subsonic}: {len(ids)} of {len(entries)} tracks"
        + ("" if len(ids) == len(entries) else " (the others are not in the server's library)"))


def push_mpd(args, name: str, entries: list[str]) -> None:
    from .. import mpd_player as M

    music = args.mpd_music_dir or args.library
    uris = [u for u in (M.uri_of(e, music) for e in entries) if u is not None]
    with mpd_player(args.mpd, args.player_timeout) as player:
        unsafe = player.write_playlist(name, uris)
    say(f"wrote MPD playlist {printable(name)!r}: {len(uris) - unsafe} of {len(entries)} tracks"
        + ("" if len(uris) == len(entries) else f" ({len(entries) - len(uris)} outside {music})")
        + (f" ({unsafe} left out: a newline or NUL in the file name, which MPD's protocol cannot carry)"
           if unsafe else ""))
