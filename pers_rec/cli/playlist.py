"""``pers-rec playlist``: continue from a track, or travel from one track to another (Deej-A.I.)."""

from __future__ import annotations

import os

import numpy as np

from ..errors import ParameterError
from .common import exit_code, int_at_least, say, subcommand
from .embedding import add_pooling, embedder_and_cache, given_and_library


def add_parser(sub) -> None:
    pl = subcommand(sub, "playlist",
                    "make a playlist that continues from a track, or travels from one track to another",
                    "pers-rec playlist --library ~/Music --from a.flac --to b.flac --n 12 --m3u trip.m3u8",
                    cache=True, jobs=True, runtime=True)
    pl.add_argument("--library", required=True, help="music folder to draw from (scanned recursively)")
    how = pl.add_mutually_exclusive_group(required=True)
    how.add_argument("--seed", metavar="TRACK", help="continue from this track: each next track near the last few")
    how.add_argument("--from", dest="start", metavar="A", help="join the dots from A (with --to B)")
    pl.add_argument("--to", dest="end", metavar="B", help="...to B, in small even steps")
    pl.add_argument("--n", type=int_at_least(2), default=30, help="tracks after the seed, or in all from A to B")
    pl.add_argument("--model", help="use this taste model's encoder (default: the library's pre-trained weights)")
    add_pooling(pl)
    pl.add_argument("--max-per-artist", type=int_at_least(1), default=None,
                    help="at most this many tracks of one artist (tags; untagged tracks are never held back)")
    pl.add_argument("--no-repeat-artist", action="store_true", help="never two tracks of one artist in a row")
    pl.add_argument("--m3u", help="write the playlist as M3U8 (.m3u8 or .m3u)")
    pl.add_argument("--csv", dest="csv_out", help="write the rows with their cosine steps as CSV")
    pl.set_defaults(run=run)


def run(args) -> int:
    from ..fileio import check_not_inputs, check_output

    if (args.start is None) != (args.end is None):
        raise ParameterError("--from and --to go together")
    for t in (args.seed, args.start, args.end):
        if t is not None and not os.path.isfile(t):
            raise ParameterError(f"{t}: no such file")
    if args.start is not None and os.path.realpath(args.start) == os.path.realpath(args.end):
        raise ParameterError("--from and --to are the same track")
    if args.csv_out:
        check_output(args.csv_out, (".csv",), "--csv")
    check_not_inputs({"--m3u": args.m3u, "--csv": args.csv_out},
                     {"--seed": args.seed, "--from": args.start, "--to": args.end, "--model": args.model})
    with embedder_and_cache(args) as (embedder, cache):
        return playlist(args.library, embedder, seed=args.seed, start=args.start, end=args.end, n=args.n,
                        m3u=args.m3u, csv_out=args.csv_out, max_per_artist=args.max_per_artist,
                        not_in_a_row=args.no_repeat_artist, pooling=args.pooling, cache=cache, jobs=args.jobs,
                        progress=not args.quiet)


def playlist(library_dir, embedder, *, seed=None, start=None, end=None, n: int = 30, max_per_artist=None,
             not_in_a_row: bool = False, pooling: str = "mean", m3u=None, csv_out=None, cache=None, jobs=None,
             progress: bool = False) -> int:
    """Continue from ``seed``, or join ``start`` to ``end``; print, and write M3U8/CSV."""
    from ..audio import tags
    from ..fileio import write_text
    from ..library import sequence
    from ..library.rank import csv_text
    from ..players import playlists

    ends = [seed] if seed is not None else [start, end]
    end_paths, end_vecs, paths, V, failed, _ = given_and_library(ends, library_dir, embedder, cache, jobs, progress,
                                                              pooling)
    real = [os.path.realpath(p) for p in paths]
    keep = [i for i, r in enumerate(real) if r not in {os.path.realpath(p) for p in end_paths}]
    paths, V = end_paths + [paths[i] for i in keep], np.concatenate([end_vecs, V[keep]])
    info = [tags.read(p) for p in paths]
    rules = None
    if max_per_artist is not None or not_in_a_row:
        rules = sequence.ArtistRules.from_names([tags.artist_key(t) for t in info], max_per_artist, not_in_a_row)
    order = sequence.continue_from(V, 0, n, rules=rules) if seed is not None else sequence.join(V, 0, 1, n, rules=rules)
    steps = sequence.steps(V, order)
    say("  #  cosine to previous  track")
    for k, (i, c) in enumerate(zip(order, steps), 1):
        say(f"{k:3d}  {'' if c is None else f'{c:18.4f}':>18}  {paths[i]}{tags.suffix(info[i])}")
    if m3u:
        playlists.write_m3u(m3u, [(paths[i], -1, tags.label(paths[i], info[i])) for i in order])
        say(f"wrote {m3u}")
    if csv_out:
        write_text(csv_out, csv_text(sequence.frame(order, paths, info, steps)), errors="surrogateescape")
        say(f"wrote {csv_out}")
    return exit_code(failed)
