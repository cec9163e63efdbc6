"""``python -m experiments all|stages|exp1|exp2 [--quick]``: see ``experiments/staged.py``."""

import sys

from .staged import main

sys.exit(main())
