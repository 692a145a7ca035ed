"""The translator's files in a bundle: ``source.model`` and ``target.model`` (the two SentencePiece
subword models, serialized protobuf data, checked on load) and ``model.safetensors``."""

from __future__ import annotations

from pathlib import Path

from rnnkit.errors import BundleError
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
from rnnkit.tasks.params import validate_params
from rnnkit.text.subwords import SubwordTokenizer

FORMAT = "rnnkit-translator"
FORMAT_VERSION = 2  # 2: params hold "input_feeding", "subword_model" and "shared_vocab"
VERSION_1 = {"input_feeding": True, "subword_model": "bpe", "shared_vocab": False}  # what version 1 did
FILES = ("source.model", "target.model", "model.safetensors")
CONFIG_KEYS = frozenset(("source_vocab", "target_vocab"))


def save(translator, path: Path, metrics: dict | None = None) -> Path:
    """Write a fitted ``Translator`` to the directory ``path`` (replacing an older bundle)."""
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "task": "translation",
        "params": translator.params_,
        "source_vocab": len(translator.source_tokenizer_),
        "target_vocab": len(translator.target_tokenizer_),
        "train_seconds": translator.train_seconds_,
    }
    files = {
        "source.model": translator.source_tokenizer_.to_bytes(),
        "target.model": translator.target_tokenizer_.to_bytes(),
        "model.safetensors": weights_bytes(translator.model_),
    }
    return write_bundle(path, config, files, translator.history_, metrics)


def load(path: Path, config: dict):
    """The ``Translator`` of a bundle whose ``config.json`` has been read."""
    from rnnkit.tasks.translation.estimator import Translator, make_seq2seq

    check_files(path, FILES)
    if isinstance(config.get("params"), dict) and config["format_version"] < 2:
        config["params"] = {**VERSION_1, **config["params"]}
    known = set(Translator().get_params())
    params = check_config(config, path, known, lambda p: validate_params(p, Translator.monitors), CONFIG_KEYS)
    translator = Translator(**params)
    translator.params_ = params
    for attribute, name, key in (
        ("source_tokenizer_", "source.model", "source_vocab"),
        ("target_tokenizer_", "target.model", "target_vocab"),
    ):
        try:
            tokenizer = SubwordTokenizer.from_bytes((path / name).read_bytes())
        except ValueError as exc:
            raise BundleError(f"{path}/{name}: {exc}") from None
        if len(tokenizer) != check_count(config, key, path, 5):
            raise BundleError(f"{path}: {name} has {len(tokenizer)} subwords but config.json says {config[key]}")
        setattr(translator, attribute, tokenizer)
    sizes = len(translator.source_tokenizer_), len(translator.target_tokenizer_)
    translator.model_ = load_weights(path, lambda: make_seq2seq(params, *sizes))
    translator.history_ = read_history(path)
    translator.train_seconds_ = train_seconds(config)
    return translator
