"""TextClassifier: the scikit-learn contract, learning, reproducibility and input checks."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from sklearn.base import clone

from rnnkit import TextClassifier
from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks.classification.estimator import class_indices, class_weights, make_pipeline
from rnnkit.text.batches import encode_texts

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
    from rnnkit.tasks.classification.model import ClassificationExamples

    texts, _ = make_corpus(200)
    rng = np.random.default_rng(0)
    labels = rng.choice(["neg", "pos"], size=200).tolist()
    val_texts, val_labels = texts[:60], rng.choice(["neg", "pos"], size=60)
    small_params.update(epochs=30, patience=2, lr=0.02, monitor="loss")
    clf = TextClassifier(**small_params).fit(texts, labels, validation_data=(val_texts, val_labels))
    losses = [r["val_loss"] for r in clf.history_]
    best = int(np.argmin(losses))
    assert len(losses) == best + 1 + 2 < 30  # stopped exactly `patience` epochs after the best one
    data = encode_texts(val_texts, make_pipeline(clf.params_), clf.vocab_, clf.max_length)
    targets = class_indices(val_labels, clf.classes_, "validation")
    restored_loss = ClassificationExamples(data, targets, torch.ones(2)).evaluate(clf.model_)["loss"]
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
    clf = TextClassifier(tokenizer="char", token_encoding="onehot", lowercase=False, min_freq=1, **small_params)
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
        (["a", "b"], [True, False], "labels must be all strings or all numbers; got bool"),
        (["a", "b"], ["x", 1], "labels must be all strings or all numbers; got number, string"),
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


def test_balanced_class_weights_equal_scikit_learns():
    from sklearn.utils.class_weight import compute_class_weight

    targets = np.array([0] * 90 + [1] * 10)
    weights = class_weights(targets, 2, "balanced")
    np.testing.assert_allclose(weights.numpy(), [100 / (2 * 90), 100 / (2 * 10)], rtol=1e-6)
    np.testing.assert_allclose(weights.numpy(), compute_class_weight("balanced", classes=np.array([0, 1]), y=targets))
    assert class_weights(targets, 2, None).tolist() == [1.0, 1.0]


def test_set_params_after_fit_changes_nothing_until_the_next_fit(binary_corpus, small_params, tmp_path):
    from rnnkit import load_model

    texts, labels = binary_corpus
    clf = TextClassifier(**{**small_params, "epochs": 1}).fit(texts, labels)
    before = clf.predict_proba(texts[:10])
    clf.set_params(lowercase=False, max_length=2, hidden_size=99)
    assert np.array_equal(clf.predict_proba(texts[:10]), before)
    assert np.array_equal(load_model(clf.save(tmp_path / "m")).predict_proba(texts[:10]), before)


def test_numpy_parameter_values_from_a_grid_search_save_fine(binary_corpus, small_params, tmp_path):
    from rnnkit import load_model

    texts, labels = binary_corpus
    small_params.update(epochs=np.int64(1), hidden_size=np.int64(8), lr=np.float64(0.01))
    clf = TextClassifier(**small_params).fit(texts, labels)
    assert load_model(clf.save(tmp_path / "m")).params_["hidden_size"] == 8


def test_predicting_no_texts_gives_an_empty_result(binary_corpus, small_params):
    texts, labels = binary_corpus
    clf = TextClassifier(**{**small_params, "epochs": 1}).fit(texts, labels)
    assert clf.predict_proba([]).shape == (0, 2)
    assert clf.predict([]).tolist() == []


def test_onehot_encoding_refuses_a_large_vocabulary():
    texts = [f"word{i} other{i}" for i in range(1200)]
    message = "token_encoding='onehot' is for small vocabularies (at most 1024 tokens); this data has 2404"
    with pytest.raises(ConfigError, match=re.escape(message)):
        TextClassifier(token_encoding="onehot", min_freq=1, val_fraction=0).fit(texts, ["a", "b"] * 600)


def test_a_failed_refit_keeps_the_previous_model(binary_corpus, small_params):
    texts, labels = binary_corpus
    clf = TextClassifier(**{**small_params, "epochs": 1}).fit(texts, labels)
    model = clf.model_
    with pytest.raises(DataError):
        clf.fit(["a", "b", "c"], ["x", "y", "z"], validation_data=(["d"], ["unknown"]))
    assert clf.model_ is model and clf.classes_.tolist() == ["neg", "pos"]


def test_accuracy_monitor_keeps_the_most_accurate_epoch_ties_going_to_the_lower_loss(small_params):
    from rnnkit.tasks.classification.model import ClassificationExamples

    texts, labels = make_corpus(200)
    val_texts, val_labels = make_corpus(60, seed=9)
    small_params.update(epochs=6, patience=6, lr=0.02)
    clf = TextClassifier(**small_params).fit(texts, labels, validation_data=(val_texts, val_labels))
    assert clf.params_["monitor"] == "accuracy"
    best = max(clf.history_, key=lambda r: (r["val_accuracy"], -r["val_loss"]))
    data = encode_texts(val_texts, make_pipeline(clf.params_), clf.vocab_, clf.max_length)
    targets = class_indices(np.array(val_labels), clf.classes_, "validation")
    scores = ClassificationExamples(data, targets, torch.ones(2)).evaluate(clf.model_)
    assert (scores["accuracy"], scores["loss"]) == (best["val_accuracy"], pytest.approx(best["val_loss"], rel=1e-5))


def test_lr_decay_multiplies_the_learning_rate_after_every_epoch(small_params, monkeypatch):
    seen = []
    real_step = torch.optim.Adam.step

    def step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    texts, labels = make_corpus(40)
    small_params.update(epochs=3, patience=3, lr=0.01, lr_decay=0.5, batch_size=40, val_fraction=0.0)
    TextClassifier(**small_params).fit(texts, labels)
    assert seen == pytest.approx([0.01, 0.005, 0.0025])


def test_ema_returns_the_moving_average_of_the_weights_after_each_step(small_params, monkeypatch):
    snapshots = []
    real_step = torch.optim.Adam.step

    def step(self, *args, **kwargs):
        out = real_step(self, *args, **kwargs)
        snapshots.append([p.detach().clone() for group in self.param_groups for p in group["params"]])
        return out

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    texts, labels = make_corpus(48)
    small_params.update(epochs=1, batch_size=16, val_fraction=0.0, ema=0.75)
    clf = TextClassifier(**small_params).fit(texts, labels)
    assert len(snapshots) == 3
    expected = snapshots[0]  # the average starts as a copy, then decays by min(0.75, (1 + n) / (10 + n))
    for n, snapshot in enumerate(snapshots[1:], start=1):
        decay = min(0.75, (1 + n) / (10 + n))
        expected = [decay * e + (1 - decay) * s for e, s in zip(expected, snapshot, strict=True)]
    for got, want in zip(clf.model_.parameters(), expected, strict=True):
        torch.testing.assert_close(got.detach(), want)
