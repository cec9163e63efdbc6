"""The bodies of the ``pers-rec`` commands: each runs the library functions and names and writes the files.

``cli.py`` parses and checks the arguments, then calls one of these; the demo
calls the same ones, so it trains and ranks exactly as the commands do. This
is the only layer that writes files it was not given by a caller, and every
file is written atomically.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import EXIT_NOTHING, EXIT_OK, EXIT_SOME_FAILED, describe, printable


def say(*args) -> None:
    """Print a result line on stdout, escaping what a terminal would misread (undecodable bytes, control chars).

    When the reader of stdout has gone (``pers-rec rank ... | head``), the rest of the output is dropped and
    the command finishes its work: its files are still written, and it exits with its usual code.
    """
    text = printable(" ".join(str(a) for a in args))
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # also keeps the interpreter's final flush from failing
        os.close(devnull)


def warn(text: str) -> None:
    """Print a warning line on stderr, escaped like :func:`say`."""
    print(printable(text), file=sys.stderr)


@dataclass
class TrainOutputs:
    """Where ``train`` writes: the model, its JSON report and its training-curve PNG."""

    model: Path
    report: Path
    curves: Path

    @classmethod
    def beside(cls, model_path) -> TrainOutputs:
        model_path = Path(model_path)
        return cls(model_path, model_path.with_suffix(".json"), model_path.with_suffix(".png"))


def train(likes, dislikes, library_dir, out: TrainOutputs, cfg, mcfg, tcfg, *, cache=None, jobs=None,
          progress: bool = False, pretrained_dir=None):
    """``pers-rec train``: gather tracks, cross-validate and train, write the model, report and curves.

    Returns
    -------
    SavedModel
        With its :class:`TrainReport`.
    """
    from . import checkpoint, dataset
    from . import train as T
    from .fileio import write_text
    from .library import scan
    from .report import plot_curves

    pre = _pretrained_for(scan(library_dir) if library_dir is not None and pretrained_dir is not None else None,
                          pretrained_dir, cfg, mcfg, tcfg, progress)
    tracks, failed = dataset.gather(likes, dislikes, library_dir, cfg, unlabelled_per_like=tcfg.unlabelled_per_like,
                                    seed=tcfg.seed, cache=cache, jobs=jobs, progress=progress)
    saved = T.train(tracks, cfg, mcfg, tcfg, progress=progress, failed=failed, pretrained=pre)
    checkpoint.save(out.model, saved)
    write_text(out.report, saved.report.to_json())
    plot_curves(saved.report, out.curves)
    return saved


def _pretrained_for(paths, pretrained_dir, cfg, mcfg, tcfg, progress):
    """The pre-trained weights of the library whose files are ``paths`` (its scan; recorded in ``tcfg.pretrained``),
    or None (no library, no weights stored for it, or ``pretrained_dir`` None)."""
    if paths is None or pretrained_dir is None:
        return None
    from . import pretrain as P
    from .errors import ModelFileError

    found = P.find(pretrained_dir, paths, cfg, mcfg)
    if found is None:
        return None
    try:
        pre = P.load(found)
    except ModelFileError as exc:  # a damaged file costs the head start, not the run
        warn(f"pers-rec: warning: ignoring damaged pre-trained weights: {exc}")
        return None
    tcfg.pretrained = str(found)
    if progress:
        say(f"starting from the library's pre-trained weights ({found.name}, {pre.info.get('tracks', '?')} tracks)")
    return pre


def train_genre(library_dir, out: TrainOutputs, cfg, mcfg, tcfg, *, genres_csv=None, genre_column: str = "genre",
                cache=None, jobs=None, progress: bool = False, pretrained_dir=None) -> int:
    """``pers-rec train --target genre``: read genres, cross-validate and train the genre head, write the model,
    its report (JSON) and its confusion matrices (PNG), print the summary."""
    import time

    from . import checkpoint
    from . import genre as G
    from . import train as T
    from .dataset import Track
    from .errors import ParameterError
    from .fileio import write_text
    from .library import extract_many, scan
    from .progress import bar

    t0 = time.time()
    paths = [str(p) for p in scan(library_dir)]
    genres = G.read_genres(paths, genres_csv, genre_column)
    classes, left_out = G.choose_classes(genres, min_tracks=2)
    source = f"column {genre_column!r} of {genres_csv}" if genres_csv else "genre tags"
    if len(classes) < 2:
        raise ParameterError(f"{library_dir}: {len(genres)} of {len(paths)} tracks have a genre ({source}), in "
                             f"{len(classes)} genre(s) with 2 or more tracks; a genre model needs at least 2")
    for g, n in left_out.items():
        warn(f"left out genre {g!r}: {n} track (a genre needs 2 or more)")
    index = {c: i for i, c in enumerate(classes)}
    todo = [p for p in paths if genres.get(p) in index]
    tracks, failed = [], []
    with bar(len(todo), "features", "track", progress) as b:
        for item in extract_many(todo, cfg, cache=cache, jobs=jobs, on_done=b.update):
            if item.ok:
                tracks.append(Track(str(item.path), index[genres[str(item.path)]], "genre", item.features))
            else:
                failed.append((str(item.path), describe(item.error)))
                warn(f"skipped {item.path}: {describe(item.error)}")
    if progress:
        say(f"{len(tracks)} tracks in {len(classes)} genres ({source}); {len(paths) - len(genres)} without a genre")
    pre = _pretrained_for(paths, pretrained_dir, cfg, mcfg, tcfg, progress)  # the scan above, not a second one
    saved, cv = T.train_genre(tracks, classes, cfg, mcfg, tcfg, progress=progress, pretrained=pre)
    report = G.make_report(tracks, classes, cv, time.time() - t0, left_out, len(paths) - len(genres), failed)
    checkpoint.save(out.model, saved)
    write_text(out.report, report.to_json())
    G.plot(report, out.curves)
    n, b = report.network, report.baseline
    say(f"trained a {len(classes)}-genre {saved.mcfg.arch} model on {len(tracks)} tracks in {report.seconds:.0f} s")
    say(f"{report.folds}-fold cross-validated accuracy {n.accuracy:.3f} (balanced {n.balanced_accuracy:.3f}) at "
        f"{report.best_epoch} epochs; baseline (MFCC statistics + logistic regression): {b.accuracy:.3f} "
        f"(balanced {b.balanced_accuracy:.3f}); chance {max(report.counts.values()) / len(tracks):.3f}")
    width = max(len(c) for c in classes)
    say("confusion (rows: genre, columns: predicted; network | baseline):")
    for i, c in enumerate(classes):
        say(f"  {c:<{width}}  " + " ".join(f"{x:3d}" for x in n.confusion[i]) + "  |  "
            + " ".join(f"{x:3d}" for x in b.confusion[i]))
    say(f"wrote {out.model}, {out.report}, {out.curves}")
    return EXIT_SOME_FAILED if failed else EXIT_OK


def pretrain(library_dir, out_dir, cfg, mcfg, pcfg, *, cache=None, jobs=None, progress: bool = False) -> int:
    """``pers-rec pretrain``: contrastive pre-training on every track of a library, stored in ``out_dir``.

    Returns the exit code: 0, or 1 when some files could not be used.
    """
    from . import pretrain as P
    from .library import extract_many, scan
    from .progress import bar

    paths = scan(library_dir)
    from dataclasses import asdict

    target = P.stored_path(out_dir, P.library_key(paths, cfg, mcfg))
    from .errors import ModelFileError

    try:
        stored = P.load(target) if target.exists() else None
    except ModelFileError:
        stored = None
        say(f"replacing damaged pre-trained weights: {target}")
    if stored is not None:
        if stored.info.get("pretrain_config") == asdict(pcfg):
            say(f"already pre-trained for this library and these settings: {target}")
            return EXIT_OK
        say(f"replacing the library's pre-trained weights made with other settings: {target}")
    matrices, failed = [], 0
    with bar(len(paths), "features", "track", progress) as b:
        for item in extract_many(paths, cfg, cache=cache, jobs=jobs, on_done=b.update):
            if item.ok:
                matrices.append(item.features)
            else:
                failed += 1
                warn(f"skipped {item.path}: {describe(item.error)}")
    if not matrices:
        warn(f"no track of {library_dir} could be read")
        return EXIT_NOTHING
    pre = P.pretrain(matrices, cfg, mcfg, pcfg, progress=progress)
    P.save(target, pre)
    info = pre.info
    say(f"pre-trained {mcfg.arch} on {info['tracks']} tracks in {info['seconds']:.0f} s: contrastive loss "
        f"{info['losses'][0]:.3f} -> {info['losses'][-1]:.3f} (chance {info['chance_loss']:.3f})")
    say(f"wrote {target}; pers-rec train --library {library_dir} starts from it")
    return EXIT_SOME_FAILED if failed else EXIT_OK


def encoder_for(library_dir, model_path, pretrained_dir, cfg):
    """The :class:`embed.Embedder` for ``similar``: a taste model's encoder, else the library's pre-trained one."""
    from . import checkpoint, embed
    from . import model as Mo
    from . import pretrain as P
    from .checkpoint import SavedModel
    from .errors import ParameterError
    from .library import scan

    if model_path is not None:
        return embed.Embedder(checkpoint.load(model_path, expect=cfg))
    mcfg = Mo.ModelConfig()
    found = P.find(pretrained_dir, scan(library_dir), cfg, mcfg)
    if found is None:
        raise ParameterError(f"no encoder for {library_dir}: run `pers-rec pretrain {library_dir}` first "
                             "(no likes needed), or give --model taste.keras")
    model = Mo.build(cfg, mcfg)
    P.apply(model, P.load(found))
    return embed.Embedder(SavedModel(model, cfg, mcfg))


def _embed_all(given, library_dir, embedder, cache, jobs, progress, pooling: str = "mean"):
    """Vectors of the tracks named on the command line (each must work) and of the library (failures warned).
    With ``distinctive`` pooling the library's windows are the reference of the given tracks' weights too."""
    from . import embed
    from .errors import ParameterError
    from .library import scan

    given = [os.path.abspath(g) for g in given]  # printed beside the library's paths, which the scan makes absolute
    paths, V, failed, ref = embed.vectors(scan(library_dir), embedder, pooling=pooling, cache=cache, jobs=jobs,
                                          progress=progress)
    given_paths, given_vecs, bad, _ = embed.vectors(given, embedder, pooling=pooling, reference=ref, cache=cache, jobs=1)
    if bad:
        raise ParameterError(f"{bad[0][0]}: {describe(bad[0][1])}")
    for path, err in failed:
        warn(f"skipped {path}: {describe(err)}")
    return given_paths, given_vecs, paths, V, failed


def similar(seeds, library_dir, embedder, *, n: int = 20, m3u=None, taste=None, taste_weight: float = 0.0,
            pooling: str = "mean", cache=None, jobs=None, progress: bool = False) -> int:
    """``pers-rec similar``: the library's tracks nearest the seeds by cosine of their embeddings; prints a table.

    With a ``taste`` model and ``taste_weight`` w > 0, tracks are ranked by (1 - w) * cosine + w * taste score
    ("like this, and to my taste"); both are shown.
    """
    from . import embed, playlists, tags
    from .errors import ParameterError

    if taste is not None and taste_weight > 0 and taste.mcfg.classes:
        raise ParameterError("--taste-weight needs a taste model; this is a genre model")
    seed_paths, seed_vecs, paths, V, failed = _embed_all(seeds, library_dir, embedder, cache, jobs, progress, pooling)
    exclude = set(seed_paths) | {os.path.realpath(p) for p in seed_paths}
    if taste is not None and taste_weight > 0:
        scores, _ = _model_scores(taste, paths, cache, jobs, progress)
        found = embed.nearest(seed_vecs, paths, V, n, exclude=exclude, bonus=taste_weight * scores,
                              weight=1 - taste_weight)
    else:
        scores, found = None, embed.nearest(seed_vecs, paths, V, n, exclude=exclude)
    by_path = dict(zip(paths, scores)) if scores is not None else {}
    say(f"{len(found)} tracks nearest {', '.join(Path(p).name for p in seed_paths)} "
        f"(cosine of {embedder.dim}-d track embeddings{', distinctive windows' if pooling == 'distinctive' else ''}, "
        f"{len(paths)} tracks compared"
        + (f"; ranked by {1 - taste_weight:g} x cosine + {taste_weight:g} x taste score" if by_path else "") + "):")
    say("rank  cosine" + ("   taste" if by_path else "") + "  track")
    info = {nb.path: tags.read(nb.path) for nb in found}
    for i, nb in enumerate(found, 1):
        say(f"{i:4d}  {nb.cosine:6.4f}" + (f"  {by_path[nb.path]:6.3f}" if by_path else "")
            + f"  {nb.path}{tags.suffix(info[nb.path])}")
    if m3u:
        playlists.write_m3u(m3u, [(nb.path, -1, f"{tags.label(nb.path, info[nb.path])} (cosine {nb.cosine:.3f})")
                                  for nb in found])
        say(f"wrote {m3u}")
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _model_scores(saved, paths, cache, jobs, progress) -> tuple[np.ndarray, list[str]]:
    """The model's track score of each path (NaN where it failed: such a track is never ranked first), and a
    genre model's predicted genre of each ("" otherwise)."""
    from . import rank as R

    df = R.rank(paths, saved, cache=cache, jobs=jobs, progress=progress).set_index("path")
    scores = np.array([df["score"].get(str(p), np.nan) for p in paths], np.float64)
    return scores, [df["genre"].get(str(p), "") or "" for p in paths]


