"""The classifier's network and its side of the training loop.

:class:`RNNClassifier`: embedding (or one-hot) -> recurrent encoder -> pooling -> linear head (plus
an optional n-gram bag). :class:`ClassificationExamples` is one split as the training loop sees it:
batches, their class-weighted loss and the validation scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.nn.encoder import Pooling, RecurrentEncoder, SpatialDropout, left_align
from rnnkit.text.batches import Ragged, bucket_batches, collate
from rnnkit.text.pipeline import PAD_ID

# Prediction batches stay small enough that a batch's gate inputs stay near the cache; larger ones
# were slower per text here (64: 1,400 reviews/s, 256: 1,250 on IMDB-length reviews).
PREDICT_BATCH_SIZE = 64

# The n-gram bag is linear in sparse features, each seen in few batches, and its logits are a mean over
# hundreds of features: at the recurrent model's step size it stays negligible beside it. On IMDB
# (validation accuracy, 2,500 held-out reviews): factor 10 -> 90.76%, 50 -> 91.48%.
NGRAM_LR_FACTOR = 50.0


class NgramBag(nn.Module):
    """A linear model over the bag of a text's words and hashed word bigrams (fastText's features),
    whose logits are added to the recurrent model's.

    The RNN reads order and context; the bag memorises which words and pairs of words carry a
    label, which linear models do very well on long texts. Ids ``(batch, time)`` post-padded.
    """

    def __init__(self, vocab_size: int, buckets: int, outputs: int):
        super().__init__()
        self.vocab_size, self.buckets = vocab_size, buckets
        self.weights = nn.EmbeddingBag(vocab_size + buckets, outputs, mode="mean")
        nn.init.zeros_(self.weights.weight)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        bigrams = self.vocab_size + (ids[:, :-1] * 1_000_003 + ids[:, 1:]) % self.buckets
        features = torch.cat([ids, bigrams], dim=1)
        steps = torch.arange(ids.size(1), device=ids.device)
        real = torch.cat([steps[None, :] < lengths[:, None], steps[None, 1:] < lengths[:, None]], dim=1)
        counts = real.sum(dim=1)
        offsets = torch.cat([counts.new_zeros(1), counts.cumsum(0)[:-1]])
        return self.weights(features[real], offsets)


class RNNClassifier(nn.Module):
    """ids -> logits: ``(batch, 1)`` for a binary task (sigmoid), ``(batch, classes)`` otherwise."""

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        cell: str = "gru",
        hidden_size: int = 128,
        embedding_dim: int = 128,
        encoding: str = "embedding",
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
        pooling: str = "max",
        padding: str = "post",
        ngram_buckets: int = 0,
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.padding = padding
        if encoding == "embedding":
            self.embedding: nn.Embedding | None = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
            input_size = embedding_dim
        else:
            self.embedding = None
            input_size = vocab_size
        # One-hot inputs are symbols, not features: dropping a channel would erase a symbol
        # (a whole nucleotide) from the entire text, so they get no input dropout.
        self.input_dropout = SpatialDropout(dropout if encoding == "embedding" else 0.0)
        self.encoder = RecurrentEncoder(cell, input_size, hidden_size, num_layers, bidirectional, dropout)
        self.pooling = Pooling(pooling, self.encoder.output_size, bidirectional)
        self.output_dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.output_size, 1 if num_classes == 2 else num_classes)
        self.ngrams = NgramBag(vocab_size, ngram_buckets, self.head.out_features) if ngram_buckets else None

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.padding == "pre":
            ids = left_align(ids, lengths)
        ids = ids.t()  # time-major from here on
        x = self.embedding(ids) if self.embedding is not None else F.one_hot(ids, self.vocab_size).float()
        h = self.encoder(self.input_dropout(x), lengths)
        logits = self.head(self.output_dropout(self.pooling(h, lengths)))
        return logits if self.ngrams is None else logits + self.ngrams(ids.t(), lengths)

    def parameter_groups(self, lr: float) -> list[dict]:
        """The recurrent model at ``lr``; the n-gram bag, when present, at ``NGRAM_LR_FACTOR * lr``."""
        bag = set(self.ngrams.parameters()) if self.ngrams is not None else set()
        groups = [{"params": [p for p in self.parameters() if p not in bag]}]
        if bag:
            groups.append({"params": list(bag), "lr": lr * NGRAM_LR_FACTOR})
        return groups


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Class probabilities ``(batch, classes)`` from :class:`RNNClassifier` logits."""
    if logits.size(1) == 1:
        p = torch.sigmoid(logits)
        return torch.cat([1 - p, p], dim=1)
    return torch.softmax(logits, dim=1)


def loss_per_item(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Binary or categorical cross-entropy for each item, ``(batch,)``; targets are class indices."""
    if logits.size(1) == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], targets.to(logits.dtype), reduction="none")
    return F.cross_entropy(logits, targets, reduction="none")


def weighted_loss(
    logits: torch.Tensor, targets: torch.Tensor, class_weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of class-weighted item losses, sum of the weights): their ratio is the batch loss."""
    weights = class_weights[targets]
    return (loss_per_item(logits, targets) * weights).sum(), weights.sum()


@dataclass(frozen=True)
class ClassificationExamples:
    """Texts as id sequences with their class indices, for :func:`rnnkit.train.loop.train`."""

    data: Ragged
    targets: np.ndarray  # (n,) class indices
    class_weights: torch.Tensor  # (classes,)

    @property
    def lengths(self) -> np.ndarray:
        return self.data.lengths

    def inputs(self, model: nn.Module, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's inputs for the items ``idx``: padded ids and lengths."""
        return collate(self.data, idx, model.padding)

    def loss(self, model: nn.Module, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """(summed weighted loss, summed weight, correct predictions, items) over the batch ``idx``."""
        y = torch.from_numpy(self.targets[idx])
        logits = model(*self.inputs(model, idx))
        batch_loss, batch_weight = weighted_loss(logits, y, self.class_weights)
        correct = int((probabilities(logits.detach()).argmax(1) == y).sum())
        return batch_loss, batch_weight, correct, len(idx)

    @torch.inference_mode()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """``{"loss": weighted mean loss, "accuracy": ...}`` over the whole split."""
        model.eval()
        sums = np.zeros(4)
        for idx in bucket_batches(self.lengths, PREDICT_BATCH_SIZE):
            loss, weight, correct, count = self.loss(model, idx)
            sums += (float(loss), float(weight), correct, count)
        return {"loss": float(sums[0] / sums[1]), "accuracy": float(sums[2] / sums[3])}


def predict_proba(model: RNNClassifier, data: Ragged, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """Class probabilities ``(n, classes)`` of texts, in input order."""
    return batched_probabilities(model, data.lengths, lambda idx: collate(data, idx, model.padding), batch_size)


@torch.inference_mode()
def batched_probabilities(
    model: nn.Module,
    lengths: np.ndarray,
    inputs: Callable[[np.ndarray], tuple[torch.Tensor, ...]],
    batch_size: int = PREDICT_BATCH_SIZE,
) -> np.ndarray:
    """Class probabilities ``(n, classes)`` of items of ``lengths``, whose batches ``inputs(idx)`` makes.

    Items are batched longest-first, a deterministic order: the same items always meet the same
    batches, hence the same floating-point results.
    """
    model.eval()
    classes = model.head.out_features if model.head.out_features > 1 else 2
    out = np.empty((len(lengths), classes), dtype=np.float32)
    for idx in bucket_batches(lengths, batch_size):
        out[idx] = probabilities(model(*inputs(idx))).numpy()
    return out
