"""The series classifier's files in a bundle: ``model.safetensors`` (the network) and
``series.safetensors`` (each channel's mean and scale from the training series; with neighbours,
their memory: the training series resampled, and their class indices), with the classes, the number
of channels, the segment length and the blend weight in ``config.json``.

Format 1 (before segments and neighbours) loads as what it was: one step per encoder step, the
network alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from rnnkit.errors import BundleError
from rnnkit.series.neighbours import NearestNeighbours
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
from rnnkit.tasks.series_classification.model import SeriesEnsemble

FORMAT = "rnnkit-series-classifier"
FORMAT_VERSION = 2
FILES = ("model.safetensors", "series.safetensors")
CONFIG_KEYS = frozenset(("classes", "channels", "segment_length", "members", "blend", "neighbours"))
VERSION_1 = {"segment": 1, "neighbours": False, "folds": 1}  # what version 1 did


def save(classifier, path: Path, metrics: dict | None = None) -> Path:
    """Write a fitted ``SeriesClassifier`` to the directory ``path`` (replacing an older bundle)."""
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "task": "classification",
        "params": classifier.params_,
        "classes": classifier.classes_.tolist(),
        "channels": classifier.channels_,
        "segment_length": classifier.segment_,
        "members": len(classifier.model_.members) if isinstance(classifier.model_, SeriesEnsemble) else 1,
        "blend": classifier.blend_,
        "train_seconds": classifier.train_seconds_,
    }
    scaling = {"mean": torch.from_numpy(classifier.scaler_.mean), "scale": torch.from_numpy(classifier.scaler_.scale)}
    nearest = classifier.neighbours_
    if nearest is not None:
        config["neighbours"] = {"count": len(nearest.memory), "length": nearest.length, "scale": nearest.scale}
        scaling |= {"memory": torch.from_numpy(nearest.memory), "memory_targets": torch.from_numpy(nearest.targets)}
    files = {
        "model.safetensors": weights_bytes(classifier.model_),
        "series.safetensors": safetensors.torch.save(scaling),
    }
    return write_bundle(path, config, files, classifier.history_, metrics)


def load(path: Path, config: dict):
    """The ``SeriesClassifier`` of a bundle whose ``config.json`` has been read."""
    from rnnkit.tasks.series_classification.estimator import SeriesClassifier, make_series_model

    check_files(path, FILES)
    if isinstance(config.get("params"), dict) and config["format_version"] < 2:
        config = {
            **config,
            "params": {**VERSION_1, **config["params"]},
            "segment_length": 1,
            "members": 1,
            "blend": 1.0,
        }
    known = set(SeriesClassifier().get_params())
    params = check_config(config, path, known, lambda p: validate_params(p, SeriesClassifier.monitors), CONFIG_KEYS)
    classes = config.get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or len({type(c) for c in classes}) != 1:
        raise BundleError(f"{path}/config.json: classes must be a list of at least two labels of one kind")
    if not all(isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in classes):
        raise BundleError(f"{path}/config.json: classes must be strings or numbers")
    channels = check_count(config, "channels", path, 1)
    segment, members = check_count(config, "segment_length", path, 1), check_count(config, "members", path, 1)
    blend = config.get("blend")
    if not isinstance(blend, float) or not 0.0 <= blend <= 1.0:
        raise BundleError(f"{path}/config.json: blend must be a number in [0, 1]")
    expected = {name: torch.empty(channels, dtype=torch.float64, device="meta") for name in ("mean", "scale")}
    remembered = config.get("neighbours")
    if remembered is not None:
        count, length = check_memory(remembered, path)
        expected["memory"] = torch.empty(count, length * channels, dtype=torch.float64, device="meta")
        expected["memory_targets"] = torch.empty(count, dtype=torch.int64, device="meta")
    scaling = read_tensors(path / "series.safetensors", expected, BundleError, "config.json")
    mean, scale = scaling["mean"].numpy(), scaling["scale"].numpy()
    if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
        raise BundleError(f"{path}/series.safetensors: the scaling must be finite with positive scales")
    classifier = SeriesClassifier(**params)
    classifier.params_, classifier.classes_, classifier.channels_ = params, np.asarray(classes), channels
    classifier.scaler_, classifier.segment_, classifier.blend_ = Standardizer(mean, scale), segment, blend
    classifier.neighbours_ = None
    if remembered is not None:
        memory, memory_targets = scaling["memory"].numpy(), scaling["memory_targets"].numpy()
        if not np.isfinite(memory).all() or not ((memory_targets >= 0) & (memory_targets < len(classes))).all():
            raise BundleError(f"{path}/series.safetensors: the neighbours' memory must be finite with known classes")
        classifier.neighbours_ = NearestNeighbours(memory, memory_targets, len(classes), length, remembered["scale"])
    classifier.model_ = load_weights(path, lambda: make_series_model(params, channels * segment, len(classes), members))
    classifier.history_ = read_history(path)
    classifier.train_seconds_ = train_seconds(config)
    return classifier


def check_memory(remembered: object, path: Path) -> tuple[int, int]:
    """(count, length) of the neighbours' entry in ``config.json``, checked."""
    if not isinstance(remembered, dict) or set(remembered) != {"count", "length", "scale"}:
        raise BundleError(f"{path}/config.json: neighbours must hold exactly count, length and scale")
    count, length = check_count(remembered, "count", path, 1), check_count(remembered, "length", path, 1)
    scale = remembered["scale"]
    if not isinstance(scale, float) or not np.isfinite(scale) or scale <= 0:
        raise BundleError(f"{path}/config.json: the neighbours' scale must be a positive number")
    return count, length