def playlist(library_dir, embedder, *, seed=None, start=None, end=None, n: int = 30, max_per_artist=None,
             not_in_a_row: bool = False, pooling: str = "mean", m3u=None, csv_out=None, cache=None, jobs=None, progress: bool = False) -> int:
    """``pers-rec playlist``: continue from ``seed``, or join ``start`` to ``end``; print, and write M3U8/CSV."""
    from . import embed, playlists, tags
    from .fileio import write_text

    ends = [seed] if seed is not None else [start, end]
    end_paths, end_vecs, paths, V, failed = _embed_all(ends, library_dir, embedder, cache, jobs, progress, pooling)
    real = [os.path.realpath(p) for p in paths]
    keep = [i for i, r in enumerate(real) if r not in {os.path.realpath(p) for p in end_paths}]
    paths, V = end_paths + [paths[i] for i in keep], np.concatenate([end_vecs, V[keep]])
    info = [tags.read(p) for p in paths]
    rules = None
    if max_per_artist is not None or not_in_a_row:
        rules = embed.ArtistRules.from_names([tags.artist_key(t) for t in info], max_per_artist, not_in_a_row)
    order = embed.continue_from(V, 0, n, rules=rules) if seed is not None else embed.join(V, 0, 1, n, rules=rules)
    steps = [None] + [float(V[i] @ V[j]) for i, j in zip(order, order[1:])]
    say("  #  cosine to previous  track")
    for k, (i, c) in enumerate(zip(order, steps), 1):
        say(f"{k:3d}  {'' if c is None else f'{c:18.4f}':>18}  {paths[i]}{tags.suffix(info[i])}")
    if m3u:
        playlists.write_m3u(m3u, [(paths[i], -1, tags.label(paths[i], info[i])) for i in order])
        say(f"wrote {m3u}")
    if csv_out:
        import pandas as pd

        from .rank import csv_text

        df = pd.DataFrame({"position": range(1, len(order) + 1), "path": [paths[i] for i in order],
                           "artist": [info[i].get("artist", "") for i in order],
                           "title": [info[i].get("title", "") for i in order], "cosine_to_previous": steps})
        write_text(csv_out, csv_text(df), errors="surrogateescape")
        say(f"wrote {csv_out}")
    return EXIT_SOME_FAILED if failed else EXIT_OK


