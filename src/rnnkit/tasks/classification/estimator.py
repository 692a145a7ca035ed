"""``TextClassifier``: the scikit-learn-style face of the whole pipeline.

Parameters are stored untouched by ``__init__`` (so ``clone``, ``get_params`` and grid search work);
everything learned by ``fit`` ends in ``_``. The defaults are chosen for text classification in
general (short sentences to long reviews), not for one dataset.
"""

from __future__ import annotations

import numbers
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted

from rnnkit.data.tables import stratified_split
from rnnkit.data.vectors import pretrained_matrix
from rnnkit.errors import ConfigError, DataError
from rnnkit.nn.encoder import use_pretrained
from rnnkit.tasks.classification import bundle
from rnnkit.tasks.classification.linear import PARTS, LinearModels, blend, fit_blend
from rnnkit.tasks.classification.model import ClassificationExamples, RNNClassifier, predict_proba
from rnnkit.tasks.classification.positional import PositionalModel, usable_length
from rnnkit.tasks.params import validate_params
from rnnkit.text.batches import Ragged, clip_characters, encode_indexed, index_texts
from rnnkit.text.pipeline import TextPipeline, Vocab
from rnnkit.train.checkpoint import Checkpoints, fingerprint
from rnnkit.train.loop import TrainSettings, schedule, train


