"""``SeriesClassifier``: numeric series in (univariate or multivariate, any lengths), labels out.

``fit(series, labels)`` takes a list of arrays ``(time,)`` or ``(time, channels)`` (or a
:class:`~rnnkit.data.ucr.LabeledSeries`, labels included). Each channel is standardised with the mean
and spread of all training steps; missing values (NaN, a ``.ts`` file's ``?``) are filled by linear
interpolation along the series, with a warning. Series keep their lengths: batches are padded per
batch and the encoder reads each series to its own end, like texts. A stratified ``val_fraction``
validates (early stopping) unless ``validation_data`` is given. Parameters are stored untouched by
``__init__``; everything learned ends in ``_``.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from rnnkit.data.ucr import LabeledSeries
from rnnkit.errors import ConfigError, DataError
from rnnkit.series.scaling import Standardizer
from rnnkit.tasks.classification.estimator import check_classes, class_indices, class_weights, holdout
from rnnkit.tasks.params import validate_params
from rnnkit.tasks.series_classification import bundle
from rnnkit.tasks.series_classification.model import SeriesExamples, SeriesRNN, predict_proba
from rnnkit.train.checkpoint import Checkpoints, fingerprint
from rnnkit.train.loop import TrainSettings, schedule, train


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
        else:
            series, labels, val_series, val_labels = holdout(series, labels, params["val_fraction"], params["seed"])
        channels = series[0].shape[1]
        check_channels(val_series, channels, "validation")
        scaler = Standardizer.fit(np.concatenate(series))
        targets = class_indices(labels, classes, "the training data")
        weights = class_weights(targets, len(classes), params["class_weight"])
        train_data = SeriesExamples([scaler.transform(s) for s in series], targets, weights)
        val_data = None
        if len(val_series):
            val_targets = class_indices(val_labels, classes, "the validation data")
            val_data = SeriesExamples([scaler.transform(s) for s in val_series], val_targets, weights)
        torch.manual_seed(params["seed"])
        model = make_series_model(params, channels, len(classes))
        epochs, patience = schedule(len(series), params["batch_size"], params["epochs"], params["patience"])
        settings = TrainSettings.of(params, epochs, patience, params["monitor"])
        data = fingerprint([hashlib.sha256(s.tobytes()).hexdigest() for s in series], labels.tolist())
        checkpoints = Checkpoints.of_run(checkpoint_dir, checkpoint_every, params, classes=classes.tolist(), data=data)
        history = train(model, train_data, val_data, settings, checkpoints=checkpoints, resume=resume)
        self.params_, self.classes_, self.scaler_, self.model_, self.history_ = params, classes, scaler, model, history
        self.channels_ = channels
        self.train_seconds_ = time.perf_counter() - started
        return self

    def predict_proba(self, X: Sequence) -> np.ndarray:
        """Probabilities ``(n, len(classes_))``, columns in the order of ``classes_``."""
        check_is_fitted(self, "model_")
        series = check_series(X, "prediction")
        check_channels(series, self.channels_, "prediction")
        return predict_proba(self.model_, [self.scaler_.transform(s) for s in series])

    def predict(self, X: Sequence) -> np.ndarray:
        """The most probable label of each series."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write the model bundle directory (atomically); ``metrics`` adds ``metrics.json``."""
        check_is_fitted(self, "model_")
        return bundle.save(self, Path(path), metrics)


def make_series_model(params: dict, channels: int, num_classes: int) -> SeriesRNN:
    """The untrained network of a parameter set."""
    names = ("cell", "hidden_size", "num_layers", "bidirectional", "dropout", "pooling")
    return SeriesRNN(channels, num_classes, **{k: params[k] for k in names})


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
