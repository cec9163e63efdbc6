"""The library map: layout, the self-contained page, and the page in a real headless browser (Debian's chromium)."""

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from pers_rec.library import maps as Mp


@pytest.mark.parametrize("n", [0, 1, 2, 4, 5, 40])
def test_layout_is_in_the_unit_square_for_any_library_size(n):
    V = np.random.default_rng(n).normal(size=(n, 8)).astype(np.float32)
    V /= np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-9)
    Y = Mp.layout(V)
    assert Y.shape == (n, 2) and np.isfinite(Y).all() and (Y >= 0).all() and (Y <= 1).all()
    if n >= 5:
        assert np.allclose(Y.min(0), 0) and np.allclose(Y.max(0), 1)


def test_layout_keeps_clusters_apart():
    rng = np.random.default_rng(0)
    centres = np.eye(8)[:3] * 5
    V = np.concatenate([c + rng.normal(size=(15, 8)) * 0.1 for c in centres])
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    Y = Mp.layout(V)
    labels = np.repeat(np.arange(3), 15)
    D = np.linalg.norm(Y[:, None] - Y[None], axis=-1)
    np.fill_diagonal(D, np.inf)
    assert (labels[D.argmin(1)] == labels).all()  # every point's nearest point on the map is from its cluster


def page_data(text: str) -> list[dict]:
    return json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', text, re.S)[1])


def test_the_page_escapes_names_and_addresses_files_relative_to_itself(tmp_path):
    evil = str(tmp_path / "music" / 'a </script><script>alert(1)</script> & "b".wav')
    pts = [Mp.Point(evil, 0.1, 0.2, "Ann - </script>", 0.9, "like"), Mp.Point(str(tmp_path / "x.wav"), 0.5, 0.5, "x")]
    text = Mp.html_text(pts, str(tmp_path / "out"), "t <i>", "s")
    assert text.count("<script") == 2 and "<i>" not in text  # the name cannot open a script or a tag
    data = page_data(text)
    assert [d["file"] for d in data] == [evil, str(tmp_path / "x.wav")] and data[0]["mark"] == "like"
    assert data[0]["url"].startswith("../music/a%20%3C/script%3E") and data[1]["url"] == "../x.wav"
    assert data[1]["colour"] == "#9e9e9e"  # no score: grey


def chromium_path():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def need_chromium():
    """``(sync_playwright, chromium's path)``. Skips where there is no browser, except under CI, where the
    Makefile installs one and a missing browser is a failure."""
    if not os.environ.get("CI"):
        pytest.importorskip("playwright", reason="playwright not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium: `make test` installs Debian's chromium (apt-get install chromium)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    return sync_playwright, exe


def open_page(url: str):
    """Load ``url`` in headless chromium; return (page facts, console errors)."""
    sync_playwright, exe = need_chromium()
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (errors.append(f"dialog {d.message}"), d.dismiss()))  # an injected alert()
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                   else (errors.append(f"fetched {route.request.url}"), route.abort()))  # offline: nothing fetched
        page.goto(url)
        circles = page.locator("circle.track")
        facts = {"n": circles.count(), "count": page.locator("#count").get_attribute("data-n"),
                 "likes": page.locator("circle.like").count()}
        circles.nth(1).hover()
        facts["tip"] = page.locator("#tip").inner_text()
        circles.nth(1).click()
        page.wait_for_timeout(300)
        facts["src"] = page.evaluate("document.getElementById('audio').src")
        facts["now"] = page.locator("#now").inner_text()
        # two quick clicks (in one task, so the first load is surely still pending): the second cancels the first
        page.evaluate("() => { const c = document.querySelectorAll('circle.track');"
                      " c[0].dispatchEvent(new MouseEvent('click')); c[2].dispatchEvent(new MouseEvent('click')); }")
        page.wait_for_timeout(600)
        facts["after_two_clicks"] = page.locator("#now").inner_text()
        browser.close()
    return facts, errors


@pytest.mark.browser
def test_the_page_in_a_real_browser(tmp_path):
    import soundfile as sf
    from conftest import tone

    lib = tmp_path / "music"
    lib.mkdir()
    # folders make the whole path hold "</script>": a file name alone cannot hold a slash
    names = ['a <<script><script>alert(1)<<script> & "b".wav'.replace("<<", "</"), "ünï cödé.wav", "plain.wav"]
    pts = []
    for i, name in enumerate(names):
        (lib / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(lib / name, tone(300 + 100 * i, 1.0, 8000), 8000)
        pts.append(Mp.Point(str(lib / name), i / 2, (i % 2) / 1.0, Path(name).stem + " </script>", 0.1 * i,
                            "like" if i == 0 else ""))
    out = tmp_path / "map" / "map.html"
    out.parent.mkdir()
    out.write_text(Mp.html_text(pts, str(out.parent), "test map", "three files"), encoding="utf-8")
    facts, errors = open_page(out.as_uri())
    assert errors == []
    assert facts["n"] == 3 and facts["count"] == "3" and facts["likes"] == 1
    assert "ünï cödé </script>" in facts["tip"] and str(lib / names[1]) in facts["tip"]
    assert facts["src"] == (lib / names[1]).as_uri() and facts["now"] == "playing: ünï cödé </script>"
    assert facts["after_two_clicks"] == "playing: plain </script>"  # not "cannot play" the cancelled first
