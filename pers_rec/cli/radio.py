"""``pers-rec radio``: an endless radio inside MPD that learns from every skip (see :mod:`mpd_radio`)."""

from __future__ import annotations

import os

from ..errors import EXIT_OK, ParameterError
from .common import cache_dir, feature_cache, int_at_least, library_files, need_dir, need_input, say, subcommand, warn


def add_parser(sub) -> None:
    r = subcommand(sub, "radio", "play an endless radio in MPD, ordered by your taste, learning from skips and plays",
                   "pers-rec radio --mpd localhost:6600 --library ~/Music --model taste.keras", cache=True, jobs=True,
                   runtime=True)
    r.add_argument("--mpd", metavar="HOST[:PORT]", default="localhost:6600",
                   help="the MPD to play in (a host, or a socket path; $MPD_PASSWORD when it needs one)")
    r.add_argument("--library", required=True, help="music folder the radio draws from (scanned recursively)")
    r.add_argument("--mpd-music-dir", metavar="DIR", help="MPD's music_directory on this machine (default: --library)")
    r.add_argument("--model", help="a taste model: its ranking is the taste until skips and plays teach the radio")
    r.add_argument("--likes", help="a likes CSV (as train --likes) to start from")
    r.add_argument("--ahead", type=int_at_least(1), default=3, help="tracks kept queued after the one playing")
    r.add_argument("--minutes", type=float, default=None, help="stop after this many minutes (default: Ctrl-C)")
    r.set_defaults(run=run)


def run(args) -> int:
    need_dir(args.library, "--library")
    need_input(args.likes, "--likes")
    if args.model:
        from ..checkpoint import read_meta

        read_meta(args.model)
    from dataclasses import replace

    from .. import players, radio, tags
    from ..judgements import Judgements, library_home
    from ..mpd_radio import MPDRadio

    players.mpd_player(args.mpd, 5.0).close()  # MPD unreachable is said now, not after the analysis
    paths = [str(p) for p in library_files(args.library, "--library")]
    home = library_home(cache_dir(args), os.path.abspath(args.library))
    store = Judgements(home / "judgements.sqlite")
    labelled = start_labels(args, paths, store)  # no taste to start from is said before the analysis
    V, scores = library_vectors(args, paths)
    info = [tags.read(p) for p in paths]
    rules = replace(radio.Rules(), ahead=args.ahead)
    picker = radio.Radio(V, [i.get("artist", "") for i in info], [i.get("album", "") for i in info], scores=scores,
                         labelled=labelled, rules=rules)
    music_dir = args.mpd_music_dir or args.library
    station = MPDRadio(picker, paths, music_dir, lambda: players.mpd_player(args.mpd, 30.0), store=store, log=warn)
    say(f"pers-rec radio: {len(paths)} tracks, {len(labelled)} labels to start from; playing in MPD at {args.mpd} "
        "(Ctrl-C stops it)")
    import time

    end = None if args.minutes is None else time.monotonic() + 60 * args.minutes
    try:
        station.run(until=(lambda: time.monotonic() > end) if end else None)
    finally:
        store.close()
    kinds = [k for _, k in station.events]
    say(f"pers-rec radio: {len(station.added)} tracks queued; heard {kinds.count('skip')} skips, "
        f"{kinds.count('complete')} completions, {kinds.count('repeat')} repeats (stored in {home})")
    return EXIT_OK


def library_vectors(args, paths):
    """``(V [shape=(n, dim)], scores or None)``: every track's vector (zeros where it failed) and, with
    ``--model``, its taste score."""
    import numpy as np

    from .. import embed
    from ..config import FeatureConfig
    from ..encoders import encoder_for

    embedder = encoder_for(args.library, args.model, cache_dir(args), FeatureConfig(), runtime=args.runtime)
    with feature_cache(args) as cache:
        ok, got, failed, _ = embed.vectors(paths, embedder, cache=cache, jobs=args.jobs, progress=not args.quiet)
        for path, err in failed:
            warn(f"left out of the radio: {path}: {err}")
        V = np.zeros((len(paths), embedder.dim), np.float32)
        row = {p: i for i, p in enumerate(paths)}
        for p, v in zip(ok, got):
            V[row[str(p)]] = v
        if not args.model:
            return V, None
        from .. import rank as R

        df = R.rank(paths, embedder.saved, cache=cache, jobs=args.jobs, progress=not args.quiet).set_index("path")
        return V, np.array([df["score"].get(p, np.nan) for p in paths], float)


def start_labels(args, paths, store) -> dict[int, tuple[int, float]]:
    """``{row: (label, weight)}``: the likes list, then the library's stored judgements (serve's and the radio's)."""
    row = {p: i for i, p in enumerate(paths)}
    out: dict[int, tuple[int, float]] = {}
    if args.likes:
        from ..playlists import read_labelled

        extras: dict = {}
        for p, lab in read_labelled(args.likes, 1, extras):
            if p in row:
                out[row[p]] = (int(lab), float(extras.get(p, (1.0, ""))[0]))
    for p, (lab, weight, _) in store.weighted().items():
        if p in row:
            out[row[p]] = (lab, weight)
    if args.likes is None and not out and not args.model:
        raise ParameterError("the radio needs a taste to start from: --model, --likes, or judgements made in serve")
    return out
