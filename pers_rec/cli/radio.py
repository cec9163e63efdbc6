"""``pers-rec radio``: an endless radio inside MPD (:mod:`mpd_radio`) or a Subsonic client (:mod:`web.relay`) that
learns from every skip."""

from __future__ import annotations

import os

from ..errors import EXIT_OK, ParameterError
from .common import (
    bind,
    cache_dir,
    feature_cache,
    int_at_least,
    library_files,
    need_dir,
    need_input,
    path_map,
    say,
    seconds_above_0,
    subcommand,
    subsonic_client,
    warn,
)


def add_parser(sub) -> None:
    r = subcommand(sub, "radio", "play an endless radio in MPD, ordered by your taste, learning from skips and plays",
                   "pers-rec radio --mpd localhost:6600 --library ~/Music --model taste.keras", cache=True, jobs=True,
                   runtime=True)
    r.add_argument("--mpd", metavar="HOST[:PORT]",
                   help="the MPD to play in (a host, or a socket path; $MPD_PASSWORD when it needs one); default "
                        "localhost:6600 unless --subsonic is given")
    r.add_argument("--subsonic", metavar="URL",
                   help="relay a Subsonic server: point your Subsonic app at --listen instead; pers_rec answers its "
                        "similar-songs and sonicSimilarity calls and learns from its scrobbles")
    r.add_argument("--listen", metavar="HOST:PORT", default="127.0.0.1:4534",
                   help="where the Subsonic relay listens (default 127.0.0.1:4534; 0.0.0.0:4534 for a phone)")
    r.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="another name the relay may be reached by (e.g. the machine's name on the LAN); repeatable")
    r.add_argument("--user", help="a Subsonic user pers_rec walks the library as (password: "
                   "$PERS_REC_SUBSONIC_PASSWORD or --password-file), so the plugins' API knows ids from the start")
    r.add_argument("--password-file", metavar="FILE", help="file whose first line is that user's password (mode 600)")
    r.add_argument("--allow-plain-password", action="store_true",
                   help="let that password go hex-encoded over plain HTTP to a server that takes no tokens")
    r.add_argument("--path-map", type=path_map, action="append", default=[], metavar="SERVER=LOCAL",
                   help="Subsonic server path prefix -> local path prefix (repeatable)")
    r.add_argument("--insecure", action="store_true", help="do not verify the Subsonic server's TLS certificate")
    r.add_argument("--player-timeout", type=seconds_above_0, default=60.0, metavar="SECONDS",
                   help="the most one call to the Subsonic server may take")
    r.add_argument("--library", required=True, help="music folder the radio draws from (scanned recursively)")
    r.add_argument("--mpd-music-dir", metavar="DIR", help="MPD's music_directory on this machine (default: --library)")
    r.add_argument("--model", help="a taste model: its ranking is the taste until skips and plays teach the radio")
    r.add_argument("--likes", help="a likes CSV (as train --likes) to start from")
    r.add_argument("--ahead", type=int_at_least(1), default=3, help="tracks kept queued after the one playing")
    r.add_argument("--minutes", type=float, default=None, help="stop after this many minutes (default: Ctrl-C)")
    r.add_argument("--retrain-after", type=int_at_least(0), default=20, metavar="N",
                   help="retrain the taste model in the background after every N new labels (0: never)")
    r.add_argument("--epochs", type=int_at_least(1), default=None, help="retraining: at most this many epochs")
    r.add_argument("--folds", type=int_at_least(2), default=None, help="retraining: cross-validation folds")
    r.set_defaults(run=run)


