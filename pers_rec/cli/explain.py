"""``pers-rec explain``: one track's window-score timeline over its MFCCs, as a PNG."""

from __future__ import annotations

from pathlib import Path

from ..errors import EXIT_OK
from .common import feature_cache, load_model, need_input, say, subcommand


def add_parser(sub) -> None:
    e = subcommand(sub, "explain", "plot a track's window-score timeline over its MFCCs",
                   "pers-rec explain song.flac --model taste.keras --out why.png", cache=True, runtime=True)
    e.add_argument("track", help="an audio file")
    e.add_argument("--model", required=True, help="a model written by pers-rec train (.keras)")
    e.add_argument("--out", help="PNG path (default: TRACK.explain.png in the current folder)")
    e.set_defaults(run=run)


def run(args) -> int:
    from ..fileio import check_not_inputs, check_output

    need_input(args.track, "track")
    out = args.out or f"{Path(args.track).stem}.explain.png"
    check_output(out, (".png",), "--out")
    check_not_inputs({"--out": out}, {"track": args.track, "--model": args.model})
    saved = load_model(args.model, args.runtime)
    with feature_cache(args) as cache:
        return explain(args.track, saved, out, cache=cache)


def explain(track, saved, out, *, cache=None) -> int:
    """One track's window-score timeline as a PNG; prints its score, the same number ``rank`` writes."""
    from ..library import rank
    from ..model.report import describe_blend, plot_explain

    M, s = rank.explain(track, saved, cache=cache)
    blend = saved.report.blend if saved.report is not None else None
    plot_explain(M, s, saved.cfg, Path(track).name, out, blend)
    say(f"{track}: score {s.score:.3f} over {s.n_windows} windows"
        + (f" (network {s.network_score:.3f}; {describe_blend(blend)})" if s.network_score != s.score else "")
        + f"; best {s.best_start_s:.0f}-{s.best_end_s:.0f} s ({s.best_score:.3f}); plot -> {out}")
    return EXIT_OK
