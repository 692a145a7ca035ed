"""scikit-learn's model selection over rnnkit estimators: clone, and searches run by joblib in parallel."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
)

from rnnkit import Forecaster, LanguageModel, SequenceTagger, TextClassifier, Translator
from rnnkit.tasks.series_classification.estimator import SeriesClassifier

from .conftest import make_corpus

ESTIMATORS = [TextClassifier, SequenceTagger, LanguageModel, Translator, Forecaster, SeriesClassifier]
TINY = {"embedding_dim": 8, "batch_size": 8, "epochs": 6, "linear": False, "min_freq": 1}


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_estimators_keep_their_parameters_untouched_so_clone_and_set_params_work(estimator):
    name = estimator.__name__
    check_parameters_default_constructible(name, estimator())
    check_no_attributes_set_in_init(name, estimator())
    check_get_params_invariance(name, estimator())
    given = estimator(seed=3, lr=0.01, batch_size=7)
    copy = clone(given)
    assert copy is not given and copy.get_params() == given.get_params()
    assert copy.set_params(lr=0.5).lr == 0.5 and given.lr == 0.01


def _threads(estimator, X, y) -> float:
    """A "score": the PyTorch threads of the process that fitted and scores ``estimator``."""
    return float(torch.get_num_threads())


def test_grid_search_over_a_text_classifier_runs_two_jobs_of_one_thread_each():
    texts, labels = make_corpus(120)
    grid = {"hidden_size": [8, 16], "lr": [0.001, 0.02]}
    search = GridSearchCV(
        TextClassifier(**TINY),
        grid,
        cv=2,
        n_jobs=2,
        scoring={"accuracy": "accuracy", "threads": _threads},
        refit="accuracy",
    )
    search.fit(texts, labels)
    results = search.cv_results_
    assert [(p["hidden_size"], p["lr"]) for p in results["params"]] == [(8, 0.001), (8, 0.02), (16, 0.001), (16, 0.02)]
    # joblib's workers each get their share of the cores (OMP_NUM_THREADS), which PyTorch follows.
    assert (results["mean_test_threads"] == max(1, len(os.sched_getaffinity(0)) // 2)).all()
    assert search.best_params_ == results["params"][int(np.argmax(results["mean_test_accuracy"]))]
    assert search.best_estimator_.hidden_size == search.best_params_["hidden_size"]
    assert search.best_score_ > 0.6  # the tiny corpus's cue words are learnable in a few epochs


def test_randomized_search_draws_its_candidates_and_refits_the_best():
    texts, labels = make_corpus(80)
    space = {"hidden_size": [8, 12, 16], "dropout": [0.0, 0.2]}
    search = RandomizedSearchCV(TextClassifier(**TINY), space, n_iter=2, cv=2, random_state=0).fit(texts, labels)
    assert len(search.cv_results_["params"]) == 2
    assert search.best_estimator_.predict(texts[:3]).shape == (3,)