def run(args) -> int:
    need_dir(args.library, "--library")
    need_input(args.likes, "--likes")
    mpd_at = args.mpd or (None if args.subsonic else "localhost:6600")
    sock = relay_socket(args) if args.subsonic else None  # a bad --subsonic or a busy port: said now
    own = subsonic_client(args.subsonic, args) if args.subsonic and args.user else None
    if own is not None:
        own.ping()  # a wrong --user or password: said now, not after the analysis
    if args.model:
        from ..model.checkpoint import read_meta

        read_meta(args.model)
    import threading
    from dataclasses import replace

    from ..audio import tags
    from ..library.retrain import Versions
    from ..players import sync
    from ..players.judgements import Judgements, library_home
    from ..radio.mpd_radio import MPDRadio
    from ..radio.picker import Radio, Rules

    if mpd_at:
        sync.mpd_player(mpd_at, 5.0).close()  # MPD unreachable is said now, not after the analysis
    paths = [str(p) for p in library_files(args.library, "--library")]
    home = library_home(cache_dir(args), os.path.abspath(args.library))
    store = Judgements(home / "judgements.sqlite")
    labelled = start_labels(args, paths, store)  # no taste to start from is said before the analysis
    versions = Versions(home / "models")
    if versions.path("current") is not None:  # retrained here before (by the radio or serve): it ranks
        say(f"pers-rec radio: ranking with the model retrained here ({versions.path('current').name})")
        args.model = str(versions.path("current"))
    V, scores = library_vectors(args, paths)
    info = [tags.read(p) for p in paths]
    rules = replace(Rules(), ahead=args.ahead)
    picker = Radio(V, [i.get("artist", "") for i in info], [i.get("album", "") for i in info], scores=scores,
                         labelled=labelled, rules=rules)
    lock = threading.Lock()
    doors, events, server = [], [], None
    if sock is not None:
        server, sonic = start_relay(args, sock, own, picker, paths, store, lock)
        doors.append(f"a Subsonic relay at http://{args.listen} for {args.subsonic}")
        events.append(sonic.events)
    station = None
    if mpd_at:
        music_dir = args.mpd_music_dir or args.library
        station = MPDRadio(picker, paths, music_dir, lambda: sync.mpd_player(mpd_at, 30.0), store=store, log=warn,
                           lock=lock)
        doors.append(f"MPD at {mpd_at}")
        events.append(station.events)
    say(f"pers-rec radio: {len(paths)} tracks, {len(labelled)} labels to start from; playing through "
        f"{' and '.join(doors)} (Ctrl-C stops it)")
    trainer = background_retrain(args, paths, store, versions, picker, lock)
    import time

    end = None if args.minutes is None else time.monotonic() + 60 * args.minutes
    stopped = False
    try:
        if station is not None:
            station.run(until=(lambda: time.monotonic() > end) if end else None)
        else:
            while end is None or time.monotonic() < end:
                time.sleep(0.2 if end is None else min(0.2, max(0.0, end - time.monotonic())))
    except KeyboardInterrupt:
        stopped = True  # Ctrl-C is how a radio is stopped: the summary, then exit 130
    finally:
        trainer.stop.set()
        if server is not None:
            server.should_exit = True
        store.close()
    kinds = [k for e in events for _, k in e]
    queued = f"{len(station.added)} tracks queued; " if station is not None else ""
    say(f"pers-rec radio: {queued}heard {kinds.count('skip')} skips, {kinds.count('complete')} completions, "
        f"{kinds.count('repeat')} repeats (stored in {home})")
    if stopped:
        raise KeyboardInterrupt
    return EXIT_OK


def relay_socket(args):
    """The relay's listening socket (a one-line error for a bad URL, address or a busy port)."""
    from urllib.parse import urlsplit

    parts = urlsplit(args.subsonic)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ParameterError(f"--subsonic {args.subsonic}: not an http(s) URL of a Subsonic server")
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ParameterError(f"--listen {args.listen!r}: give HOST:PORT, e.g. 127.0.0.1:4534")
    return bind(host.strip("[]"), int(port), "--listen", "--listen")


def start_relay(args, sock, own, picker, paths, store, lock):
    """The Subsonic relay, serving in a thread of its own; ``(uvicorn server, SonicRadio)``."""
    import secrets
    import threading

    import uvicorn

    from ..players.transport import is_loopback
    from ..radio.subsonic_radio import Catalog, SonicRadio
    from ..web.guard import allowed_hosts
    from ..web.relay import Relay, create_app

    catalog = Catalog(paths, os.path.abspath(args.library), args.path_map)
    sonic = SonicRadio(picker, catalog, store, log=warn, lock=lock)
    relay = Relay(args.subsonic, sonic, verify=not args.insecure, deadline_s=args.player_timeout, log=warn, own=own)
    host = args.listen.rpartition(":")[0].strip("[]")
    token = None if is_loopback(host) else secrets.token_urlsafe(24)
    app = create_app(relay, allowed_hosts(host, args.allow_host), token)
    if own is not None:
        catalog.walk(own)  # the plugins' API knows the server's ids from the start
        say(f"pers-rec radio: {len(catalog.row)} of the server's songs matched to the library "
            f"({len(catalog.unmatched)} not)")
    if token is not None:
        say(f"pers-rec radio: the plugins' API at http://{args.listen}/api needs 'Authorization: Bearer {token}'")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="subsonic-relay").start()
    return server, sonic


