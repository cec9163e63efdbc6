"""``python -m pers_rec.cli``: the same as ``pers-rec``."""

import sys

from . import main

sys.exit(main())
