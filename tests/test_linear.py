"""The linear part: hashed n-grams, the TF-IDF and NB models against independent references, the blend."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import log_softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from rnnkit.tasks.classification.linear import (
    BUCKETS,
    LinearModels,
    _log_count_ratio,
    blend,
    column_lookup,
    count_matrix,
    fit_blend,
    ngram_buckets,
    ngram_counts,
    token_hashes,
)
from rnnkit.text.batches import index_texts
from rnnkit.text.pipeline import TextPipeline
from rnnkit.train.loop import schedule

from .conftest import make_corpus

PIPELINE = TextPipeline()


def _brute_force_buckets(hashes: list[int], lengths: list[int], order: int) -> list[list[int]]:
    """Each text's n-gram buckets by a plain loop, hashing as documented."""
    texts, start = [], 0
    for length in lengths:
        texts.append([])
        for end in range(start + order - 1, start + length):
            h = order
            for token in hashes[end - order + 1 : end + 1]:
                h = (h * 1_000_003 + token) % 2**64
            texts[-1].append(h % BUCKETS)
        start += length
    return texts


@pytest.mark.parametrize("order", [1, 2, 3])
def test_ngram_buckets_match_a_plain_loop_and_never_cross_texts(order):
    rng = np.random.default_rng(order)
    lengths = np.array([0, 1, 2, 5, 3])
    hashes = rng.integers(0, 2**32, size=lengths.sum()).astype(np.uint64)
    per_text, buckets = ngram_buckets(hashes, lengths, order)
    expected = _brute_force_buckets([int(h) for h in hashes], lengths.tolist(), order)
    assert per_text.tolist() == [len(t) for t in expected]
    assert buckets.tolist() == [b for t in expected for b in t]


def test_the_same_words_hash_the_same_in_any_corpus_and_unknown_words_still_count():
    a = token_hashes(["good", "film", "zzz"])
    b = token_hashes(["zzz", "good"])
    assert a[0] == b[1] and a[2] == b[0] and a[0] != a[1]
    columns = np.unique(ngram_buckets(a, np.array([3]), 1)[1])
    grams = ngram_buckets(token_hashes(["good", "never", "good"]), np.array([3]), 1)
    counts = count_matrix(*grams, column_lookup(columns), len(columns)).toarray()
    assert counts.shape == (1, 3) and counts.sum() == 2 and counts.max() == 2  # "never" has no column: dropped


def _fit(texts, labels):
    classes = np.unique(labels)
    targets = np.searchsorted(classes, labels)
    return LinearModels.fit(*index_texts(texts, PIPELINE), targets, len(classes)), targets


@pytest.mark.parametrize("classes", [("neg", "pos"), ("neg", "pos", "meh")])
def test_tfidf_model_equals_scikit_learns_tfidf_vectorizer_and_logistic_regression(classes):
    texts, labels = make_corpus(150, classes)
    model, targets = _fit(texts, labels)
    vectorizer = TfidfVectorizer(
        tokenizer=PIPELINE, lowercase=False, token_pattern=None, ngram_range=(1, 2), min_df=2, sublinear_tf=True
    )
    reference = LogisticRegression(C=4.0, max_iter=2000).fit(vectorizer.fit_transform(texts), targets)
    probe, _ = make_corpus(40, classes, seed=1)
    got = model.log_probas(*index_texts(probe, PIPELINE))[0]
    want = reference.predict_log_proba(vectorizer.transform(probe))
    np.testing.assert_allclose(got, want, atol=1e-4)  # the same solver on the same problem, columns permuted


def test_log_count_ratio_is_the_hand_computed_one():
    binary = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 1]], dtype=float)
    positive = np.array([True, True, False])
    import scipy.sparse as sp

    p, q = np.array([2, 1, 1]) + 1.0, np.array([0, 0, 1]) + 1.0
    expected = np.log(p / p.sum()) - np.log(q / q.sum())
    np.testing.assert_allclose(_log_count_ratio(sp.csr_matrix(binary), positive), expected)


