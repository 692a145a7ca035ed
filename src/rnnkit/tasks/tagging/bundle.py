"""The tagger's files in a bundle: ``vocab.json`` (words), ``chars.json`` (characters), ``tags.json``
(the tags the model scores, in its own scheme) and ``model.safetensors``; ``config.json`` records the
scheme of the training data, in which predictions are written back."""

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
from rnnkit.tasks.tagging.schemes import SCHEMES
from rnnkit.text.pipeline import Vocab

FORMAT = "rnnkit-sequence-tagger"
FORMAT_VERSION = 2  # 2: params hold "ensemble" (an ensemble's weights are members.<i>.*)
FILES = ("vocab.json", "chars.json", "tags.json", "model.safetensors")
CONFIG_KEYS = frozenset(("vocab_size", "num_chars", "num_tags", "scheme"))


def save(tagger, path: Path, metrics: dict | None = None) -> Path:
    """Write a fitted ``SequenceTagger`` to the directory ``path`` (replacing an older bundle)."""
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "task": "tagging",
        "params": tagger.params_,
        "scheme": tagger.scheme_,
        "vocab_size": len(tagger.vocab_),
        "num_chars": len(tagger.char_vocab_),
        "num_tags": len(tagger.tag_names_),
        "train_seconds": tagger.train_seconds_,
    }
    files = {
        "vocab.json": json_bytes(tagger.vocab_.to_json()),
        "chars.json": json_bytes(tagger.char_vocab_.to_json()),
        "tags.json": json_bytes(tagger.tag_names_),
        "model.safetensors": weights_bytes(tagger.model_),
    }
    return write_bundle(path, config, files, tagger.history_, metrics)


def load(path: Path, config: dict):
    """The ``SequenceTagger`` of a bundle whose ``config.json`` has been read."""
    from rnnkit.tasks.tagging.estimator import SequenceTagger, make_tagger, tag_set

    check_files(path, FILES)
    if isinstance(config.get("params"), dict) and config["format_version"] < 2:
        config["params"].setdefault("ensemble", 1)  # before ensembles, a bundle held one tagger
    known = set(SequenceTagger().get_params())
    params = check_config(config, path, known, lambda p: validate_params(p, SequenceTagger.monitors), CONFIG_KEYS)
    if config.get("scheme") not in SCHEMES:
        raise BundleError(f"{path}/config.json: scheme must be one of {', '.join(SCHEMES)}")
    tagger = SequenceTagger(**params)
    tagger.params_, tagger.scheme_ = params, config["scheme"]
    for attribute, name, key in (("vocab_", "vocab.json", "vocab_size"), ("char_vocab_", "chars.json", "num_chars")):
        vocab = Vocab.from_json(read_json(path / name))
        if len(vocab) != check_count(config, key, path, 1):
            raise BundleError(f"{path}: {name} has {len(vocab)} entries but config.json says {config[key]}")
        setattr(tagger, attribute, vocab)
    tags = read_json(path / "tags.json")
    num_tags = check_count(config, "num_tags", path, 1)
    if (
        not isinstance(tags, list)
        or len(tags) != num_tags
        or not all(isinstance(t, str) and t for t in tags)
        or tags != tag_set([tags], tagger.scheme_)
    ):
        problem = f"expected the {num_tags} tags of a tagger, in the order training writes them"
        raise BundleError(f"{path}/tags.json: {problem}")
    tagger.tag_names_ = tags
    tagger.model_ = load_weights(path, lambda: make_tagger(params, len(tagger.vocab_), len(tagger.char_vocab_), tags))
    tagger.history_ = read_history(path)
    tagger.train_seconds_ = train_seconds(config)
    return tagger
