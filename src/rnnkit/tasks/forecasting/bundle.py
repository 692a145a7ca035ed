"""The forecaster's files in a bundle: ``model.safetensors`` (the network) and ``series.safetensors``
(the standardisation's per-channel mean and scale, fitted on the training rows, and the ridge
regression's weights), with the columns, the number of targets, the time step and the blend weight
in ``config.json``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from rnnkit.errors import BundleError
from rnnkit.series.baselines import LinearBaseline
from rnnkit.series.scaling import Standardizer
from rnnkit.store.bundle import (
    check_config,
    check_count,
    check_files,
    load_weights,
    read_history,
    train_seconds,
    weights_bytes,
    write_bundle,
)
from rnnkit.store.tensorfile import read_tensors
from rnnkit.tasks.params import validate_params

FORMAT = "rnnkit-forecaster"
FORMAT_VERSION = 1
FILES = ("model.safetensors", "series.safetensors")
CONFIG_KEYS = frozenset(("columns", "time_column", "targets", "step", "penalty", "blend"))
TIME_UNITS = ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns")


def save(forecaster, path: Path, metrics: dict | None, figures: dict[str, bytes]) -> Path:
    """Write a fitted ``Forecaster`` to the directory ``path`` (replacing an older bundle), with the
    ``figures`` (PNG file name -> bytes)."""
    step = forecaster.step_
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "task": "forecast",
        "params": forecaster.params_,
        "columns": forecaster.columns_,
        "time_column": forecaster.time_column_,
        "targets": forecaster.targets_,
        "step": None if step is None else [int(step.astype(np.int64)), np.datetime_data(step.dtype)[0]],
        "penalty": forecaster.linear_.penalty,
        "blend": forecaster.blend_,
        "train_seconds": forecaster.train_seconds_,
    }
    series = {
        "mean": torch.from_numpy(forecaster.scaler_.mean),
        "scale": torch.from_numpy(forecaster.scaler_.scale),
        "linear": torch.from_numpy(forecaster.linear_.weights),
    }
    files = {"model.safetensors": weights_bytes(forecaster.model_)}
    files["series.safetensors"] = safetensors.torch.save(series)
    files |= {name: png for name, png in figures.items() if name.endswith(".png") and name not in files}
    return write_bundle(path, config, files, forecaster.history_, metrics)


def load(path: Path, config: dict):
    """The ``Forecaster`` of a bundle whose ``config.json`` has been read."""
    from rnnkit.tasks.forecasting.estimator import Forecaster, check_windows, make_forecaster

    check_files(path, FILES)
    known = set(Forecaster().get_params())

    def validate(params: dict) -> None:
        validate_params(params, Forecaster.monitors)
        check_windows(params)

    params = check_config(config, path, known, validate, CONFIG_KEYS)
    columns = config.get("columns")
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        raise BundleError(f"{path}/config.json: columns must be a list of column names")
    targets = check_count(config, "targets", path, 1)
    if targets > len(columns):
        raise BundleError(f"{path}/config.json: targets must be at most the {len(columns)} columns")
    forecaster = Forecaster(**params)
    forecaster.params_, forecaster.columns_, forecaster.targets_ = params, columns, targets
    forecaster.step_ = _step(config.get("step"), path)
    time_column = config.get("time_column")
    if time_column is not None and not isinstance(time_column, str):
        raise BundleError(f"{path}/config.json: time_column must be null or a column name")
    forecaster.time_column_ = time_column
    channels, lookback, horizon = len(columns), params["lookback"], params["horizon"]
    expected = {
        "mean": torch.empty(channels, dtype=torch.float64, device="meta"),
        "scale": torch.empty(channels, dtype=torch.float64, device="meta"),
        "linear": torch.empty(lookback + 1, horizon, dtype=torch.float64, device="meta"),
    }
    series = read_tensors(path / "series.safetensors", expected, BundleError, "config.json")
    scale = series["scale"].numpy()
    if not np.isfinite(series["mean"].numpy()).all() or not (np.isfinite(scale).all() and (scale > 0).all()):
        raise BundleError(f"{path}/series.safetensors: the scaling must be finite with positive scales")
    forecaster.scaler_ = Standardizer(series["mean"].numpy(), scale)
    penalty = config.get("penalty")
    if not isinstance(penalty, (int, float)) or isinstance(penalty, bool):
        raise BundleError(f"{path}/config.json: penalty must be a number")
    forecaster.linear_ = LinearBaseline(series["linear"].numpy(), float(penalty))
    blend = config.get("blend")
    if not isinstance(blend, (int, float)) or isinstance(blend, bool) or not 0 <= blend <= 1:
        raise BundleError(f"{path}/config.json: blend must be a number in [0, 1]")
    forecaster.blend_ = float(blend)
    forecaster.model_ = load_weights(path, lambda: make_forecaster(params, channels, targets))
    forecaster.history_ = read_history(path)
    forecaster.train_seconds_ = train_seconds(config)
    return forecaster


def _step(step: object, path: Path) -> np.timedelta64 | None:
    """``[count, unit]`` as written by :func:`save`, or None."""
    if step is None:
        return None
    ok = isinstance(step, list) and len(step) == 2 and isinstance(step[0], int) and not isinstance(step[0], bool)
    if not ok or step[1] not in TIME_UNITS or step[0] <= 0:
        raise BundleError(f"{path}/config.json: step must be null or [a positive count, a time unit]")
    return np.timedelta64(step[0], step[1])
