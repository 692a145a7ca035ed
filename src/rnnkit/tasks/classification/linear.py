"""The linear part of the classifier: two convex-fitted models over hashed word n-grams.

A recurrent model and a linear model over n-grams make different mistakes, so their blend beats
both (Mesnil, Mikolov, Ranzato & Bengio 2014: 92.6% on IMDB). Two linear models, because each wins
somewhere:

* **TF-IDF logistic regression** over words and word pairs (sublinear term frequency, smoothed idf
  of pairs seen in at least two training texts, unit-length rows, ``C = 4``): the strong baseline
  on topics, questions and short phrases;
* **NB logistic regression** over words, pairs and triples (Wang & Manning 2012's NBSVM with a
  logistic loss): binary features scaled by their log-count ratio between a class and the rest,
  one-vs-rest; the strong one on sentiment and long reviews (91.9% on IMDB with trigrams).

Both are fitted to convergence by scikit-learn's solvers. Features are hashed into ``BUCKETS``
buckets (words, pairs and triples each with their own salt), and only the buckets seen in training
are stored, so a bundle grows with the data, not with ``BUCKETS``. Hashing starts from the token
strings, so words outside the recurrent model's vocabulary still count.

Shapes: token streams as :func:`~rnnkit.text.batches.index_texts` gives them (``types``, ``flat``,
``lengths``); features ``(texts, features)`` sparse; scores ``(texts, outputs)`` with ``outputs``
1 for two classes (the logit of the second) and the number of classes otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import minimize
from scipy.special import log_expit, log_softmax
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32

from rnnkit.errors import DataError

# 4M buckets: IMDB's 25,000 reviews hold about 10M distinct word 1-3 grams, most seen once.
BUCKETS = 2**22
TFIDF_ORDERS = (1, 2)  # words and pairs, as the TF-IDF baseline
NB_ORDERS = (1, 2, 3)  # words, pairs and triples
TFIDF_MIN_DF = 2
TFIDF_C = 4.0  # as rnnkit's TF-IDF baseline
NB_C = 1.0  # IMDB validation accuracy 90.44-90.48% for C in 0.3..3: the fit is not sensitive to it
NB_ALPHA = 1.0  # Laplace smoothing of the log-count ratios
_PRIME = np.uint64(1_000_003)
PARTS = ("tfidf", "nb")


def token_hashes(types: Sequence[str]) -> np.ndarray:
    """A stable 32-bit hash of every distinct token string, ``(types,)`` uint64."""
    return np.fromiter((murmurhash3_32(t, seed=0, positive=True) for t in types), dtype=np.uint64, count=len(types))


def ngram_buckets(hashes: np.ndarray, lengths: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """The n-grams of ``order`` tokens inside each text of hashed tokens ``hashes (tokens,)``, stored
    text after text with ``lengths (texts,)``: (n-grams per text ``(texts,)``, bucket of each n-gram
    ``(ngrams,)`` int32, text after text)."""
    starts = (np.cumsum(lengths) - lengths).astype(np.int32)
    position = np.arange(len(hashes), dtype=np.int32) - np.repeat(starts, lengths)  # index of each token in its text
    ends = np.flatnonzero(position >= order - 1).astype(np.int32)  # the n-gram ending at each of these tokens
    del position
    combined = np.full(len(ends), order, dtype=np.uint64)  # salt: words, pairs, triples apart
    with np.errstate(over="ignore"):  # wrapping uint64 arithmetic is the hash
        for back in range(order - 1, -1, -1):
            combined *= _PRIME
            combined += hashes[ends - back]
    combined %= np.uint64(BUCKETS)
    return np.maximum(lengths - (order - 1), 0), combined.astype(np.int32)


def count_matrix(per_text: np.ndarray, buckets: np.ndarray, column_of: np.ndarray, features: int) -> sp.csr_matrix:
    """N-gram counts ``(texts, features)`` from :func:`ngram_buckets` output; ``column_of (BUCKETS,)``
    gives each bucket's feature column, -1 for buckets without one (dropped)."""
    columns = column_of[buckets]
    indptr = np.concatenate([[0], np.cumsum(per_text)])
    known = columns >= 0
    if not known.all():
        indptr = np.concatenate([[0], np.cumsum(known)])[indptr]  # kept n-grams before each text's start
        columns = columns[known]
    data = np.ones(len(columns), dtype=np.float64)
    counts = sp.csr_matrix((data, columns, indptr), shape=(len(per_text), features))
    counts.sum_duplicates()
    return counts


