"""The library's map for ``pers-rec serve``'s page: t-SNE of the embeddings, drawn once per set of embeddings in
a thread of its own, because it takes about 10-35 s for 3,000 tracks on 2 cores and must never hold up a request.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np

#: At most this many tracks are drawn (the first ones of the scan that can be played).
MAX_POINTS = 3000


class MapDrawer:
    """The map of ``lib`` (a :class:`state.Library`): its ``V``, ``paths``, ``failed``, ``status`` and ``lock``."""

    def __init__(self, lib):
        self.lib = lib
        self._map: tuple[np.ndarray, tuple] | None = None
        self._thread: threading.Thread | None = None

    def points(self) -> tuple[str, object]:
        """``("ready", (ids, Y [shape=(n, 2)] in [0, 1]))`` when the map of the current embeddings is drawn, else
        ``("drawing", {"tracks", "elapsed_s"})``, its thread started if it was not running."""
        lib = self.lib
        V = lib.V
        if V is None:
            raise ValueError("the library is still being analysed")
        if self._map is not None and self._map[0] is V:
            return "ready", self._map[1]
        with lib.lock:
            if self._thread is None or not self._thread.is_alive():
                shown = min(len(lib.paths) - len(lib.failed), MAX_POINTS)
                lib.status["map"] = {"tracks": shown, "started": time.time()}
                self._thread = threading.Thread(target=self._draw, args=(V,), daemon=True, name="pers_rec map")
                self._thread.start()
        started = lib.status["map"] or {"tracks": 0, "started": time.time()}
        return "drawing", {"tracks": started["tracks"], "elapsed_s": round(time.time() - started["started"], 1)}

    def _draw(self, V) -> None:
        from ..library.maps import layout

        lib = self.lib
        try:
            ids = [i for i in range(len(lib.paths)) if i not in lib.failed][:MAX_POINTS]
            Y = layout(V[ids]) if len(ids) > 1 else np.full((len(ids), 2), 0.5)
            self._map = (V, (ids, Y))
        except Exception as exc:  # noqa: BLE001 (the page shows it; the server goes on)
            lib.status["error"] = f"map failed: {type(exc).__name__}: {exc}"
            print(f"pers-rec serve: map failed: {exc}", file=sys.stderr)
        finally:
            lib.status["map"] = None