class TextClassifier(ClassifierMixin, BaseEstimator):
    """Recurrent text classifier: texts in, labels and probabilities out.

    See the README for what each parameter does. ``verbose=True`` prints one line per epoch (and
    a progress bar on a terminal).
    """

    monitors = ("accuracy", "loss")  # what ``monitor`` may name

    def __init__(
        self,
        *,
        cell: str = "gru",
        bidirectional: bool = True,
        num_layers: int = 1,
        hidden_size: int = 128,
        embedding_dim: int = 128,
        embeddings: str | None = None,
        freeze_embeddings: bool = False,
        token_encoding: str = "embedding",
        dropout: float = 0.3,
        pooling: str = "max",
        ngram_buckets: int = 0,
        linear: bool = True,
        tokenizer: str = "word",
        lowercase: bool = True,
        stopwords: bool = False,
        num_words: int | None = 30000,
        min_freq: int = 2,
        max_length: int | None = 400,
        padding: str = "post",
        truncating: str = "pre",
        batch_size: int = 64,
        epochs: int | None = None,
        lr: float = 2e-3,
        lr_decay: float = 1.0,
        ema: float = 0.0,
        clip_norm: float | None = 1.0,
        patience: int | None = None,
        monitor: str = "accuracy",
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
        self.embeddings = embeddings
        self.freeze_embeddings = freeze_embeddings
        self.token_encoding = token_encoding
        self.dropout = dropout
        self.pooling = pooling
        self.ngram_buckets = ngram_buckets
        self.linear = linear
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
        self.lr_decay = lr_decay
        self.ema = ema
        self.clip_norm = clip_norm
        self.patience = patience
        self.monitor = monitor
        self.class_weight = class_weight
        self.val_fraction = val_fraction
        self.seed = seed
        self.verbose = verbose

    # -- the estimator API ------------------------------------------------------------------------

    def fit(
        self,
        X: Sequence[str],
        y: Sequence,
        validation_data: tuple | None = None,
        *,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: float | None = None,
        resume: bool = False,
    ) -> TextClassifier:
        """Train on texts ``X`` with labels ``y``.

        Early stopping watches ``validation_data=(texts, labels)`` when given, else a stratified
        ``val_fraction`` of ``X``. Returns ``self``. Nothing learned is replaced unless fitting
        succeeds.

        With ``checkpoint_dir``, the training state is saved there every ``checkpoint_every``
        seconds (if given) and when Ctrl-C stops training (which then raises
        :class:`~rnnkit.errors.TrainingInterrupted` after the current batch). ``resume=True``
        continues from that checkpoint; with the same data and parameters the result is the
        same as that of an uninterrupted run.
        """
        params = {k: _plain(v) for k, v in self.get_params().items()}
        validate_params(params, self.monitors)
        given = params  # as set, for the checkpoint's identity; params_ records what training used
        if resume and checkpoint_dir is None:
            raise ConfigError("resume=True needs the checkpoint_dir to resume from")
        check_embeddings_file(params)
        started = time.perf_counter()
        texts = _check_texts(X)
        if not texts:
            raise DataError("no training data: the list of texts is empty")
        labels = _check_labels(y, len(texts))
        classes = check_classes(labels)
        if validation_data is not None:
            val_texts = _check_texts(validation_data[0])
            val_labels = _check_labels(validation_data[1], len(val_texts))
        else:
            texts, labels, val_texts, val_labels = holdout(texts, labels, params["val_fraction"], params["seed"])

        pipeline, cut = make_pipeline(params), (params["max_length"], params["truncating"])
        types, flat, lengths = index_texts(clip_characters(texts, *cut), pipeline)
        counts = np.bincount(flat, minlength=len(types))
        vocab = Vocab.from_counts(types, counts, num_words=params["num_words"], min_freq=params["min_freq"])
        if params["token_encoding"] == "onehot" and len(vocab) > ONEHOT_MAX_VOCAB:
            raise ConfigError(
                f"token_encoding='onehot' is for small vocabularies (at most {ONEHOT_MAX_VOCAB} tokens); this data "
                f"has {len(vocab)}: use token_encoding='embedding' or lower num_words"
            )
        train_data = encode_indexed(types, flat, lengths, vocab, *cut)
        train_targets = class_indices(labels, classes, "the training data")
        del counts
        val_tokens = val_data = val_targets = None
        if len(val_texts):
            val_tokens = index_texts(clip_characters(val_texts, *cut), pipeline)
            val_data = encode_indexed(*val_tokens, vocab, *cut)
            val_targets = class_indices(val_labels, classes, "the validation data")
        pretrained = None
        if params["embeddings"] is not None:
            pretrained = pretrained_matrix(params["embeddings"], vocab, params["seed"], params["verbose"])
            params = {**params, "embedding_dim": pretrained.shape[1]}  # the file decides (identity: as given)
        linear = None
        if params["linear"]:
            # Fitted first: its memory is free again before the recurrent model needs its own.
            linear_started = time.perf_counter()
            linear = LinearModels.fit(types, flat, lengths, train_targets, len(classes), params["class_weight"])
            if params["verbose"]:
                print(
                    f"linear models: {len(linear.columns):,} n-gram features, fitted in "
                    f"{time.perf_counter() - linear_started:.0f}s"
                )
        positional = None
        counts = np.bincount(train_targets, minlength=len(classes))
        length = usable_length(lengths, train_data.lengths, len(vocab), counts) if linear is not None else None
        if length is not None:
            positional = PositionalModel.fit(train_data, train_targets, len(vocab), params["class_weight"],
                                             params["seed"])  # fmt: skip
            if params["verbose"]:
                print(f"positional model: texts of {length} tokens, {len(positional.coef):,} features")
        del types, flat

        torch.manual_seed(params["seed"])
        model = make_model(params, len(vocab), len(classes))
        if pretrained is not None:
            use_pretrained(model.embedding, torch.from_numpy(pretrained), params["freeze_embeddings"])
        epochs, patience = schedule(len(train_data), params["batch_size"], params["epochs"], params["patience"])
        settings = TrainSettings.of(params, epochs, patience, params["monitor"])
        weights = class_weights(train_targets, len(classes), params["class_weight"])
        data = fingerprint(texts, labels, val_texts, val_labels)
        checkpoints = Checkpoints.of_run(checkpoint_dir, checkpoint_every, given, classes=classes.tolist(), data=data)
        history = train(
            model,
            ClassificationExamples(train_data, train_targets, weights),
            None if val_data is None else ClassificationExamples(val_data, val_targets, weights),
            settings,
            checkpoints=checkpoints,
            resume=resume,
        )
        blend_weights, report = None, {}
        if linear is not None:
            names = part_names(positional)
            blend_weights = np.full(len(names), 1 / len(names), dtype=np.float32)
            if val_data is not None:
                parts = _parts(linear, positional, model, val_tokens, val_data)
                blend_weights = fit_blend(parts, val_targets, weights.numpy())
                report = blend_report(parts, blend_weights, val_targets, names)
                if params["verbose"]:
                    print(f"blend: {format_blend(report)}")
        self.params_, self.classes_, self.vocab_, self.model_, self.history_ = params, classes, vocab, model, history
        self.linear_, self.positional_, self.blend_weights_ = linear, positional, blend_weights
        self.blend_report_ = report
        self.train_seconds_ = time.perf_counter() - started
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Probabilities ``(n, len(classes_))``, columns in the order of ``classes_``.

        Texts are prepared with the settings of the last ``fit`` (``params_``), whatever
        ``set_params`` has changed since.
        """
        check_is_fitted(self, "model_")
        cut = (self.params_["max_length"], self.params_["truncating"])
        tokens = index_texts(clip_characters(_check_texts(X), *cut), make_pipeline(self.params_))
        data = encode_indexed(*tokens, self.vocab_, *cut)
        if self.linear_ is None:
            return predict_proba(self.model_, data)
        return blend(_parts(self.linear_, self.positional_, self.model_, tokens, data), self.blend_weights_)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """The most probable label of each text."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write the model bundle directory (atomically); ``metrics`` adds ``metrics.json`` and plots."""
        check_is_fitted(self, "model_")
        return bundle.save(self, Path(path), metrics)


def part_names(positional: PositionalModel | None) -> list[str]:
    """The parts of the blend, in its order: TF-IDF, NB, the positional model when there is one, the RNN."""
    return [*PARTS, *(["positional"] if positional is not None else []), "rnn"]


def _parts(
    linear: LinearModels, positional: PositionalModel | None, model: RNNClassifier, tokens: tuple, data: Ragged
) -> list[np.ndarray]:
    """Log class probabilities ``(n, classes)`` of each part of the blend, in :func:`part_names` order."""
    rnn = predict_proba(model, data)
    placed = [] if positional is None else [positional.log_probas(data)]
    return [*linear.log_probas(*tokens), *placed, np.log(np.maximum(rnn, np.finfo(np.float32).tiny))]


def blend_report(parts: list[np.ndarray], weights: np.ndarray, targets: np.ndarray, names: list[str]) -> dict:
    """Each part's blend weight and validation accuracy, and the blend's: what metrics.json records."""
    accuracy = [float((p.argmax(1) == targets).mean()) for p in [*parts, blend(parts, weights)]]
    return {
        "weights": {name: round(float(w), 4) for name, w in zip(names, weights, strict=True)},
        "validation_accuracy": dict(zip([*names, "blend"], accuracy, strict=True)),
    }


def format_blend(report: dict) -> str:
    """``val_acc tfidf 0.8968  nb 0.9088  rnn 0.9080 -> blend 0.9132 (weights tfidf 0.32 nb 0.33 rnn 0.28)``."""
    accuracy, weights = report["validation_accuracy"], report["weights"]
    alone = "  ".join(f"{name} {accuracy[name]:.4f}" for name in weights)
    mix = " ".join(f"{name} {w:.2f}" for name, w in weights.items())
    return f"val_acc {alone} -> blend {accuracy['blend']:.4f} (weights {mix})"


def check_embeddings_file(params: dict) -> None:
    """Refuse ``embeddings`` that cannot apply, before any data is read."""
    path = params["embeddings"]
    if path is None:
        return
    if params["token_encoding"] != "embedding":
        raise ConfigError("embeddings (pretrained word vectors) need token_encoding='embedding'")
    if not Path(path).is_file():
        raise DataError(f"{path}: no such word-vector file")


# Beyond this, one-hot vectors cost more memory and time than an embedding would.
ONEHOT_MAX_VOCAB = 1024


def make_pipeline(params: dict) -> TextPipeline:
    """The text pipeline of a parameter set (``TextClassifier.get_params()`` or ``params_``)."""
    return TextPipeline(tokenizer=params["tokenizer"], lowercase=params["lowercase"], stopwords=params["stopwords"])


def make_model(params: dict, vocab_size: int, num_classes: int) -> RNNClassifier:
    """The untrained network of a parameter set."""
    return RNNClassifier(
        vocab_size,
        num_classes,
        encoding=params["token_encoding"],
        **{k: params[k] for k in ("cell", "hidden_size", "embedding_dim", "num_layers")},
        **{k: params[k] for k in ("bidirectional", "dropout", "pooling", "padding", "ngram_buckets")},
    )


def holdout(texts: list[str], labels: np.ndarray, fraction: float, seed: int) -> tuple:
    """(train texts, train labels, validation texts, validation labels): a stratified split."""
    train_idx, val_idx = stratified_split(labels, fraction, seed)
    return [texts[i] for i in train_idx], labels[train_idx], [texts[i] for i in val_idx], labels[val_idx]


def class_weights(targets: np.ndarray, num_classes: int, mode: str | None) -> torch.Tensor:
    """Per-class loss weights: all ones, or scikit-learn's ``"balanced"`` ``n / (classes * count)``."""
    if mode != "balanced":
        return torch.ones(num_classes)
    weights = compute_class_weight("balanced", classes=np.arange(num_classes), y=targets)
    return torch.tensor(weights, dtype=torch.float32)


def class_indices(labels: np.ndarray, classes: np.ndarray, what: str) -> np.ndarray:
    """Index of each label in the sorted ``classes``, refusing labels not among them."""
    check_known_labels(labels, classes, what)
    return np.searchsorted(classes, labels).astype(np.int64)


def _plain(value: object) -> object:
    """numpy scalars (as grid searches pass them) as plain Python values, so they save as JSON."""
    return value.item() if isinstance(value, np.generic) else value


def check_classes(labels: np.ndarray) -> np.ndarray:
    """The sorted distinct labels of training data, refusing data with fewer than two."""
    classes = np.unique(labels)
    if len(classes) < 2:
        raise DataError(f"the training data has only one class ({classes[0]}); at least two are needed")
    return classes


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
    values = list(y)
    if len(values) != n:
        raise DataError(f"got {n} texts but {len(values)} labels; there must be one label per text")
    kinds = {"string" if isinstance(v, str) else "number" if _is_number(v) else type(v).__name__ for v in values}
    if len(kinds) > 1 or not kinds <= {"string", "number"}:
        raise DataError(f"labels must be all strings or all numbers; got {', '.join(sorted(kinds))}")
    return np.asarray(values)


def _is_number(value: object) -> bool:
    return isinstance(value, (numbers.Integral, numbers.Real)) and not isinstance(value, (bool, np.bool_))