def map_library(library_dir, embedder, out_html, *, taste=None, pooling: str = "mean", seed: int = 0, cache=None,
                jobs=None, progress: bool = False) -> int:
    """``pers-rec map``: the library's embeddings laid out by t-SNE, as a self-contained HTML page and a PNG beside it.

    With a ``taste`` model, points are coloured by its score and its likes and dislikes are marked.
    """
    from . import embed, maps, tags
    from .errors import ParameterError
    from .fileio import write_text
    from .library import scan

    files = scan(library_dir)
    if not files:
        raise ParameterError(f"{library_dir}: no audio files found")
    paths, V, failed, _ = embed.vectors(files, embedder, pooling=pooling, cache=cache, jobs=jobs, progress=progress)
    for path, err in failed:
        warn(f"skipped {path}: {describe(err)}")
    if not paths:
        warn(f"no track of {library_dir} could be read")
        return EXIT_NOTHING
    scores, marks, genres = [None] * len(paths), [""] * len(paths), [""] * len(paths)
    if taste is not None:
        got, genres = _model_scores(taste, paths, cache, jobs, progress)
        scores = [None if not np.isfinite(x) else float(x) for x in got]
        if taste.report is not None:
            source = {os.path.realpath(t.path): t.source for t in taste.report.tracks}
            marks = [{"like": "like", "dislike": "dislike"}.get(source.get(os.path.realpath(p)), "") for p in paths]
    Y = maps.layout(V, seed=seed)
    points = [maps.Point(p, float(x), float(y), tags.label(p, tags.read(p)), s, m, g)
              for p, (x, y), s, m, g in zip(paths, Y, scores, marks, genres)]
    title = f"{Path(library_dir).name or library_dir}: {len(points)} tracks"
    sub = (f"t-SNE of {embedder.dim}-d track embeddings (cosine; {pooling} of windows) "
           + ("from the library's pre-trained encoder" if taste is None else
              "from the genre model's encoder" if taste.mcfg.classes else "from the taste model's encoder"))
    out_html = Path(out_html)
    write_text(out_html, maps.html_text(points, str(out_html.resolve().parent), title, sub), errors="surrogateescape")
    png = out_html.with_suffix(".png")
    maps.write_png(points, png, title)
    n_like, n_dislike = marks.count("like"), marks.count("dislike")
    colour = "" if taste is None else (", coloured by predicted genre" if taste.mcfg.classes else
                                       ", coloured by taste score")
    say(f"mapped {len(points)} tracks ({n_like} likes, {n_dislike} dislikes marked{colour}) -> {out_html}, {png}")
    return EXIT_SOME_FAILED if failed else EXIT_OK


