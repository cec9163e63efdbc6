"""Where a model's starting weights come from, and which encoder embeds a library: one home for the choice that
``train``, ``serve``'s retraining, the embedding commands and notebooks share.

The order, for both: a taste model's own trunk (embedding with ``--model``), else the library's pre-trained
encoder (``pers-rec pretrain``, found by the library's scan), else the encoder shipped with pers_rec (distilled
from the musicnn teacher).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace

from ..errors import ModelFileError, ParameterError


def start_weights(paths, pretrained_dir, cfg, mcfg, tcfg, *, log: Callable[[str], None] | None = None):
    """``(weights, tcfg)``: the weights every model starts from, and ``tcfg`` recording where they came from.

    Parameters
    ----------
    paths : list of paths or None
        The library's scan (finds its pre-trained weights); None: only the shipped encoder.
    pretrained_dir : path or None
        Where pre-trained weights are stored (the cache folder); None (``--no-pretrained``): no weights.
    cfg, mcfg, tcfg : FeatureConfig, ModelConfig, TrainConfig
    log : callable or None
        Told which weights were chosen, in one line.

    Damaged pre-trained weights cost the head start, not the run: a warning, then the shipped encoder.
    """
    if pretrained_dir is None:
        return None, tcfg
    from ..learn import pretrain

    say = log or (lambda text: None)
    found = pretrain.find(pretrained_dir, paths, cfg, mcfg) if paths is not None else None
    if found is not None:
        try:
            pre = pretrain.load(found)
        except ModelFileError as exc:
            warnings.warn(f"ignoring damaged pre-trained weights: {exc}", stacklevel=2)
        else:
            say(f"starting from the library's pre-trained weights ({found.name}, {pre.info.get('tracks', '?')} "
                "tracks)")
            return pre, replace(tcfg, pretrained=str(found))
    pre = pretrain.shipped(cfg, mcfg)
    if pre is None:
        return None, tcfg
    say("starting from the shipped encoder (distilled from musicnn; pers-rec pretrain makes one for your library)")
    return pre, replace(tcfg, pretrained=f"shipped encoder {pre.info['provenance'].get('sha256', '')[:12]}")


def encoder_for(library_dir, model_path, pretrained_dir, cfg, runtime: str = "light"):
    """The :class:`embed.Embedder` of a taste model (``model_path``), else of the library's pre-trained encoder,
    else of the encoder shipped with pers_rec, run by ``runtime`` (``light``: numpy; ``keras``).

    Raises
    ------
    ParameterError
        None of the three is there (say how to make one).
    """
    from ..audio.scan import scan
    from ..config import ModelConfig
    from ..learn import pretrain
    from ..model import checkpoint
    from ..model.checkpoint import SavedModel
    from . import embed

    if model_path is not None:
        return embed.Embedder(checkpoint.load(model_path, expect=cfg, runtime=runtime))
    mcfg = ModelConfig()
    found = pretrain.find(pretrained_dir, scan(library_dir), cfg, mcfg)
    pre = pretrain.load(found) if found is not None else pretrain.shipped(cfg, mcfg)
    if pre is None:
        raise ParameterError(f"no encoder for {library_dir}: run `pers-rec pretrain {library_dir}` first "
                             "(no likes needed), or give --model taste.keras")
    if runtime == "light":
        return embed.Embedder.of_weights(pre, cfg, mcfg)
    from ..model import networks

    network = networks.build(cfg, mcfg)
    pretrain.apply(network, pre)
    return embed.Embedder(SavedModel(network, cfg, mcfg))
