"""Per-token contributions to a classifier's score, part by part.

Every part of the text classifier scores a class pair ``(c, r)`` (the predicted label and the
runner-up) by a margin ``v . scores``: ``v = e_c - e_r``, or ``+-1`` on a binary model's single
logit. The blend adds the parts' margins with its weights, so contributions add up too:

* the recurrent network: **integrated gradients** (Sundararajan et al. 2017) over the token vectors
  (embeddings, or one-hot vectors), from a baseline of padding vectors to the text along a straight
  line, midpoint rule with ``steps`` points. By completeness they sum to ``f(text) - f(baseline)``;
  the rest (the integral's discretisation error) is reported as the gap, never hidden.
* the network's n-gram bag and the TF-IDF and NB linear models: **exact**. Each is linear in its
  features (a bag mean, TF-IDF values of this text, binary presences), so a feature's share is its
  value times its weight margin; an n-gram's share is split evenly between its tokens and its
  occurrences. They sum to ``f(text) - f(no features)`` exactly.

Shapes: ids ``(time,)``; contributions ``(time,)`` float64 over the text's tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from rnnkit.tasks.classification.linear import (
    NB_ORDERS,
    TFIDF_ORDERS,
    LinearModels,
    column_lookup,
    ngram_buckets,
    ngram_counts,
    token_hashes,
)
from rnnkit.tasks.classification.model import RNNClassifier
from rnnkit.text.pipeline import PAD_ID

IG_STEPS = 64


def margin_vector(outputs: int, label: int, runner_up: int) -> torch.Tensor:
    """``v (outputs,)`` with ``v . scores`` the margin of ``label`` over ``runner_up``."""
    if outputs == 1:  # one logit s: log p1 - log p0 = s
        return torch.tensor([1.0 if label == 1 else -1.0])
    v = torch.zeros(outputs)
    v[label], v[runner_up] = 1.0, -1.0
    return v


def integrated_gradients(
    model: RNNClassifier, ids: np.ndarray, v: torch.Tensor, steps: int = IG_STEPS
) -> tuple[np.ndarray, float]:
    """(contributions ``(time,)``, ``f(text) - f(baseline)``) of the recurrent path (the n-gram bag
    left out: see :func:`bag_contributions`), for the margin ``v . logits``."""
    model.eval()
    ids_t = torch.as_tensor(ids, dtype=torch.long)[:, None]  # (time, 1)
    x = vectors(model, ids_t)
    baseline = vectors(model, torch.full_like(ids_t, PAD_ID))
    alphas = torch.cat([(torch.arange(steps) + 0.5) / steps, torch.tensor([0.0, 1.0])])
    path = (baseline + alphas[None, :, None] * (x - baseline)).detach().requires_grad_(True)  # (time, steps+2, E)
    lengths = torch.full((path.size(1),), len(ids))
    with torch.enable_grad():
        logits = model.head(model.pooling(model.encoder(path, lengths), lengths))
        margins = logits @ v
        (gradient,) = torch.autograd.grad(margins[:steps].sum(), path)
    contributions = ((x - baseline)[:, 0] * gradient[:, :steps].mean(dim=1)).sum(dim=-1)
    margins = margins.detach()
    return contributions.detach().double().numpy(), float(margins[steps + 1] - margins[steps])


def vectors(model: RNNClassifier, ids: torch.Tensor) -> torch.Tensor:
    """What the encoder reads for ``ids (time, batch)``: ``(time, batch, features)``."""
    if model.embedding is not None:
        return model.embedding(ids).detach()
    return F.one_hot(ids, model.vocab_size).float()


def bag_contributions(model: RNNClassifier, ids: np.ndarray, v: torch.Tensor) -> np.ndarray:
    """The n-gram bag's exact contributions ``(time,)``: each of its ``2 * time - 1`` features (words,
    hashed pairs) weighs ``1 / features`` of its weight margin (the bag is a mean), a pair's split
    between its two words. Zeros without a bag."""
    out = np.zeros(len(ids))
    bag = model.ngrams
    if bag is None:
        return out
    ids_t = torch.as_tensor(ids, dtype=torch.long)
    bigrams = bag.vocab_size + (ids_t[:-1] * 1_000_003 + ids_t[1:]) % bag.buckets
    weights = bag.weights.weight.detach() @ v  # (features,)
    count = 2 * len(ids) - 1
    out += weights[ids_t].double().numpy() / count
    pair = weights[bigrams].double().numpy() / count / 2
    out[:-1] += pair
    out[1:] += pair
    return out


def linear_contributions(
    linear: LinearModels, tokens: Sequence[str], v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(TF-IDF contributions ``(time,)``, NB contributions ``(time,)``, TF-IDF margin, NB margin) of
    one text's ``tokens``: the margins ``v . scores`` with the biases left out, which the
    contributions sum to."""
    number = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    types = list(number)
    flat = np.fromiter(map(number.__getitem__, tokens), dtype=np.int32, count=len(tokens))
    lengths = np.array([len(tokens)])
    tfidf_counts, binary, _ = ngram_counts(types, flat, lengths, linear.columns)
    if not len(tokens):
        return np.zeros(0), np.zeros(0), 0.0, 0.0
    counts = tfidf_counts.toarray()[0]
    tf = np.where(counts > 0, 1 + np.log(np.maximum(counts, 1)), 0.0) * linear.idf
    norm = np.linalg.norm(tf)
    tfidf_values = tf / norm if norm > 0 else tf
    present = (binary.toarray()[0] > 0).astype(np.float64)
    tfidf_share = tfidf_values * (linear.tfidf_coef @ v)  # per feature column
    nb_share = present * (linear.nb_coef @ v)
    lookup = column_lookup(linear.columns)
    hashes = token_hashes(types)[flat]
    grams = {order: lookup[ngram_buckets(hashes, lengths, order)[1]] for order in NB_ORDERS}  # j: n-gram at token j
    tfidf_out = spread(tfidf_share, {n: grams[n] for n in TFIDF_ORDERS}, len(tokens))
    nb_out = spread(nb_share, grams, len(tokens))
    return tfidf_out, nb_out, float(tfidf_share.sum()), float(nb_share.sum())


def spread(share: np.ndarray, grams: dict[int, np.ndarray], length: int) -> np.ndarray:
    """Each feature column's ``share`` split evenly over its occurrences (of any order: hashing may
    put a word and a pair in one column), an occurrence's part over its ``order`` tokens: ``(length,)``.
    ``grams[order][j]`` is the column of the n-gram starting at token ``j`` (-1: not a feature)."""
    known = np.concatenate([columns[columns >= 0] for columns in grams.values()])
    occurrences = np.bincount(known, minlength=len(share))
    out = np.zeros(length)
    for order, columns in grams.items():
        for j in np.flatnonzero(columns >= 0):
            out[j : j + order] += share[columns[j]] / occurrences[columns[j]] / order
    return out
