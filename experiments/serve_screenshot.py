"""The screenshot of ``docs/serve.md``: ``pers-rec serve`` on a 24-song synthetic library, after a few judgements,
with a track playing, a playlist and the map drawn (Debian's chromium, through Playwright).

    python -m experiments.serve_screenshot [--out docs/serve.png]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/serve.png")
    args = ap.parse_args()
    import uvicorn
    from playwright.sync_api import sync_playwright

    from pers_rec.cli.demo import make_library
    from pers_rec.web.app import create_app
    from pers_rec.web.state import Library

    with tempfile.TemporaryDirectory() as tmp:
        music = Path(tmp) / "music"
        songs = make_library(music, 24, 12.0, seed=0)
        lib = Library(music, Path(tmp) / "cache")
        lib.analyse()
        for s in songs[:8]:  # a listener who likes flutes, judged by hand
            lib.store.add(str(Path(s["path"]).resolve()), int(s["lead"] == "flute"))
        lib.refit()
        server = uvicorn.Server(uvicorn.Config(create_app(lib), host="127.0.0.1", port=0, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(base + "/")
            page.wait_for_selector("#rows tr:nth-child(10)")
            page.locator("#rows tr").nth(3).locator("button").first.click()
            page.wait_for_timeout(1500)
            page.locator("#continue").click()
            page.locator("#showmap").click()
            page.wait_for_selector("#map:not([hidden])", timeout=60_000)
            page.keyboard.press("j")
            page.wait_for_timeout(800)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
        server.should_exit = True
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