def column_lookup(columns: np.ndarray) -> np.ndarray:
    """``(BUCKETS,)`` int32: the feature column of each bucket in ``columns``, -1 elsewhere."""
    lookup = np.full(BUCKETS, -1, dtype=np.int32)
    lookup[columns] = np.arange(len(columns), dtype=np.int32)
    return lookup


def ngram_counts(types: Sequence[str], flat: np.ndarray, lengths: np.ndarray, columns: np.ndarray | None) -> tuple:
    """(TF-IDF counts of words and pairs, NB counts of words, pairs and triples, columns): sparse
    ``(texts, features)`` over the buckets ``columns``; ``None`` takes every bucket seen."""
    hashes = token_hashes(types)[flat]
    grams = {n: ngram_buckets(hashes, lengths, n) for n in NB_ORDERS}
    del hashes
    if columns is None:
        seen = np.zeros(BUCKETS, dtype=bool)
        for _, buckets in grams.values():
            seen[buckets] = True
        columns = np.flatnonzero(seen)
    lookup = column_lookup(columns)
    by_order = {n: count_matrix(*grams.pop(n), lookup, len(columns)) for n in NB_ORDERS}
    tfidf = sum(by_order[n] for n in TFIDF_ORDERS)
    nb = sum(by_order.values())
    return tfidf.tocsr(), nb.tocsr(), columns


