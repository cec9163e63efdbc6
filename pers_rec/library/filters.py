"""Filter analysis (Dieleman): which tracks, and which 8 s windows, drive each filter of the last conv block.

The trunk's output is the last conv block's activation (after its ReLU and
pooling), one vector per step along time. For a window, a filter's activation
is summarised two ways, over the window's steps: its **max** (the filter fired
somewhere in these 8 s) and its **mean** (it fired throughout). A track's value
is the largest of its windows' values, reached in its *best window*, where its
playlist entry starts.

``pers-rec filters`` writes, for every filter, ``filter_NN_max.m3u8`` and
``filter_NN_mean.m3u8`` (the top tracks by that measure, each starting at its
best window: ``#EXTVLCOPT:start-time`` / ``stop-time``, which VLC and mpv
honour), an ``index.md`` with the tables, and ``kernels.png``: the first conv
layer's kernels as Ueno's experiment 1 plotted them (value against tap, one
line per MFCC coefficient).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

MEASURES = ("max", "mean")


@dataclass
class TrackActivations:
    """One track's per-window summaries of every filter.

    Attributes
    ----------
    path : str
    max, mean : np.ndarray [shape=(n_windows, n_filters), float32]
        Each window's max and mean activation of each filter over the window's trunk steps.
    duration_s : float
        The track's duration: a window's end is clipped to it (as ``scoring.summarize`` clips the best window's).
    """

    path: str
    max: np.ndarray
    mean: np.ndarray
    duration_s: float = float("inf")

    def best(self, measure: str, f: int) -> tuple[float, int]:
        """The track's value of filter ``f`` by ``measure`` (its best window's) and that window's index."""
        col = getattr(self, measure)[:, f]
        w = int(np.argmax(col))
        return float(col[w]), w


