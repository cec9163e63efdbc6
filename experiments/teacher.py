"""Prove the teacher's port: the original musicnn (TF1 code, in a throwaway environment) and ``pers_rec.model.teacher``
on the same audio; the largest differences of the 200-d penultimate vectors and of the 50 tag probabilities.

    python -m experiments.teacher            # builds the environment once (a few minutes), then compares

The environment (``$PERS_REC_TEACHER_VENV``, default ``~/.cache/pers_rec/musicnn-venv``) gets TensorFlow with
``tf-keras`` (the original's ``tf.compat.v1.layers`` need Keras 2, ``TF_USE_LEGACY_KERAS=1``), the librosa version of this project's
environment (so both compute the same mel spectrogram), and ``musicnn==0.1.0`` without its pinned dependencies.
Clips: synthetic songs made here, and real game-soundtrack excerpts when the real-music set has been built
(``experiments.realmusic_data``). Writes ``results/teacher.{md,json}`` and the test's reference,
``tests/data/teacher_reference.npz`` (one synthetic clip's input patches and the original's outputs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from experiments.common import RESULTS, environment

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("PERS_REC_TEACHER_VENV", Path.home() / ".cache" / "pers_rec" / "musicnn-venv"))
REFERENCE = ROOT / "tests" / "data" / "teacher_reference.npz"

#: Run by the throwaway environment's Python: the original network (musicnn's own graph and checkpoint, restored as
#: its extractor does) on the patches in argv[2], and the original extractor's own input patches of each clip.
_ORIGINAL = """
import os, sys, numpy as np, tensorflow as tf
from musicnn import extractor, models
given = np.load(sys.argv[2])
tf.compat.v1.reset_default_graph()
with tf.name_scope("model"):
    x = tf.compat.v1.placeholder(tf.float32, [None, 187, 96])
    is_training = tf.compat.v1.placeholder(tf.bool)
    logits, *_, penultimate = models.define_model(x, is_training, "MSD_musicnn", 50)
    tags = tf.nn.sigmoid(logits)
sess = tf.compat.v1.Session()
sess.run(tf.compat.v1.global_variables_initializer())
tf.compat.v1.train.Saver().restore(sess, os.path.join(os.path.dirname(models.__file__), "MSD_musicnn") + "/")
out = {}
for i, path in enumerate(sys.argv[3:]):
    X = given[f"input_{i}"]
    out[f"penultimate_{i}"], out[f"tags_{i}"] = sess.run([penultimate, tags], {x: X, is_training: False})
    out[f"input_{i}"] = extractor.batch_data(path, 187, 187)[0]
