"""``python -m pers_rec.cli``: the same as ``pers-rec``."""

from pers_rec.cli import run

run()
