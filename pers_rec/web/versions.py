"""The taste models ``pers-rec serve`` retrained for one library: which one ranks, which came before, which waits.

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
        from ..checkpoint import read_meta
        from ..errors import PersRecError

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
