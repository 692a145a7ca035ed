"""``TextClassifier``: the scikit-learn-style face of the whole pipeline.

Parameters are stored untouched by ``__init__`` (so ``clone``, ``get_params`` and grid search work);
everything learned by ``fit`` ends in ``_``. The defaults are chosen for text classification in
general (short sentences to long reviews), not for one dataset.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from rnnkit.batching import Ragged, encode_token_lists
from rnnkit.config import validate_params
from rnnkit.datasets import stratified_split
from rnnkit.errors import DataError
from rnnkit.models import RNNClassifier
from rnnkit.text import TextPipeline, Vocab
from rnnkit.training import TrainSettings, predict_proba, train


class TextClassifier(ClassifierMixin, BaseEstimator):
    """Recurrent text classifier: texts in, labels and probabilities out.

    See the README for what each parameter does. ``verbose=True`` prints one line per epoch (and
    a progress bar on a terminal).
    """

    def __init__(
        self,
        *,
        cell: str = "gru",
        bidirectional: bool = True,
        num_layers: int = 1,
        hidden_size: int = 128,
        embedding_dim: int = 128,
        encoding: str = "embedding",
        dropout: float = 0.3,
        pooling: str = "max",
        tokenizer: str = "word",
        lowercase: bool = True,
        stopwords: bool = False,
        num_words: int | None = 30000,
        min_freq: int = 2,
        max_length: int | None = 400,
        padding: str = "post",
        truncating: str = "pre",
        batch_size: int = 64,
        epochs: int = 10,
        lr: float = 2e-3,
        clip_norm: float | None = 1.0,
        patience: int = 2,
        class_weight: str | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        verbose: bool = False,
    ):
        self.cell = cell
        self.bidirectional = bidirectional
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.embedding_dim = embedding_dim
        self.encoding = encoding
        self.dropout = dropout
        self.pooling = pooling
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.stopwords = stopwords
        self.num_words = num_words
        self.min_freq = min_freq
        self.max_length = max_length
        self.padding = padding
        self.truncating = truncating
        self.batch_size = batch_size
        self.epochs = epochs
        self.lr = lr
        self.clip_norm = clip_norm
        self.patience = patience
        self.class_weight = class_weight
        self.val_fraction = val_fraction
        self.seed = seed
        self.verbose = verbose

    # -- building blocks shared by fit, prediction and bundle loading --------------------------

    def _pipeline(self) -> TextPipeline:
        return TextPipeline(tokenizer=self.tokenizer, lowercase=self.lowercase, stopwords=self.stopwords)

    def _build_model(self, vocab_size: int, num_classes: int) -> RNNClassifier:
        return RNNClassifier(
            vocab_size,
            num_classes,
            cell=self.cell,
            hidden_size=self.hidden_size,
            embedding_dim=self.embedding_dim,
            encoding=self.encoding,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            pooling=self.pooling,
            padding=self.padding,
        )

    def _encode(self, token_lists) -> Ragged:
        return encode_token_lists(token_lists, self.vocab_, self.max_length, self.truncating)

    def _targets(self, labels: np.ndarray, what: str) -> np.ndarray:
        """Class indices for labels, refusing labels not seen in training."""
        check_known_labels(labels, self.classes_, what)
        return np.searchsorted(self.classes_, labels).astype(np.int64)

    # -- the estimator API ------------------------------------------------------------------------

    def fit(self, X: Sequence[str], y: Sequence, validation_data: tuple | None = None) -> TextClassifier:
        """Train on texts ``X`` with labels ``y``.

        Early stopping watches ``validation_data=(texts, labels)`` when given, else a stratified
        ``val_fraction`` of ``X``. Returns ``self``.
        """
        validate_params(self.get_params())
        started = time.perf_counter()
        texts = _check_texts(X)
        if not texts:
            raise DataError("no training data: the list of texts is empty")
        labels = _check_labels(y, len(texts))
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise DataError(f"the training data has only one class ({self.classes_[0]}); at least two are needed")
        if validation_data is not None:
            val_texts, val_labels = validation_data
            val_texts, val_labels = _check_texts(val_texts), _check_labels(val_labels, len(val_texts))
        elif self.val_fraction > 0:
            train_idx, val_idx = stratified_split(labels, self.val_fraction, self.seed)
            val_texts, val_labels = [texts[i] for i in val_idx], labels[val_idx]
            texts, labels = [texts[i] for i in train_idx], labels[train_idx]
        else:
            val_texts = val_labels = None

        pipeline = self._pipeline()
        token_lists = [pipeline(t) for t in texts]
        self.vocab_ = Vocab.build(token_lists, num_words=self.num_words, min_freq=self.min_freq)
        train_data, train_targets = self._encode(token_lists), self._targets(labels, "the training data")
        del token_lists
        val_data = val_targets = None
        if val_texts is not None and len(val_texts):
            val_data = self._encode(pipeline(t) for t in val_texts)
            val_targets = self._targets(val_labels, "the validation data")

        torch.manual_seed(self.seed)
        self.model_ = self._build_model(len(self.vocab_), len(self.classes_))
        settings = TrainSettings(
            batch_size=self.batch_size,
            epochs=self.epochs,
            lr=self.lr,
            clip_norm=self.clip_norm,
            patience=self.patience,
            seed=self.seed,
            verbose=self.verbose,
        )
        self.history_ = train(
            self.model_, train_data, train_targets, val_data, val_targets, settings, self._class_weights(train_targets)
        )
        self.train_seconds_ = time.perf_counter() - started
        return self

    def _class_weights(self, targets: np.ndarray) -> torch.Tensor:
        """Per-class loss weights: all ones, or ``n / (classes * count)`` when balanced."""
        k = len(self.classes_)
        if self.class_weight != "balanced":
            return torch.ones(k)
        counts = np.bincount(targets, minlength=k).astype(np.float64)
        weights = np.where(counts > 0, len(targets) / (k * np.maximum(counts, 1)), 0.0)
        return torch.tensor(weights, dtype=torch.float32)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Probabilities ``(n, len(classes_))``, columns in the order of ``classes_``."""
        check_is_fitted(self, "model_")
        pipeline = self._pipeline()
        return predict_proba(self.model_, self._encode(pipeline(t) for t in _check_texts(X)))

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """The most probable label of each text."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write the model bundle directory (atomically); ``metrics`` adds ``metrics.json`` and plots."""
        from rnnkit.bundle import save_bundle

        check_is_fitted(self, "model_")
        return save_bundle(self, Path(path), metrics)


def check_known_labels(labels: np.ndarray, classes: np.ndarray, what: str) -> None:
    """Raise :class:`DataError` naming every label outside ``classes``, with its count."""
    known = set(classes.tolist())
    unknown = Counter(label for label in labels.tolist() if label not in known)
    if unknown:
        shown = ", ".join(f"{label!s} ({count})" for label, count in sorted(unknown.items(), key=lambda kv: str(kv[0])))
        raise DataError(
            f"{what} has labels the model was not trained on: {shown}; known labels: {', '.join(map(str, classes))}"
        )


def _check_texts(X) -> list[str]:
    if isinstance(X, str):
        raise DataError("expected a list of texts, got a single string; wrap it in a list")
    texts = list(X)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise DataError(f"text {i} is a {type(t).__name__}, not a string")
    return texts


def _check_labels(y, n: int) -> np.ndarray:
    labels = np.asarray(list(y))
    if labels.ndim != 1 or len(labels) != n:
        raise DataError(f"got {n} texts but {len(labels)} labels; there must be one label per text")
    if labels.dtype == object:
        raise DataError("labels must all be strings or all be numbers, not a mix")
    return labels
