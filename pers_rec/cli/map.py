"""``pers-rec map``: the library as a 2-D map of its track embeddings (HTML page + PNG)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import EXIT_NOTHING
from .common import exit_code, say, subcommand, warn
from .embedding import add_pooling, embedder_and_cache, library_vectors, scored_library


def add_parser(sub) -> None:
    mp = subcommand(sub, "map", "draw the library as a 2-D map of its track embeddings (HTML page + PNG)",
                    "pers-rec map ~/Music --model taste.keras --out map.html", cache=True, jobs=True, runtime=True)
    mp.add_argument("library", help="music folder (scanned recursively)")
    mp.add_argument("--model", help="colour by this taste model's score and mark its likes and dislikes (and use its "
                                    "encoder); default: the library's pre-trained encoder, no colours")
    mp.add_argument("--out", default="map.html", help="HTML page; the PNG is written beside it (.png)")
    add_pooling(mp)
    mp.add_argument("--seed", type=int, default=0, help="t-SNE's random seed")
    mp.set_defaults(run=run)


def run(args) -> int:
    from ..fileio import check_not_inputs, check_output

    check_output(args.out, (".html", ".htm"), "--out")
    check_not_inputs({"--out": args.out, "--out's PNG": Path(args.out).with_suffix(".png")}, {"--model": args.model})
    with embedder_and_cache(args, library_flag="library") as (embedder, cache):
        return map_library(args.library, embedder, args.out, taste=embedder.saved if args.model else None,
                           pooling=args.pooling, seed=args.seed, cache=cache, jobs=args.jobs, progress=not args.quiet)


def map_library(library_dir, embedder, out_html, *, taste=None, pooling: str = "mean", seed: int = 0, cache=None,
                jobs=None, progress: bool = False) -> int:
    """The library's embeddings laid out by t-SNE, as a self-contained HTML page and a PNG beside it.

    With a ``taste`` model, points are coloured by its score (the ranking's) and its likes and dislikes are marked.
    """
    from ..audio import tags
    from ..fileio import write_text
    from ..library import maps

    if taste is None:
        paths, V, failed, _ = library_vectors(library_dir, embedder, cache, jobs, progress, pooling)
    else:
        paths, V, failed, _, got, genres = scored_library(library_dir, embedder, taste, cache, jobs, progress, pooling)
    if not paths:
        warn(f"no track of {library_dir} could be read")
        return EXIT_NOTHING
    scores, marks = [None] * len(paths), [""] * len(paths)
    if taste is None:
        genres = [""] * len(paths)
    else:
        scores = [None if not np.isfinite(x) else float(x) for x in got]
        if taste.report is not None:
            source = {os.path.realpath(t.path): t.source for t in taste.report.tracks}
            marks = [{"like": "like", "dislike": "dislike"}.get(source.get(os.path.realpath(p)), "") for p in paths]
    Y = maps.layout(V, seed=seed)
    points = [maps.Point(p, float(x), float(y), tags.label(p, tags.read(p)), s, m, g)
              for p, (x, y), s, m, g in zip(paths, Y, scores, marks, genres)]
    title = f"{Path(library_dir).name or library_dir}: {len(points)} tracks"
    sub = (f"t-SNE of {embedder.dim}-d track embeddings (cosine; {pooling} of windows) "
           + ("from the library's pre-trained encoder" if taste is None else
              "from the genre model's encoder" if taste.mcfg.classes else "from the taste model's encoder"))
    out_html = Path(out_html)
    write_text(out_html, maps.html_text(points, str(out_html.resolve().parent), title, sub), errors="surrogateescape")
    png = out_html.with_suffix(".png")
    maps.write_png(points, png, title)
    n_like, n_dislike = marks.count("like"), marks.count("dislike")
    colour = "" if taste is None else (", coloured by predicted genre" if taste.mcfg.classes else
                                       ", coloured by taste score")
    say(f"mapped {len(points)} tracks ({n_like} likes, {n_dislike} dislikes marked{colour}) -> {out_html}, {png}")
    return exit_code(failed)