def window_activations(embedder, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max and mean [each shape=(n_windows, n_filters)] of each window's last-conv-block activations, for one
    track's features ``M`` [shape=(n_frames, n_features)]. The trunk runs once over the whole track (its steps
    are exactly those of each window, see ``Embedder.window_steps``)."""
    T, idx = embedder.window_steps(M)
    A = T[idx]  # (n_windows, steps, n_filters)
    return A.max(axis=1).astype(np.float32), A.mean(axis=1).astype(np.float32)


def analyse(paths, embedder, *, cache=None, jobs=None, progress: bool = False
            ) -> tuple[list[TrackActivations], list]:
    """:func:`window_activations` of many files; returns them and the failures ``(path, AudioError)``."""
    from ..audio.extract import extract_many
    from ..audio.features import duration_s
    from ..progress import bar

    out, failed = [], []
    with bar(len(paths), "filters", "track", progress) as b:
        for item in extract_many(list(paths), embedder.cfg, cache=cache, jobs=jobs, on_done=b.update):
            if item.ok:
                out.append(TrackActivations(str(item.path), *window_activations(embedder, item.features),
                                            duration_s(item.features, embedder.cfg)))
            else:
                failed.append((str(item.path), item.error))
    order = {str(p): i for i, p in enumerate(paths)}
    out.sort(key=lambda a: order[a.path])
    return out, failed


@dataclass
class Entry:
    path: str
    value: float
    window: int  # index of the best window
    start_s: float
    end_s: float


def top(acts: list[TrackActivations], f: int, measure: str, k: int, cfg) -> list[Entry]:
    """The ``k`` tracks with the highest value of filter ``f`` by ``measure``, best first (ties by path)."""
    rows = []
    for a in acts:
        v, w = a.best(measure, f)
        start = w * cfg.hop_s
        rows.append(Entry(a.path, v, w, start, min(start + cfg.window_s, a.duration_s)))
    rows.sort(key=lambda e: (-e.value, e.path))
    return rows[:k]


def md_text(text: str) -> str:
    """``text`` (a tag, a file name) as literal text in a Markdown table cell: HTML escaped (no tag or entity of a
    title ever reaches a renderer), Markdown's punctuation backslash-escaped, ``|`` kept inside its cell, and
    newlines and other controls as spaces, so a row stays one row."""
    import html

    from ..errors import printable

    text = " ".join("".join(" " if not c.isprintable() else c for c in printable(text) if c).split())
    text = html.escape(text, quote=True)
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|~<>" else c for c in text)


def m3u_text(entries: list[Entry], label) -> str:
    """An extended M3U8 whose entries start at their best window (VLC/mpv options), with the value in the title."""
    from ..players.playlists import entry, extinf_title

    lines = ["#EXTM3U"]
    for e in entries:
        title = extinf_title(f"{label(e.path)} ({e.start_s:.0f}-{e.end_s:.0f} s, {e.value:.3f})")
        lines += [f"#EXTINF:{int(round(e.end_s - e.start_s))},{title}",
                  f"#EXTVLCOPT:start-time={e.start_s:g}", f"#EXTVLCOPT:stop-time={e.end_s:g}", entry(e.path)]
    return "\n".join(lines) + "\n"


def draw_kernel(ax, kernel: np.ndarray, j: int) -> None:
    """Filter ``j`` of a Conv1D kernel [shape=(taps, in_channels, filters)] as Ueno's experiment 1 drew it:
    value against tap, one line per input channel (coloured along viridis)."""
    import matplotlib

    viridis = matplotlib.colormaps["viridis"]
    for c in range(kernel.shape[1]):
        ax.plot(range(1, kernel.shape[0] + 1), kernel[:, c, j], color=viridis(c / kernel.shape[1]), lw=0.8)
    ax.set_xticks(range(1, kernel.shape[0] + 1))


def plot_kernels(trunk, path: str | os.PathLike, title: str) -> None:
    """Every filter of the trunk's first conv layer, one small panel each, as a PNG (written atomically)."""
    from ..plots import figure

    kernel = trunk.first_kernel() if hasattr(trunk, "first_kernel") else np.asarray(trunk.get_layer("conv1").kernel)
    n = kernel.shape[2]
    cols = min(8, n)
    rows = -(-n // cols)
    with figure(path, figsize=(2 * cols, 1.6 * rows + 0.6)) as fig:
        draw_kernels(kernel, fig.subplots(rows, cols, squeeze=False, sharex=True))
        fig.suptitle(title + " (value against tap; one line per MFCC coefficient, dark = low)", fontsize=9)
        fig.tight_layout()


def draw_kernels(kernel: np.ndarray, axes) -> None:
    """Every filter of a Conv1D kernel [shape=(taps, in_channels, filters)] on its own Axes of ``axes`` (a 2-D array;
    the ones left over are switched off)."""
    n = kernel.shape[2]
    for j, ax in enumerate(axes.flat):
        if j >= n:
            ax.axis("off")
            continue
        draw_kernel(ax, kernel, j)
        ax.set_title(f"filter {j}", fontsize=8)
        ax.tick_params(labelsize=6)


def playlist_name(f: int, measure: str) -> str:
    """The file name of filter ``f``'s playlist by ``measure``."""
    return f"filter_{f:02d}_{measure}.m3u8"


def index_markdown(acts: list[TrackActivations], info: dict, labels: dict, cfg, n_top: int, library: str,
                   model_name: str = "") -> str:
    """``index.md`` of a filter analysis: what was analysed, an overview by genre tag (when files carry them), and
    per filter its top five tracks by each measure with a link to the playlist. Every name and tag is
    :func:`md_text`: it stays text, and every table row one line."""
    cells = {p: md_text(t) for p, t in labels.items()}
    n_filters = acts[0].max.shape[1]
    lines = [f"# Filter analysis of {md_text(library)}", "",
             f"{len(acts)} tracks, {sum(len(a.max) for a in acts):,} windows of {cfg.window_s:g} s "
             f"(hop {cfg.hop_s:g} s); the {n_filters} filters of the last conv block of "
             f"{md_text(model_name) or 'the encoder'}. A track's value is its best window's (max: the filter's peak "
             "activation in the window; mean: its average over the window). "
             "Each playlist starts every track at that window (`#EXTVLCOPT:start-time`, honoured by VLC and mpv).", "",
             "First-layer kernels: [kernels.png](kernels.png).", ""]
    genres = {p: t.get("genre") for p, t in info.items()}
    if any(genres.values()):
        lines += [f"Overview: the genre tags of each filter's top {n_top} tracks by mean activation.", "",
                  "| filter | strongest (max) | strongest (mean) | genres of the top tracks |", "|---|---|---|---|"]
        for f in range(n_filters):
            best = [top(acts, f, m, n_top, cfg) for m in MEASURES]
            counts: dict[str, int] = {}
            for e in best[1]:
                g = genres[e.path] or "untagged"
                counts[g] = counts.get(g, 0) + 1
            lines.append(f"| {f} | {cells[best[0][0].path]} | {cells[best[1][0].path]} | "
                         + ", ".join(f"{md_text(g)} {n}" for g, n in sorted(counts.items(), key=lambda x: -x[1]))
                         + " |")
        lines.append("")
    for f in range(n_filters):
        lines += [f"## Filter {f}", ""]
        for measure in MEASURES:
            name = playlist_name(f, measure)
            lines += [f"By {measure} activation ([{name}]({name})):", "", "| # | track | window | value |",
                      "|---|---|---|---|"]
            lines += [f"| {i} | {cells[e.path]} | {e.start_s:.0f}-{e.end_s:.0f} s | {e.value:.3f} |"
                      for i, e in enumerate(top(acts, f, measure, n_top, cfg)[:5], 1)]
            lines.append("")
    return "\n".join(lines)
