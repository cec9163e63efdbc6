"""What ``pers-rec serve`` knows of the library, and the jobs that keep it up to date.

The library is scanned once at start; every track gets an id (its index), and the web pages name tracks only by
id, never by path. Symlinks are followed as every command follows them (``scan.scan``): a link in the library is
the listener's own choice, so a file it reaches is listed and served, even outside the library folder. Only the
scanned files are ever served, and only while they decode: a track that fails analysis (not audio, unreadable)
is marked unplayable with its reason, answered 422, and never offered by the queue.

A background job reads the tags, the features (cached), the embeddings and, with a model, the ranking; another
retrains the taste model on the judgements. One job runs at a time (a second request is refused with a
message); each reports its progress (:func:`progress.listening`) for the page's bar. The map is drawn in a
thread of its own (:mod:`.layout`). Playing and judging never wait for a job.

Everything the listener builds is kept per library, in ``CACHE/serve/<folder>-<hash>/``: the judgements
(``judgements.sqlite``) and the retrained models (:mod:`retrain`), so a restart carries on where it stopped.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from ..audio import tags
from ..errors import AudioError, PersRecError, printable
from ..library import active
from ..library.retrain import Versions, fmt, summary
from ..players.judgements import Judgements, library_home
from ..progress import listening
from .layout import MapDrawer

#: Broken files named on the terminal at the end of the analysis (the rest are counted).
SHOWN_FAILURES = 20


class Unplayable(Exception):
    """A track that cannot be decoded (HTTP 422); the message says which and why."""


class Library:
    """The served library.

    Parameters
    ----------
    root : path
        The music folder.
    cache_dir : path
        The feature cache; below it, ``serve/<library>/`` holds this library's judgements and retrained models.
    model : path or None
        A taste model to rank with until the library has a retrained one (never overwritten).
    likes : path or None
        A likes list (as ``train --likes``) whose labels (and weights) count as judgements from the start.
    train_options : dict
        ``TrainConfig`` fields for retraining (``max_epochs``, ``folds``, ...).
    log : callable or None
        Prints a line for the listener's terminal (start-up progress, broken files); None: silent.
    runtime : {"light", "keras"}
        What runs the network to rank and embed (``checkpoint.load``); retraining always uses Keras.
    """

    def __init__(self, root, cache_dir, model=None, likes=None, train_options=None, log=None, runtime="light"):
        from ..audio.scan import scan

        self.root = Path(root).resolve()
        self.cache_dir = Path(cache_dir)
        self.home = library_home(self.cache_dir, self.root)
        self.model_path = Path(model) if model else None
        self.train_options = dict(train_options or {})
        self.log = log or (lambda text: None)
        self.runtime = runtime
        self.paths = [str(p) for p in scan(self.root)]
        self.id_of = {p: i for i, p in enumerate(self.paths)}
        self.info = [{"artist": "", "album": "", "title": Path(p).stem} for p in self.paths]
        self.scores: dict[int, dict] = {}
        self.failed: dict[int, str] = {}
        self.playable: set[int] = set()
        self.V: np.ndarray | None = None
        self.report: dict | None = None
        self.saved = None
        self.store = Judgements(self.home / "judgements.sqlite", legacy=self.cache_dir / "serve" / "judgements.sqlite",
                                under=str(self.root))
        self.versions = Versions(self.home / "models")
        self.listed: dict[str, tuple[int, float, str]] = {}
        if likes is not None:
            from ..players.playlists import read_labelled

            extras: dict = {}
            for p, lab in read_labelled(likes, 1, extras):
                if p in self.id_of:
                    weight, signal = extras.get(p, (1.0, "list"))
                    self.listed[p] = (lab, float(weight), signal or "list")
        self.lock = threading.Lock()
        self.job: threading.Thread | None = None
        self.status = {"job": None, "phase": "", "done": 0, "total": 0, "message": "", "error": "", "version": 0,
                       "model": "none", "candidate": None, "previous": None, "map": None}
        self.quick: np.ndarray | None = None
        self.map = MapDrawer(self)

    # ---- labels and the queue ------------------------------------------------------------------
    def labelled(self) -> dict[int, tuple[int, float, str]]:
        """``{id: (label, weight, signal)}``: the likes list, overridden by the judgements."""
        merged = {**self.listed, **self.store.weighted()}  # a radio's skips and completions with their weights
        return {self.id_of[p]: v for p, v in merged.items() if p in self.id_of}

    def labels(self) -> dict[int, int]:
        """``{id: label}`` of :meth:`labelled`."""
        return {i: v[0] for i, v in self.labelled().items()}

    def judge(self, track_id: int, label: int | None) -> None:
        self.store.add(self.paths[track_id], label)
        self.refit()

    def refit(self) -> None:
        """Refit the quick learner on the embeddings (milliseconds): the queue follows every answer."""
        if self.V is not None:
            self.quick = active.fit(self.V, self.labels())

    def ask(self, n: int, mode: str) -> list[int]:
        if self.V is None:  # not analysed yet: the top of the ranking, else the scan order
            done = set(self.labels()) | set(self.failed)
            order = sorted(self.scores, key=lambda i: -self.scores[i]["score"]) or range(len(self.paths))
            return [i for i in order if i not in done][:n]
        groups = [i["album"] or os.path.dirname(p) for i, p in zip(self.info, self.paths)]
        return active.ask(self.V, self.labels(), n, p=self.quick, groups=groups, mode=mode, exclude=set(self.failed))

    def unplayable(self, track_id: int, reason: str) -> Unplayable:
        """Mark a track that failed to decode (kept out of the queue from now on); the error to raise."""
        self.failed[track_id] = reason
        return Unplayable(f"{os.path.basename(self.paths[track_id])}: {reason}")

    def check_playable(self, track_id: int) -> str:
        """The real path of a track that decodes; :class:`Unplayable` (and marked so) when it does not."""
        if track_id in self.failed:
            raise Unplayable(f"{os.path.basename(self.paths[track_id])}: {self.failed[track_id]}")
        real = os.path.realpath(self.paths[track_id])
        if track_id not in self.playable:
            from ..audio.decode import open_audio

            try:
                src = open_audio(real)
                next(src.blocks, None)  # the first block decodes too
                src.blocks.close()
            except AudioError as exc:
                raise self.unplayable(track_id, exc.reason) from None
            self.playable.add(track_id)
        return real

    # ---- jobs -----------------------------------------------------------------------------------
    def start(self, name: str, work) -> bool:
        """Run ``work()`` in the background unless a job runs (then False)."""
        with self.lock:
            if self.job is not None and self.job.is_alive():
                return False
            self.status.update(job=name, phase="starting", done=0, total=0, message="", error="")
            self.job = threading.Thread(target=self._run, args=(name, work), daemon=True, name=f"pers_rec {name}")
            self.job.start()
            return True

    def _run(self, name, work) -> None:
        def progress(desc, done, total):
            self.status.update(phase=desc, done=done, total=total)

        t0 = time.perf_counter()
        try:
            with listening(progress):
                work()
            self.status.update(message=f"{name} done in {time.perf_counter() - t0:.0f} s")
        except PersRecError as exc:
            self.status.update(error=f"{name}: {exc}")
            self.log(f"pers-rec serve: {name}: {printable(str(exc))}")
        except Exception as exc:  # noqa: BLE001 (a bug must not kill the server; the page shows it)
            traceback.print_exc()
            self.status.update(error=f"{name} failed: {type(exc).__name__}: {exc}")
        finally:
            self.status.update(job=None, phase="", version=self.status["version"] + 1)

    def analyse(self) -> None:
        """Tags, embeddings, the quick learner and the ranking (the library's retrained model, else ``--model``)."""
        from ..audio.cache import opened
        from ..config import FeatureConfig
        from ..library.embed import Embedder, vectors
        from ..library.encoders import encoder_for
        from ..library.workflows import vectors_and_scores
        from ..progress import bar

        with bar(len(self.paths), "tags", "track", True) as b:
            for i, p in enumerate(self.paths):
                t = tags.read(p)
                self.info[i] = {"artist": t.get("artist", ""), "album": t.get("album", ""),
                                "title": t.get("title", "") or Path(p).stem}
                b.update()
        self.log("pers-rec serve: loading the network (the first answer takes a few seconds)")
        with opened(self.cache_dir) as cache:
            saved, origin = self._start_model()
            if saved is not None:  # one pass: the ranking model's first member gives the vectors its scores use
                embedder = Embedder(saved)
                ok, V, failed, df = vectors_and_scores(self.paths, saved, embedder, cache=cache, progress=True)
                self._ranked(saved, df)
            else:
                embedder = encoder_for(self.root, None, self.cache_dir, FeatureConfig(), runtime=self.runtime)
                ok, V, failed, _ = vectors(self.paths, embedder, cache=cache, jobs=None, progress=True)
            full = np.zeros((len(self.paths), V.shape[1] if len(V) else embedder.dim), np.float32)
            for p, v in zip(ok, V):
                full[self.id_of[p]] = v
            self.playable |= {self.id_of[p] for p in ok}
            self.failed.update({self.id_of[str(p)]: exc.reason for p, exc in failed if str(p) in self.id_of})
            self.V = full
            self.refit()
            self._say_failed()
            self.status["version"] += 1  # the page reloads its list: tags and the quick learner's order are in
            if saved is not None:
                self.status["model"] = origin.name if origin == self.model_path else "retrained"
        self._roles()

    def _start_model(self):
        """``(saved, path)`` of the model to rank with: the library's current retrained model (a damaged one is
        said and skipped), else ``--model``, else ``(None, None)``."""
        from ..model import checkpoint

        current = self.versions.path("current")
        if current is not None:
            try:
                saved = checkpoint.load(current, runtime=self.runtime)
                self.log(f"pers-rec serve: ranking with the model retrained here ({current})")
                return saved, current
            except PersRecError as exc:
                self.log(f"pers-rec serve: warning: {printable(str(exc))}; using --model instead")
        if self.model_path is None:
            return None, None
        return checkpoint.load(self.model_path, runtime=self.runtime), self.model_path

    def _say_failed(self) -> None:
        if not self.failed:
            return
        self.log(f"pers-rec serve: {len(self.failed)} of {len(self.paths)} files cannot be played or analysed "
                 "(left out of the queue):")
        for i in sorted(self.failed)[:SHOWN_FAILURES]:
            self.log(f"  {printable(self.paths[i])}: {printable(self.failed[i])}")
        if len(self.failed) > SHOWN_FAILURES:
            self.log(f"  and {len(self.failed) - SHOWN_FAILURES} more")

    def _rank(self, saved, cache) -> None:
        from ..library import rank
        self._ranked(saved, rank.rank(self.paths, saved, cache=cache, progress=True))

    def _ranked(self, saved, df) -> None:
        """The page's scores from ``saved``'s ranking table ``df``."""
        scores = {}
        for r in df[df["status"] == "ok"].itertuples():
            scores[self.id_of[r.path]] = {"score": float(r.score), "rank": int(r.rank),
                                          "best_start_s": float(r.best_start_s), "best_end_s": float(r.best_end_s),
                                          "duration_s": float(r.duration_s)}
        self.scores = scores
        self.report = summary(saved)
        self.saved = saved  # the model the ranking came from: explain uses it, loaded once

    def _roles(self) -> None:
        """The page's view of the other models: what going back or taking the candidate would give."""
        for role in ("previous", "candidate"):
            self.status[role] = self.versions.describe(role, self.model_path)

    def retrain(self, keep_model_likes: bool = True) -> None:
        """Train the taste model on the judgements, the likes list and (``keep_model_likes``) the tracks the
        current model was trained on as likes and dislikes, the rest of the library as unlabelled negatives,
        starting from the current model's feature and network settings (:func:`retrain.retrain`). The new model
        ranks the library when its cross-validated ROC-AUC is not worse than the current one's; else it is kept
        as the candidate."""
        from ..audio.cache import opened
        from ..library.retrain import retrain

        rows = self.training_rows(keep_model_likes)
        if sum(v[0] for v in rows.values()) < 2:
            raise PersRecError("retrain needs at least 2 liked tracks: give a thumbs up to a few more")
        old = (self.report or {}).get("roc_auc")
        saved, _, role, new = retrain(self.paths, self.root, self.cache_dir, rows, self.saved, self.versions,
                                      self.train_options, old, progress=True)
        if role == "current":
            with opened(self.cache_dir) as cache:
                self._rank(saved, cache)
            self.status["model"] = "retrained"
            self.log(f"pers-rec serve: retrained ({fmt(new)} cross-validated ROC-AUC, was {fmt(old)}); "
                     "ranking with it")
        else:
            self.status["message"] = ""
            self.log(f"pers-rec serve: the retrained model cross-validates at {fmt(new)}, below the current "
                     f"{fmt(old)}: kept as a candidate, the ranking unchanged")
        self._roles()

    def training_rows(self, keep_model_likes: bool = True) -> dict[str, tuple[int, float, str]]:
        """``{path: (label, weight, signal)}`` a retrain learns from (:func:`retrain.training_rows`): the ranking
        model's own likes and dislikes (``keep_model_likes``), then the likes list, then the judgements."""
        from ..library.retrain import training_rows

        return training_rows(self.saved, {self.paths[i]: v for i, v in self.labelled().items()}, keep_model_likes)

    def use(self, role: str) -> None:
        """Rank with the ``previous`` or ``candidate`` model (the listener's click); the current one becomes
        ``previous``. Runs as a job."""
        from ..audio.cache import opened
        from ..model import checkpoint

        self.versions.use(role)
        path = self.versions.path("current") or self.model_path
        if path is None:
            self.scores, self.report, self.saved = {}, None, None
            self.status["model"] = "none"
        else:
            with opened(self.cache_dir) as cache:
                self._rank(checkpoint.load(path, runtime=self.runtime), cache)
            self.status["model"] = "retrained" if path != self.model_path else path.name
        self._roles()
