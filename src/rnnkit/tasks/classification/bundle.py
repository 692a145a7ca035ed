"""The classifier's files in a bundle: ``vocab.json``, ``labels.json``, ``model.safetensors`` and,
when the blend has them, ``linear.safetensors`` (the linear models and the blend weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from rnnkit.errors import BundleError
from rnnkit.store.bundle import (
    check_config,
    check_count,
    check_files,
    json_bytes,
    load_weights,
    read_history,
    read_json,
    train_seconds,
    weights_bytes,
    write_bundle,
)
from rnnkit.store.tensorfile import read_tensors
from rnnkit.tasks.classification.linear import BUCKETS, PARTS, LinearModels
from rnnkit.tasks.classification.positional import MAX_FEATURES, PositionalModel, feature_count
from rnnkit.tasks.params import validate_params
from rnnkit.text.pipeline import Vocab

FORMAT = "rnnkit-text-classifier"
# 2: the linear models (rnnkit 0.3); 3: config.json names its task (0.4); 4: the positional model may
# join the blend (0.4). Format 1 bundles load as classifiers without the linear models.
FORMAT_VERSION = 4
FILES = ("vocab.json", "labels.json", "model.safetensors")
LINEAR_FILE = "linear.safetensors"
BLEND = "blend"  # the tensor of linear.safetensors holding the blend weights (TF-IDF, NB[, positional], RNN)
CONFIG_KEYS = frozenset(("vocab_size", "num_classes", "linear_features", "positional_length"))


def save(clf, path: Path, metrics: dict | None = None) -> Path:
    """Write a fitted ``TextClassifier`` to the directory ``path`` (replacing an older bundle)."""
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "task": "classification",
        "params": clf.params_,
        "vocab_size": len(clf.vocab_),
        "num_classes": len(clf.classes_),
        "train_seconds": clf.train_seconds_,
    }
    files = {
        "vocab.json": json_bytes(clf.vocab_.to_json()),
        "labels.json": json_bytes(clf.classes_.tolist()),
        "model.safetensors": weights_bytes(clf.model_),
    }
    if clf.linear_ is not None:
        config["linear_features"] = len(clf.linear_.columns)
        tensors = {**clf.linear_.tensors(), BLEND: torch.from_numpy(clf.blend_weights_)}
        if clf.positional_ is not None:
            config["positional_length"] = clf.positional_.length
            tensors |= clf.positional_.tensors()
        files[LINEAR_FILE] = safetensors.torch.save(tensors)
    return write_bundle(path, config, files, clf.history_, metrics)


def load(path: Path, config: dict):
    """The ``TextClassifier`` of a bundle whose ``config.json`` has been read."""
    from rnnkit.tasks.classification.estimator import TextClassifier, make_model

    check_files(path, FILES)
    _upgrade(config)
    known = set(TextClassifier().get_params())
    params = check_config(config, path, known, lambda p: validate_params(p, TextClassifier.monitors), CONFIG_KEYS)
    vocab_size, num_classes = (check_count(config, key, path, 2) for key in ("vocab_size", "num_classes"))
    clf = TextClassifier(**params)
    clf.params_ = params
    clf.vocab_ = Vocab.from_json(read_json(path / "vocab.json"))
    if len(clf.vocab_) != vocab_size:
        raise BundleError(f"{path}: vocab.json has {len(clf.vocab_)} tokens but config.json says {vocab_size}")
    clf.classes_ = _check_label_list(read_json(path / "labels.json"), num_classes, path)
    clf.model_ = load_weights(path, lambda: make_model(params, vocab_size, num_classes))
    linear = _load_linear(path, config, params, vocab_size) if params["linear"] else (None, None, None)
    clf.linear_, clf.positional_, clf.blend_weights_ = linear
    clf.history_ = read_history(path)
    clf.train_seconds_ = train_seconds(config)
    return clf


def _upgrade(config: dict) -> None:
    """Older bundles' params, in place, in today's names and meanings."""
    params = config.get("params")
    if isinstance(params, dict) and "encoding" in params and "token_encoding" not in params:
        # rnnkit 0.1 bundles named it "encoding", a name --encoding (the files' text encoding) now has.
        params["token_encoding"] = params.pop("encoding")
    if isinstance(params, dict) and config["format_version"] < 2:
        # Before format 2 the classifier was the recurrent model alone, without pretrained vectors.
        for name, value in {"linear": False, "embeddings": None, "freeze_embeddings": False}.items():
            params.setdefault(name, value)


def _load_linear(
    path: Path, config: dict, params: dict, vocab_size: int
) -> tuple[LinearModels, PositionalModel | None, np.ndarray]:
    """The linear models, the positional model (or None) and the blend weights, checked against
    config.json before and after reading."""
    features = config.get("linear_features")
    if not isinstance(features, int) or isinstance(features, bool) or not 0 <= features <= BUCKETS:
        raise BundleError(f"{path}/config.json: linear_features must be an integer in [0, {BUCKETS}]")
    length = config.get("positional_length")
    if length is not None and (not isinstance(length, int) or isinstance(length, bool) or length < 2
                               or feature_count(length, vocab_size) > 2 * MAX_FEATURES):  # fmt: skip
        raise BundleError(f"{path}/config.json: positional_length must be an integer >= 2 within the feature limit")
    if not (path / LINEAR_FILE).is_file():
        raise BundleError(f"{path}: incomplete model directory, missing {LINEAR_FILE}")
    expected = LinearModels.expected_tensors(features, config["num_classes"])
    if length is not None:
        expected |= PositionalModel.expected_tensors(length, vocab_size, config["num_classes"])
    with torch.device("meta"):
        expected[BLEND] = torch.empty(len(PARTS) + (length is not None) + 1)
    tensors = read_tensors(path / LINEAR_FILE, expected, BundleError, "config.json")
    weights = tensors.pop(BLEND).numpy()
    positional = None if length is None else PositionalModel.from_tensors(tensors, length, vocab_size)
    linear = LinearModels.from_tensors(tensors)
    problem = linear.check() or (positional.check() if positional is not None else None)
    problem = problem or (None if np.isfinite(weights).all() and (weights >= 0).all() else "bad blend weights")
    if problem:
        raise BundleError(f"{path}/{LINEAR_FILE}: {problem}")
    return linear, positional, weights


def _check_label_list(labels: object, expected: int, path: Path) -> np.ndarray:
    if (
        not isinstance(labels, list)
        or len(labels) != expected
        or not (all(isinstance(x, str) for x in labels) or all(type(x) in (int, float) for x in labels))
        or len(set(labels)) != len(labels)
        or labels != sorted(labels)
    ):
        raise BundleError(f"{path}/labels.json: expected {expected} distinct sorted labels, all strings or all numbers")
    return np.asarray(labels)