def filters(library_dir, embedder, out_dir, *, top: int = 20, model_name: str = "", cache=None, jobs=None,
            progress: bool = False) -> int:
    """``pers-rec filters``: per filter of the last conv block, M3U8s of the tracks (from their best 8 s window)
    that drive it most, by max and by mean activation; ``index.md``; the first layer's kernels as ``kernels.png``."""
    from . import filters as Fi
    from . import tags
    from .errors import ParameterError
    from .fileio import write_text
    from .library import scan

    files = scan(library_dir)
    if not files:
        raise ParameterError(f"{library_dir}: no audio files found")
    acts, failed = Fi.analyse(files, embedder, cache=cache, jobs=jobs, progress=progress)
    for path, err in failed:
        warn(f"skipped {path}: {describe(err)}")
    if not acts:
        warn(f"no track of {library_dir} could be read")
        return EXIT_NOTHING
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = {a.path: tags.read(a.path) for a in acts}
    labels = {p: tags.label(p, t) for p, t in info.items()}
    cells = {p: Fi.md_text(t) for p, t in labels.items()}  # Markdown-safe, for index.md
    n_filters = acts[0].max.shape[1]
    cfg = embedder.cfg
    lines = [f"# Filter analysis of {Fi.md_text(str(library_dir))}", "",
             f"{len(acts)} tracks, {sum(len(a.max) for a in acts):,} windows of {cfg.window_s:g} s (hop {cfg.hop_s:g} s); "
             f"the {n_filters} filters of the last conv block of {Fi.md_text(model_name) or 'the encoder'}. A track's value is its "
             "best window's (max: the filter's peak activation in the window; mean: its average over the window). "
             "Each playlist starts every track at that window (`#EXTVLCOPT:start-time`, honoured by VLC and mpv).", "",
             "First-layer kernels: [kernels.png](kernels.png).", ""]
    genres = {p: t.get("genre") for p, t in info.items()}
    if any(genres.values()):
        lines += [f"Overview: the genre tags of each filter's top {top} tracks by mean activation.", "",
                  "| filter | strongest (max) | strongest (mean) | genres of the top tracks |", "|---|---|---|---|"]
        for f in range(n_filters):
            best = [Fi.top(acts, f, m, top, cfg) for m in Fi.MEASURES]
            counts: dict[str, int] = {}
            for e in best[1]:
                g = genres[e.path] or "untagged"
                counts[g] = counts.get(g, 0) + 1
            lines.append(f"| {f} | {cells[best[0][0].path]} | {cells[best[1][0].path]} | "
                         + ", ".join(f"{Fi.md_text(g)} {n}" for g, n in sorted(counts.items(), key=lambda x: -x[1]))
                         + " |")
        lines.append("")
    for f in range(n_filters):
        lines += [f"## Filter {f}", ""]
        for measure in Fi.MEASURES:
            entries = Fi.top(acts, f, measure, top, cfg)
            name = f"filter_{f:02d}_{measure}.m3u8"
            write_text(out / name, Fi.m3u_text(entries, labels.get))  # UTF-8; bytes names as file:// URIs
            lines += [f"By {measure} activation ([{name}]({name})):", "", "| # | track | window | value |", "|---|---|---|---|"]
            lines += [f"| {i} | {cells[e.path]} | {e.start_s:.0f}-{e.end_s:.0f} s | {e.value:.3f} |"
                      for i, e in enumerate(entries[:5], 1)]
            lines.append("")
    write_text(out / "index.md", "\n".join(lines))
    Fi.plot_kernels(embedder.trunk, out / "kernels.png", f"First conv layer of {model_name or 'the encoder'}")
    say(f"analysed {n_filters} filters over {len(acts)} tracks: {2 * n_filters} playlists of the top {top}, "
        f"index.md and kernels.png -> {out}")
    for f in range(min(n_filters, 4)):
        e = Fi.top(acts, f, "max", 1, cfg)[0]
        say(f"  filter {f:2d}: strongest in {labels[e.path]} at {e.start_s:.0f}-{e.end_s:.0f} s (max {e.value:.3f})")
    if n_filters > 4:
        say(f"  ... {n_filters - 4} more in {out / 'index.md'}")
    return EXIT_SOME_FAILED if failed else EXIT_OK


