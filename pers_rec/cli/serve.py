"""``pers-rec serve``: a local web app to listen, judge tracks and retrain the taste model (``pers_rec.web``)."""

from __future__ import annotations

import ipaddress
import secrets

from ..errors import EXIT_OK, ParameterError
from .common import cache_dir, check_backend, int_at_least, library_files, need_input, say, subcommand


def add_parser(sub) -> None:
    s = subcommand(sub, "serve", "a local web app: listen, judge with thumbs up/down, retrain, explore",
                   "pers-rec serve ~/Music --model taste.keras   # then open the address it prints", cache=True)
    s.add_argument("library", help="music folder (scanned recursively)")
    s.add_argument("--model", help="a taste model to rank with at start (default: none until you retrain)")
    s.add_argument("--likes", help="a likes list (as train --likes) that counts as thumbs up from the start")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; anything but the loopback needs the access token printed at start")
    s.add_argument("--port", type=int, default=8737, help="port (0: any free one)")
    s.add_argument("--epochs", type=int_at_least(1), default=None, help="retraining: at most this many epochs")
    s.add_argument("--folds", type=int_at_least(2), default=None, help="retraining: cross-validation folds")
    s.set_defaults(run=run)


def loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def run(args) -> int:
    import importlib.util

    for module in ("starlette", "uvicorn"):
        if importlib.util.find_spec(module) is None:
            raise ParameterError(f"pers-rec serve needs {module}: pip install 'pers_rec[web]'")
    need_input(args.model, "--model")
    need_input(args.likes, "--likes")
    library_files(args.library)
    check_backend()
    if args.model:
        from ..checkpoint import check_file

        check_file(args.model)
    import uvicorn

    from ..web.app import create_app
    from ..web.state import Library

    options = {k: v for k, v in (("max_epochs", args.epochs), ("folds", args.folds)) if v is not None}
    lib = Library(args.library, cache_dir(args), model=args.model, likes=args.likes, train_options=options)
    token = None if loopback(args.host) else secrets.token_urlsafe(24)
    app = create_app(lib, token=token)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    lib.start("analysis", lib.analyse)

    async def announce():
        import asyncio

        while not server.started:
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        host = f"[{args.host}]" if ":" in args.host else args.host
        say(f"pers-rec serve: {len(lib.paths)} tracks of {args.library} at http://{host}:{port}/"
            + (f"?token={token}" if token else "") + "  (Ctrl-C stops it)")
        if token:
            say("pers-rec serve: listening beyond the loopback: the address above holds the access token, "
                "printed only this once")

    import asyncio

    async def main():
        await asyncio.gather(server.serve(), announce())

    asyncio.run(main())
    return EXIT_OK