@dataclass
class LinearModels:
    """The fitted TF-IDF and NB logistic regressions over the hashed n-gram buckets ``columns``.

    ``idf (features,)`` is 0 for buckets outside the TF-IDF model (triples, rare pairs);
    ``*_coef (features, outputs)`` and ``*_bias (outputs,)`` are the two models' weights (NB's already
    multiplied by the log-count ratios, so they apply to the binary features).
    """

    columns: np.ndarray
    idf: np.ndarray
    tfidf_coef: np.ndarray
    tfidf_bias: np.ndarray
    nb_coef: np.ndarray
    nb_bias: np.ndarray

    @classmethod
    def fit(
        cls,
        types: Sequence[str],
        flat: np.ndarray,
        lengths: np.ndarray,
        targets: np.ndarray,
        num_classes: int,
        class_weight: str | None = None,
    ) -> LinearModels:
        """Fit both models on token streams (:func:`rnnkit.text.batches.index_texts`) with class indices ``targets``."""
        # Every bucket seen is a feature: NB uses them all, TF-IDF its words and pairs seen twice.
        tfidf_counts, binary, every = ngram_counts(types, flat, lengths, None)
        if len(every) == 0:
            raise DataError("the training texts hold no tokens at all")
        df = np.bincount(tfidf_counts.indices, minlength=len(every))
        idf = np.where(df >= TFIDF_MIN_DF, np.log((1 + len(lengths)) / (1 + df)) + 1, 0.0)
        outputs = 1 if num_classes == 2 else num_classes

        # Fitted on its own columns only: the solver keeps ten past steps of every weight. With no word
        # seen twice (a handful of texts), one all-zero column leaves it the class priors to learn.
        used = np.flatnonzero(idf) if idf.any() else np.zeros(1, dtype=np.int64)
        tfidf = LogisticRegression(C=TFIDF_C, max_iter=2000, class_weight=class_weight)
        tfidf.fit(_tfidf(tfidf_counts[:, used], idf[used]), targets)
        del tfidf_counts
        tfidf_coef = np.zeros((len(every), tfidf.coef_.shape[0]), dtype=np.float32)
        tfidf_coef[used] = tfidf.coef_.T
        binary.data[:] = 1.0
        nb_coef = np.empty((len(every), outputs))
        nb_bias = np.empty(outputs)
        for k in range(outputs):
            positive = targets == (1 if outputs == 1 else k)
            ratio = _log_count_ratio(binary, positive)
            model = LogisticRegression(C=NB_C, solver="liblinear", max_iter=1000, class_weight=class_weight)
            model.fit(binary @ sp.diags(ratio), positive)
            nb_coef[:, k], nb_bias[k] = ratio * model.coef_[0], model.intercept_[0]
        return cls(
            columns=every,
            idf=idf.astype(np.float32),
            tfidf_coef=tfidf_coef,
            tfidf_bias=tfidf.intercept_.astype(np.float32),
            nb_coef=nb_coef.astype(np.float32),
            nb_bias=nb_bias.astype(np.float32),
        )

    def log_probas(self, types: Sequence[str], flat: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
        """Each model's log class probabilities ``(texts, classes)``: [TF-IDF, NB]."""
        tfidf_counts, binary, _ = ngram_counts(types, flat, lengths, self.columns)
        binary.data[:] = 1.0
        scores = [
            _tfidf(tfidf_counts, self.idf) @ self.tfidf_coef + self.tfidf_bias,
            binary @ self.nb_coef + self.nb_bias,
        ]
        return [log_probabilities(np.asarray(s, dtype=np.float64)) for s in scores]

    def tensors(self) -> dict[str, torch.Tensor]:
        """The fitted arrays by name, for a safetensors file."""
        return {name: torch.from_numpy(np.ascontiguousarray(getattr(self, name))) for name in TENSOR_NAMES}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> LinearModels:
        return cls(**{name: tensors[name].numpy() for name in TENSOR_NAMES})

    @staticmethod
    def expected_tensors(features: int, num_classes: int) -> dict[str, torch.Tensor]:
        """Empty tensors of the names, shapes and dtypes a saved model must hold (for validation)."""
        outputs = 1 if num_classes == 2 else num_classes
        shapes = {
            "columns": (features,),
            "idf": (features,),
            "tfidf_coef": (features, outputs),
            "tfidf_bias": (outputs,),
            "nb_coef": (features, outputs),
            "nb_bias": (outputs,),
        }
        with torch.device("meta"):
            return {
                name: torch.empty(shape, dtype=torch.int64 if name == "columns" else torch.float32)
                for name, shape in shapes.items()
            }

    def check(self) -> str | None:
        """What is wrong with arrays read from a file, or None: bucket ids sorted, distinct and in range,
        every number finite."""
        c = self.columns
        if len(c) and (c[0] < 0 or c[-1] >= BUCKETS or np.any(np.diff(c) <= 0)):
            return f"columns must be distinct increasing bucket ids in [0, {BUCKETS})"
        for name in TENSOR_NAMES[1:]:
            if not np.isfinite(getattr(self, name)).all():
                return f"{name} holds NaN or infinite values"
        return None


TENSOR_NAMES = ("columns", "idf", "tfidf_coef", "tfidf_bias", "nb_coef", "nb_bias")


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear term frequency times idf, each row scaled to unit length (scikit-learn's TfidfVectorizer),
    computed in place in ``counts``."""
    counts.data = (1 + np.log(counts.data)) * idf[counts.indices]
    return normalize(counts, copy=False) if counts.shape[0] else counts


def _log_count_ratio(binary: sp.csr_matrix, positive: np.ndarray) -> np.ndarray:
    """``log((p / |p|) / (q / |q|))`` with ``p``, ``q`` the smoothed feature counts of the class and the rest."""
    p = np.asarray(binary[positive].sum(axis=0)).ravel() + NB_ALPHA
    q = np.asarray(binary[~positive].sum(axis=0)).ravel() + NB_ALPHA
    return np.log(p / p.sum()) - np.log(q / q.sum())


def log_probabilities(scores: np.ndarray) -> np.ndarray:
    """Log class probabilities ``(n, classes)`` from scores ``(n, 1)`` (a binary logit) or ``(n, classes)``."""
    if scores.shape[1] == 1:
        return np.concatenate([log_expit(-scores), log_expit(scores)], axis=1)
    return log_softmax(scores, axis=1)


def fit_blend(parts: Sequence[np.ndarray], targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Non-negative weights ``w (parts,)`` minimising the class-weighted log loss of
    ``softmax(sum_i w_i * parts[i])`` on held-out data; ``parts`` are log probabilities ``(n, classes)``.

    A penalty ``|w - 1/parts|^2 / (2 n)`` keeps a handful of held-out texts from deciding much: it
    vanishes beside the loss of thousands, and pulls a blend fitted on ten toward equal weights.
    """
    rows = np.arange(len(targets))
    item_weights = weights[targets] / weights[targets].sum()
    start = np.full(len(parts), 1 / len(parts))

    def loss_and_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = log_softmax(sum(wi * p for wi, p in zip(w, parts, strict=True)), axis=1)
        residual = -np.exp(z)
        residual[rows, targets] += 1  # d(log p_target)/dz
        gradient = [-(item_weights * (residual * p).sum(axis=1)).sum() for p in parts]
        loss = -(item_weights * z[rows, targets]).sum() + ((w - start) ** 2).sum() / (2 * len(targets))
        return float(loss), np.asarray(gradient) + (w - start) / len(targets)

    result = minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B", bounds=[(0, None)] * len(parts))
    return result.x.astype(np.float32)


def blend(parts: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Class probabilities ``(n, classes)`` of the blend ``softmax(sum_i weights[i] * parts[i])``."""
    z = log_softmax(sum(float(w) * p for w, p in zip(weights, parts, strict=True)), axis=1)
    return np.exp(z).astype(np.float32)
