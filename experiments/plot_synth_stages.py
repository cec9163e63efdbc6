"""Figure: a log-mel spectrogram of one label-1 clip per synth stage -> ``results/synth_stages.png``."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import synth  # noqa: E402
from experiments.common import RESULTS  # noqa: E402
from pers_rec.audio import features as F  # noqa: E402
from pers_rec.fileio import atomic_path  # noqa: E402


def main() -> int:
    cfg = F.FeatureConfig(kind="logmel")
    panels = [(f"stage {k}: {synth.STAGES[k].__doc__.split('.')[0].split(',', 1)[1].strip()}", synth.stage(k, n=1, seed=1))
              for k in range(1, 9)]
    panels.append(("experiment 1: flute (1) / guitar (0)", synth.exp1(seed=1)))
    panels.append(("experiment 2: A then B (1)", synth.exp2(n=1, seed=1)))
    fig, axes = plt.subplots(5, 2, figsize=(13, 14), constrained_layout=True)
    for ax, (title, ds) in zip(axes.ravel(), panels):
        i = int(np.flatnonzero(ds.labels == 1)[0])
        S = F.compute(ds.clips[i], cfg).T
        ax.imshow(S, origin="lower", aspect="auto", cmap="magma", vmin=S.max() - 80, vmax=S.max(),
                  extent=(0, S.shape[1] / cfg.fps, 0, cfg.n_mels))
        row = ds.meta.iloc[i].drop(["clip", "label"]).to_dict()
        desc = ", ".join(f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}" for k, v in list(row.items())[:3])
        ax.set_title(f"{title}\nlabel 1: {ds.rule}; {desc}", fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("mel band")
    fig.suptitle("synth probe clips: log-mel spectrograms (64 bands, 0-12 kHz, 80 dB range)")
    out = RESULTS / "synth_stages.png"
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=80)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
