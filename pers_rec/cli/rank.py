"""``pers-rec rank``: score every track of a folder and write the ranking (CSV, and the top as M3U8)."""

from __future__ import annotations

from ..errors import EXIT_NOTHING, EXIT_OK, EXIT_SOME_FAILED, ParameterError
from ..library.workflows import rank_to_files
from .common import (
    add_server_options,
    feature_cache,
    int_at_least,
    library_files,
    load_model,
    need_dir,
    say,
    seconds,
    subcommand,
    subsonic_client,
    warn,
)


def add_parser(sub) -> None:
    r = subcommand(sub, "rank", "score every track of a folder and write the ranking",
                   "pers-rec rank ~/Music --model taste.keras --out ranking.csv --m3u top50.m3u8", cache=True,
                   jobs=True, runtime=True)
    r.add_argument("library", help="music folder (scanned recursively)")
    r.add_argument("--model", required=True, help="a model written by pers-rec train (.keras)")
    r.add_argument("--out", default="ranking.csv", help="ranking CSV")
    r.add_argument("--m3u", help="also write an M3U8 playlist of the top tracks (.m3u8 or .m3u, UTF-8)")
    r.add_argument("--top", type=int_at_least(1), default=50, help="tracks in the M3U8")
    r.add_argument("--min-track-s", type=seconds, default=30.0,
                   help="leave tracks shorter than this out of the M3U8 (jingles, effects); 0 keeps them")
    r.add_argument("--max-per-artist", type=int_at_least(1), default=None,
                   help="at most this many tracks of one artist in the M3U8 (by the artist tag)")
    r.add_argument("--include-liked", action="store_true",
                   help="also rank the tracks the model was trained on as likes")
    r.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: this machine's worker processes and the feature cache; ray: a Ray cluster (Ray Data "
                        "tasks decode, an actor pool scores; pip install 'pers_rec[ray]'), no feature cache")
    r.add_argument("--ray-address", metavar="ADDR", help="with --engine ray: the cluster (default: start a local one)")
    r.add_argument("--parquet", metavar="DIR_OR_URI",
                   help="with --engine ray: also write the ranking as Parquet (a folder, or any URI pyarrow writes)")
    r.add_argument("--to-subsonic", metavar="NAME", help="also write the top tracks as playlist NAME to the Subsonic "
                   "server --subsonic (replacing the user's playlist of that name)")
    r.add_argument("--to-mpd", metavar="NAME", help="also write the top tracks as MPD stored playlist NAME (--mpd)")
    add_server_options(r, writing=True)
    r.set_defaults(run=run)


def run(args) -> int:
    from ..fileio import check_not_inputs, check_output

    need_dir(args.library, "library")
    check_output(args.out, (".csv",), "--out")
    if args.m3u:
        check_output(args.m3u, (".m3u8", ".m3u"), "--m3u")
    check_not_inputs({"--out": args.out, "--m3u": args.m3u}, {"--model": args.model})
    if args.to_subsonic:  # a missing server option or password is said before any work
        from ..players import subsonic
        if not (args.subsonic and args.user):
            raise ParameterError("--to-subsonic needs --subsonic URL and --user")
        subsonic.password(args.password_file)
    if args.engine == "local" and (args.parquet or args.ray_address):  # said before TensorFlow loads
        raise ParameterError("--parquet and --ray-address go with --engine ray")
    from ..model.checkpoint import read_meta
    from ..model.teacher import HOW, checkpoint_dir

    blend = ((read_meta(args.model).get("report") or {}).get("blend") or {})
    if isinstance(blend, dict) and blend.get("chosen") == "teacher" and checkpoint_dir() is None:
        raise ParameterError(f"{args.model}: this model stacks the musicnn teacher's score (train --blend auto chose "
                             f"it), and the teacher is not installed: {HOW}, or retrain with --blend stacked")
    if args.engine == "local" and args.jobs != 0:
        from ..audio.extract import start_early

        start_early()  # the decoding workers' forkserver imports while TensorFlow and the model load
    saved = load_model(args.model, args.runtime)  # a bad model file is said before the library is scanned
    paths = library_files(args.library)
    if args.engine == "ray":
        df = rank_on_ray(args, saved, paths)
    else:
        with feature_cache(args) as cache:
            df = rank_to_files(paths, saved, out_csv=args.out, m3u=args.m3u, top=args.top,
                               min_track_s=args.min_track_s, include_liked=args.include_liked,
                               max_per_artist=args.max_per_artist, cache=cache, jobs=args.jobs, progress=not args.quiet)
    code = print_summary(df, len(paths), args.out, args.m3u, args.top)
    if (args.to_subsonic or args.to_mpd) and code != EXIT_NOTHING:
        from ..library import rank as ranking

        entries = [e[0] for e in ranking.playlist_entries(df, top=args.top, min_track_s=args.min_track_s,
                                                     max_per_artist=args.max_per_artist)]
        if not entries:
            warn(f"pers-rec: warning: no track for the player's playlist (every one shorter than --min-track-s "
                 f"{args.min_track_s:g}?): writing it empty")
        if args.to_subsonic:
            to_subsonic(args, args.to_subsonic, entries, paths)
        if args.to_mpd:
            to_mpd(args, args.to_mpd, entries)
    return code


