"""``pers-rec serve``: a local web app to listen, judge tracks and retrain the taste model (``pers_rec.web``).

The port is bound before anything else happens, so a busy port or an address that is not this machine's is one
line and exit 2 at once; the analysis (tags, embeddings, ranking) then runs in the background, printing its
progress and the files it cannot read.
"""

from __future__ import annotations

import secrets

from ..errors import EXIT_OK, ParameterError
from .common import bind, cache_dir, check_backend, int_at_least, library_files, need_input, say, subcommand, warn


def add_parser(sub) -> None:
    s = subcommand(sub, "serve", "a local web app: listen, judge with thumbs up/down, retrain, explore",
                   "pers-rec serve ~/Music --model taste.keras   # then open the address it prints", cache=True,
                   runtime=True)
    s.add_argument("library", help="music folder (scanned recursively)")
    s.add_argument("--model", help="a taste model to rank with until you retrain one here (never overwritten)")
    s.add_argument("--likes", help="a likes list (as train --likes) that counts as thumbs up from the start")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; anything but the loopback needs the access token printed at start")
    s.add_argument("--port", type=int_at_least(0), default=8737, help="port (0: any free one)")
    s.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests that name this server NAME (a DNS name of this machine); "
                        "repeatable. Other names are refused (DNS rebinding)")
    s.add_argument("--epochs", type=int_at_least(1), default=None, help="retraining: at most this many epochs")
    s.add_argument("--folds", type=int_at_least(2), default=None, help="retraining: cross-validation folds")
    s.add_argument("--mpd", metavar="HOST[:PORT]",
                   help="also play the radio in this MPD (as pers-rec radio --mpd): the page and the player teach "
                        "one taste")
    s.add_argument("--mpd-music-dir", metavar="DIR",
                   help="MPD's music_directory on this machine (default: the library)")
    s.set_defaults(run=run)


def run(args) -> int:
    import importlib.util

    for module in ("starlette", "uvicorn"):
        if importlib.util.find_spec(module) is None:
            raise ParameterError(f"pers-rec serve needs {module}: pip install 'pers_rec[web]'")
    if getattr(args, "no_cache", False):
        raise ParameterError("serve keeps your judgements and retrained models in its cache folder, so it cannot "
                             "run with --no-cache: give --cache DIR to keep them (and the features) elsewhere")
    need_input(args.model, "--model")
    need_input(args.likes, "--likes")
    library_files(args.library)
    check_backend()
    if args.model:
        from ..model.checkpoint import read_meta

        read_meta(args.model)  # a damaged or foreign model is refused now, not in the background
    from ..players.transport import is_loopback
    from ..web.guard import allowed_hosts

    if args.mpd:
        from ..players import sync

        sync.mpd_player(args.mpd, 5.0).close()  # MPD unreachable is said now
    sock = bind(args.host, args.port)
    import uvicorn

    from ..web.app import create_app
    from ..web.state import Library

    options = {k: v for k, v in (("max_epochs", args.epochs), ("folds", args.folds)) if v is not None}
    lib = Library(args.library, cache_dir(args), model=args.model, likes=args.likes, train_options=options, log=warn,
                  runtime=args.runtime)
    token = None if is_loopback(args.host) else secrets.token_urlsafe(24)
    app = create_app(lib, token=token, hosts=allowed_hosts(args.host, args.allow_host))
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    say(f"pers-rec serve: {len(lib.paths)} tracks of {args.library} at http://{shown}:{port}/"
        + (f"?token={token}" if token else "") + "  (Ctrl-C stops it)")
    if token:
        say("pers-rec serve: listening beyond the loopback: the address above holds the access token, "
            "printed only this once")
    lib.start("analysis", lib.analyse)
    if args.mpd:
        from ..players import sync
        from ..web import station

        station.start(lib, lambda: sync.mpd_player(args.mpd, 30.0), args.mpd_music_dir or args.library, warn)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
    return EXIT_OK
