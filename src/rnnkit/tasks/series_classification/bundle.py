"""The series classifier's files in a bundle: ``model.safetensors`` (the network) and
``series.safetensors`` (each channel's mean and scale from the training series), with the classes
and the number of channels in ``config.json``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from rnnkit.errors import BundleError
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

FORMAT = "rnnkit-series-classifier"
FORMAT_VERSION = 1
FILES = ("model.safetensors", "series.safetensors")
CONFIG_KEYS = frozenset(("classes", "channels"))


def save(classifier, path: Path, metrics: dict | None = None) -> Path:
    """Write a fitted ``SeriesClassifier`` to the directory ``path`` (replacing an older bundle)."""
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "task": "classification",
        "params": classifier.params_,
        "classes": classifier.classes_.tolist(),
        "channels": classifier.channels_,
        "train_seconds": classifier.train_seconds_,
    }
    scaling = {"mean": torch.from_numpy(classifier.scaler_.mean), "scale": torch.from_numpy(classifier.scaler_.scale)}
    files = {
        "model.safetensors": weights_bytes(classifier.model_),
        "series.safetensors": safetensors.torch.save(scaling),
    }
    return write_bundle(path, config, files, classifier.history_, metrics)


def load(path: Path, config: dict):
    """The ``SeriesClassifier`` of a bundle whose ``config.json`` has been read."""
    from rnnkit.tasks.series_classification.estimator import SeriesClassifier, make_series_model

    check_files(path, FILES)
    known = set(SeriesClassifier().get_params())
    params = check_config(config, path, known, lambda p: validate_params(p, SeriesClassifier.monitors), CONFIG_KEYS)
    classes = config.get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or len({type(c) for c in classes}) != 1:
        raise BundleError(f"{path}/config.json: classes must be a list of at least two labels of one kind")
    if not all(isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in classes):
        raise BundleError(f"{path}/config.json: classes must be strings or numbers")
    channels = check_count(config, "channels", path, 1)
    expected = {name: torch.empty(channels, dtype=torch.float64, device="meta") for name in ("mean", "scale")}
    scaling = read_tensors(path / "series.safetensors", expected, BundleError, "config.json")
    mean, scale = scaling["mean"].numpy(), scaling["scale"].numpy()
    if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
        raise BundleError(f"{path}/series.safetensors: the scaling must be finite with positive scales")
    classifier = SeriesClassifier(**params)
    classifier.params_, classifier.classes_, classifier.channels_ = params, np.asarray(classes), channels
    classifier.scaler_ = Standardizer(mean, scale)
    classifier.model_ = load_weights(path, lambda: make_series_model(params, channels, len(classes)))
    classifier.history_ = read_history(path)
    classifier.train_seconds_ = train_seconds(config)
    return classifier
