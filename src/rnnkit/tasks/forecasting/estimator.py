"""``Forecaster``: the next ``horizon`` steps of one or more series, scikit-learn style.

``fit(series)`` takes a :class:`~rnnkit.data.timeseries.TimeSeries`, a pandas DataFrame (its
``targets=`` columns forecast, the others read as inputs, a date index as the times) or an array
``(time,)`` / ``(time, channels)`` (every channel a target), and keeps its last ``val_fraction`` of rows for
validation, chronologically: the training windows forecast only rows before the cut, the validation
windows forecast rows after it with history read from before it. Standardisation is fitted on the
training rows alone. The network is :class:`~rnnkit.tasks.forecasting.model.SegmentRNN`; the baselines
(:mod:`rnnkit.series.baselines`) are fitted on the same windows, and ``report`` scores the model and
the baselines on the same windows.

With ``linear`` (the default), the forecast is ``w * network + (1 - w) * ridge``, ``w`` in [0, 1]
fitted on the validation windows (least squares), as the classifier blends its RNN with linear
models. The two err differently: on ETTh1's validation months the network was better in the first
half and the ridge in the second, and a weight fitted on either half beat both on the other (96
steps: 0.570 against 0.570 and 0.601; 0.713 against 0.744 and 0.720). ``report`` gives the network
alone as the ``"network_alone"`` baseline. Parameters are stored untouched by ``__init__``; everything learned
ends in ``_``.
"""

from __future__ import annotations

import hashlib
import numbers
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from rnnkit.data.timeseries import TimeSeries, from_frame
from rnnkit.errors import ConfigError, DataError
from rnnkit.report import plots
from rnnkit.series.baselines import LinearBaseline, last_value, seasonal_naive
from rnnkit.series.scaling import Standardizer
from rnnkit.series.windows import Windows, origins
from rnnkit.tasks.forecasting import bundle
from rnnkit.tasks.forecasting.examples import ForecastExamples, forecast
from rnnkit.tasks.forecasting.metrics import forecast_errors
from rnnkit.tasks.forecasting.model import SegmentRNN
from rnnkit.tasks.params import validate_params
from rnnkit.train.checkpoint import Checkpoints, fingerprint
from rnnkit.train.loop import TrainSettings, schedule, train

# Auto epochs give at least this many updates: ETTh1's 12 training months make 34 batches of 256
# windows an epoch, so 15 epochs with patience 3 (about 22 s an epoch on 2 cores). The network's
# validation MSE at 96 steps: 0.680 after 5 epochs, 0.665 at 6, where the default run stopped at 9;
# a 15-epoch run reached 0.657 at 13.
FORECAST_MIN_UPDATES = 500


