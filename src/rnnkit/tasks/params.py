"""Validation of the estimators' parameters, shared by the Python API, the CLI and bundle loading.

Every estimator's parameters are checked by the same rules (a name means the same everywhere); each
checks only the names it has. The defaults live in one place only: each estimator's ``__init__``.
"""

from __future__ import annotations

import numbers

from rnnkit.errors import ConfigError
from rnnkit.nn.attention import ATTENTIONS
from rnnkit.nn.chars import CHAR_ENCODERS
from rnnkit.nn.encoder import CELLS, ENCODINGS, POOLINGS
from rnnkit.tasks.forecasting.examples import LOSSES
from rnnkit.tasks.forecasting.model import CHANNEL_MODES, INSTANCE_NORMS
from rnnkit.tasks.tagging.schemes import SCHEMES
from rnnkit.text.pipeline import SPECIALS, TOKENIZERS
from rnnkit.text.subwords import SUBWORD_MODELS
from rnnkit.train.loop import MONITORS

CHOICES = {
    "cell": CELLS,
    "token_encoding": ENCODINGS,
    "pooling": POOLINGS,
    "tokenizer": TOKENIZERS,
    "padding": ("pre", "post"),
    "truncating": ("pre", "post"),
    "class_weight": (None, "balanced"),
    "monitor": MONITORS,
    "char_encoder": CHAR_ENCODERS,
    "tag_scheme": (None, *SCHEMES, "iobes"),
    "attention": ATTENTIONS,
    "subword_model": SUBWORD_MODELS,
    "channel_mode": CHANNEL_MODES,
    "instance_norm": INSTANCE_NORMS,
    "loss": LOSSES,
}
BOOLEANS = (
    *("bidirectional", "casing", "crf", "freeze_embeddings", "linear", "lowercase", "stopwords", "tie_weights"),
    *("input_feeding", "shared_vocab", "highway", "neighbours", "verbose"),
)
# Integers whose None means "chosen from the data" (auto) rather than "no limit".
AUTO = ("epochs", "patience", "segment", "folds")
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
    "char_dim": (1, False),
    "char_size": (2, False),
    "ensemble": (1, False),
    "steps": (2, False),
    "vocab_size": (300, False),  # SentencePiece's 256 bytes and our 4 specials come first
    "beam": (1, False),
    "lookback": (1, False),
    "horizon": (1, False),
    "segment": (1, True),
    "folds": (1, True),
    "season": (1, True),
}


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def validate_params(params: dict, monitors: tuple = MONITORS) -> None:
    """Raise :class:`ConfigError` naming the first parameter whose value is not allowed; ``monitors``
    are the values ``monitor`` may take for this estimator."""
    choices = {**CHOICES, "monitor": monitors}
    for name, allowed in choices.items():
        if name in params and params[name] not in allowed:
            shown = ", ".join(repr(a) if a is None else a for a in allowed)
            raise ConfigError(f"{name} must be one of {shown}; got {params[name]!r}")
    for name in BOOLEANS:
        if name in params and not isinstance(params[name], bool):
            raise ConfigError(f"{name} must be True or False; got {params[name]!r}")
    for name, (low, nullable) in POSITIVE_INTS.items():
        value = params.get(name)
        if name not in params or (value is None and nullable):
            continue
        if not _is_int(value) or value < low:
            none = " or None (auto)" if name in AUTO else " or None" if nullable else ""
            raise ConfigError(f"{name} must be an integer >= {low}{none}; got {value!r}")
    vectors = params.get("embeddings")
    if vectors is not None and (not isinstance(vectors, str) or not vectors):
        raise ConfigError(f"embeddings must be the path of a word-vector file or None; got {vectors!r}")
    for name in ("dropout", "word_dropout", "label_smoothing"):
        _check_fraction(params, name)
    if params.get("augment") is not None:
        _check_fraction(params, "augment")
    penalty = params.get("length_penalty", 0)
    if not _is_number(penalty) or not 0 <= penalty <= 10:
        raise ConfigError(f"length_penalty must be a number in [0, 10]; got {penalty!r}")
    if not _is_number(params["lr"]) or not params["lr"] > 0:
        raise ConfigError(f"lr must be a positive number; got {params['lr']!r}")
    _check_fraction(params, "ema")
    if not _is_number(params["lr_decay"]) or not 0 < params["lr_decay"] <= 1:
        raise ConfigError(f"lr_decay must be a number in (0, 1]; got {params['lr_decay']!r}")
    clip = params["clip_norm"]
    if clip is not None and (not _is_number(clip) or not clip > 0):
        raise ConfigError(f"clip_norm must be a positive number or None; got {clip!r}")
    _check_fraction(params, "val_fraction")


def _check_fraction(params: dict, name: str) -> None:
    value = params.get(name, 0)
    if not _is_number(value) or not 0 <= value < 1:
        raise ConfigError(f"{name} must be a number in [0, 1); got {value!r}")