np.savez(sys.argv[1], **out)
"""


def build_venv() -> Path:
    py = VENV / "bin" / "python"
    if py.exists():
        return py
    import librosa

    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(py), "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + ["tensorflow", "tf-keras", f"librosa=={librosa.__version__}", "numpy"], check=True)
    subprocess.run(pip + ["--no-deps", "musicnn==0.1.0"], check=True)
    return py


def clips(folder: Path, n_real: int) -> list[tuple[str, Path]]:
    """(name, path) of the clips: 3 synthetic songs (16 kHz WAV) and up to ``n_real`` real excerpts."""
    import synth
    from synth.io import write

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    rng = np.random.default_rng(0)
    for lead in ("flute", "piano", "guitar"):
        y, _ = synth.random_song(synth.stages.SR, rng, lead, 10.0)
        out.append((f"synthetic {lead} song", write(folder / f"synth_{lead}.wav", y, synth.stages.SR)))
    try:
        from experiments import realmusic_data as D

        rows = D.read_catalog()
        real = [(f"{r['package']} {Path(r['path']).name}", D.excerpt_path(r)) for r in rows[:: max(1, len(rows) // 8)]]
        out += [(n, p) for n, p in real if p.exists()][:n_real]
    except Exception as exc:  # noqa: BLE001 - real clips are optional here
        print(f"teacher: no real clips ({exc})")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--real", type=int, default=3, help="real excerpts to compare (when built)")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    import librosa

    from pers_rec.model import teacher as T

    t0 = time.time()
    py = build_venv()
    work = VENV.parent / "teacher-clips"
    cl = clips(work, args.real)
    ref, given = work / "original.npz", work / "port_inputs.npz"
    audio = [librosa.load(c, sr=T.SR)[0] for _, c in cl]
    np.savez(given, **{f"input_{i}": T.patches(T.logmel(y)) for i, y in enumerate(audio)})
    subprocess.run([str(py), "-c", _ORIGINAL, str(ref), str(given), *map(str, [c for _, c in cl])], check=True,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "TF_USE_LEGACY_KERAS": "1"})
    orig = np.load(ref)
    teacher = T.Teacher()
    rows = []
    for i, ((name, _), y) in enumerate(zip(cl, audio)):
        pen, tags = teacher.track(y)
        theirs, ours = orig[f"input_{i}"], T.patches(T.logmel(y))
        finite = np.isfinite(theirs)
        d_in = float(np.abs(ours - theirs)[finite].max())
        overflow = float(1 - finite.mean())
        d_pen = float(np.abs(pen - orig[f"penultimate_{i}"]).max())
        d_tags = float(np.abs(tags - orig[f"tags_{i}"]).max())
        top = [T.TAGS[j] for j in np.argsort(-tags.mean(0))[:3]]
        rows.append({"clip": name, "patches": int(len(pen)), "max_abs_diff_input": d_in, "input_overflow": overflow,
                     "max_abs_diff_penultimate": d_pen, "max_abs_diff_tags": d_tags, "top_tags": top})
        print(f"{name}: {len(pen)} patches, input {d_in:.2e}, penultimate {d_pen:.2e}, tags {d_tags:.2e}; {top}")
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    first = np.load(given)["input_0"][:2]
    np.savez_compressed(REFERENCE, input=first, penultimate=orig["penultimate_0"][:2], tags=orig["tags_0"][:2])
    worst = {k: max(r[k] for r in rows) for k in ("max_abs_diff_penultimate", "max_abs_diff_tags")}
    res = {"env": environment(keras=True), "wall_s": round(time.time() - t0, 1), "clips": rows, "worst": worst,
           "target": 1e-4}
    out = Path(args.out)
    (out / "teacher.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = ["# The teacher's port against the original musicnn", "",
             "Written by `python -m experiments.teacher`: the original `musicnn` 0.1.0 network (`MSD_musicnn`, its own "
             "TF1 graph and checkpoint, in a separate environment with TensorFlow + tf-keras) and `pers_rec.model.teacher` "
             "on the same input patches (non-overlapping 3 s log-mel patches of each clip); and the original "
             "extractor's own input patches against the port's. Differences are the largest absolute difference "
             f"over every patch and every dimension. Target: at most {res['target']:g}.", "",
             "The original extractor's own input overflows to `inf` on loud bins under numpy 2 (it computes "
             "`10000 * x` on a float16 array, which numpy 2 keeps in float16, where the numpy it was written for "
             "promoted to float32): the port computes it in float32, as the model was trained, so the network is "
             "compared on the port's patches and the inputs on the bins where the original is finite (where they still "
             "differ by the float16 rounding of that product).", "",
             "| clip | patches | input log-mel (finite bins) | original's inf bins | 200-d penultimate | "
             "50 tag probabilities | top tags (port) |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['clip']} | {r['patches']} | {r['max_abs_diff_input']:.1e} | {100 * r['input_overflow']:.1f} % | "
              f"{r['max_abs_diff_penultimate']:.1e} | "
              f"{r['max_abs_diff_tags']:.1e} | {', '.join(r['top_tags'])} |" for r in rows]
    lines += ["", f"Worst: penultimate {worst['max_abs_diff_penultimate']:.1e}, tags {worst['max_abs_diff_tags']:.1e} "
              f"({'within' if max(worst.values()) <= res['target'] else 'OVER'} the target). Keras "
              f"{res['env'].get('keras', '?')} on the {os.environ.get('KERAS_BACKEND', 'tensorflow')} backend, CPU."]
    (out / "teacher.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if max(worst.values()) <= res["target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