def background_retrain(args, paths, store, versions, picker, lock):
    """Retrain in the background every ``--retrain-after`` new labels (:class:`retrain.Background`); a better model
    reranks the radio's taste. Returns the :class:`retrain.Background`, whose ``stop`` ends its watch."""
    import threading

    from ..library.retrain import Background, fmt, training_rows
    from ..model import checkpoint

    state = {"model": args.model, "saved": checkpoint.load(args.model, runtime="light") if args.model else None}
    options = {k: v for k, v in (("max_epochs", args.epochs), ("folds", args.folds)) if v is not None}
    in_library = set(paths)

    def job() -> dict:
        listed = {paths[r]: (lab, w, "list") for r, (lab, w) in start_labels(args, paths, store, quiet=True).items()}
        judged = {p: v for p, v in store.weighted().items() if p in in_library}  # with their own signals
        report = getattr(state["saved"], "report", None)
        old = report.cross_validation.model.roc_auc_mean if report is not None else None
        return {"paths": paths, "root": os.path.abspath(args.library), "cache_dir": str(cache_dir(args)),
                "rows": training_rows(state["saved"], {**listed, **judged}), "model": state["model"],
                "models": str(versions.folder), "options": options, "old_auc": old}

    def done(path, role, auc) -> None:
        if path is None:
            warn(f"pers-rec radio: retraining failed: {role}")
            return
        if role != "current":
            warn(f"pers-rec radio: the retrained model cross-validates at {fmt(auc)}, below the current one: kept "
                 "as a candidate, the taste unchanged")
            return
        import numpy as np

        from ..library import rank
        saved = checkpoint.load(path, runtime="light")
        with feature_cache(args) as cache:
            df = rank.rank(paths, saved, cache=cache, jobs=args.jobs, progress=False).set_index("path")
        with lock:
            picker.rescore(np.array([df["score"].get(p, np.nan) for p in paths], float))
        state.update(model=str(path), saved=saved)
        warn(f"pers-rec radio: retrained on {store.count()} judgements ({fmt(auc)} cross-validated ROC-AUC): "
             "the taste follows it")

    trainer = Background(args.retrain_after, job, done, count_now=store.count())
    trainer.stop = threading.Event()

    def watch():
        while not trainer.stop.wait(2.0):
            trainer.check(store.count())

    threading.Thread(target=watch, daemon=True, name="retrain-watch").start()
    return trainer


def library_vectors(args, paths):
    """``(V [shape=(n, dim)], scores or None)``: every track's vector (zeros where it failed) and, with
    ``--model``, its taste score."""
    import numpy as np

    from ..config import FeatureConfig
    from ..library import embed
    from ..library.encoders import encoder_for
    from ..library.workflows import vectors_and_scores

    embedder = encoder_for(args.library, args.model, cache_dir(args), FeatureConfig(), runtime=args.runtime)
    with feature_cache(args) as cache:
        if args.model:  # one pass: the taste model's own encoder gives the vectors its scores come from
            ok, got, failed, df = vectors_and_scores(paths, embedder.saved, embedder, cache=cache, jobs=args.jobs,
                                                     progress=not args.quiet)
        else:
            ok, got, failed, _ = embed.vectors(paths, embedder, cache=cache, jobs=args.jobs, progress=not args.quiet)
    for path, err in failed:
        warn(f"left out of the radio: {path}: {err}")
    V = np.zeros((len(paths), embedder.dim), np.float32)
    row = {p: i for i, p in enumerate(paths)}
    for p, v in zip(ok, got):
        V[row[str(p)]] = v
    if not args.model:
        return V, None
    df = df.set_index("path")
    return V, np.array([df["score"].get(p, np.nan) for p in paths], float)


def start_labels(args, paths, store, quiet: bool = False) -> dict[int, tuple[int, float]]:
    """``{row: (label, weight)}``: the likes list, then the library's stored judgements (serve's and the radio's)."""
    row = {p: i for i, p in enumerate(paths)}
    out: dict[int, tuple[int, float]] = {}
    if args.likes:
        from ..players.playlists import read_labelled

        extras: dict = {}
        for p, lab in read_labelled(args.likes, 1, extras):
            if p in row:
                out[row[p]] = (int(lab), float(extras.get(p, (1.0, ""))[0]))
    for p, (lab, weight, _) in store.weighted().items():
        if p in row:
            out[row[p]] = (lab, weight)
    if args.likes is None and not out and not args.model and not quiet:
        raise ParameterError("the radio needs a taste to start from: --model, --likes, or judgements made in serve")
    return out