class Forecaster(BaseEstimator):
    """Recurrent forecaster over segments of a lookback window; see the module docstring."""

    monitors = ("loss",)  # early stopping watches the validation loss

    def __init__(
        self,
        *,
        lookback: int = 96,
        horizon: int = 96,
        segment: int = 12,
        cell: str = "gru",
        hidden_size: int = 256,
        channel_mode: str = "independent",
        instance_norm: str = "last",
        dropout: float = 0.1,
        highway: bool = False,
        linear: bool = True,
        loss: str = "mae",
        season: int | None = None,
        batch_size: int = 256,
        epochs: int | None = None,
        lr: float = 1e-3,
        lr_decay: float = 1.0,
        ema: float = 0.0,
        clip_norm: float | None = None,
        patience: int | None = None,
        val_fraction: float = 0.2,
        seed: int = 0,
        verbose: bool = False,
    ):
        self.lookback = lookback
        self.horizon = horizon
        self.segment = segment
        self.cell = cell
        self.hidden_size = hidden_size
        self.channel_mode = channel_mode
        self.instance_norm = instance_norm
        self.dropout = dropout
        self.highway = highway
        self.linear = linear
        self.loss = loss
        self.season = season
        self.batch_size = batch_size
        self.epochs = epochs
        self.lr = lr
        self.lr_decay = lr_decay
        self.ema = ema
        self.clip_norm = clip_norm
        self.patience = patience
        self.val_fraction = val_fraction
        self.seed = seed
        self.verbose = verbose

    def fit(
        self,
        X: TimeSeries | np.ndarray,
        y: None = None,
        *,
        targets: list[str] | None = None,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: float | None = None,
        resume: bool = False,
    ) -> Forecaster:
        """Learn to forecast the series ``X`` (see the module docstring); of a DataFrame, the columns
        ``targets`` (default: all; the others are inputs)."""
        params = dict(self.get_params())
        validate_params(params, self.monitors)
        check_windows(params)
        if resume and checkpoint_dir is None:
            raise ConfigError("resume=True needs the checkpoint_dir to resume from")
        started = time.perf_counter()
        series = as_series(X, targets)
        inputs = series.columns[series.targets :]
        if inputs and params["channel_mode"] == "independent":
            warnings.warn(
                f"the input column(s) {', '.join(inputs)} are not read: channel_mode 'independent' reads each "
                "target alone ('joint' reads every column)",
                stacklevel=2,
            )
        lookback, horizon = params["lookback"], params["horizon"]
        cut = len(series) - round(len(series) * params["val_fraction"])
        if cut < lookback + horizon:
            raise DataError(
                f"the series has {len(series)} rows, {cut} of them for training; lookback {lookback} + horizon "
                f"{horizon} needs at least {lookback + horizon} training rows (shorten them or lower val_fraction)"
            )
        scaler = Standardizer.fit(series.values[:cut], series.columns)
        values = scaler.transform(series.values)
        train_windows = Windows(values, origins(0, cut, lookback, horizon), lookback, horizon, series.targets)
        val_windows = Windows(values, origins(cut, len(series), lookback, horizon), lookback, horizon, series.targets)
        if not len(val_windows):
            raise DataError(
                f"no validation window: the last {len(series) - cut} rows (val_fraction) are fewer than the horizon "
                f"{horizon}; raise val_fraction"
            )
        torch.manual_seed(params["seed"])
        model = make_forecaster(params, len(series.columns), series.targets)
        epochs, patience = schedule(
            len(train_windows), params["batch_size"], params["epochs"], params["patience"], FORECAST_MIN_UPDATES
        )
        settings = TrainSettings.of(params, epochs, patience, "loss")
        data = fingerprint([hashlib.sha256(series.values.tobytes()).hexdigest()], series.columns)
        checkpoints = Checkpoints.of_run(checkpoint_dir, checkpoint_every, params, data=data)
        history = train(
            model,
            ForecastExamples(train_windows, params["loss"]),
            ForecastExamples(val_windows, params["loss"]),
            settings,
            checkpoints=checkpoints,
            resume=resume,
        )
        self.params_, self.scaler_, self.model_, self.history_ = params, scaler, model, history
        self.columns_, self.targets_, self.time_column_ = list(series.columns), series.targets, series.time_column
        self.linear_ = LinearBaseline.fit(train_windows, val_windows, params["seed"])
        self.blend_ = 1.0
        if params["linear"]:
            ridge = self.linear_.predict(val_windows.history()[..., : series.targets])
            self.blend_ = blend_weight(forecast(model, val_windows), ridge, val_windows.future())
        self.step_ = series.step
        self.train_seconds_ = time.perf_counter() - started
        self.validation_ = self._scores(val_windows)
        return self

    def predict(self, history: TimeSeries | np.ndarray, steps: int | None = None) -> np.ndarray:
        """The ``steps`` (default: ``horizon``) steps after the end of ``history`` (at least ``lookback``
        rows, the same columns as in training): ``(steps, targets)`` on the original scale.

        The model forecasts ``horizon`` steps at once. Beyond that, its forecasts are fed back as
        history, ``horizon`` steps a round (errors then compound, which direct forecasts avoid); that
        needs every column to be a target, since the inputs' future is unknown."""
        check_is_fitted(self, "model_")
        series = self._series(history)
        lookback, horizon = self.params_["lookback"], self.params_["horizon"]
        steps = horizon if steps is None else steps
        if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 1:
            raise ConfigError(f"steps must be an integer >= 1; got {steps!r}")
        if len(series) < lookback:
            raise DataError(f"the history has {len(series)} rows; the model reads the last {lookback}")
        if steps > horizon and self.targets_ < len(self.columns_):
            inputs = ", ".join(self.columns_[self.targets_ :])
            raise ConfigError(
                f"forecasting {steps} steps (beyond the horizon of {horizon}) feeds forecasts back as history, "
                f"so every column must be a target; this model also reads {inputs}"
            )
        known = self.scaler_.transform(series.values[-lookback:])
        forecasts: list[np.ndarray] = []
        while True:
            window = known[-lookback:][None]
            with torch.no_grad():
                out = self.model_.eval()(torch.from_numpy(window)).numpy()
            forecasts.append(self._blend(out, window)[0])
            if len(forecasts) * horizon >= steps:
                break
            known = np.concatenate([known, forecasts[-1]])
        return self.scaler_.inverse(np.concatenate(forecasts)[:steps], slice(0, self.targets_))

    def _blend(self, network: np.ndarray, history: np.ndarray) -> np.ndarray:
        """The forecast: the network's ``(n, horizon, targets)``, blended with the ridge's from ``history``."""
        if self.blend_ == 1.0:
            return network
        return self.blend_ * network + (1 - self.blend_) * self.linear_.predict(history[..., : self.targets_])

    def report(self, X: TimeSeries | np.ndarray, start: int = 0, stop: int | None = None) -> dict:
        """Errors of the model and of each baseline (``"baselines"``) on every window of ``X`` whose first
        forecast step is a row in ``[start, stop)`` (history may reach before ``start``)."""
        check_is_fitted(self, "model_")
        series = self._series(X)
        lookback, horizon = self.params_["lookback"], self.params_["horizon"]
        stop = len(series) if stop is None else min(stop + horizon - 1, len(series))
        scaled = self.scaler_.transform(series.values)
        windows = Windows(scaled, origins(start, stop, lookback, horizon), lookback, horizon, self.targets_)
        if not len(windows):
            raise DataError(
                f"no window to score: each needs {lookback} rows of history before it and {horizon} to compare with"
            )
        return self._scores(windows)

    evaluate = report  # the name forecasting libraries use for the same thing

    def score(self, X: TimeSeries | np.ndarray, y: None = None) -> float:
        """Minus the standardised MSE (higher is better, as scikit-learn's searches expect)."""
        return -self.report(X)["mse"]

    def figure(self, X: TimeSeries | np.ndarray, title: str) -> bytes:
        """PNG of the last window of ``X``: its history, the truth and the forecast, original scale."""
        check_is_fitted(self, "model_")
        series = self._series(X)
        lookback, horizon = self.params_["lookback"], self.params_["horizon"]
        if len(series) < lookback + horizon:
            raise DataError(f"the series has {len(series)} rows; a window needs {lookback + horizon}")
        cut = len(series) - horizon
        history = series.values[cut - lookback : cut, : self.targets_]
        truth = series.values[cut:, : self.targets_]
        predicted = self.predict(series.values[:cut])
        return plots.forecast(history, truth, predicted, self.columns_[: self.targets_], title)

    def save(self, path: str | Path, metrics: dict | None = None, figures: dict[str, bytes] | None = None) -> Path:
        """Write the model bundle directory (atomically); ``metrics`` adds ``metrics.json``, ``figures``
        PNG files (name -> bytes)."""
        check_is_fitted(self, "model_")
        return bundle.save(self, Path(path), metrics, figures or {})

    def _scores(self, windows: Windows) -> dict:
        history, truth = windows.history()[..., : self.targets_], windows.future()
        horizon, season = self.params_["horizon"], self.params_["season"]
        baselines = {"last_value": last_value(history, horizon), "linear": self.linear_.predict(history)}
        if season is not None:
            baselines["seasonal_naive"] = seasonal_naive(history, horizon, season)
        network = forecast(self.model_, windows)
        errors = forecast_errors(self._blend(network, history), truth, self.scaler_, self.targets_)
        if self.blend_ != 1.0:
            baselines["network_alone"] = network
        errors["baselines"] = {
            name: forecast_errors(values, truth, self.scaler_, self.targets_) for name, values in baselines.items()
        }
        return errors

    def _series(self, X: TimeSeries | np.ndarray) -> TimeSeries:
        """``X`` as a series of the training columns: a TimeSeries by its column names, an array by
        its number of columns (in the training order: targets first), a DataFrame by its column names."""
        if hasattr(X, "columns") and hasattr(X, "to_numpy"):
            X = from_frame(X, self.columns_[: self.targets_])
        if not isinstance(X, TimeSeries):
            series = as_series(X)
            if series.values.shape[1] != len(self.columns_):
                raise DataError(
                    f"the series has {series.values.shape[1]} columns; the model was trained on {len(self.columns_)} "
                    f"({', '.join(self.columns_)})"
                )
            return TimeSeries(series.values, self.columns_, self.targets_)
        if X.columns != self.columns_ or X.targets != self.targets_:
            raise DataError(
                f"the series has columns {', '.join(X.columns)}; the model was trained on {', '.join(self.columns_)}"
            )
        return X


