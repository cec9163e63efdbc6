"""``serve --mpd``: the radio inside MPD over the library ``serve`` holds, so the page and the player are one
listener's two hands. The radio's picks follow the page (a thumb, a retrained model) before every look at MPD,
and what MPD says (skips, completions) lands in the same judgements store, which the page's queue and its
next retrain read."""

from __future__ import annotations

import threading

import numpy as np

from ..radio.mpd_radio import MPDRadio
from ..radio.picker import Radio, Rules


def start(lib, connect, music_dir, log, rules: Rules | None = None, wait_s: float = 0.5
          ) -> tuple[threading.Event, dict]:
    """Start the radio in a thread once ``lib`` (a :class:`web.state.Library`) has its vectors. Returns
    ``(stop, holder)``: set ``stop`` to end it; ``holder["station"]`` is the :class:`MPDRadio` once it runs."""
    stop, holder = threading.Event(), {}

    def scores_of():
        return np.array([lib.scores[i]["score"] if i in lib.scores else np.nan for i in range(len(lib.paths))])

    def run():
        while lib.V is None and not stop.wait(wait_s):
            pass
        if stop.is_set():
            return
        seen = {"count": lib.store.count(), "saved": lib.saved}
        picker = Radio(lib.V, [i["artist"] for i in lib.info], [i["album"] for i in lib.info],
                       scores=scores_of() if lib.scores else None,
                       labelled={i: (lab, w) for i, (lab, w, _) in lib.labelled().items()}, rules=rules or Rules())

        def follow_the_page():
            count = lib.store.count()
            if count != seen["count"]:
                picker.relabel({i: (lab, w) for i, (lab, w, _) in lib.labelled().items()})
                seen["count"] = count
            if lib.saved is not seen["saved"]:  # retrained, or the page went back to another model
                picker.rescore(scores_of() if lib.scores else None)
                seen["saved"] = lib.saved

        station = MPDRadio(picker, lib.paths, music_dir, connect, store=lib.store, log=log,
                           before_step=follow_the_page)
        station.stop = stop
        holder["station"] = station
        log(f"pers-rec serve: the radio plays in MPD ({len(lib.paths)} tracks)")
        station.run()

    def guarded():
        try:
            run()
        except Exception as exc:  # noqa: BLE001 (a thread's end is said in one line; the page goes on serving)
            log(f"pers-rec serve: the radio stopped ({type(exc).__name__}: {exc}); the page goes on")

    threading.Thread(target=guarded, daemon=True, name="serve-radio").start()
    return stop, holder