def test_nb_model_scores_are_a_logistic_regression_on_ratio_scaled_binary_features():
    texts, labels = make_corpus(120)
    model, targets = _fit(texts, labels)
    binary = ngram_counts(*index_texts(texts, PIPELINE), model.columns)[1].sign()
    ratio = _log_count_ratio(binary, targets == 1)
    reference = LogisticRegression(C=1.0, solver="liblinear").fit(binary.multiply(ratio).tocsr(), targets)
    got = model.log_probas(*index_texts(texts, PIPELINE))[1]
    want = reference.predict_log_proba(binary.multiply(ratio).tocsr())
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert (got.argmax(1) == targets).mean() > 0.95  # the cue words separate the classes


def test_blend_weights_recover_the_mixture_that_generated_the_labels():
    rng = np.random.default_rng(0)
    n = 20_000
    parts = [log_softmax(rng.normal(size=(n, 3)) * 2, axis=1) for _ in range(3)]
    truth = np.array([1.5, 0.0, 0.5])
    probabilities = blend(parts, truth)
    targets = np.array([rng.choice(3, p=p / p.sum()) for p in probabilities.astype(np.float64)])
    weights = fit_blend(parts, targets, np.ones(3))
    np.testing.assert_allclose(weights, truth, atol=0.08)


def test_blend_fit_reaches_the_optimum_a_derivative_free_search_finds():
    rng = np.random.default_rng(1)
    parts = [log_softmax(rng.normal(size=(300, 2)) * 3, axis=1) for _ in range(3)]
    targets = rng.integers(0, 2, size=300)
    class_weights = np.array([1.0, 3.0])
    start = np.full(3, 1 / 3)

    def objective(w):
        z = log_softmax(sum(wi * p for wi, p in zip(w, parts, strict=True)), axis=1)
        item = class_weights[targets] / class_weights[targets].sum()
        return -(item * z[np.arange(300), targets]).sum() + ((w - start) ** 2).sum() / 600

    reference = minimize(objective, start, method="Powell", bounds=[(0, None)] * 3, options={"xtol": 1e-8})
    got = fit_blend(parts, targets, class_weights)
    assert objective(got) <= reference.fun + 1e-6


def test_few_held_out_texts_keep_the_blend_near_equal_weights():
    parts = [np.log(np.array([[0.9, 0.1], [0.2, 0.8]]))] * 3
    weights = fit_blend(parts, np.array([0, 1]), np.ones(2))
    assert np.all(np.abs(weights - 1 / 3) < 1.0)


def test_arrays_read_from_a_file_are_checked():
    texts, labels = make_corpus(60)
    model, _ = _fit(texts, labels)
    assert model.check() is None
    model.columns = model.columns[::-1].copy()
    assert "increasing" in model.check()
    model.columns = model.columns[::-1].copy()
    model.nb_coef[0, 0] = np.nan
    assert model.check() == "nb_coef holds NaN or infinite values"


@pytest.mark.parametrize(
    ("items", "epochs", "patience", "expected"),
    [
        (22_500, None, None, (10, 2)),  # IMDB: 352 batches an epoch, as before
        (2_027, None, None, (94, 18)),  # DNA splice junctions: at least 3,000 updates
        (72, None, None, (100, 20)),  # tiny data: capped
        (100_000, None, None, (10, 2)),
        (2_027, 5, None, (5, 2)),
        (2_027, None, 3, (94, 3)),
    ],
)
def test_the_automatic_schedule_gives_small_data_enough_updates(items, epochs, patience, expected):
    assert schedule(items, 64, epochs, patience) == expected


def test_texts_sharing_no_word_still_fit_the_class_priors():
    model, _ = _fit(["alpha beta", "gamma delta", "epsilon zeta", "eta theta", "iota kappa"], ["a", "a", "a", "b", "b"])
    tfidf = model.log_probas(*index_texts(["unseen words"], PIPELINE))[0]
    assert not model.idf.any()
    np.testing.assert_allclose(np.exp(tfidf), [[0.6, 0.4]], atol=0.02)  # nothing to go on: the priors
