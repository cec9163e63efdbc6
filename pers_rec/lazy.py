"""Lazy faces for the wings: ``pers_rec.audio.features`` and ``from pers_rec.audio import features`` work as
usual, and importing a wing (``import pers_rec.audio``) loads none of its modules, as librosa's sub-packages do."""

from __future__ import annotations

import importlib


def face(package: str, modules: tuple[str, ...]):
    """``(__getattr__, __dir__, __all__)`` for the ``__init__`` of ``package``: each of its ``modules`` imported on
    first use as an attribute; any other name is an ``AttributeError`` naming the wing's modules."""

    def __getattr__(name: str):
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r} (its modules: {', '.join(modules)})")
        return importlib.import_module(f"{package}.{name}")

    def __dir__() -> list[str]:
        return sorted(modules)

    return __getattr__, __dir__, list(modules)
