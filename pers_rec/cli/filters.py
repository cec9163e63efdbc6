"""``pers-rec filters``: the tracks and 8 s windows that drive each filter of the last conv block."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import EXIT_NOTHING, ParameterError, describe
from .common import exit_code, int_at_least, library_files, say, subcommand, warn
from .embedding import embedder_and_cache


def add_parser(sub) -> None:
    fi = subcommand(sub, "filters", "find the tracks and 8 s windows that drive each filter of the last conv block "
                    "(playlists, index.md, first-layer kernels)",
                    "pers-rec filters ~/Music --model taste.keras --out filters/", cache=True, jobs=True, runtime=True)
    fi.add_argument("library", help="music folder (scanned recursively)")
    fi.add_argument("--model", help="a taste model (default: the library's pre-trained encoder)")
    fi.add_argument("--out", default="filters", help="output folder")
    fi.add_argument("--top", type=int_at_least(1), default=20, help="tracks per playlist")
    fi.set_defaults(run=run)


def run(args) -> int:
    from ..fileio import check_output

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ParameterError(f"--out {args.out}: not a folder")
    check_output(os.path.join(args.out, "index.md"), (".md",), "--out")
    with embedder_and_cache(args, library_flag="library") as (embedder, cache):
        return filters(args.library, embedder, args.out, top=args.top, model_name=os.path.basename(args.model or ""),
                       cache=cache, jobs=args.jobs, progress=not args.quiet)


def filters(library_dir, embedder, out_dir, *, top: int = 20, model_name: str = "", cache=None, jobs=None,
            progress: bool = False) -> int:
    """Per filter of the last conv block, M3U8s of the tracks (from their best 8 s window) that drive it most, by
    max and by mean activation; ``index.md``; the first layer's kernels as ``kernels.png``."""
    from ..audio import tags
    from ..fileio import write_text
    from ..library import filters as filter_analysis

    files = library_files(library_dir)
    acts, failed = filter_analysis.analyse(files, embedder, cache=cache, jobs=jobs, progress=progress)
    for path, err in failed:
        warn(f"skipped {path}: {describe(err)}")
    if not acts:
        warn(f"no track of {library_dir} could be read")
        return EXIT_NOTHING
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = {a.path: tags.read(a.path) for a in acts}
    labels = {p: tags.label(p, t) for p, t in info.items()}
    n_filters = acts[0].max.shape[1]
    for f in range(n_filters):
        for measure in filter_analysis.MEASURES:
            best = filter_analysis.top(acts, f, measure, top, embedder.cfg)
            write_text(out / filter_analysis.playlist_name(f, measure), filter_analysis.m3u_text(best, labels.get))
    index = filter_analysis.index_markdown(acts, info, labels, embedder.cfg, top, str(library_dir), model_name)
    write_text(out / "index.md", index)
    title = f"First conv layer of {model_name or 'the encoder'}"
    filter_analysis.plot_kernels(embedder.trunk, out / "kernels.png", title)
    say(f"analysed {n_filters} filters over {len(acts)} tracks: {2 * n_filters} playlists of the top {top}, "
        f"index.md and kernels.png -> {out}")
    for f in range(min(n_filters, 4)):
        e = filter_analysis.top(acts, f, "max", 1, embedder.cfg)[0]
        say(f"  filter {f:2d}: strongest in {labels[e.path]} at {e.start_s:.0f}-{e.end_s:.0f} s (max {e.value:.3f})")
    if n_filters > 4:
        say(f"  ... {n_filters - 4} more in {out / 'index.md'}")
    return exit_code(failed)
