"""Retraining the taste model on what a listener said (``serve``'s thumbs, the radio's skips and completions): the
use-case both faces share, the models it keeps, and a retrainer that runs in the background.

:func:`retrain` trains on ``{path: (label, weight, signal)}`` (the rest of the library as unlabelled negatives),
starting from the ranking model's own feature and network settings, and files the result with :class:`Versions`:
it ranks only when its cross-validated ROC-AUC is not worse than the current model's. :class:`Background` runs
it in a child process (TensorFlow is loaded there and given back when it ends) once enough new labels have
arrived, never two at once.

Each retrained model is a file ``models/NNNN.keras`` (with its ``.json`` report) in the library's serve folder,
and ``models/state.json`` (written atomically) names three of them:

- ``current``: the model that ranks the library (None: the ``--model`` given, if any);
- ``previous``: the one it replaced, so the page can go back in one click (and forth again: they swap);
- ``candidate``: a retrained model whose cross-validated ROC-AUC was worse than the current one's; it is kept,
  and ranks only when the listener says so.

Models that none of the three names are deleted, so the folder holds at most three. A restart reads the state
and ranks with ``current`` again.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..fileio import write_text

ROLES = ("current", "previous", "candidate")


@dataclass
class State:
    """File names (in the models folder) of the three roles; None where no retrained model holds it.

    ``start`` stands for the ``--model`` the server was started with (the ranking before any retrain)."""

    current: str | None = None
    previous: str | None = None
    candidate: str | None = None


class Versions:
    """The models folder ``folder`` of one library (created when missing)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.state = self._read()

    def _read(self) -> State:
        try:
            d = json.loads((self.folder / "state.json").read_text(encoding="utf-8"))
            st = State(**{k: d.get(k) for k in ROLES})
        except (OSError, ValueError, TypeError):
            return State()
        for role in ROLES:  # a name that is not a model file here (edited, deleted) holds nothing
            name = getattr(st, role)
            if name is not None and name != "start" and (not isinstance(name, str) or os.path.basename(name) != name
                                                         or not (self.folder / name).is_file()):
                setattr(st, role, None)
        return st

    def path(self, role: str) -> Path | None:
        name = getattr(self.state, role)
        return None if name is None or name == "start" else self.folder / name

    def new_path(self) -> Path:
        """Where the next retrained model goes (``NNNN.keras``, one more than any there)."""
        numbers = [int(p.stem) for p in self.folder.glob("*.keras") if p.stem.isdigit()]
        return self.folder / f"{max(numbers, default=0) + 1:04d}.keras"

    def accept(self, path: Path, better: bool) -> str:
        """Record the retrained model at ``path``: it becomes ``current`` when ``better`` (the old current becomes
        ``previous``), else ``candidate``. Returns the role it took."""
        if better:
            self.state.previous = self.state.current or "start"
            self.state.current, self.state.candidate = path.name, None
        else:
            self.state.candidate = path.name
        self._save()
        return "current" if better else "candidate"

    def use(self, role: str) -> None:
        """Make ``previous`` or ``candidate`` the current model (the current one becomes ``previous``)."""
        if role not in ("previous", "candidate") or getattr(self.state, role) is None:
            raise LookupError(f"no {role} model")
        new = getattr(self.state, role)
        if role == "candidate":
            self.state.candidate = None
        self.state.previous = self.state.current or "start"
        self.state.current = None if new == "start" else new
        self._save()

    def describe(self, role: str, start: Path | None) -> dict | None:
        """``{"name", "roc_auc"}`` of the model in ``role`` (``start``: the ``--model``), None when there is none."""
        from ..errors import PersRecError
        from ..model.checkpoint import read_meta

        name = getattr(self.state, role)
        path = start if name == "start" else self.path(role)
        if name == "start" and start is None:
            return {"name": "no model", "roc_auc": None}  # going back unranks the list (the quick learner orders it)
        if path is None:
            return None
        try:
            rep = read_meta(path).get("report") or {}
            cv = rep.get("cross_validation", {}).get("model", {}).get("roc_auc_mean")
        except (PersRecError, AttributeError):
            cv = None
        return {"name": "the --model" if name == "start" else name, "roc_auc": cv}

    def _save(self) -> None:
        write_text(self.folder / "state.json", json.dumps(asdict(self.state), indent=1))
        keep = {n for n in asdict(self.state).values() if n}
        for p in self.folder.glob("*.keras"):
            if p.name not in keep:
                p.unlink(missing_ok=True)
                p.with_suffix(".json").unlink(missing_ok=True)


def summary(saved) -> dict | None:
    """The header's figures of a model's report (None for a model without one)."""
    rep = saved.report
    if rep is None:
        return None
    cv = rep.cross_validation
    return {"roc_auc": cv.model.roc_auc_mean, "roc_auc_std": cv.model.roc_auc_std,
            "baseline": cv.baseline.roc_auc_mean, "tracks": len(rep.tracks), "liked": rep.n_liked,
            "blend": rep.blend.chosen if rep.blend else "network"}


def fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def training_rows(saved, labelled: dict, keep_model_likes: bool = True) -> dict[str, tuple[int, float, str]]:
    """``{path: (label, weight, signal)}`` a retrain learns from: the tracks ``saved`` (the ranking model) was
    trained on as likes and dislikes (``keep_model_likes``; those that still exist, with their weights), overridden
    by ``labelled`` (the likes list, then the judgements: ``{path: (label, weight, signal)}``)."""
    rows = dict(labelled)
    if keep_model_likes and saved is not None and getattr(saved, "report", None) is not None:
        own = {t.path: (t.label, t.weight, t.signal or "model") for t in saved.report.tracks
               if t.source in ("like", "dislike") and os.path.isfile(t.path)}
        rows = {**own, **rows}
    return rows


