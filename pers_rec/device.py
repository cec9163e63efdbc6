"""Which device the Keras backend computes on, and how to force the CPU.

Keras 3 uses a GPU automatically whenever its backend sees one (TensorFlow
with CUDA, ``jax[cuda]``, a CUDA build of PyTorch). To force the CPU, hide the
GPUs *before* Keras is imported: ``CUDA_VISIBLE_DEVICES=`` in the environment,
``pers-rec --cpu ...`` on the command line, or :func:`force_cpu` in Python.
"""

from __future__ import annotations

import os
import sys


def force_cpu() -> None:
    """Hide every GPU from the backend; must run before Keras is imported."""
    if "keras" in sys.modules:
        raise RuntimeError("force_cpu() must be called before keras is imported")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ["JAX_PLATFORMS"] = "cpu"


def describe() -> str:
    """A short description of the device the current Keras backend uses, e.g. ``"cpu"`` or ``"gpu: NVIDIA H100"``."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return f"gpu: {len(gpus)} x {gpus[0].name}" if gpus else "cpu"
    if backend == "jax":
        import jax

        dev = jax.devices()[0]
        return f"{dev.platform}: {getattr(dev, 'device_kind', dev)}"
    if backend == "torch":
        import torch

        return f"gpu: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"
    return backend
