"""Training on one listener's likes: grouped cross-validation, the training length, the final model.

No file is written here and nothing is plotted: the command line does that.

Why cross-validation. A listener has few liked tracks; a 15 % hold-out keeps
one to four of them, and early stopping on so few decided the result in a
trial on real music (ROC-AUC 0.76 to 0.95 across seeds on the same data). So:

1. The tracks are split into ``folds`` stratified folds **grouped by album**
   (or by artist when the likes carry several artist tags; see
   :func:`make_splits`), so that no album has tracks on both sides and the
   held-out figures are not flattered by near-duplicates. Each fold trains a
   fresh model for ``max_epochs`` and after every epoch scores its held-out
   tracks with the sliding-window scorer (track score = mean window score):
   ROC-AUC and average precision per epoch and fold.
2. The epoch count with the best mean cross-validated ROC-AUC, smoothed over
   3 epochs, is chosen (ties broken by held-out log-loss). The report gives
   that epoch's cross-validated figures; they are slightly optimistic,
   because the epoch was chosen on them.
3. The baseline (``baseline.py``) is cross-validated on the same folds, so
   the report shows whether the network earns its keep.
4. By default (``ensemble=5``) the fold models at that epoch are kept and
   averaged: the final model; ``ensemble=0`` trains one model on all tracks
   for the chosen number of epochs instead.
5. The final track score stacks the network's and the baseline's scores
   (a logistic regression fitted on their out-of-fold scores) when that
   cross-validates at least as well as the network alone (``blend``).

Each epoch draws ``windows_per_track`` windows per track (``dataset.sample_windows``);
sample weights balance the classes so that likes and non-likes weigh the same in the loss.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from .. import __version__
from ..audio import features
from ..audio.features import feature_stats
from ..config import BLENDS, ModelConfig, TrainConfig  # noqa: F401 (re-exported)
from ..errors import ParameterError
from ..model import baseline
from ..model.checkpoint import SavedModel
from ..model.networks import build, build_compiled, ensemble
from ..model.report import CrossValidation, EpochCurves, FailedTrack, Metrics, TrackEntry, TrainReport
from ..model.scoring import Scorer
from ..progress import bar
from .dataset import Track, fold_groups, sample_windows, track_weights

#: Fold models are averaged only when each was trained on at least this many likes.
MIN_LIKES_PER_MEMBER = 2


@dataclass
class _Curves:
    """Per fold and epoch: the held-out ``metric`` and ``metric2`` (a taste model's ROC-AUC and AP, a genre model's
    accuracy and balanced accuracy), training loss, held-out log-loss; out-of-fold outputs per epoch."""

    metric: np.ndarray
    metric2: np.ndarray
    loss: np.ndarray
    val_loss: np.ndarray
    oof: np.ndarray
    fold_weights: list  # per fold, per epoch: the model's weights (ensemble only)


def train(tracks: list[Track], cfg: features.FeatureConfig, mcfg: ModelConfig | None = None,
          tcfg: TrainConfig | None = None, *, progress: bool = False,
          failed: list[FailedTrack] | None = None, pretrained=None, teacher_vectors: np.ndarray | None = None,
          encoder_vectors: np.ndarray | None = None) -> SavedModel:
    """Cross-validate, choose the number of epochs, and train the final model (see the module docstring).

    Parameters
    ----------
    tracks : list of Track
        Labelled tracks with their feature matrices [each shape=(n_frames_i, n_features)]; both classes present.
    cfg, mcfg, tcfg : the feature, model and training configurations
    progress : bool
        Show a progress bar on stderr.
    failed : list of FailedTrack
        Listed tracks that could not be used, recorded in the report.
    pretrained : pretrain.Pretrained or None
        Weights (from ``pers-rec pretrain``) every fold model and the final
        model start from; fine-tuning trains all layers.
    teacher_vectors : np.ndarray [shape=(n_tracks, dim)] or None
        Each track's teacher vector: a logistic regression on them is cross-validated on the same folds and
        reported beside the MFCC baseline (``cross_validation.teacher``).
    encoder_vectors : np.ndarray [shape=(n_tracks, dim)] or None
        Each track's vector by ``pretrained``, frozen (``embed.StartVectors``): a logistic regression on them is
        cross-validated on the same folds and reported (``Blend.cv_roc_auc``); stacked with the network with
        ``blend="encoder"`` (or ``"auto+encoder"``, when it cross-validates best), and a model that stacks it keeps
        ``pretrained`` (``SavedModel.start``).

    Returns
    -------
    SavedModel
        The final model with its configs and its :class:`TrainReport`.

    Raises
    ------
    ParameterError
        Fewer than 2 tracks in a class.
    """
    mcfg, tcfg = mcfg or ModelConfig(), tcfg or TrainConfig()
    encoder_vectors = None if pretrained is None else encoder_vectors  # vectors of no start encoder: no partner
    if tcfg.blend == "teacher" and teacher_vectors is None:  # said before any training
        raise ParameterError("--blend teacher needs the teacher's vectors (the musicnn teacher installed)")
    if tcfg.blend in ("encoder", "auto+encoder") and encoder_vectors is None:
        raise ParameterError(f"--blend {tcfg.blend} needs a start encoder (the shipped one, or `pers-rec pretrain`'s)")
    labels = np.array([t.label for t in tracks])
    n_pos, n_neg = int(labels.sum()), int((1 - labels).sum())
    if n_pos < 2 or n_neg < 2:
        raise ParameterError(f"need at least 2 liked and 2 other tracks to train, got {n_pos} liked and {n_neg} other")
    k = min(tcfg.folds, n_pos, n_neg)
    kind = f"ensemble of {k} fold models" if tcfg.ensemble else "trained on all tracks"
    if tcfg.ensemble and n_pos - -(-n_pos // k) < MIN_LIKES_PER_MEMBER:
        tcfg = replace(tcfg, ensemble=0, folds=k)
        kind = (f"trained on all tracks (with {n_pos} likes in {k} folds a fold model sees fewer than "
                f"{MIN_LIKES_PER_MEMBER} likes, too few to average fold models)")
    t_start = time.time()
    deterministic(tcfg.seed)
    splits, how = make_splits(tracks, labels, k, tcfg.seed)
    weights = track_weights(tracks, tcfg.unlabelled_weight)
    with bar(k * tcfg.max_epochs + 1, "training", "epoch", progress) as b:
        curves = cross_validate(tracks, splits, weights, cfg, mcfg, tcfg, b, pretrained)
        best_epoch = choose_epoch(np.nanmean(curves.metric, axis=0), np.nanmean(curves.val_loss, axis=0))
        b.set_description("training the final model")
        final, final_loss = final_model(tracks, weights, curves, best_epoch, cfg, mcfg, tcfg, pretrained)
        b.update(1)
    base, base_oof = baseline.cross_validate([t.features for t in tracks], labels, splits, tcfg.seed)
    cv = _cv_section(curves, labels, best_epoch, base, how)
    teacher_oof = None
    if teacher_vectors is not None:
        teacher_cv, teacher_oof = baseline.cross_validate_vectors(np.asarray(teacher_vectors), labels, splits,
                                                                  tcfg.seed)
        cv = replace(cv, teacher=teacher_cv)
    encoder_oof = None
    if encoder_vectors is not None:
        encoder_cv, encoder_oof = baseline.cross_validate_vectors(np.asarray(encoder_vectors), labels, splits,
                                                                  tcfg.seed)
        cv = replace(cv, encoder=encoder_cv)
    blend = baseline.choose_blend([t.features for t in tracks], labels, splits, curves.oof[best_epoch - 1], base_oof,
                                  tcfg.blend, tcfg.seed, teacher_vectors, teacher_oof,
                                  encoder_vectors, encoder_oof)
    report = TrainReport(
        pers_rec_version=__version__, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        elapsed_s=round(time.time() - t_start, 2), versions=_versions(), feature_config=cfg.to_dict(),
        model_config=mcfg.to_dict(), train_config=asdict(tcfg), params=int(final.count_params()),
        tracks=[TrackEntry(t.path, t.label, t.source, len(t.features), t.weight, t.signal) for t in tracks],
        windows_per_epoch=len(tracks) * tcfg.windows_per_track,
        class_weight_total={"liked": float(weights[labels == 1].sum()), "not_liked": float(weights[labels == 0].sum())},
        cross_validation=cv, final_kind=kind,
        final_train_loss=final_loss, failed=list(failed or []), blend=blend,
    )
    return SavedModel(final, cfg, mcfg, report, pretrained if blend.chosen == "encoder" else None)


def _fresh(cfg, mcfg, tcfg: TrainConfig, seed: int, stats, pretrained):
    """A compiled model with fresh weights for ``seed`` (and ``pretrained``'s where given)."""
    model = build_compiled(cfg, mcfg, learning_rate=tcfg.learning_rate, seed=seed, stats=stats)
    if pretrained is not None:
        from .pretrain import apply

        apply(model, pretrained)
    return model


def _epoch_windows(tracks, weights, cfg, tcfg: TrainConfig, rng):
    """One epoch's windows, labels and weights (``dataset.sample_windows``), augmented when ``tcfg.augment``."""
    X, y, w = sample_windows(tracks, cfg, weights, per_track=tcfg.windows_per_track, gain_db=tcfg.gain_db, rng=rng)
    if tcfg.augment:
        from ..audio.augment import augment
        from ..config import PretrainConfig

        c1_std = float(np.std(X[:, :, 1])) if cfg.n_features > 1 else 0.0
        X = augment(X, cfg, PretrainConfig(gain_db=0.0), c1_std, rng)
    return X, y, w


def _like_metrics(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float, float]:
    """Held-out ROC-AUC, AP and log-loss of like-probabilities."""
    m = baseline.metrics(labels, scores)
    return _nan(m.roc_auc), _nan(m.ap), baseline.log_loss(labels, scores)


def cross_validate(tracks, splits, weights, cfg, mcfg, tcfg: TrainConfig, b, pretrained=None,
                    metrics=_like_metrics) -> _Curves:
    """Train one model per fold for ``max_epochs``, scoring its held-out tracks after every epoch.

    ``metrics(labels, scores)`` gives the held-out (main metric, second metric, log-loss) recorded in the
    curves (``auc``, ``ap``, ``val_loss``): ROC-AUC and AP for likes, accuracy and balanced accuracy for genres.
    """
    k, E = len(splits), tcfg.max_epochs
    labels = np.array([t.label for t in tracks])
    width = max(1, len(mcfg.classes))
    oof = np.zeros((E, len(tracks)) + ((width,) if width > 1 else ()))
    c = _Curves(*(np.full((k, E), np.nan) for _ in range(4)), oof=oof, fold_weights=[])
    for f, (tr, va) in enumerate(splits):
        train_tracks, val = [tracks[i] for i in tr], [tracks[i].features for i in va]
        model = _fresh(cfg, mcfg, tcfg, tcfg.seed + 1000 * (f + 1), feature_stats([t.features for t in train_tracks]),
                       pretrained)
        rng = np.random.default_rng(tcfg.seed + f)
        snapshots = []
        for e in range(E):
            X, y, w = _epoch_windows(train_tracks, weights[tr], cfg, tcfg, rng)
            hist = model.fit(X, y, sample_weight=w, batch_size=tcfg.batch_size, epochs=1, verbose=0, shuffle=True)
            c.loss[f, e] = hist.history["loss"][-1]
            c.oof[e, va] = scores = Scorer(SavedModel(model, cfg, mcfg)).mean_scores(val)
            c.metric[f, e], c.metric2[f, e], c.val_loss[f, e] = metrics(labels[va], scores)
            if tcfg.ensemble:
                snapshots.append(model.get_weights())
            b.update(1)
            b.set_postfix(fold=f + 1, epoch=e + 1, val=f"{c.metric[f, e]:.3f}")
        c.fold_weights.append(snapshots)
    return c


def final_model(tracks, weights, curves: _Curves, best_epoch: int, cfg, mcfg, tcfg: TrainConfig, pretrained=None):
    """The fold models at ``best_epoch`` averaged (ensemble), or one model trained on every track."""
    if tcfg.ensemble:
        fold_models = []
        for snapshots in curves.fold_weights:
            m = build(cfg, mcfg)
            m.set_weights(snapshots[best_epoch - 1])
            fold_models.append(m)
        return ensemble(fold_models, cfg, mcfg), None
    final = _fresh(cfg, mcfg, tcfg, tcfg.seed, feature_stats([t.features for t in tracks]), pretrained)
    rng = np.random.default_rng(tcfg.seed + 999)
    losses = []
    for _ in range(best_epoch):
        X, y, w = _epoch_windows(tracks, weights, cfg, tcfg, rng)
        losses.append(float(final.fit(X, y, sample_weight=w, batch_size=tcfg.batch_size, epochs=1,
                                      verbose=0).history["loss"][-1]))
    return final, losses


def make_splits(tracks: list[Track], labels: np.ndarray, k: int, seed: int, names: dict | None = None,
                artists_of_all: bool = False) -> tuple[list, str]:
    """``k`` stratified folds grouped so that no album (or artist, see ``dataset.fold_groups``) is on both sides.

    A class whose tracks come from fewer than ``k`` groups cannot be spread
    over the folds by group; its tracks are then split one by one (the other
    classes stay grouped). ``names`` maps each label to what the report calls
    its tracks (default: 1 "likes", 0 "other tracks"). Returns the splits and
    how they were made, in words.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    keys, rule = fold_groups(tracks, artists_of_all)
    code = {g: i for i, g in enumerate(dict.fromkeys(keys))}
    groups = np.array([code[g] for g in keys])
    how = []
    for cls, name in (names or {1: "likes", 0: "other tracks"}).items():
        n_groups = len(set(groups[labels == cls]))
        if n_groups < k:
            groups = np.where(labels == cls, -1 - np.arange(len(groups)), groups)
            how.append(f"{name} by track (they come from {n_groups} {rule}{'s' if n_groups != 1 else ''})")
        else:
            how.append(f"{name} by {rule}")
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(labels)), labels, groups)), "folds: " + "; ".join(how)


def _cv_section(c: _Curves, labels, best_epoch: int, base, how: str = "") -> CrossValidation:
    e = best_epoch - 1
    per_fold = [Metrics(_none(c.metric[f, e]), _none(c.metric2[f, e])) for f in range(len(c.metric))]
    curves = EpochCurves(
        roc_auc_mean=nan_list(np.nanmean(c.metric, axis=0)), roc_auc_std=nan_list(np.nanstd(c.metric, axis=0)),
        ap_mean=nan_list(np.nanmean(c.metric2, axis=0)), train_loss_mean=nan_list(np.nanmean(c.loss, axis=0)),
        val_track_log_loss_mean=nan_list(np.nanmean(c.val_loss, axis=0)),
        roc_auc_per_fold=[nan_list(r) for r in c.metric],
    )
    model = baseline.summarize_folds(per_fold, baseline.metrics(labels, c.oof[e]), epochs=best_epoch)
    note = CrossValidation.note + (f"; {how}" if how else "")
    return CrossValidation(len(c.metric), curves, model, base, note)


def smooth(x: np.ndarray, width: int = 3) -> np.ndarray:
    """Centred moving average over ``width`` epochs (fewer at the ends), NaN-aware."""
    x = np.asarray(x, float)
    h = width // 2
    return np.array([np.nanmean(x[max(0, i - h) : i + h + 1]) if np.isfinite(x[max(0, i - h) : i + h + 1]).any()
                     else np.nan for i in range(len(x))])


def choose_epoch(mean_auc: np.ndarray, mean_log_loss: np.ndarray, tol: float = 0.005) -> int:
    """The epoch (1-based) to train for: best smoothed cross-validated ROC-AUC, ties broken by held-out log-loss.

    Both curves are first smoothed over 3 epochs (:func:`smooth`): with a few
    held-out tracks per fold the raw per-epoch AUC jumps by several hundredths
    from one epoch to the next, and its argmax is close to noise.

    Parameters
    ----------
    mean_auc, mean_log_loss : np.ndarray [shape=(max_epochs,)]
        Per epoch, the mean over folds of held-out track ROC-AUC and log-loss (NaN allowed in the AUC).

    ROC-AUC only measures the ordering and saturates at 1.0 on easy data after
    an epoch or two, when the scores are still bunched near 0.5; among epochs
    within ``tol`` of the best AUC, the one whose held-out track scores have
    the lowest log-loss (the most confident correct ordering) is chosen.
    """
    mean_auc, mean_log_loss = smooth(mean_auc), smooth(mean_log_loss)
    best = np.nanmax(mean_auc)
    near = np.flatnonzero(mean_auc >= best - tol)
    return int(near[np.nanargmin(mean_log_loss[near])]) + 1


def _nan(x: float | None) -> float:
    return np.nan if x is None else x


def _none(x) -> float | None:
    return None if x is None or np.isnan(x) else float(x)


def nan_list(a) -> list:
    return [_none(x) for x in a]


def deterministic(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _versions() -> dict:
    import keras
    import librosa
    import sklearn

    from ..device import describe

    return {"pers_rec": __version__, "keras": keras.__version__, "backend": keras.backend.backend(),
            "device": describe(), "numpy": np.__version__, "librosa": librosa.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version()}
