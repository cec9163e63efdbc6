"""What ``pers-rec serve`` knows of the library, and the jobs that keep it up to date.

The library is scanned once at start; every track gets an id (its index), and
the web pages name tracks only by id, never by path. A background job reads
the tags, the features (cached), the embeddings and, with a model, the
ranking; another retrains the taste model on the judgements. One job runs at a
time (a second request is refused with a message); each reports its progress
(:func:`progress.listening`) for the page's bar. Playing and judging never wait
for a job.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from .. import active, tags
from ..errors import PersRecError
from ..progress import listening
from .store import Judgements


class Library:
    """The served library.

    Parameters
    ----------
    root : path
        The music folder.
    cache_dir : path
        The feature cache; the judgements (``serve/judgements.sqlite``) and retrained models
        (``serve/model.keras``) live below it.
    model : path or None
        A taste model to rank with at start (never overwritten).
    likes : path or None
        A likes list (as ``train --likes``) whose labels count as judgements from the start.
    train_options : dict
        ``TrainConfig`` fields for retraining (``max_epochs``, ``folds``, ...).
    """

    def __init__(self, root, cache_dir, model=None, likes=None, train_options=None):
        from ..scan import scan

        self.root = Path(root).resolve()
        self.cache_dir = Path(cache_dir)
        self.model_path = Path(model) if model else None
        self.train_options = dict(train_options or {})
        self.paths = [str(p) for p in scan(self.root)]
        self.id_of = {p: i for i, p in enumerate(self.paths)}
        self.info = [{"artist": "", "album": "", "title": Path(p).stem} for p in self.paths]
        self.scores: dict[int, dict] = {}
        self.V: np.ndarray | None = None
        self.report: dict | None = None
        self.saved = None
        self.store = Judgements(self.cache_dir / "serve" / "judgements.sqlite")
        self.listed: dict[str, int] = {}
        if likes is not None:
            from ..playlists import read_labelled

            self.listed = {p: lab for p, lab in read_labelled(likes, 1) if p in self.id_of}
        self.lock = threading.Lock()
        self.job: threading.Thread | None = None
        self.status = {"job": None, "phase": "", "done": 0, "total": 0, "message": "", "error": "", "version": 0}
        self.quick: np.ndarray | None = None

    # ---- labels and the queue ------------------------------------------------------------------
    def labels(self) -> dict[int, int]:
        """``{id: label}``: the likes list, overridden by the judgements."""
        merged = {**self.listed, **self.store.labels()}
        return {self.id_of[p]: lab for p, lab in merged.items() if p in self.id_of}

    def judge(self, track_id: int, label: int | None) -> None:
        self.store.add(self.paths[track_id], label)
        self.refit()

    def refit(self) -> None:
        """Refit the quick learner on the embeddings (milliseconds): the queue follows every answer."""
        if self.V is not None:
            self.quick = active.fit(self.V, self.labels())

    def ask(self, n: int, mode: str) -> list[int]:
        if self.V is None:  # not analysed yet: the top of the ranking, else the scan order
            done = set(self.labels())
            order = sorted(self.scores, key=lambda i: -self.scores[i]["score"]) or range(len(self.paths))
            return [i for i in order if i not in done][:n]
        groups = [i["album"] or os.path.dirname(p) for i, p in zip(self.info, self.paths)]
        return active.ask(self.V, self.labels(), n, p=self.quick, groups=groups, mode=mode)

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
        except Exception as exc:  # noqa: BLE001 (a bug must not kill the server; the page shows it)
            traceback.print_exc()
            self.status.update(error=f"{name} failed: {type(exc).__name__}: {exc}")
        finally:
            self.status.update(job=None, phase="", version=self.status["version"] + 1)

    def analyse(self) -> None:
        """Tags, embeddings, the quick learner and (with a model) the ranking."""
        from ..cache import open_cache
        from ..cli.embedding import encoder_for
        from ..config import FeatureConfig
        from ..embed import vectors

        self.status.update(phase="tags", total=len(self.paths))
        for i, p in enumerate(self.paths):
            t = tags.read(p)
            self.info[i] = {"artist": t.get("artist", ""), "album": t.get("album", ""),
                            "title": t.get("title", "") or Path(p).stem}
            self.status["done"] = i + 1
        cache = open_cache(self.cache_dir)
        try:
            embedder = encoder_for(self.root, self.model_path, self.cache_dir, FeatureConfig())
            ok, V, _, _ = vectors(self.paths, embedder, cache=cache, jobs=None, progress=True)
            full = np.zeros((len(self.paths), V.shape[1] if len(V) else embedder.dim), np.float32)
            for p, v in zip(ok, V):
                full[self.id_of[p]] = v
            self.V = full
            self.refit()
            self.status["version"] += 1  # the page reloads its list: tags and the quick learner's order are in
            if self.model_path is not None:
                from .. import checkpoint

                self._rank(checkpoint.load(self.model_path), cache)
        finally:
            if cache is not None:
                cache.close()

    def _rank(self, saved, cache) -> None:
        from .. import rank as R

        df = R.rank(self.paths, saved, cache=cache, progress=True)
        scores = {}
        for r in df[df["status"] == "ok"].itertuples():
            scores[self.id_of[r.path]] = {"score": float(r.score), "rank": int(r.rank),
                                          "best_start_s": float(r.best_start_s), "best_end_s": float(r.best_end_s),
                                          "duration_s": float(r.duration_s)}
        self.scores = scores
        rep = saved.report
        if rep is not None:
            cv = rep.cross_validation
            self.report = {"roc_auc": cv.model.roc_auc_mean, "roc_auc_std": cv.model.roc_auc_std,
                           "baseline": cv.baseline.roc_auc_mean, "tracks": len(rep.tracks), "liked": rep.n_liked,
                           "blend": rep.blend.chosen if rep.blend else "network"}
        self.saved = saved  # the model the ranking came from: explain uses it, loaded once

    def retrain(self) -> None:
        """Train the taste model on the judgements (and the likes list), the rest of the library as unlabelled
        negatives; store it under the cache folder, then rank the library with it."""
        from .. import checkpoint
        from .. import train as T
        from ..cache import open_cache
        from ..cli.train import pretrained_for
        from ..config import FeatureConfig, ModelConfig, TrainConfig
        from ..dataset import gather
        from ..fileio import write_text
        from ..signals import write_csv

        labels = self.labels()
        if sum(labels.values()) < 2:
            raise PersRecError("retrain needs at least 2 liked tracks: give a thumbs up to a few more")
        listed = self.cache_dir / "serve" / "labels.csv"
        write_csv(listed, [(self.paths[i], lab, 1.0, "serve") for i, lab in sorted(labels.items())])
        cfg, mcfg = FeatureConfig(), ModelConfig()
        tcfg = TrainConfig(**self.train_options)
        cache = open_cache(self.cache_dir)
        try:
            tracks, failed = gather(listed, None, self.root, cfg, unlabelled_per_like=tcfg.unlabelled_per_like,
                                    seed=tcfg.seed, cache=cache, progress=True)
            pre, tcfg = pretrained_for([Path(p) for p in self.paths], self.cache_dir, cfg, mcfg, tcfg,
                                       False)
            saved = T.train(tracks, cfg, mcfg, tcfg, progress=True, failed=failed, pretrained=pre)
            out = self.cache_dir / "serve" / "model.keras"
            checkpoint.save(out, saved)
            write_text(out.with_suffix(".json"), saved.report.to_json())
            self._rank(saved, cache)
        finally:
            if cache is not None:
                cache.close()
