"""Validation of the estimator's parameters, shared by the Python API, the CLI and bundle loading.

The defaults themselves live in one place only: the signature of ``TextClassifier.__init__``.
"""

from __future__ import annotations

import numbers

from rnnkit.errors import ConfigError
from rnnkit.nn.encoder import CELLS, ENCODINGS, POOLINGS
from rnnkit.text.pipeline import SPECIALS, TOKENIZERS
from rnnkit.train.loop import MONITORS

CHOICES = {
    "cell": tuple(CELLS),
    "token_encoding": ENCODINGS,
    "pooling": POOLINGS,
    "tokenizer": TOKENIZERS,
    "padding": ("pre", "post"),
    "truncating": ("pre", "post"),
    "class_weight": (None, "balanced"),
    "monitor": MONITORS,
}
BOOLEANS = ("bidirectional", "freeze_embeddings", "linear", "lowercase", "stopwords", "verbose")
# Integers whose None means "chosen from the data" (auto) rather than "no limit".
AUTO = ("epochs", "patience")
# name -> (smallest allowed value, whether None is allowed)
POSITIVE_INTS = {
    "num_layers": (1, False),
    "hidden_size": (1, False),
    "embedding_dim": (1, False),
    "num_words": (len(SPECIALS) + 1, True),
    "min_freq": (1, False),
    "max_length": (1, True),
    "batch_size": (1, False),
    "epochs": (1, True),
    "patience": (1, True),
    "seed": (0, False),
    "ngram_buckets": (0, False),
}


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def validate_params(params: dict) -> None:
    """Raise :class:`ConfigError` naming the first parameter whose value is not allowed."""
    for name, allowed in CHOICES.items():
        if params[name] not in allowed:
            shown = ", ".join(repr(a) if a is None else a for a in allowed)
            raise ConfigError(f"{name} must be one of {shown}; got {params[name]!r}")
    for name in BOOLEANS:
        if not isinstance(params[name], bool):
            raise ConfigError(f"{name} must be True or False; got {params[name]!r}")
    for name, (low, nullable) in POSITIVE_INTS.items():
        value = params[name]
        if value is None and nullable:
            continue
        if not _is_int(value) or value < low:
            none = " or None (auto)" if name in AUTO else " or None" if nullable else ""
            raise ConfigError(f"{name} must be an integer >= {low}{none}; got {value!r}")
    vectors = params["embeddings"]
    if vectors is not None and (not isinstance(vectors, str) or not vectors):
        raise ConfigError(f"embeddings must be the path of a word-vector file or None; got {vectors!r}")
    if not _is_number(params["dropout"]) or not 0 <= params["dropout"] < 1:
        raise ConfigError(f"dropout must be a number in [0, 1); got {params['dropout']!r}")
    if not _is_number(params["lr"]) or not params["lr"] > 0:
        raise ConfigError(f"lr must be a positive number; got {params['lr']!r}")
    if not _is_number(params["ema"]) or not 0 <= params["ema"] < 1:
        raise ConfigError(f"ema must be a number in [0, 1); got {params['ema']!r}")
    if not _is_number(params["lr_decay"]) or not 0 < params["lr_decay"] <= 1:
        raise ConfigError(f"lr_decay must be a number in (0, 1]; got {params['lr_decay']!r}")
    clip = params["clip_norm"]
    if clip is not None and (not _is_number(clip) or not clip > 0):
        raise ConfigError(f"clip_norm must be a positive number or None; got {clip!r}")
    if not _is_number(params["val_fraction"]) or not 0 <= params["val_fraction"] < 1:
        raise ConfigError(f"val_fraction must be a number in [0, 1); got {params['val_fraction']!r}")
