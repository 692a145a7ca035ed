"""The language model's files in a bundle: ``vocab.json`` (its tokens: characters or words) and
``model.safetensors``."""

from __future__ import annotations

from pathlib import Path

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
from rnnkit.tasks.params import validate_params
from rnnkit.text.pipeline import Vocab

FORMAT = "rnnkit-language-model"
FORMAT_VERSION = 1
FILES = ("vocab.json", "model.safetensors")
CONFIG_KEYS = frozenset(("vocab_size",))


def save(lm, path: Path, metrics: dict | None = None) -> Path:
    """Write a fitted ``LanguageModel`` to the directory ``path`` (replacing an older bundle)."""
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "task": "lm",
        "params": lm.params_,
        "vocab_size": len(lm.vocab_),
        "train_seconds": lm.train_seconds_,
    }
    files = {"vocab.json": json_bytes(lm.vocab_.to_json()), "model.safetensors": weights_bytes(lm.model_)}
    return write_bundle(path, config, files, lm.history_, metrics)


def load(path: Path, config: dict):
    """The ``LanguageModel`` of a bundle whose ``config.json`` has been read."""
    from rnnkit.tasks.language_model.estimator import LanguageModel, make_language_model

    check_files(path, FILES)
    known = set(LanguageModel().get_params())
    params = check_config(config, path, known, lambda p: validate_params(p, LanguageModel.monitors), CONFIG_KEYS)
    lm = LanguageModel(**params)
    lm.params_ = params
    lm.vocab_ = Vocab.from_json(read_json(path / "vocab.json"))
    if len(lm.vocab_) != check_count(config, "vocab_size", path, 5):
        raise BundleError(
            f"{path}: vocab.json has {len(lm.vocab_)} entries but config.json says {config['vocab_size']}"
        )
    lm.model_ = load_weights(path, lambda: make_language_model(params, len(lm.vocab_)))
    lm.history_ = read_history(path)
    lm.train_seconds_ = train_seconds(config)
    return lm
