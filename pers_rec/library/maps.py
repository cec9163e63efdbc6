"""A map of the library: track embeddings laid out in 2-D by t-SNE, as one self-contained HTML page and a PNG.

Dieleman's analysis of the learned space, for one listener's own library: each
point is a track (its embedding, see ``embed``), placed by scikit-learn's
t-SNE on cosine distances, coloured by the taste model's score when there is
one, with the model's likes and dislikes marked. The page needs nothing but a
browser: the data, the drawing code (plain SVG and JavaScript) and the styles
are inline, nothing is fetched. Hovering a point shows the file (artist and
title when tagged); clicking it plays the file in the page's audio player,
addressed relative to the page so the map keeps working when the folder moves
with it.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from urllib.parse import quote_from_bytes

import numpy as np


@dataclass
class Point:
    path: str
    x: float
    y: float
    label: str  # "Artist - Title", or the file name
    score: float | None = None  # taste score, or a genre model's probability (None without a model, or if it failed)
    mark: str = ""  # "like", "dislike" or ""
    genre: str = ""  # a genre model's predicted genre: then points are coloured by genre


def layout(V: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D coordinates [shape=(n, 2)] of the rows of ``V`` (L2-normalised vectors), scaled to [0, 1].

    t-SNE on cosine distances with a perplexity of min(30, (n - 1) / 3); for fewer than 5
    tracks (too few for t-SNE) the first two principal components.
    """
    n = len(V)
    if n < 5:
        X = np.asarray(V, np.float64) - np.mean(V, axis=0) if n else np.zeros((0, 2))
        Y = X @ np.linalg.svd(X, full_matrices=False)[2][:2].T if n else X
        Y = np.pad(Y, ((0, 0), (0, 2 - Y.shape[1])))
    else:
        from sklearn.manifold import TSNE

        Y = TSNE(n_components=2, metric="cosine", init="pca", perplexity=min(30.0, (n - 1) / 3),
                 random_state=seed).fit_transform(np.asarray(V, np.float64))
    span = np.ptp(Y, axis=0) if n else np.ones(2)
    Y = (Y - (Y.min(0) if n else 0)) / np.where(span > 0, span, 1.0)
    Y[:, span == 0] = 0.5
    return Y


def colours(scores: list[float | None], cmap: str = "viridis") -> list[str]:
    """Hex colour of each score on ``cmap`` over the scores' range; grey where there is no score."""
    import matplotlib

    vals = np.array([np.nan if s is None else s for s in scores], float)
    ok = np.isfinite(vals)
    lo, hi = (vals[ok].min(), vals[ok].max()) if ok.any() else (0.0, 1.0)
    norm = (vals - lo) / (hi - lo if hi > lo else 1.0)
    cm = matplotlib.colormaps[cmap]
    return [matplotlib.colors.to_hex(cm(v)) if np.isfinite(v) else "#9e9e9e" for v in norm]


def genre_colours(points: list[Point]) -> dict[str, str]:
    """A categorical colour (tab10, then tab20) for each predicted genre, in sorted order."""
    import matplotlib

    genres = sorted({p.genre for p in points if p.genre})
    cmap = matplotlib.colormaps["tab10" if len(genres) <= 10 else "tab20"]
    return {g: matplotlib.colors.to_hex(cmap(i % cmap.N)) for i, g in enumerate(genres)}


def point_colours(points: list[Point]) -> tuple[list[str], dict[str, str]]:
    """Each point's colour (by genre when a genre model predicted them, else by score), and the genre colours."""
    by_genre = genre_colours(points)
    if by_genre:
        return [by_genre.get(p.genre, "#9e9e9e") for p in points], by_genre
    return colours([p.score for p in points]), {}


def audio_url(path: str, page_dir: str) -> str:
    """The file's URL as seen from the page: relative to it when on the same filesystem tree, percent-encoded bytes."""
    try:
        rel = os.path.relpath(path, page_dir)
    except ValueError:  # another drive (Windows)
        return "file://" + quote_from_bytes(os.fsencode(os.path.abspath(path)), safe="/")
    return quote_from_bytes(os.fsencode(rel), safe="/")


def html_text(points: list[Point], page_dir: str, title: str, subtitle: str) -> str:
    """The map page. Every value is escaped (JSON in a script block, with ``<`` escaped; text through
    ``html.escape``)."""
    cols, by_genre = point_colours(points)
    data = [{"x": round(p.x, 5), "y": round(p.y, 5), "label": p.label, "file": p.path,
             "url": audio_url(p.path, page_dir), "score": None if p.score is None else round(p.score, 4),
             "mark": p.mark, "genre": p.genre, "colour": c}
            for p, c in zip(points, cols)]
    blob = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    blob = blob.encode("utf-8", "backslashreplace").decode("utf-8")  # undecodable file names stay visible, never break
    scored = [p.score for p in points if p.score is not None]
    if by_genre:
        legend = "colour: predicted genre " + " ".join(
            f'<span class="key" style="background:{c}"></span>{html.escape(g)}' for g, c in by_genre.items())
    elif scored:
        legend = html.escape(f"colour: taste score, {min(scored):.3f} (dark) to {max(scored):.3f} (yellow)")
    else:
        legend = "no taste model: all points grey"
    marks = sum(p.mark == "like" for p in points), sum(p.mark == "dislike" for p in points)
    return _PAGE.format(title=html.escape(title), subtitle=html.escape(subtitle), n=len(points), legend=legend,
                        likes=marks[0], dislikes=marks[1], data=blob)


