"""TextClassifier: the scikit-learn contract, learning, reproducibility and input checks."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from sklearn.base import clone

from rnnkit import TextClassifier
from rnnkit.errors import ConfigError, DataError

from .conftest import make_corpus


def test_get_params_returns_constructor_arguments_and_clone_keeps_them(small_params):
    clf = TextClassifier(cell="lstm", pooling="attention", **small_params)
    params = clf.get_params()
    assert params["cell"] == "lstm" and params["pooling"] == "attention" and params["hidden_size"] == 16
    copy = clone(clf)
    assert copy is not clf and copy.get_params() == params
    assert clf.set_params(cell="rnn") is clf and clf.cell == "rnn"


def test_fit_learns_the_cue_words_and_returns_self(binary_corpus, small_params):
    texts, labels = binary_corpus
    clf = TextClassifier(**small_params)
    assert clf.fit(texts, labels) is clf
    test_texts, test_labels = make_corpus(60, seed=1)
    assert clf.score(test_texts, test_labels) >= 0.95
    assert list(clf.classes_) == ["neg", "pos"]
    proba = clf.predict_proba(["a good film", "an awful film"])
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-6)
    assert list(clf.predict(["a good film", "an awful film"])) == ["pos", "neg"]
    assert [r["epoch"] for r in clf.history_] == list(range(1, len(clf.history_) + 1))
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(clf.history_[0])


def test_multiclass_with_integer_labels_and_balanced_weights(small_params):
    texts, labels = make_corpus(300, classes=("neg", "pos", "meh"))
    codes = {"neg": 0, "pos": 1, "meh": 2}
    y = [codes[label] for label in labels]
    clf = TextClassifier(class_weight="balanced", pooling="attention", **small_params).fit(texts, y)
    assert clf.classes_.tolist() == [0, 1, 2]
    assert clf.model_.head.out_features == 3
    test_texts, test_labels = make_corpus(60, classes=("neg", "pos", "meh"), seed=1)
    assert clf.score(test_texts, [codes[label] for label in test_labels]) >= 0.9


def test_same_seed_gives_identical_models_and_another_seed_does_not(binary_corpus, small_params):
    texts, labels = binary_corpus
    small_params["epochs"] = 2
    a = TextClassifier(seed=7, **small_params).fit(texts, labels)
    b = TextClassifier(seed=7, **small_params).fit(texts, labels)
    c = TextClassifier(seed=8, **small_params).fit(texts, labels)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in a.history_]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in b.history_]
    assert np.array_equal(a.predict_proba(texts[:20]), b.predict_proba(texts[:20]))
    assert not np.array_equal(a.predict_proba(texts[:20]), c.predict_proba(texts[:20]))


def test_early_stopping_restores_the_best_epoch(small_params):
    """Random labels: the model can only overfit, so validation loss soon rises and training stops."""
    from rnnkit.training import evaluate_loss

    texts, _ = make_corpus(200)
    rng = np.random.default_rng(0)
    labels = rng.choice(["neg", "pos"], size=200).tolist()
    val_texts, val_labels = texts[:60], rng.choice(["neg", "pos"], size=60)
    small_params.update(epochs=30, patience=2, lr=0.02)
    clf = TextClassifier(**small_params).fit(texts, labels, validation_data=(val_texts, val_labels))
    losses = [r["val_loss"] for r in clf.history_]
    best = int(np.argmin(losses))
    assert len(losses) == best + 1 + 2 < 30  # stopped exactly `patience` epochs after the best one
    data = clf._encode(clf._pipeline()(t) for t in val_texts)
    restored_loss, _ = evaluate_loss(clf.model_, data, clf._targets(val_labels, "v"), torch.ones(2))
    assert restored_loss == pytest.approx(losses[best], rel=1e-5)


def test_char_tokenizer_with_onehot_encoding_learns_dna_motifs(small_params):
    rng = np.random.default_rng(0)
    texts, labels = [], []
    for i in range(200):
        seq = "".join(rng.choice(list("ACGT"), size=20))
        if i % 2:
            at = rng.integers(0, 15)
            seq = seq[:at] + "GATTACA"[:5] + seq[at + 5 :]
        texts.append(seq)
        labels.append("motif" if i % 2 else "none")
    small_params.update(epochs=15)
    clf = TextClassifier(tokenizer="char", encoding="onehot", lowercase=False, min_freq=1, **small_params)
    clf.fit(texts, labels)
    assert len(clf.vocab_) == 8  # four specials + A, C, G, T
    assert clf.score(texts, labels) >= 0.9


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"dropout": 1.0}, "dropout must be a number in [0, 1); got 1.0"),
        ({"cell": "transformer"}, "cell must be one of rnn, lstm, gru; got 'transformer'"),
        ({"pooling": "sum"}, "pooling must be one of last, max, mean, attention; got 'sum'"),
        ({"hidden_size": 0}, "hidden_size must be an integer >= 1; got 0"),
        ({"num_words": 3}, "num_words must be an integer >= 5 or None; got 3"),
        ({"lr": -1}, "lr must be a positive number; got -1"),
        ({"bidirectional": "yes"}, "bidirectional must be True or False; got 'yes'"),
        ({"class_weight": "auto"}, "class_weight must be one of None, balanced; got 'auto'"),
    ],
)
def test_bad_parameters_are_refused_before_training(params, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        TextClassifier(**params).fit(["a", "b"], ["x", "y"])


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        ([], [], "no training data: the list of texts is empty"),
        ("one text", ["x"], "expected a list of texts, got a single string; wrap it in a list"),
        (["a", 3], ["x", "y"], "text 1 is a int, not a string"),
        (["a", "b"], ["x"], "got 2 texts but 1 labels; there must be one label per text"),
        (["a", "b"], ["x", "x"], "the training data has only one class (x); at least two are needed"),
    ],
)
def test_bad_training_data_is_refused_with_a_clear_message(texts, labels, message):
    with pytest.raises(DataError, match=re.escape(message)):
        TextClassifier().fit(texts, labels)


def test_validation_labels_unknown_to_training_are_named_with_counts(binary_corpus, small_params):
    texts, labels = binary_corpus
    message = "the validation data has labels the model was not trained on: maybe (2); known labels: neg, pos"
    with pytest.raises(DataError, match=re.escape(message)):
        TextClassifier(**small_params).fit(texts, labels, validation_data=(["a", "b", "c"], ["maybe", "pos", "maybe"]))


def test_predicting_before_fit_raises_sklearn_not_fitted_error():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TextClassifier().predict(["text"])
