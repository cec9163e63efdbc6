"""Figures: a Figure of its own (no pyplot), written atomically, text never parsed as math."""

import matplotlib.image
import pytest

from pers_rec.plots import figure


def test_figure_writes_a_png_and_leaves_no_temporary(tmp_path):
    with figure(tmp_path / "f.png", figsize=(3, 2)) as fig:
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1])
        title = ax.set_title("cost $5 and $6")
    img = matplotlib.image.imread(tmp_path / "f.png")
    assert img.shape[:2] == (180, 270) and img.std() > 0  # 3 x 2 inches at 90 dpi
    assert title.get_parse_math() is False and [p.name for p in tmp_path.iterdir()] == ["f.png"]


def test_a_failed_drawing_writes_nothing(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with figure(tmp_path / "f.png"):
            1 / 0  # noqa: B018
    assert list(tmp_path.iterdir()) == []
