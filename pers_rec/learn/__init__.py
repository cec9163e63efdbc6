"""The learn wing: how the networks learn.

The listener's labelled tracks (``dataset``), training on them (``train``) or on genres (``genre``), contrastive
pre-training and distillation of the trunk (``pretrain``, ``distill``).
"""

from ..lazy import face

__getattr__, __dir__, __all__ = face(__name__, (
    "dataset", "train", "pretrain", "distill", "genre"
))