def blend_weight(network: np.ndarray, linear: np.ndarray, truth: np.ndarray) -> float:
    """The weight ``w`` in [0, 1] of ``w * network + (1 - w) * linear`` with the least squared error
    against ``truth`` (closed form: one parameter)."""
    difference = (network - linear).astype(np.float64)
    spread = float((difference**2).sum())
    if spread == 0.0:
        return 1.0
    return float(np.clip((difference * (truth - linear)).sum() / spread, 0.0, 1.0))


def make_forecaster(params: dict, channels: int, targets: int) -> SegmentRNN:
    """The untrained network of a parameter set."""
    names = (
        *("lookback", "horizon", "cell", "hidden_size", "segment"),
        *("channel_mode", "instance_norm", "dropout", "highway"),
    )
    return SegmentRNN(channels=channels, targets=targets, **{k: params[k] for k in names})


def check_windows(params: dict) -> None:
    """The window settings fit together (after :func:`validate_params`; a one-line ConfigError if not)."""
    if params["segment"] is None:
        raise ConfigError("segment must be an integer >= 1 for forecasting (a divisor of lookback); got None")
    if params["lookback"] % params["segment"]:
        raise ConfigError(
            f"lookback {params['lookback']} must be a multiple of segment {params['segment']} (the window is read "
            "in segments of that many steps)"
        )
    if params["season"] is not None and params["season"] > params["lookback"]:
        raise ConfigError(
            f"season {params['season']} must be at most lookback {params['lookback']} (it is read from the window)"
        )


def as_series(X: TimeSeries | np.ndarray, targets: list[str] | None = None) -> TimeSeries:
    """A :class:`TimeSeries` as it is; a DataFrame by its column names (``targets`` first: default
    all, see :func:`~rnnkit.data.timeseries.from_frame`); an array ``(time,)`` or ``(time, channels)``
    of numbers as one whose channels are all targets, named ``"0"``, ``"1"``, ..."""
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        return from_frame(X, targets)
    if targets is not None:
        raise ConfigError("targets= names columns of a DataFrame; a TimeSeries or an array says its own")
    if isinstance(X, TimeSeries):
        return X
    try:
        values = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("a series must be a TimeSeries or an array of numbers (time,) or (time, channels)") from None
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] == 0:
        raise DataError(f"a series must be an array (time,) or (time, channels); got shape {values.shape}")
    if not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
        raise DataError(f"the series has a missing or infinite value at row {row}; fill it first")
    return TimeSeries(values, [str(i) for i in range(values.shape[1])], values.shape[1])
