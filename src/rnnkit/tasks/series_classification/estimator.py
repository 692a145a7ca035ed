"""``SeriesClassifier``: numeric series in (univariate or multivariate, any lengths), labels out.

``fit(series, labels)`` takes a list of arrays ``(time,)`` or ``(time, channels)`` (or a
:class:`~rnnkit.data.ucr.LabeledSeries`, labels included). Each channel is standardised with the mean
and spread of all training steps; missing values (NaN, a ``.ts`` file's ``?``) are filled by linear
interpolation along the series, with a warning. Series keep their lengths: batches are padded per
batch and the encoder reads each series to its own end, like texts; it reads ``segment`` steps at a
time (by default about 24 encoder steps for a series of the median length), and may train on
``augment``-ed copies (another amplitude and noise; see :class:`SeriesExamples`; by default with and
without, keeping what validates better, when cross-fitting). Fewer than 1,000
series are cross-fitted: ``round(1 / val_fraction)`` networks (at most 5), each validated (early
stopping) on its own fold and trained on the others, predict together; a larger set holds out a
stratified ``val_fraction``, and ``validation_data`` replaces either.

With ``neighbours=True`` (the default) the network's probabilities are blended with those of the
training series' nearest neighbours (:class:`~rnnkit.series.neighbours.NearestNeighbours`), the
weight chosen on the validation series, as the text classifier blends its network with an n-gram
bag: on a set of 30 short series the neighbours often know more than any network can learn, on a
large one the weight goes to the network. ``blend_`` holds the weight (1.0: the network alone).
Parameters are stored untouched by ``__init__``; everything learned ends in ``_``.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from rnnkit.data.tables import stratified_folds, stratified_split
from rnnkit.data.ucr import LabeledSeries
from rnnkit.errors import ConfigError, DataError
from rnnkit.series.neighbours import NearestNeighbours
from rnnkit.series.scaling import Standardizer
from rnnkit.tasks.classification.estimator import check_classes, class_indices, class_weights
from rnnkit.tasks.classification.metrics import classification_report
from rnnkit.tasks.params import validate_params
from rnnkit.tasks.series_classification import bundle
from rnnkit.tasks.series_classification.model import (
    SeriesEnsemble,
    SeriesExamples,
    SeriesRNN,
    auto_segment,
    predict_proba,
    segments,
)
from rnnkit.train.checkpoint import Checkpoints, fingerprint
from rnnkit.train.ensemble import train_members
from rnnkit.train.loop import MIN_UPDATES, TrainSettings, schedule

# A set of 40 series makes 2 batches an epoch: its networks need more epochs than the 100 that cap
# the text tasks. The automatic schedule's 3,000 updates are shared by the cross-fitted networks
# (600 each of 5), so a run costs about the same with folds as without.
SERIES_MAX_EPOCHS = 300
FOLDS_BELOW, MAX_FOLDS = 1000, 5  # cross-fitting for small sets (see validation_folds)
# augment=None tries 0 and AUGMENT on validation and keeps the better: amplitude and noise help shapes
# (ArrowHead, OSULeaf) but hide what a level says (Covid3Month: 0.66 -> 0.61); a held-out set of
# 1,000 series or more is not cross-fitted and trains once, as the series are.
AUGMENT = 0.3
BLEND_GRID = np.linspace(0.0, 1.0, 21)  # the weights of the network tried on the validation series


class SeriesClassifier(ClassifierMixin, BaseEstimator):
    """Recurrent classifier of numeric series; see the module docstring."""

    monitors = ("accuracy", "loss")

    def __init__(
        self,
        *,
        cell: str = "gru",
        bidirectional: bool = True,
        num_layers: int = 1,
        hidden_size: int = 128,
        dropout: float = 0.1,
        pooling: str = "mean",
        segment: int | None = None,
        neighbours: bool = True,
        folds: int | None = None,
        augment: float | None = None,
        batch_size: int = 32,
        epochs: int | None = None,
        lr: float = 2e-3,
        lr_decay: float = 1.0,
        ema: float = 0.0,
        clip_norm: float | None = 1.0,
        patience: int | None = None,
        monitor: str = "accuracy",
        class_weight: str | None = None,
        val_fraction: float = 0.2,
        seed: int = 0,
        verbose: bool = False,
    ):
        self.cell = cell
        self.bidirectional = bidirectional
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.pooling = pooling
        self.segment = segment
        self.neighbours = neighbours
        self.folds = folds
        self.augment = augment
        self.batch_size = batch_size
        self.epochs = epochs
        self.lr = lr
        self.lr_decay = lr_decay
        self.ema = ema
        self.clip_norm = clip_norm
        self.patience = patience
        self.monitor = monitor
        self.class_weight = class_weight
        self.val_fraction = val_fraction
        self.seed = seed
        self.verbose = verbose

    def fit(
        self,
        X: Sequence | LabeledSeries,
        y: Sequence | None = None,
        validation_data: tuple | None = None,
        *,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: float | None = None,
        resume: bool = False,
    ) -> SeriesClassifier:
        """Train on the series ``X`` with labels ``y`` (see the module docstring)."""
        params = dict(self.get_params())
        validate_params(params, self.monitors)
        if resume and checkpoint_dir is None:
            raise ConfigError("resume=True needs the checkpoint_dir to resume from")
        started = time.perf_counter()
        series, labels = series_and_labels(X, y, "training")
        classes = check_classes(labels)
        if validation_data is not None:
            val_series, val_labels = series_and_labels(*validation_data, "validation")
            check_channels(val_series, series[0].shape[1], "validation")
            class_indices(val_labels, classes, "the validation data")
            fold = np.r_[np.full(len(series), -1), np.zeros(len(val_series), dtype=np.int64)]
            series, labels = series + val_series, np.concatenate([labels, val_labels])
        else:
            fold = validation_folds(labels, params)
        members = max(int(fold.max()) + 1, 1)
        channels = series[0].shape[1]
        fitted = fold == -1 if (fold == -1).any() else np.ones(len(series), dtype=bool)
        self.scaler_ = Standardizer.fit(np.concatenate([s for s, keep in zip(series, fitted, strict=True) if keep]))
        self.segment_ = params["segment"] or auto_segment([len(s) for s in series])
        targets = class_indices(labels, classes, "the training data")
        weights = class_weights(targets, len(classes), params["class_weight"])
        inputs = self._inputs(series)

        tried = [0.0, AUGMENT] if members > 1 else [0.0]
        augments = tried if params["augment"] is None else [params["augment"]]

        def split(k: int) -> tuple[SeriesExamples, SeriesExamples | None]:
            """Network ``k``: fold ``k % members`` validates, with the augmentation ``k // members``."""
            train_idx, val_idx = np.flatnonzero(fold != k % members), np.flatnonzero(fold == k % members)
            augment = augments[k // members]
            train_data = SeriesExamples([inputs[i] for i in train_idx], targets[train_idx], weights, augment)
            if not len(val_idx):
                return train_data, None
            return train_data, SeriesExamples([inputs[i] for i in val_idx], targets[val_idx], weights)

        epochs, patience = schedule(
            int((fold != 0).sum()),
            params["batch_size"],
            params["epochs"],
            params["patience"],
            MIN_UPDATES // members,
            SERIES_MAX_EPOCHS,
        )
        settings = TrainSettings.of(params, epochs, patience, params["monitor"])
        data = fingerprint([hashlib.sha256(s.tobytes()).hexdigest() for s in series], labels.tolist(), fold.tolist())
        checkpoints = Checkpoints.of_run(checkpoint_dir, checkpoint_every, params, classes=classes.tolist(), data=data)
        trained = train_members(
            len(augments) * members,
            lambda: make_series_model(params, channels * self.segment_, len(classes)),
            split,
            settings,
            checkpoints=checkpoints,
            resume=resume,
        )
        self.params_, self.classes_, self.channels_ = params, classes, channels
        groups = [trained[i * members : (i + 1) * members] for i in range(len(augments))]
        validated = np.flatnonzero(fold >= 0)
        oof = [out_of_fold([network for network, _ in group], inputs, fold) for group in groups]
        best = max(range(len(groups)), key=lambda i: log_score(oof[i][validated], targets[validated]))
        networks, histories = zip(*groups[best], strict=True)
        self.augment_ = augments[best]
        self.model_ = networks[0] if members == 1 else SeriesEnsemble(list(networks))
        self.history_ = (
            histories[0] if members == 1 else [{"member": i, **r} for i, h in enumerate(histories, 1) for r in h]
        )
        self._blend(series, targets, fold, oof[best])
        self.train_seconds_ = time.perf_counter() - started
        return self

    def _blend(self, series: list[np.ndarray], targets: np.ndarray, fold: np.ndarray, network: np.ndarray) -> None:
        """The neighbours (all series) and their weight, chosen on the validation series' predictions
        by the networks (``network``, out of fold) and by their nearest other series (leave-one-out);
        ``validation_`` reports them."""
        self.blend_, self.neighbours_, self.validation_ = 1.0, None, None
        validated = np.flatnonzero(fold >= 0)
        if not len(validated):
            return
        # Each validation series' neighbours are all the other series, as a new series' will be all
        # the training series (the other folds alone would make them look weaker than they are:
        # ArrowHead, 36 series, 0.83 by folds against 0.92 left one out).
        everyone = NearestNeighbours.fit(series, targets, len(self.classes_))
        nearest = everyone.predict_proba([series[i] for i in validated], validated)
        network, truth = network[validated], targets[validated]
        if self.params_["neighbours"]:
            self.blend_ = blend_weight(network, nearest, truth)
            self.neighbours_ = everyone
        blended = self.blend_ * network + (1 - self.blend_) * nearest
        self.validation_ = {
            **classification_report(self.classes_[truth], self.classes_[blended.argmax(axis=1)], self.classes_),
            "augment": self.augment_,
            "baselines": {
                "1nn_euclidean": float(np.mean(nearest.argmax(axis=1) == truth)),
                "network_alone": float(np.mean(network.argmax(axis=1) == truth)),
            },
        }

    def predict_proba(self, X: Sequence) -> np.ndarray:
        """Probabilities ``(n, len(classes_))``, columns in the order of ``classes_``: the network's
        blended with the nearest neighbours' (``blend_`` the network's weight)."""
        series = self._check(X)
        network = predict_proba(self.model_, self._inputs(series))
        if self.neighbours_ is None or self.blend_ == 1.0:
            return network
        return self.blend_ * network + (1 - self.blend_) * self.neighbours_.predict_proba(series)

    def network_proba(self, X: Sequence) -> np.ndarray:
        """The network's own probabilities, without the neighbours (to report it alone)."""
        return predict_proba(self.model_, self._inputs(self._check(X)))

    def predict(self, X: Sequence) -> np.ndarray:
        """The most probable label of each series."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write the model bundle directory (atomically); ``metrics`` adds ``metrics.json``."""
        check_is_fitted(self, "model_")
        return bundle.save(self, Path(path), metrics)

    def _check(self, X: Sequence) -> list[np.ndarray]:
        check_is_fitted(self, "model_")
        series = check_series(X, "prediction")
        check_channels(series, self.channels_, "prediction")
        return series

    def _inputs(self, series: list[np.ndarray]) -> list[np.ndarray]:
        """What the network reads: each series standardised, in segments ``(steps, segment * channels)``."""
        return [segments(self.scaler_.transform(s), self.segment_) for s in series]


def blend_weight(network: np.ndarray, neighbours: np.ndarray, targets: np.ndarray) -> float:
    """The network's weight ``w`` in ``BLEND_GRID`` for ``w * network + (1 - w) * neighbours`` (both
    ``(n, classes)`` probabilities): of the weights with the best accuracy on ``targets``, the one whose
    probabilities give the true classes the lowest log loss. Validation sets of 40 series tie often;
    the log loss then says which of the equally accurate blends is the more confident where it is
    right (ArrowHead, 36 series: weights 0-0.15 tie at 0.917; their middle, 0.10, scored 0.789 on the
    test series, below 1-NN's 0.800; the log loss's 0.15 scored 0.811)."""
    blends = [w * network + (1 - w) * neighbours for w in BLEND_GRID]
    scores = np.array([np.mean(p.argmax(axis=1) == targets) for p in blends])
    rows = np.arange(len(targets))
    losses = np.array([-np.mean(np.log(np.maximum(p[rows, targets], 1e-12))) for p in blends])
    tied = np.flatnonzero(scores == scores.max())
    return float(BLEND_GRID[tied[np.argmin(losses[tied])]])


def out_of_fold(networks: list[SeriesRNN], inputs: list[np.ndarray], fold: np.ndarray) -> np.ndarray:
    """``(n, classes)``: each series' probabilities by the network it validated (``networks[fold]``);
    zeros for series that validated none."""
    out = None
    for k, network in enumerate(networks):
        idx = np.flatnonzero(fold == k)
        if len(idx):
            proba = predict_proba(network, [inputs[i] for i in idx])
            out = np.zeros((len(inputs), proba.shape[1])) if out is None else out
            out[idx] = proba
    return np.zeros((len(inputs), 1)) if out is None else out


def log_score(proba: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """(accuracy, mean log probability of the truth): higher is better; empty scores equal."""
    if not len(targets):
        return 0.0, 0.0
    truth = proba[np.arange(len(targets)), targets]
    return float(np.mean(proba.argmax(axis=1) == targets)), float(np.log(np.maximum(truth, 1e-12)).mean())


def make_series_model(params: dict, inputs: int, num_classes: int, members: int = 1) -> SeriesRNN | SeriesEnsemble:
    """The untrained network of a parameter set (``inputs`` numbers a step: segment * channels), or
    an ensemble of ``members`` of them."""
    names = ("cell", "hidden_size", "num_layers", "bidirectional", "dropout", "pooling")
    if members > 1:
        return SeriesEnsemble([make_series_model(params, inputs, num_classes) for _ in range(members)])
    return SeriesRNN(inputs, num_classes, **{k: params[k] for k in names})


def validation_folds(labels: np.ndarray, params: dict) -> np.ndarray:
    """Which network validates on each series (``-1``: none, it only trains). With ``folds=None``:
    fewer than ``FOLDS_BELOW`` series are cut into ``round(1 / val_fraction)`` folds (2 to
    ``MAX_FOLDS``) and each fold validates one network trained on the others, so every series
    trains most networks and validates one (a 40-series set would otherwise stop early and weigh
    the neighbours on 8); a larger set holds out one stratified ``val_fraction``."""
    fraction, folds = params["val_fraction"], params["folds"]
    if fraction == 0:
        return np.full(len(labels), -1)
    if folds is None:
        folds = min(max(round(1 / fraction), 2), MAX_FOLDS) if len(labels) < FOLDS_BELOW else 1
    if folds > 1:
        return stratified_folds(labels, folds, params["seed"])
    fold = np.full(len(labels), -1)
    fold[stratified_split(labels, fraction, params["seed"])[1]] = 0
    return fold


def series_and_labels(
    X: Sequence | LabeledSeries, y: Sequence | None, what: str
) -> tuple[list[np.ndarray], np.ndarray]:
    """The series of ``X`` and their labels (``y``, or those of a LabeledSeries)."""
    if isinstance(X, LabeledSeries):
        if y is not None:
            raise DataError("a LabeledSeries brings its own labels; give no y")
        X, y = X.series, X.labels
    if y is None:
        raise DataError(f"the {what} series need labels (y)")
    series = check_series(X, what)
    labels = list(y)
    if len(labels) != len(series):
        raise DataError(f"got {len(series)} {what} series but {len(labels)} labels; there must be one label per series")
    return series, np.asarray(labels)


def check_series(X: Sequence, what: str) -> list[np.ndarray]:
    """Each series as float64 ``(time, channels)``, gaps filled (with a warning); one channel count."""
    if isinstance(X, np.ndarray) and X.ndim in (2, 3) and X.dtype != object:
        X = list(X)  # (n, time) or (n, time, channels): equal-length series
    if isinstance(X, (str, bytes)) or not isinstance(X, Sequence | np.ndarray):
        raise DataError(f"the {what} series must be a list of arrays (time,) or (time, channels)")
    out, filled = [], 0
    for i, item in enumerate(X):
        try:
            values = np.asarray(item, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{what} series {i} is not an array of numbers") from None
        values = values[:, None] if values.ndim == 1 else values
        if values.ndim != 2 or len(values) == 0 or values.shape[1] == 0:
            shape = np.shape(item)
            raise DataError(f"{what} series {i} has shape {shape}; expected (time,) or (time, channels), not empty")
        if np.isinf(values).any():
            raise DataError(f"{what} series {i} has an infinite value")
        gaps = np.isnan(values)
        if gaps.any():
            values, filled = fill_gaps(values, i, what), filled + int(gaps.sum())
        out.append(values)
    if not out:
        raise DataError(f"no {what} series")
    if filled:
        warnings.warn(f"{filled} missing value(s) in the {what} series filled by linear interpolation", stacklevel=3)
    check_channels(out, out[0].shape[1], what)
    return out


def fill_gaps(values: np.ndarray, index: int, what: str) -> np.ndarray:
    """NaNs of each channel linearly interpolated along time (the nearest value at the ends)."""
    steps = np.arange(len(values))
    filled = values.copy()
    for c in range(values.shape[1]):
        known = ~np.isnan(values[:, c])
        if not known.any():
            raise DataError(f"{what} series {index}: channel {c} has no values")
        filled[:, c] = np.interp(steps, steps[known], values[known, c])
    return filled


def check_channels(series: list[np.ndarray], channels: int, what: str) -> None:
    for i, s in enumerate(series):
        if s.shape[1] != channels:
            raise DataError(f"{what} series {i} has {s.shape[1]} channels; expected {channels}")