def retrain(paths: list[str], root, cache_dir, rows: dict, base, versions: Versions, train_options=None,
            old_auc: float | None = None, progress: bool = False):
    """Train on ``rows`` ``{path: (label, weight, signal)}`` from ``base``'s settings (a :class:`checkpoint.SavedModel`
    or None: the defaults), save the model in ``versions``' folder and file it. Returns ``(saved, path, role,
    new_auc)``; ``role`` is ``"current"`` (rank with it) or ``"candidate"`` (worse than ``old_auc``)."""
    from ..audio.cache import opened
    from ..config import FeatureConfig, ModelConfig, TrainConfig
    from ..errors import PersRecError
    from ..learn import train
    from ..learn.dataset import gather
    from ..model import checkpoint
    from .encoders import start_weights
    from .workflows import start_vectors

    if sum(v[0] for v in rows.values()) < 2:
        raise PersRecError("retraining needs at least 2 liked tracks")
    cfg = base.cfg if base is not None else FeatureConfig()
    mcfg = base.mcfg if base is not None else ModelConfig()
    tcfg = TrainConfig(**dict(train_options or {}))
    with opened(cache_dir) as cache:
        tracks, failed = gather(dict(rows), None, root, cfg, unlabelled_per_like=tcfg.unlabelled_per_like,
                                seed=tcfg.seed, cache=cache, progress=progress)
        pre, tcfg = start_weights([Path(p) for p in paths], cache_dir, cfg, mcfg, tcfg)
        saved = train.train(tracks, cfg, mcfg, tcfg, progress=progress, failed=failed, pretrained=pre,
                            encoder_vectors=start_vectors(tracks, pre, cfg, mcfg, cache))
    out = versions.new_path()
    checkpoint.save(out, saved)
    write_text(out.with_suffix(".json"), saved.report.to_json())
    new = (summary(saved) or {}).get("roc_auc")
    role = versions.accept(out, better=old_auc is None or (new is not None and new >= old_auc))
    return saved, out, role, new


def _child(job: dict) -> tuple:
    """One retrain from plain values; ``("ok", path, role, roc_auc)`` or ``("error", reason, None, None)``."""
    try:
        base = None
        if job["model"]:
            from ..model.checkpoint import load

            base = load(job["model"], runtime="light")
        _, out, role, new = retrain(job["paths"], job["root"], job["cache_dir"], job["rows"], base,
                                    Versions(job["models"]), job["options"], job["old_auc"])
        return ("ok", str(out), role, new)
    except Exception as exc:  # noqa: BLE001 (said to the parent in one line)
        from ..errors import printable

        return ("error", printable(f"{type(exc).__name__}: {exc}")[:300], None, None)


class Background:
    """Retrain in a child process once ``after`` new labels have arrived since the last start; one at a time.

    ``job()`` returns the retrain's arguments (a dict of plain values, see :func:`_child`) at the moment it starts;
    ``done(path, role, roc_auc)`` is called in a thread of this process with the result (path None: it failed,
    ``role`` then holds the reason). The child is a fresh interpreter (``python -m pers_rec.library.retrain``):
    TensorFlow loads there and its memory is given back when it ends."""

    def __init__(self, after: int, job, done, count_now: int = 0):
        import threading

        self.after, self.job, self.done = after, job, done
        self.last = count_now
        self.running = threading.Event()
        self.runs = 0

    def check(self, count: int) -> bool:
        """Start a retrain when ``count`` (the store's judgements) is ``after`` or more past the last start and none
        runs; returns whether one started."""
        if self.after <= 0 or self.running.is_set() or count - self.last < self.after:
            return False
        import subprocess
        import sys
        import tempfile
        import threading

        self.last, self.runs = count, self.runs + 1
        self.running.set()
        job = self.job()
        fd, name = tempfile.mkstemp(prefix="pers_rec_retrain_", suffix=".json")
        os.close(fd)  # written below by name; an open descriptor per retrain would leak
        spec = Path(name)
        spec.write_text(json.dumps({**job, "rows": [[p, *v] for p, v in job["rows"].items()]}), encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-m", "pers_rec.library.retrain", str(spec)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)

        def wait():
            try:
                out, _ = proc.communicate()
                try:
                    status, what, role, new = json.loads(out.strip().splitlines()[-1])
                except (ValueError, IndexError, TypeError):
                    status, what, role, new = "error", f"the retraining process ended ({proc.returncode})", None, None
                self.done(Path(what) if status == "ok" else None, role if status == "ok" else what, new)
            finally:
                spec.unlink(missing_ok=True)
                self.running.clear()

        threading.Thread(target=wait, daemon=True, name="retrain-wait").start()
        return True


def main(argv=None) -> int:
    """``python -m pers_rec.library.retrain JOB.json``: one retrain (the background child); prints the result as
    JSON."""
    import sys
    import warnings

    warnings.filterwarnings("ignore")
    job = json.loads(Path((argv or sys.argv[1:])[0]).read_text(encoding="utf-8"))
    job["rows"] = {p: (int(lab), float(w), str(sig)) for p, lab, w, sig in job["rows"]}
    print(json.dumps(_child(job)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