def print_train_summary(saved, out: TrainOutputs) -> int:
    rep = saved.report
    cv = rep.cross_validation
    for f in rep.failed:
        warn(f"skipped {f.path}: {f.error}")
    say(f"trained {saved.mcfg.arch} on {len(rep.tracks)} tracks ({rep.n_liked} liked, {rep.n_not_liked} not: "
        f"{rep.by_source('dislike')} disliked, {rep.by_source('unlabelled')} unlabelled) in {rep.seconds:.0f} s")
    m, b = cv.model, cv.baseline
    say(f"{cv.folds}-fold cross-validated track ROC-AUC {_f(m.roc_auc_mean)} +- {_f(m.roc_auc_std)}, "
        f"AP {_f(m.ap_mean)} (at {m.epochs} epochs, chosen by this figure)")
    say(f"baseline (MFCC statistics + logistic regression): ROC-AUC {_f(b.roc_auc_mean)} +- {_f(b.roc_auc_std)}, "
        f"AP {_f(b.ap_mean)}")
    if rep.blend is not None:
        say(f"track score: {'network stacked with the baseline' if rep.blend.chosen == 'stacked' else 'network alone'} "
            f"({rep.blend.why})")
    say(f"wrote {out.model}, {out.report}, {out.curves}")
    return EXIT_SOME_FAILED if rep.failed else EXIT_OK


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def rank(saved, paths, *, out_csv, m3u=None, top: int = 50, min_track_s: float = 30.0, include_liked: bool = False,
         max_per_artist: int | None = None, cache=None, jobs=None, progress: bool = False):
    """``pers-rec rank``: rank ``paths`` with ``saved``, write the CSV (and the top of it as an M3U8).

    Returns
    -------
    pd.DataFrame
        The ranking (see ``rank.COLUMNS``).
    """
    from . import playlists
    from . import rank as R
    from .fileio import write_text

    exclude = set() if include_liked else R.liked_paths(saved)
    df = R.rank(paths, saved, cache=cache, jobs=jobs, exclude=exclude, progress=progress)
    write_text(out_csv, R.csv_text(df), errors="surrogateescape")
    if m3u:
        playlists.write_m3u(m3u, R.playlist_entries(df, top=top, min_track_s=min_track_s,
                                                    max_per_artist=max_per_artist))
    return df


