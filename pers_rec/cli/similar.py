"""``pers-rec similar``: the library's tracks that sound most like one or more tracks."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ParameterError
from .common import exit_code, fraction, int_at_least, say, subcommand
from .embedding import add_pooling, embedder_and_cache, given_and_library


def add_parser(sub) -> None:
    si = subcommand(sub, "similar", "list the library's tracks that sound most like one or more tracks",
                    "pers-rec similar ~/Music/a.flac --library ~/Music --n 20 --m3u like_a.m3u8", cache=True,
                    jobs=True, runtime=True)
    si.add_argument("tracks", nargs="+", metavar="TRACK", help="seed track(s); several: near their mean")
    si.add_argument("--library", required=True, help="music folder to search (scanned recursively)")
    si.add_argument("--model", help="use this taste model's encoder (default: the library's pre-trained weights)")
    add_pooling(si)
    si.add_argument("--n", type=int_at_least(1), default=20, help="tracks to list")
    si.add_argument("--m3u", help="also write them as an M3U8 playlist (.m3u8 or .m3u)")
    si.add_argument("--taste-weight", type=fraction, default=0.0,
                    help="with --model: rank by (1-w) x cosine + w x the taste model's score, 'like this, and to my "
                         "taste'")
    si.set_defaults(run=run)


def run(args) -> int:
    from ..fileio import check_not_inputs

    for t in args.tracks:
        if not os.path.isfile(t):
            raise ParameterError(f"TRACK {t}: no such file")
    if args.taste_weight > 0 and not args.model:
        raise ParameterError("--taste-weight needs --model (the taste model that gives the scores)")
    check_not_inputs({"--m3u": args.m3u}, {"--model": args.model, **{f"TRACK {i + 1}": t for i, t in
                                                                     enumerate(args.tracks)}})
    with embedder_and_cache(args) as (embedder, cache):
        return similar(args.tracks, args.library, embedder, n=args.n, m3u=args.m3u, cache=cache, jobs=args.jobs,
                       taste=embedder.saved if args.taste_weight > 0 else None, taste_weight=args.taste_weight,
                       pooling=args.pooling, progress=not args.quiet)


def similar(seeds, library_dir, embedder, *, n: int = 20, m3u=None, taste=None, taste_weight: float = 0.0,
            pooling: str = "mean", cache=None, jobs=None, progress: bool = False) -> int:
    """The library's tracks nearest the seeds by cosine of their embeddings; prints a table (and writes an M3U8).

    With a ``taste`` model and ``taste_weight`` w > 0, tracks are ranked by (1 - w) * cosine + w * score, the
    model's final track score (as ``rank`` writes it); both are shown.
    """
    from ..audio import tags
    from ..library import embed
    from ..players import playlists

    if taste is not None and taste_weight > 0 and taste.mcfg.classes:
        raise ParameterError("--taste-weight needs a taste model; this is a genre model")
    scored = taste if taste is not None and taste_weight > 0 else None
    seed_paths, seed_vecs, paths, V, failed, scores = given_and_library(seeds, library_dir, embedder, cache, jobs,
                                                                        progress, pooling, taste=scored)
    exclude = set(seed_paths) | {os.path.realpath(p) for p in seed_paths}
    if scored is not None:
        found = embed.nearest(seed_vecs, paths, V, n, exclude=exclude, bonus=taste_weight * scores,
                              weight=1 - taste_weight)
    else:
        scores, found = None, embed.nearest(seed_vecs, paths, V, n, exclude=exclude)
    by_path = dict(zip(paths, scores)) if scores is not None else {}
    say(f"{len(found)} tracks nearest {', '.join(Path(p).name for p in seed_paths)} "
        f"(cosine of {embedder.dim}-d track embeddings{', distinctive windows' if pooling == 'distinctive' else ''}, "
        f"{len(paths)} tracks compared"
        + (f"; ranked by {1 - taste_weight:g} x cosine + {taste_weight:g} x score" if by_path else "") + "):")
    say("rank  cosine" + ("   score" if by_path else "") + "  track")
    info = {nb.path: tags.read(nb.path) for nb in found}
    for i, nb in enumerate(found, 1):
        say(f"{i:4d}  {nb.cosine:6.4f}" + (f"  {by_path[nb.path]:6.3f}" if by_path else "")
            + f"  {nb.path}{tags.suffix(info[nb.path])}")
    if m3u:
        playlists.write_m3u(m3u, [(nb.path, -1, f"{tags.label(nb.path, info[nb.path])} (cosine {nb.cosine:.3f})")
                                  for nb in found])
        say(f"wrote {m3u}")
    return exit_code(failed)
