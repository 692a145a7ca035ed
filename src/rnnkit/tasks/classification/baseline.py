"""Linear baselines (TF-IDF word 1-2 grams + logistic regression / linear SVM) on the RNN's split.

An RNN should earn its training cost: on many text tasks these baselines train in seconds and are
hard to beat. They see the same cleaned, lowercased text as the RNN and the same train/validation
split, so the comparison is like for like.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import LinearSVC

from rnnkit.errors import DataError
from rnnkit.tasks.classification.metrics import classification_report
from rnnkit.text.pipeline import clean_text


def _prepare(text: str) -> str:
    return clean_text(text).lower()


def baselines(seed: int = 0) -> dict[str, Pipeline]:
    """The untrained baseline pipelines, by name."""

    def tfidf() -> TfidfVectorizer:
        return TfidfVectorizer(preprocessor=_prepare, ngram_range=(1, 2), min_df=2, sublinear_tf=True)

    return {
        "tfidf+logreg": make_pipeline(tfidf(), LogisticRegression(max_iter=2000, C=4.0)),
        "tfidf+linear-svm": make_pipeline(tfidf(), LinearSVC(C=0.5, random_state=seed)),
    }


def run_baselines(
    texts: Sequence[str], labels: Sequence[str], splits: dict[str, tuple[list[str], list[str]]], seed: int = 0
) -> dict[str, dict]:
    """Train each baseline on ``texts`` and report it on each evaluation split, plus its training time."""
    classes = sorted(set(labels))
    results = {}
    for name, model in baselines(seed).items():
        started = time.perf_counter()
        try:
            model.fit(texts, labels)
        except ValueError as exc:
            if "no terms remain" not in str(exc):
                raise
            raise DataError(
                "the TF-IDF baselines found no word (2+ letters) in two training texts: word baselines do not "
                "apply to this data (character sequences such as DNA?)"
            ) from None
        results[name] = {"train_seconds": round(time.perf_counter() - started, 2)}
        for split, (split_texts, split_labels) in splits.items():
            results[name][split] = classification_report(split_labels, model.predict(split_texts), classes)
    return results