def print_rank_summary(df, n_paths: int, out_csv, m3u, top: int) -> int:
    from . import rank as R
    from . import tags

    ok = df[df["status"] == "ok"]
    n_err = len(df) - len(ok)
    say(f"ranked {len(ok)} tracks ({n_paths - len(df)} liked tracks left out, {n_err} failed) -> {out_csv}"
        + (f", top {min(top, len(ok))} -> {m3u}" if m3u else ""))
    for r in ok.head(10).itertuples():
        say(f"{r.rank:>4}  {r.score:.3f}  " + (f"{r.genre}  " if isinstance(r.genre, str) and r.genre else "")
            + f"best {r.best_start_s:.0f}-{r.best_end_s:.0f} s  {r.path}{tags.suffix(R.row_tags(r))}")
    for r in df[df["status"] != "ok"].itertuples():
        warn(f"error: {r.path}: {r.error}")
    if ok.empty:
        return EXIT_NOTHING
    return EXIT_SOME_FAILED if n_err else EXIT_OK


def explain(track, saved, out, *, cache=None) -> int:
    """``pers-rec explain``: one track's window-score timeline as a PNG."""
    from . import rank as R
    from .report import plot_explain

    M, s = R.explain(track, saved, cache=cache)
    plot_explain(M, s, saved.cfg, Path(track).name, out)
    say(f"{track}: score {s.score:.3f} over {s.n_windows} windows; best {s.best_start_s:.0f}-{s.best_end_s:.0f} s "
        f"({s.best_score:.3f}); plot -> {out}")
    return EXIT_OK