def write_png(points: list[Point], path: str | os.PathLike, title: str) -> None:
    """The same map as a PNG (written atomically): colour by score, likes as stars, dislikes as crosses."""
    from ..plots import figure

    with figure(path, figsize=(8, 8), dpi=100) as fig:
        ax = fig.subplots()
        draw_map(points, ax, title)
        fig.tight_layout()


def draw_map(points: list[Point], ax, title: str = "") -> None:
    """Draw the map on ``ax``: colour by score (with a colour bar) or genre (with a legend), likes as stars,
    dislikes as crosses."""
    import matplotlib

    fig = ax.figure
    cols, by_genre = point_colours(points)
    xy = np.array([[p.x, p.y] for p in points]).reshape(-1, 2)
    ax.scatter(xy[:, 0], xy[:, 1], c=cols, s=28, edgecolors="none")
    for mark, style in (("like", dict(marker="*", s=220, facecolors="none", edgecolors="#d81b60", linewidths=1.5)),
                        ("dislike", dict(marker="x", s=90, c="#1e88e5", linewidths=1.5))):
        sel = np.array([p.mark == mark for p in points], bool)
        if sel.any():
            ax.scatter(xy[sel, 0], xy[sel, 1], label=f"{mark}s ({sel.sum()})", **style)
    for g, c in by_genre.items():
        ax.scatter([], [], c=c, s=28, label=g)
    if any(p.mark for p in points) or by_genre:
        ax.legend(loc="upper right")
    scored = [p.score for p in points if p.score is not None]
    if scored and not by_genre:
        norm = matplotlib.colors.Normalize(min(scored), max(scored))
        fig.colorbar(matplotlib.cm.ScalarMappable(norm, "viridis"), ax=ax, shrink=0.6, label="taste score")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  body {{ font: 14px system-ui, sans-serif; margin: 0; background: #fafafa; color: #222; }}
  header {{ padding: 10px 16px; background: #fff; border-bottom: 1px solid #ddd; }}
  h1 {{ font-size: 18px; margin: 0 0 4px; }}
  .sub {{ color: #666; }}
  #map {{ display: block; margin: 8px auto; background: #fff; border: 1px solid #ddd; }}
  circle.track {{ cursor: pointer; stroke: #fff; stroke-width: 0.5; }}
  circle.track:hover, circle.track.playing {{ stroke: #000; stroke-width: 2; }}
  circle.like {{ stroke: #d81b60; stroke-width: 2.5; }}
  circle.dislike {{ stroke: #1e88e5; stroke-width: 2.5; stroke-dasharray: 2 2; }}
  #tip {{ position: fixed; pointer-events: none; background: #222; color: #fff; padding: 4px 8px; border-radius: 4px;
          font-size: 12px; display: none; max-width: 480px; }}
  #player {{ position: sticky; bottom: 0; background: #fff; border-top: 1px solid #ddd; padding: 8px 16px; }}
  #now {{ margin-left: 8px; color: #444; }}
  .key {{ display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 8px; }}
</style>
</head>
<body>
<header>
  <h1>{title}</h1>
  <div class="sub">{subtitle}</div>
  <div class="sub"><span id="count" data-n="{n}">{n} tracks</span> &middot; {legend} &middot;
    pink ring: like ({likes}) &middot; blue dashed ring: dislike ({dislikes}) &middot; hover: name, click: play</div>
</header>
<svg id="map" width="900" height="700" viewBox="0 0 900 700" role="img" aria-label="map of the library"></svg>
<div id="tip"></div>
<div id="player"><audio id="audio" controls preload="none"></audio><span id="now">click a point to play it</span></div>
<script type="application/json" id="data">{data}</script>
<script>
"use strict";
(function () {{
  const points = JSON.parse(document.getElementById("data").textContent);
  const svg = document.getElementById("map"), tip = document.getElementById("tip");
  const audio = document.getElementById("audio"), now = document.getElementById("now");
  const NS = "http://www.w3.org/2000/svg", W = 900, H = 700, PAD = 24;
  let playing = null, clicks = 0;
  points.forEach(function (p) {{
    const c = document.createElementNS(NS, "circle");
    c.setAttribute("cx", (PAD + p.x * (W - 2 * PAD)).toFixed(1));
    c.setAttribute("cy", (PAD + (1 - p.y) * (H - 2 * PAD)).toFixed(1));
    c.setAttribute("r", p.mark ? 7 : 5);
    c.setAttribute("fill", p.colour);
    c.setAttribute("class", "track" + (p.mark ? " " + p.mark : ""));
    c.addEventListener("mousemove", function (e) {{
      tip.textContent = p.label + (p.genre ? "  " + p.genre : "")
        + (p.score === null ? "" : "  (" + (p.genre ? "p " : "score ") + p.score.toFixed(3) + ")")
        + (p.mark ? "  [" + p.mark + "]" : "") + "\\n" + p.file;
      tip.style.whiteSpace = "pre";
      tip.style.left = (e.clientX + 12) + "px";
      tip.style.top = (e.clientY + 12) + "px";
      tip.style.display = "block";
    }});
    c.addEventListener("mouseleave", function () {{ tip.style.display = "none"; }});
    c.addEventListener("click", function () {{
      if (playing) playing.classList.remove("playing");
      playing = c;
      c.classList.add("playing");
      const click = ++clicks;  // a later click cancels this one's load: its failure must not be reported
      audio.src = p.url;
      now.textContent = "playing: " + p.label;
      const started = audio.play();
      if (started && started.catch) started.catch(function (err) {{
        if (click === clicks && (!err || err.name !== "AbortError")) now.textContent = "cannot play " + p.file;
      }});
    }});
    svg.appendChild(c);
  }});
}})();
</script>
</body>
</html>
"""
