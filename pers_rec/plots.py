"""Figures without side effects: no pyplot, no ``matplotlib.use``, nothing left open, text drawn as written.

Every PNG pers_rec writes is drawn on a :class:`matplotlib.figure.Figure` made here, not through pyplot, so
using pers_rec from a Jupyter kernel never switches its backend or leaves figures behind; drawing functions take
the ``Axes`` to draw on (librosa.display's habit), so a notebook can put them on its own figures. Names and tags
are shown as they are: ``$`` in a file name is a dollar sign, never the start of math text.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

#: Settings every figure is drawn with: text is never parsed as math (``$5 and $6.wav``), whatever the rcParams.
RC = {"text.parse_math": False}


@contextmanager
def figure(path: str | os.PathLike, *, dpi: int = 90, **kwargs) -> Iterator:
    """A new figure (``kwargs`` go to :class:`~matplotlib.figure.Figure`), written as a PNG to ``path``, atomically,
    when the block ends without an error.

    Examples
    --------
    >>> with figure("curves.png", figsize=(6, 3)) as fig:  # doctest: +SKIP
    ...     ax = fig.subplots()
    ...     ax.plot([0, 1])
    """
    import matplotlib
    from matplotlib.figure import Figure

    from .fileio import atomic_path

    with matplotlib.rc_context(RC):
        fig = Figure(**kwargs)
        yield fig
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
