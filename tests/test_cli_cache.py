"""``pers-rec cache``: info, prune and clear."""

import numpy as np

from pers_rec.audio import features as F
from pers_rec.audio.cache import open_cache
from pers_rec.cli.cache import cache_command


def test_cache_command_info_prune_clear(tmp_path, capsys):
    assert cache_command("info", tmp_path / "none") == 0
    assert "no cache at" in capsys.readouterr().out
    song = tmp_path / "s.wav"
    song.write_bytes(b"x")
    with open_cache(tmp_path / "c") as cache:
        cache.put(song, F.FeatureConfig(), song.stat(), np.zeros((2, 20), np.float32))
    song.unlink()
    cache_command("info", tmp_path / "c")
    assert "1 entries (0 failed files), 1 stale" in capsys.readouterr().out
    cache_command("prune", tmp_path / "c")
    assert "removed 1 stale or damaged entries" in capsys.readouterr().out
