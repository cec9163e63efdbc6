"""The real-music benchmark's data rules, on a made-up catalog (the soundtrack packages are never a test dependency)."""

import numpy as np

from experiments import realmusic_data as D


def test_excerpt_is_the_middle_120_s_rms_normalised():
    sr = 100
    y = np.arange(300 * sr, dtype=np.float32) % 7 - 3.0
    y[: 90 * sr] = 0  # only the middle may be taken
    out = D.excerpt(y, sr)
    start = (len(y) - 120 * sr) // 2
    mid = y[start : start + 120 * sr]
    assert len(out) == 120 * sr and out.dtype == np.float32
    assert np.allclose(out, mid * (10 ** (D.TARGET_DBFS / 20) / np.sqrt(np.mean(mid.astype(np.float64) ** 2))), atol=1e-6)
    assert np.isclose(20 * np.log10(np.sqrt(np.mean(out.astype(np.float64) ** 2))), D.TARGET_DBFS, atol=1e-3)


def test_a_short_track_is_looped_and_a_loud_one_kept_below_full_scale():
    sr = 100
    y = np.r_[np.full(50 * sr, 0.01, np.float32), np.full(sr, 1.0, np.float32)]  # mostly quiet, one loud second
    out = D.excerpt(y, sr)
    assert len(out) == 120 * sr
    assert np.array_equal(out[: len(y)] / out[0], out[len(y) : 2 * len(y)] / out[0])  # the loop repeats the track
    assert np.abs(out).max() <= 0.99 + 1e-6  # peak ceiling wins over the RMS target


def _catalog():
    rows = []
    spec = {"widelands-data": ("orchestral", 20), "supertux-data": ("orchestral", 12), "hedgewars-data": ("cartoon", 16),
            "redeclipse-data": ("electronic", 12), "freedroidrpg-data": ("electronic", 12), "xmoto-data": ("electronic", 6),
            "supertuxkart-data": ("kart", 30), "scorched3d-data": ("other", 3)}
    for pkg, (style, n) in spec.items():
        for i in range(n):
            rows.append({"id": f"{pkg}-{i:02d}", "package": pkg, "style": style, "duration_s": 100.0 + i,
                         "orig_sr": 44100, "format": "OGG"})
    return rows


def test_tasks_are_disjoint_and_cross_source_tasks_change_source():
    rows = _catalog()
    pkg = {r["id"]: r["package"] for r in rows}
    tasks = D.make_tasks(rows)
    assert len(tasks) == 6 and sum(t.kind == "cross-source" for t in tasks) == 4
    for t in tasks:
        train, test = set(t.train_pos + t.train_neg), set(t.test_pos + t.test_neg)
        assert not train & test and t.train_pos and t.test_pos and t.train_neg and t.test_neg
        if t.kind == "cross-source":
            assert not {pkg[i] for i in t.train_pos} & {pkg[i] for i in t.test_pos}
            liked_pkgs = {pkg[i] for i in t.train_pos + t.test_pos}
            assert not liked_pkgs & {pkg[i] for i in t.train_neg + t.test_neg}  # no same-style package as a negative
    few = next(t for t in tasks if t.name == "cartoon-4-likes")
    assert len(few.train_pos) == 4 and len(few.test_pos) == 12
    assert [t.train_pos for t in D.make_tasks(rows)] == [t.train_pos for t in tasks]  # deterministic