def features(files) -> int:
    """``pers-rec features``: decode files and print their feature shapes and speed."""
    import time

    from . import features as F
    from .errors import AudioError

    cfg = F.FeatureConfig()
    failed = 0
    for path in files:
        t0 = time.perf_counter()
        try:
            M = F.extract(path, cfg)
            F.fit_to_window(M, cfg, path)
        except AudioError as exc:
            warn(f"error: {exc}")
            failed += 1
            continue
        dt = time.perf_counter() - t0
        dur = F.duration_s(M, cfg)
        say(f"{path}: {dur:.1f} s -> {cfg.kind} {M.shape[0]} frames x {M.shape[1]} at {cfg.fps} fps, "
            f"{F.n_windows(M.shape[0], cfg)} windows of {cfg.window_s} s; {dt:.3f} s ({dur / dt:.0f}x real time)")
    if failed == len(files):
        return EXIT_NOTHING
    return EXIT_SOME_FAILED if failed else EXIT_OK


def synth_dataset(stage: str, out, n: int, seed: int) -> int:
    """``pers-rec synth``: a staged probe dataset as WAV files plus ``labels.csv``."""
    import synth
    from synth.io import write

    from .fileio import write_text

    out = Path(out)
    if stage == "exp1":
        ds = synth.exp1(seed=seed)
    elif stage == "exp2":
        ds = synth.exp2(n, seed=seed)
    else:
        ds = synth.stage(int(stage), n, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    for clip, name in zip(ds.clips, ds.meta["clip"]):
        write(out / f"{name}.wav", clip, ds.sr)
    meta = ds.meta.assign(path=[f"{c}.wav" for c in ds.meta["clip"]])
    write_text(out / "labels.csv", meta.to_csv(index=False))
    say(f"wrote {len(ds)} clips ({ds.labels.sum()} labelled 1: {ds.rule}) and labels.csv to {out}")
    return EXIT_OK


def cache_command(action: str, cache_dir) -> int:
    """``pers-rec cache info|prune|clear``."""
    import sqlite3

    from .cache import FeatureCache, default_cache_dir, remove

    path = Path(cache_dir or default_cache_dir()) / FeatureCache.FILE
    if not path.exists():
        say(f"no cache at {path}")
        return EXIT_OK
    if action == "clear":  # works on any cache, however damaged or locked out: its files go
        try:
            with FeatureCache(path) as cache:
                n = len(cache)
        except (OSError, sqlite3.Error):
            n = "the"
        removed = remove(cache_dir)
        say(f"removed all {n} entries from {path}" if removed else f"no cache at {path}")
        return EXIT_OK
    with FeatureCache(path) as cache:
        if action == "info":
            i = cache.info()
            say(f"{i.path}: {i.entries} entries ({i.failed} failed files), {i.stale} stale (file gone or changed), "
                + (f"{i.damaged} damaged (recomputed when met), " if i.damaged else "") + f"{i.bytes / 2**20:.1f} MB")
        else:
            say(f"removed {cache.prune()} stale or damaged entries from {path}")
    return EXIT_OK
