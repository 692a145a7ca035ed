"""A linear model over what stands where: for texts that are fixed-length sequences of symbols.

DNA windows, protein windows and fixed-format codes carry their signal at fixed positions: in the
splice-junction data, the bases around position 30 decide exon-intron against intron-exon. The
recurrent model has to learn positions from its state, and the n-gram models ignore them; a logistic
regression over one-hot (position, symbol) and (position, symbol pair) features sees them directly
(splice, 5-fold cross-validation on the training part, ``bench/splice_features.py``: log loss 0.127
and accuracy 0.959 with pairs at their best C, 0.163 and 0.948 with symbols alone).

It joins the classifier's blend when every training text has the same number of tokens and the
features stay few (``length * vocab**2 <= MAX_FEATURES``); ``C`` is chosen by 5-fold
cross-validation (log loss) on the training texts. Texts of other lengths at prediction time use the
positions they have (a shorter text has no features past its end; a longer one none past ``length``).

Shapes: ids ragged (:class:`~rnnkit.text.batches.Ragged`, vocabulary ids); features ``(texts,
length * vocab + (length - 1) * vocab**2)`` sparse; ``coef (features, outputs)`` with ``outputs`` 1 for
two classes (the logit of the second), the number of classes otherwise.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold

from rnnkit.tasks.classification.linear import log_probabilities
from rnnkit.text.batches import Ragged

MAX_FEATURES = 2**20
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
FOLDS = 5


def usable_length(lengths: np.ndarray, kept: np.ndarray, vocab_size: int, class_counts: np.ndarray) -> int | None:
    """The one token count every training text has, when the positional model applies; else None.

    ``lengths`` are the texts' token counts as written, ``kept`` after the cut to ``max_length`` (texts
    all cut to it are long texts, not fixed-length data); ``class_counts`` the training texts per
    class: ``C`` is chosen by stratified folds, so every class must stand in each of them.
    """
    if lengths.min() != lengths.max() or lengths[0] < 2 or kept.min() != lengths[0] or class_counts.min() < FOLDS:
        return None
    length = int(lengths[0])
    return length if length * vocab_size**2 <= MAX_FEATURES else None


def feature_count(length: int, vocab_size: int) -> int:
    return length * vocab_size + (length - 1) * vocab_size**2


def positions(ids: Ragged, length: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(text, token position, feature column) of every feature of the texts ``ids``: the symbol at
    each position ``j < length`` and the pair starting there (a pair's position is its first token)."""
    lengths = np.minimum(ids.lengths, length)
    text = np.repeat(np.arange(len(ids)), lengths)
    j = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    token = ids.flat[np.repeat(ids.offsets[:-1], lengths) + j].astype(np.int64)
    single = j * vocab_size + token
    paired = j + 1 < lengths[text]
    nxt = ids.flat[(np.repeat(ids.offsets[:-1], lengths) + j + 1)[paired]].astype(np.int64)
    pair = length * vocab_size + j[paired] * vocab_size**2 + token[paired] * vocab_size + nxt
    return np.concatenate([text, text[paired]]), np.concatenate([j, j[paired]]), np.concatenate([single, pair])


def features(ids: Ragged, length: int, vocab_size: int) -> sp.csr_matrix:
    """Binary features ``(texts, feature_count)``."""
    text, _, column = positions(ids, length, vocab_size)
    shape = (len(ids), feature_count(length, vocab_size))
    return sp.csr_matrix((np.ones(len(column)), (text, column)), shape=shape)


@dataclass
class PositionalModel:
    """The fitted logistic regression over (position, symbol) and (position, pair) features."""

    length: int
    vocab_size: int
    coef: np.ndarray  # (features, outputs) float32
    bias: np.ndarray  # (outputs,) float32

    @classmethod
    def fit(
        cls, ids: Ragged, targets: np.ndarray, vocab_size: int, class_weight: str | None = None, seed: int = 0
    ) -> PositionalModel:
        """Fit on ids of texts of one length (:func:`usable_length`) with class indices ``targets``; ``C``
        is the one of ``C_GRID`` with the lowest cross-validated log loss."""
        length = int(ids.lengths[0])
        x = features(ids, length, vocab_size)
        folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)

        def model(c: float) -> LogisticRegression:
            return LogisticRegression(C=c, max_iter=2000, class_weight=class_weight)

        def held_out_loss(c: float) -> float:
            return sum(
                log_loss(targets[test], model(c).fit(x[train], targets[train]).predict_proba(x[test]),
                         labels=np.unique(targets)) * len(test)
                for train, test in folds.split(x, targets)
            )  # fmt: skip

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the weakest C's of the search may stop early
            best = min(C_GRID, key=held_out_loss)
            fitted = model(best).fit(x, targets)
        return cls(length, vocab_size, fitted.coef_.T.astype(np.float32), fitted.intercept_.astype(np.float32))

    def scores(self, ids: Ragged) -> np.ndarray:
        """The scores ``(texts, outputs)`` of texts' ids."""
        return np.asarray(features(ids, self.length, self.vocab_size) @ self.coef, dtype=np.float64) + self.bias

    def log_probas(self, ids: Ragged) -> np.ndarray:
        """Log class probabilities ``(texts, classes)``."""
        return log_probabilities(self.scores(ids))

    def contributions(self, ids: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Each token's exact share ``(time,)`` of ``v . scores`` (the bias left out) for one text's ids:
        a symbol's weight goes to its token, a pair's half to each of its two."""
        _, j, column = positions(Ragged(np.asarray(ids), np.array([0, len(ids)])), self.length, self.vocab_size)
        share = self.coef[column] @ v
        single = column < self.length * self.vocab_size
        out = np.zeros(len(ids))
        np.add.at(out, j[single], share[single])
        np.add.at(out, j[~single], share[~single] / 2)
        np.add.at(out, j[~single] + 1, share[~single] / 2)
        return out

    def check(self) -> str | None:
        """What is wrong with arrays read from a file, or None."""
        finite = np.isfinite(self.coef).all() and np.isfinite(self.bias).all()
        return None if finite else "positional_coef or positional_bias holds NaN or infinite values"

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"positional_coef": torch.from_numpy(self.coef), "positional_bias": torch.from_numpy(self.bias)}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], length: int, vocab_size: int) -> PositionalModel:
        return cls(length, vocab_size, tensors["positional_coef"].numpy(), tensors["positional_bias"].numpy())

    @staticmethod
    def expected_tensors(length: int, vocab_size: int, num_classes: int) -> dict[str, torch.Tensor]:
        """Empty tensors of the names, shapes and dtypes a saved model must hold (for validation)."""
        outputs = 1 if num_classes == 2 else num_classes
        with torch.device("meta"):
            return {
                "positional_coef": torch.empty(feature_count(length, vocab_size), outputs),
                "positional_bias": torch.empty(outputs),
            }