def to_subsonic(args, name: str, entries: list[str], paths) -> None:
    """``--to-subsonic NAME``: the playlist written to the server, and what it holds said."""
    from ..players import sync

    if not args.subsonic:
        raise ParameterError("--to-subsonic needs --subsonic URL (and --user)")
    n = sync.push_subsonic(subsonic_client(args.subsonic, args), name, entries, paths, library=args.library,
                              path_map=args.path_map)
    say(f"wrote playlist {name!r} to {args.subsonic}: {n} of {len(entries)} tracks"
        + ("" if n == len(entries) else " (the others are not in the server's library)"))


def to_mpd(args, name: str, entries: list[str]) -> None:
    """``--to-mpd NAME``: the stored playlist written, and what was left out said."""
    from ..errors import printable
    from ..players import sync

    music = args.mpd_music_dir or args.library
    with sync.mpd_player(args.mpd, args.player_timeout) as player:
        written, unsafe = sync.push_mpd(player, name, entries, music_dir=music)
    outside = len(entries) - written - unsafe
    say(f"wrote MPD playlist {printable(name)!r}: {written} of {len(entries)} tracks"
        + (f" ({outside} outside {music})" if outside else "")
        + (f" ({unsafe} left out: a newline or NUL in the file name, which MPD's protocol cannot carry)"
           if unsafe else ""))


def rank_on_ray(args, saved, paths):
    """``rank --engine ray``: the same table from a Ray cluster, written like the local engine's."""
    from ..fileio import write_text
    from ..library import distributed
    from ..library import rank as ranking
    from ..players import playlists

    exclude = set() if args.include_liked else ranking.liked_paths(saved)
    todo = ranking.not_excluded(paths, exclude)  # by path and real path, as the local engine
    fresh = not distributed.connected()
    try:
        distributed.start(args.ray_address, num_cpus=args.jobs)
        df = distributed.rank(todo, args.model, saved.cfg, out=args.parquet)
    finally:  # Ctrl-C or SIGTERM included: the cluster goes before the interpreter does (no C++ abort)
        if fresh:
            distributed.stop()
    write_text(args.out, ranking.csv_text(df), errors="surrogateescape")
    if args.m3u:
        playlists.write_m3u(args.m3u, ranking.playlist_entries(df, top=args.top, min_track_s=args.min_track_s,
                                                         max_per_artist=args.max_per_artist))
    return df


def print_summary(df, n_paths: int, out_csv, m3u, top: int) -> int:
    """The ranking's first ten rows and its failures, and the exit code they mean."""
    from ..audio import tags
    from ..library import rank as ranking

    ok = df[df["status"] == "ok"]
    n_err = len(df) - len(ok)
    say(f"ranked {len(ok)} tracks ({n_paths - len(df)} liked tracks left out, {n_err} failed) -> {out_csv}"
        + (f", top {min(top, len(ok))} -> {m3u}" if m3u else ""))
    for r in ok.head(10).itertuples():
        say(f"{r.rank:>4}  {r.score:.3f}  " + (f"{r.genre}  " if isinstance(r.genre, str) and r.genre else "")
            + f"best {r.best_start_s:.0f}-{r.best_end_s:.0f} s  {r.path}{tags.suffix(ranking.row_tags(r))}")
    for r in df[df["status"] != "ok"].itertuples():
        warn(f"error: {r.path}: {r.error}")
    if ok.empty:
        return EXIT_NOTHING
    return EXIT_SOME_FAILED if n_err else EXIT_OK
