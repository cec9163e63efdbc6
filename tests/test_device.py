"""Forcing the CPU, and describing the device (no GPU is needed for any test)."""

import subprocess
import sys


def test_force_cpu_hides_gpus_and_must_come_first():
    code = ("import os\nfrom pers_rec.device import force_cpu, describe\nforce_cpu()\n"
            "assert os.environ['CUDA_VISIBLE_DEVICES'] == '' and os.environ['JAX_PLATFORMS'] == 'cpu'\n"
            "import keras\nprint(describe())\n"
            "try:\n    force_cpu()\nexcept RuntimeError:\n    print('refused')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["cpu", "refused"]
