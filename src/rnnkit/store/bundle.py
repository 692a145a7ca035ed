"""The model bundle: one directory holding everything prediction needs, and nothing executable.

Every task writes the same kind of directory: ``config.json`` (format, task, every setting and the
rnnkit version), its vocabularies and label lists as JSON, its weights as safetensors (never
pickle), ``history.json`` and ``learning_curves.png``; when metrics are given, ``metrics.json`` and
one confusion-matrix PNG per evaluated split that has one. The directory is written under a
temporary name and renamed into place when complete. Loading checks every field before trusting
it; the tasks (``rnnkit.tasks``) say which files they need and what each must hold.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import safetensors.torch
import torch
import torch.distributed as dist
from torch import nn

from rnnkit import __version__
from rnnkit.errors import BundleError, ConfigError
from rnnkit.report import plots
from rnnkit.store.atomic import write_directory
from rnnkit.store.card import model_card
from rnnkit.store.tensorfile import read_tensors

FORMAT_PREFIX = "rnnkit-"  # every bundle's format is "rnnkit-<kind>"
# Keys every config.json may hold beside a task's own.
COMMON_KEYS = frozenset(("format", "format_version", "rnnkit_version", "task", "params", "epochs", "train_seconds"))


def json_bytes(data: object) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BundleError(f"{path}: not readable JSON ({exc})") from None


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
    try:
        kind = json.loads((path / "config.json").read_text(encoding="utf-8")).get("format")
        is_bundle = isinstance(kind, str) and kind.startswith(FORMAT_PREFIX)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        is_bundle = False
    if not is_bundle:
        raise BundleError(f"{path}: exists and is not an rnnkit model directory; choose another output path")


def write_bundle(path: Path, config: dict, files: dict[str, bytes], history: list[dict], metrics: dict | None) -> Path:
    """Write ``config`` and a task's ``files`` with the history, curves, metrics and model card every
    bundle has."""
    check_output_directory(path)
    config = {**config, "rnnkit_version": __version__, "epochs": len(history)}
    if metrics is not None and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        metrics = {**metrics, "distributed": distributed_setup(config["params"])}
    files = {
        "config.json": json_bytes(config),
        "MODEL_CARD.md": model_card(config, history, metrics).encode("utf-8"),
        **files,
        "history.json": json_bytes(history),
        "learning_curves.png": plots.learning_curves(history),
    }
    if metrics is not None:
        files["metrics.json"] = json_bytes(metrics)
        for split, report in metrics.items():
            if isinstance(report, dict) and "confusion_matrix" in report:
                files[f"confusion_matrix_{split}.png"] = plots.confusion_matrix(
                    report["confusion_matrix"], report["labels"], f"confusion matrix ({split})"
                )
    write_directory(path, files)
    return path


def distributed_setup(params: dict) -> dict:
    """How a distributed run trained (saved by rank 0 while the process group exists): ``batch_size``
    is the batch of all processes together, ``lr`` used as given."""
    processes = dist.get_world_size()
    return {
        "processes": processes,
        "backend": str(dist.get_backend()),
        "batch_size": params["batch_size"],
        "batch_size_per_process": params["batch_size"] / processes,
        "lr": params["lr"],
    }


def weights_bytes(model: nn.Module) -> bytes:
    return safetensors.torch.save(dict(model.state_dict()))


def read_config(path: Path, formats: dict[str, int]) -> dict:
    """``config.json`` of the bundle at ``path``, whose format must be one of ``formats`` (name ->
    the newest version this rnnkit reads)."""
    if not path.is_dir():
        raise BundleError(f"{path}: no such model directory")
    if not (path / "config.json").is_file():
        raise BundleError(f"{path}: incomplete model directory, missing config.json")
    config = read_json(path / "config.json")
    if not isinstance(config, dict) or not isinstance(config.get("format"), str) or config["format"] not in formats:
        raise BundleError(f"{path}/config.json: not an rnnkit model configuration")
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BundleError(f"{path}/config.json: format_version must be an integer")
    newest = formats[config["format"]]
    if version > newest:
        raise BundleError(
            f"{path}: written by rnnkit {config.get('rnnkit_version', '?')} (bundle format {version}); "
            f"this rnnkit {__version__} reads format {newest}: upgrade rnnkit"
        )
    return config


def check_files(path: Path, names: tuple[str, ...]) -> None:
    missing = [name for name in names if not (path / name).is_file()]
    if missing:
        raise BundleError(f"{path}: incomplete model directory, missing {', '.join(missing)}")


def check_config(config: dict, path: Path, known: set[str], validate: Callable[[dict], None], keys: frozenset) -> dict:
    """The ``params`` of ``config``: exactly the ``known`` names, valid by ``validate``; ``config``
    itself may hold only ``COMMON_KEYS`` and the task's ``keys``."""
    params = config.get("params")
    if not isinstance(params, dict) or set(params) != known:
        given = set(params) if isinstance(params, dict) else set()
        problem = sorted(given - known) or sorted(known - given)
        raise BundleError(f"{path}/config.json: params do not match this rnnkit (check: {', '.join(problem)})")
    try:
        validate(params)
    except ConfigError as exc:
        raise BundleError(f"{path}/config.json: {exc}") from None
    unknown = sorted(set(config) - COMMON_KEYS - keys)
    if unknown:
        raise BundleError(f"{path}/config.json: unknown keys {', '.join(map(repr, unknown))}")
    return params


def check_count(config: dict, key: str, path: Path, low: int) -> int:
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise BundleError(f"{path}/config.json: {key} must be an integer >= {low}")
    return value


def load_weights(path: Path, build: Callable[[], nn.Module]) -> nn.Module:
    """The network ``build()`` makes, with the weights of ``model.safetensors``: shapes are checked
    against a model built on the meta device first, so a hostile config cannot make us allocate."""
    try:
        with torch.device("meta"):
            expected = build().state_dict()
    except (RuntimeError, ValueError, TypeError, OverflowError) as exc:  # TypeError: a size past 64 bits
        reason = str(exc).splitlines()[0]  # PyTorch may append a C++ stack
        raise BundleError(f"{path}/config.json: describes a model that cannot be built ({reason})") from None
    tensors = read_tensors(path / "model.safetensors", expected, BundleError, "config.json")
    model = build()
    model.load_state_dict(tensors)
    return model.eval()


def read_history(path: Path) -> list[dict]:
    """Epoch records as ``train`` writes them (anything else is dropped, not trusted)."""
    history = read_json(path / "history.json") if (path / "history.json").is_file() else []
    keys = {"epoch", "loss"}
    valid = isinstance(history, list) and all(
        isinstance(r, dict) and keys <= set(r) and all(isinstance(v, (int, float)) for v in r.values()) for r in history
    )
    return history if valid else []


def train_seconds(config: dict) -> float:
    seconds = config.get("train_seconds")
    return float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else 0.0
