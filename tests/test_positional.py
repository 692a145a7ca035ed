"""The positional model of fixed-length symbol sequences: its features by hand, its fit against
scikit-learn's logistic regression on an independently built one-hot matrix, exact contributions, when
it joins the classifier's blend (and when not), and the bundle that keeps it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from rnnkit import TextClassifier, load_model
from rnnkit.explain.text import explain
from rnnkit.tasks.classification.positional import C_GRID, PositionalModel, feature_count, features, usable_length
from rnnkit.text.batches import Ragged

DNA = {"tokenizer": "char", "token_encoding": "onehot", "lowercase": False, "min_freq": 1, "hidden_size": 8}


def motif_data(n: int, length: int = 20, seed: int = 0) -> tuple[list[str], list[str]]:
    """Random bases; the label says whether an A stands at position 5 followed by C or G."""
    rng = np.random.default_rng(seed)
    texts = ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]
    return texts, ["yes" if t[5] == "A" and t[6] in "CG" else "no" for t in texts]


def test_features_by_hand():
    ids = Ragged.from_sequences([[2, 3, 1], [1]])
    x = features(ids, length=3, vocab_size=4).toarray()
    assert x.shape == (2, feature_count(3, 4)) == (2, 3 * 4 + 2 * 16)
    singles, pairs = [0 * 4 + 2, 1 * 4 + 3, 2 * 4 + 1], [12 + 0 * 16 + 2 * 4 + 3, 12 + 1 * 16 + 3 * 4 + 1]
    assert np.flatnonzero(x[0]).tolist() == sorted(singles + pairs)
    assert np.flatnonzero(x[1]).tolist() == [1]  # a shorter text: its one symbol, no pair
    longer = features(Ragged.from_sequences([[2, 3, 1, 2, 2]]), length=3, vocab_size=4).toarray()
    assert np.array_equal(longer[0], x[0])  # nothing past the fitted length


def test_it_is_scikit_learns_logistic_regression_on_one_hot_positions():
    rng = np.random.default_rng(0)
    sequences = rng.integers(2, 6, size=(120, 6))
    targets = (sequences[:, 2] == 3).astype(np.int64)
    model = PositionalModel.fit(Ragged.from_sequences(sequences), targets, vocab_size=6)
    onehot = np.zeros((len(sequences), feature_count(6, 6)))  # built one feature at a time
    for i, row in enumerate(sequences):
        for j, token in enumerate(row):
            onehot[i, j * 6 + token] = 1
            if j + 1 < len(row):
                onehot[i, 36 + j * 36 + token * 6 + row[j + 1]] = 1
    scores = model.scores(Ragged.from_sequences(sequences))[:, 0]
    references = [LogisticRegression(C=c, max_iter=2000).fit(onehot, targets).decision_function(onehot) for c in C_GRID]
    assert min(np.abs(scores - r).max() for r in references) < 1e-3  # the one of the grid it chose
    v = np.array([1.0])
    shares = model.contributions(sequences[0], v)
    assert shares.sum() == pytest.approx(scores[0] - model.bias[0], abs=1e-5)
    assert np.argmax(np.abs(shares)) in (1, 2, 3)  # position 2 and the pairs around it decide


def test_usable_only_for_uncut_texts_of_one_length_few_features_and_classes_for_every_fold():
    same, counts = np.full(20, 60), np.array([10, 10])
    assert usable_length(same, same, 8, counts) == 60
    assert usable_length(np.array([60] * 19 + [59]), np.array([60] * 19 + [59]), 8, counts) is None
    assert usable_length(same, np.full(20, 50), 8, counts) is None  # all cut to max_length 50
    assert usable_length(same, same, 200, counts) is None  # 60 * 200**2 features: too many
    assert usable_length(same, same, 8, np.array([16, 4])) is None  # a class missing from a fold


def test_it_joins_the_blend_of_fixed_length_data_and_the_bundle_keeps_it(tmp_path):
    texts, labels = motif_data(300)
    clf = TextClassifier(**DNA, epochs=2).fit(texts, labels)
    assert clf.positional_ is not None and list(clf.blend_report_["weights"]) == ["tfidf", "nb", "positional", "rnn"]
    held_out, truth = motif_data(200, seed=1)
    assert np.mean(clf.predict(held_out) == np.array(truth)) > 0.97  # the recurrent model alone: far below
    clf.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert np.array_equal(loaded.predict_proba(held_out), clf.predict_proba(held_out))
    explanation = explain(loaded, held_out[0])
    assert abs(explanation["completeness_gap"]) < 0.01 * abs(explanation["logit_difference"]) + 1e-3
    top = max(explanation["tokens"], key=lambda t: abs(t["score"]))
    assert top["start"] in (5, 6)


def test_texts_cut_to_max_length_are_not_fixed_length_data():
    texts, labels = motif_data(300, length=30)  # all of one length, but cut to 20 tokens: a cut, not a format
    clf = TextClassifier(**DNA, epochs=1, max_length=20).fit(texts, labels)
    assert clf.positional_ is None and list(clf.blend_report_["weights"]) == ["tfidf", "nb", "rnn"]


def test_a_class_too_rare_for_the_folds_leaves_the_positional_model_out():
    texts, _ = motif_data(60)
    labels = ["a"] * 30 + ["b"] * 26 + ["c"] * 4  # four of "c": fewer than the five folds choosing C
    clf = TextClassifier(**DNA, epochs=1).fit(texts, labels, validation_data=(texts[:6], labels[:6]))
    assert clf.positional_ is None and clf.predict_proba(texts[:3]).shape == (3, 3)
