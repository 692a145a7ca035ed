"""The model bundle: one directory holding everything prediction needs, and nothing executable.

``config.json`` (every setting and the rnnkit version), ``vocab.json``, ``labels.json``,
``model.safetensors`` (weights; never pickle), ``linear.safetensors`` (the linear models and the
blend weights, when the classifier has them), ``history.json`` and ``learning_curves.png``; when
metrics are given, ``metrics.json`` and one confusion-matrix PNG per evaluated split. The directory
is written under a temporary name and renamed into place when complete.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from rnnkit import __version__
from rnnkit.errors import BundleError, ConfigError
from rnnkit.report import plots
from rnnkit.store.atomic import write_directory
from rnnkit.store.tensorfile import read_tensors
from rnnkit.tasks.classification.linear import BUCKETS, PARTS, LinearModels
from rnnkit.tasks.params import validate_params
from rnnkit.text.pipeline import Vocab

FORMAT = "rnnkit-text-classifier"
FORMAT_VERSION = 2  # 2: the linear models (rnnkit 0.3); format 1 bundles load as classifiers without them
REQUIRED_FILES = ("config.json", "vocab.json", "labels.json", "model.safetensors")
LINEAR_FILE = "linear.safetensors"
BLEND = "blend"  # the tensor of linear.safetensors holding the blend weights (TF-IDF, NB, RNN)
# Everything config.json may hold; anything else is refused (a bundle is data, checked field by field).
CONFIG_KEYS = frozenset(
    (
        "format",
        "format_version",
        "rnnkit_version",
        "params",
        "vocab_size",
        "num_classes",
        "linear_features",
        "epochs",
        "train_seconds",
    )
)


def _json_bytes(data: object) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def check_output_directory(path: Path) -> None:
    """Refuse to replace anything but an empty directory or an earlier rnnkit bundle.

    Called before training too, so that a bad output path fails before hours of work.
    """
    if not path.exists():
        return
    if not path.is_dir():
        raise BundleError(f"{path}: exists and is not a directory; choose another output path")
    if not any(path.iterdir()):
        return
    config = path / "config.json"
    try:
        is_bundle = json.loads(config.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        is_bundle = False
    if not is_bundle:
        raise BundleError(f"{path}: exists and is not an rnnkit model directory; choose another output path")


def save_bundle(clf, path: Path, metrics: dict | None = None) -> Path:
    """Write a fitted ``TextClassifier`` to the directory ``path`` (replacing an older bundle)."""
    check_output_directory(path)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": __version__,
        "params": clf.params_,
        "vocab_size": len(clf.vocab_),
        "num_classes": len(clf.classes_),
        "epochs": len(clf.history_),
        "train_seconds": clf.train_seconds_,
    }
    files = {
        "config.json": _json_bytes(config),
        "vocab.json": _json_bytes(clf.vocab_.to_json()),
        "labels.json": _json_bytes(clf.classes_.tolist()),
        "model.safetensors": safetensors.torch.save(dict(clf.model_.state_dict())),
        "history.json": _json_bytes(clf.history_),
        "learning_curves.png": plots.learning_curves(clf.history_),
    }
    if clf.linear_ is not None:
        config["linear_features"] = len(clf.linear_.columns)
        files["config.json"] = _json_bytes(config)
        tensors = {**clf.linear_.tensors(), BLEND: torch.from_numpy(clf.blend_weights_)}
        files[LINEAR_FILE] = safetensors.torch.save(tensors)
    if metrics is not None:
        files["metrics.json"] = _json_bytes(metrics)
        for split, report in metrics.items():
            if isinstance(report, dict) and "confusion_matrix" in report:
                files[f"confusion_matrix_{split}.png"] = plots.confusion_matrix(
                    report["confusion_matrix"], report["labels"], f"confusion matrix ({split})"
                )
    write_directory(path, files)
    return path


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BundleError(f"{path}: not readable JSON ({exc})") from None


def load_model(path: str | Path):
    """Load a bundle written by ``TextClassifier.save``; refuse anything incomplete or inconsistent."""
    from rnnkit.tasks.classification.estimator import TextClassifier, make_model

    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: no such model directory")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise BundleError(f"{path}: incomplete model directory, missing {', '.join(missing)}")

    config = _read_json(path / "config.json")
    params = _check_config(config, path, set(TextClassifier().get_params()))
    clf = TextClassifier(**params)
    clf.params_ = params
    clf.vocab_ = Vocab.from_json(_read_json(path / "vocab.json"))
    if len(clf.vocab_) != config["vocab_size"]:
        raise BundleError(
            f"{path}: vocab.json has {len(clf.vocab_)} tokens but config.json says {config['vocab_size']}"
        )
    clf.classes_ = _check_label_list(_read_json(path / "labels.json"), config["num_classes"], path)
    try:
        with torch.device("meta"):  # shapes only: a hostile config cannot make us allocate first
            expected = make_model(params, len(clf.vocab_), len(clf.classes_)).state_dict()
    except (RuntimeError, ValueError) as exc:
        raise BundleError(f"{path}/config.json: describes a model that cannot be built ({exc})") from None
    tensors = read_tensors(path / "model.safetensors", expected, BundleError, "config.json")
    clf.model_ = make_model(params, len(clf.vocab_), len(clf.classes_))
    clf.model_.load_state_dict(tensors)
    clf.model_.eval()
    clf.linear_, clf.blend_weights_ = _load_linear(path, config, params) if params["linear"] else (None, None)
    history = _read_json(path / "history.json") if (path / "history.json").is_file() else []
    clf.history_ = history if _is_history(history) else []
    seconds = config.get("train_seconds")
    clf.train_seconds_ = float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else 0.0
    return clf


def _load_linear(path: Path, config: dict, params: dict) -> tuple[LinearModels, np.ndarray]:
    """The linear models and blend weights, checked against config.json before and after reading."""
    features = config.get("linear_features")
    if not isinstance(features, int) or isinstance(features, bool) or not 0 <= features <= BUCKETS:
        raise BundleError(f"{path}/config.json: linear_features must be an integer in [0, {BUCKETS}]")
    if not (path / LINEAR_FILE).is_file():
        raise BundleError(f"{path}: incomplete model directory, missing {LINEAR_FILE}")
    expected = LinearModels.expected_tensors(features, config["num_classes"])
    with torch.device("meta"):
        expected[BLEND] = torch.empty(len(PARTS) + 1)
    tensors = read_tensors(path / LINEAR_FILE, expected, BundleError, "config.json")
    weights = tensors.pop(BLEND).numpy()
    linear = LinearModels.from_tensors(tensors)
    problem = linear.check() or (None if np.isfinite(weights).all() and (weights >= 0).all() else "bad blend weights")
    if problem:
        raise BundleError(f"{path}/{LINEAR_FILE}: {problem}")
    return linear, weights


def _is_history(history: object) -> bool:
    """Epoch records as ``train`` writes them (anything else is dropped, not trusted)."""
    keys = {"epoch", "loss", "accuracy"}
    return isinstance(history, list) and all(
        isinstance(r, dict) and keys <= set(r) and all(isinstance(v, (int, float)) for v in r.values()) for r in history
    )


def _check_config(config: object, path: Path, known: set[str]) -> dict:
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise BundleError(f"{path}/config.json: not an rnnkit model configuration")
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BundleError(f"{path}/config.json: format_version must be an integer")
    if version > FORMAT_VERSION:
        raise BundleError(
            f"{path}: written by rnnkit {config.get('rnnkit_version', '?')} (bundle format {version}); "
            f"this rnnkit {__version__} reads format {FORMAT_VERSION}: upgrade rnnkit"
        )
    params = config.get("params")
    if isinstance(params, dict) and "encoding" in params and "token_encoding" not in params:
        # rnnkit 0.1 bundles named it "encoding", a name --encoding (the files' text encoding) now has.
        params["token_encoding"] = params.pop("encoding")
    if isinstance(params, dict) and version < 2:
        # Before format 2 the classifier was the recurrent model alone, without pretrained vectors.
        for name, value in {"linear": False, "embeddings": None, "freeze_embeddings": False}.items():
            params.setdefault(name, value)
    if not isinstance(params, dict) or set(params) != known:
        given = set(params) if isinstance(params, dict) else set()
        problem = sorted(given - known) or sorted(known - given)
        raise BundleError(f"{path}/config.json: params do not match this rnnkit (check: {', '.join(problem)})")
    try:
        validate_params(params)
    except ConfigError as exc:
        raise BundleError(f"{path}/config.json: {exc}") from None
    for key in ("vocab_size", "num_classes"):
        if not isinstance(config.get(key), int) or isinstance(config.get(key), bool) or config[key] < 2:
            raise BundleError(f"{path}/config.json: {key} must be an integer >= 2")
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise BundleError(f"{path}/config.json: unknown keys {', '.join(map(repr, unknown))}")
    return params


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
