"""``python -m pers_rec.cli``: the same as ``pers-rec``."""

from . import run

run()
