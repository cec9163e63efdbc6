"""``pers-rec likes``: a listener's likes and dislikes from their player (a Subsonic server, MPD) or listening
history (ListenBrainz, Last.fm), as the CSV ``train --likes`` reads. The reading and matching are the library's
(:mod:`pers_rec.players.sync`); this command parses, writes the CSV and says what happened."""

from __future__ import annotations

from pathlib import Path

from ..errors import EXIT_OK, ParameterError, printable
from .common import add_server_options, int_at_least, library_files, need_dir, say, subcommand, subsonic_client, warn

SOURCES = ("subsonic", "mpd", "listenbrainz", "lastfm")


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
    from ..fileio import check_output
    from ..players import signals

    need_dir(args.library, "--library")
    check_output(args.out, (".csv",), "--out")
    if args.source in ("subsonic", "listenbrainz", "lastfm") and not args.where:
        raise ParameterError(f"likes {args.source}: give the {'server URL' if args.source == 'subsonic' else 'file'}")
    paths = library_files(args.library)
    got = read(args, paths)
    for note in got.notes:
        (say if note.startswith("read ") else lambda text: warn(f"pers-rec: warning: {text}"))(note)
    sigs, unmatched, how = got.signals, got.unmatched, got.how
    rows = signals.labels(sigs, args.min_plays)
    signals.write_csv(args.out, rows)
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


def read(args, paths):
    """The :class:`sync.Read` of ``args.source``."""
    from ..players import sync

    if args.source == "subsonic":
        return sync.from_subsonic(subsonic_client(args.where, args), paths, library=args.library,
                                     path_map=args.path_map)
    if args.source == "mpd":
        with sync.mpd_player(args.where, args.player_timeout) as player:
            return sync.from_mpd(player, paths, music_dir=args.mpd_music_dir or args.library)
    return sync.from_history(args.where, paths)
