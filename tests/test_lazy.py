"""The wings' lazy faces: a module loads on first use, as an attribute or an import, and a wrong name says which
modules the wing has."""

import subprocess
import sys

import pytest

from pers_rec.lazy import face


def test_a_face_imports_a_module_on_first_use_and_names_the_wing_modules():
    getattr_, dir_, all_ = face("pers_rec.audio", ("tags", "scan"))
    assert all_ == ["tags", "scan"] and dir_() == ["scan", "tags"]
    import pers_rec.audio.tags as tags

    assert getattr_("tags") is tags
    with pytest.raises(AttributeError, match=r"'pers_rec.audio' has no attribute 'decode' \(its modules: tags, scan\)"):
        getattr_("decode")


def test_attribute_access_and_from_imports_load_the_module_only_then():
    code = ("import sys, pers_rec.audio as wing; before = 'pers_rec.audio.tags' in sys.modules; "
            "tags = wing.tags; from pers_rec.audio import scan; "
            "print(before, tags.__name__, scan.__name__, 'pers_rec.audio.decode' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "pers_rec.audio.tags", "pers_rec.audio.scan", "True"]  # scan uses decode
