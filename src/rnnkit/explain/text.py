"""Explanations of a text classifier's prediction: which tokens pushed it toward its label.

:func:`explain` gives every token of a text a score in logit units toward the predicted label
(against the runner-up class): integrated gradients for the recurrent network, exact shares for
the linear parts (:mod:`rnnkit.explain.attribution`), weighted as the blend weighs the parts. The
scores sum to ``logit_difference``, the margin of the text's blended score over that of the empty
reference (padding for the network, no features for the linear models), except for
``completeness_gap``, what the integral's discretisation leaves over. :func:`occlusion` is the
cross-check that needs no gradients: each token's score is how much the margin falls when that token
is left out of the text.

The result is plain JSON: ``{"label", "probability", "tokens": [{"text", "start", "end", "score"}],
"logit_difference", "completeness_gap", "method"}``; ``start``/``end`` are offsets into the text as
given (tokens the network did not read, cut by ``max_length``, still get their linear shares).
"""

from __future__ import annotations

import numpy as np

from rnnkit.explain.attribution import (
    IG_STEPS,
    bag_contributions,
    integrated_gradients,
    linear_contributions,
    margin_vector,
)
from rnnkit.explain.spans import token_offsets
from rnnkit.tasks.classification.estimator import TextClassifier, make_pipeline, part_names
from rnnkit.text.batches import clip_characters
from rnnkit.text.pipeline import Vocab


def explain(classifier: TextClassifier, text: str, steps: int = IG_STEPS) -> dict:
    """The per-token explanation of ``classifier``'s prediction for ``text`` (module docstring)."""
    tokens, offsets = tokenize(classifier, text)
    proba = classifier.predict_proba([text])[0]
    label, runner_up = top_two(proba)
    outputs = classifier.model_.head.out_features
    v = margin_vector(outputs, label, runner_up)
    kept = kept_slice(classifier, len(tokens))
    ids = encode(classifier.vocab_, tokens[kept])
    network, difference = integrated_gradients(classifier.model_, ids, v, steps)
    bag = bag_contributions(classifier.model_, ids, v)  # exact: the bag is linear
    network, difference = network + bag, difference + float(bag.sum())
    weights = {"rnn": 1.0}
    if classifier.linear_ is not None:
        weights = dict(zip(part_names(classifier.positional_), map(float, classifier.blend_weights_), strict=True))
    read = weights["rnn"] * network  # the shares of the tokens the network and the positional model read
    difference *= weights["rnn"]
    if classifier.positional_ is not None:  # exact: linear in the one-hot positions
        placed = classifier.positional_.contributions(ids, v.numpy())
        read += weights["positional"] * placed
        difference += weights["positional"] * float(placed.sum())
    scores = np.zeros(len(tokens))
    if len(tokens):
        scores[kept] = read[: len(scores[kept])]
    if classifier.linear_ is not None:
        tfidf, nb, tfidf_margin, nb_margin = linear_contributions(classifier.linear_, list(tokens), v.numpy())
        if len(tokens):
            scores += weights["tfidf"] * tfidf + weights["nb"] * nb
        difference += weights["tfidf"] * tfidf_margin + weights["nb"] * nb_margin
    return result(classifier, proba, label, tokens, offsets, scores, difference, "integrated_gradients")


def occlusion(classifier: TextClassifier, text: str) -> dict:
    """Leave-one-token-out scores: the fall of the blended margin (log probability of the label minus
    that of the runner-up) when a token's characters are removed from the text."""
    tokens, offsets = tokenize(classifier, text)
    proba = classifier.predict_proba([text])[0]
    label, runner_up = top_two(proba)
    variants = [text[:start] + " " + text[end:] for start, end in offsets]
    margins = log_margins(classifier.predict_proba(variants), label, runner_up) if variants else np.zeros(0)
    whole = float(log_margins(proba[None], label, runner_up)[0])
    scores = whole - margins
    return result(classifier, proba, label, tokens, offsets, scores, float(scores.sum()), "occlusion")


def tokenize(classifier: TextClassifier, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The tokens ``classifier`` reads from ``text`` (before ``max_length`` cuts the network's share)
    and their offsets in ``text``."""
    params = classifier.params_
    clipped = clip_characters([text], params["max_length"], params["truncating"])[0]
    start = len(text) - len(clipped) if params["truncating"] == "pre" else 0
    tokens = make_pipeline(params)(clipped)
    return np.array(tokens, dtype=object), token_offsets(text, tokens, params["lowercase"], start)


def kept_slice(classifier: TextClassifier, count: int) -> slice:
    """The tokens the network reads: all, or the last (``truncating="pre"``) or first ``max_length``."""
    limit = classifier.params_["max_length"]
    if limit is None or count <= limit:
        return slice(0, count)
    return slice(count - limit, count) if classifier.params_["truncating"] == "pre" else slice(0, limit)


def encode(vocab: Vocab, tokens: np.ndarray) -> np.ndarray:
    """Ids of ``tokens``; a text without tokens reads one ``<unk>``, as in prediction."""
    ids = vocab.encode(list(tokens))
    return np.array(ids or vocab.encode(["<unk>"]), dtype=np.int64)


def top_two(proba: np.ndarray) -> tuple[int, int]:
    order = np.argsort(-proba, kind="stable")
    return int(order[0]), int(order[1])


def log_margins(proba: np.ndarray, label: int, runner_up: int) -> np.ndarray:
    tiny = np.finfo(np.float32).tiny
    return np.log(np.maximum(proba[:, label], tiny)) - np.log(np.maximum(proba[:, runner_up], tiny))


def result(
    classifier: TextClassifier,
    proba: np.ndarray,
    label: int,
    tokens: np.ndarray,
    offsets: list[tuple[int, int]],
    scores: np.ndarray,
    difference: float,
    method: str,
) -> dict:
    return {
        "label": np.asarray(classifier.classes_)[label].item(),
        "probability": float(proba[label]),
        "tokens": [
            {"text": str(token), "start": start, "end": end, "score": float(score)}
            for token, (start, end), score in zip(tokens, offsets, scores, strict=True)
        ],
        "logit_difference": float(difference),
        "completeness_gap": float(difference - scores.sum()),
        "method": method,
    }
