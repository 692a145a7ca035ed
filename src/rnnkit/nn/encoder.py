"""The network: embedding (or one-hot) -> recurrent encoder -> pooling -> linear head.

Length handling is exact by construction, without ``pack_padded_sequence`` (about 11x slower on
CPU than the fused kernels on padded batches):

* every direction runs over a *post-padded* batch, so a state at step ``t < length`` has seen
  only real tokens; the steps beyond ``length`` hold garbage that nothing reads;
* the backward direction reads each sequence reversed *within its true length* and its outputs go
  back to their positions (:mod:`rnnkit.nn.steps`), so it starts on the last real token, not on padding;
* pooling reads steps ``t < length`` only ("last" takes the forward state at ``length - 1`` and the
  backward state at step 0, which has seen the whole sequence).

Shapes: ``ids (batch, time)`` and ``lengths (batch,)`` in; inside, everything is time-major, the
natural layout for a recurrence (each step reads one contiguous block): embeddings
``(time, batch, dim)``, encoder output ``(time, batch, hidden * dirs)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.nn.gru import FusedGRU
from rnnkit.nn.steps import gather_steps, reading_order, scatter_steps, valid_steps
from rnnkit.text.pipeline import PAD_ID

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
POOLINGS = ("last", "max", "mean", "attention")
ENCODINGS = ("embedding", "onehot")


def left_align(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Turn a pre-padded id batch into a post-padded one (tokens first, then padding)."""
    time = ids.size(1)
    steps = torch.arange(time, device=ids.device)[None, :]
    source = (steps + (time - lengths)[:, None]) % time
    return ids.gather(1, source)


class SeparateDirections(nn.Module):
    """Directions as independent single-layer ``nn.RNN``/``nn.LSTM`` modules, one after the other.

    Same interface as :class:`~rnnkit.nn.gru.FusedGRU`: ``x (time, batch, input)`` and the reading order
    ``(dirs, time, batch)`` -> ``(time, batch, hidden * dirs)``. Each direction's inputs are gathered
    into its reading order and its outputs scattered back.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, directions: int):
        super().__init__()
        self.rnns = nn.ModuleList(CELLS[cell](input_size, hidden_size) for _ in range(directions))

    def forward(self, x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        directions = zip(self.rnns, order, strict=True)
        return torch.cat([scatter_steps(rnn(gather_steps(x, index))[0], index) for rnn, index in directions], dim=2)


class RecurrentEncoder(nn.Module):
    """A stack of uni- or bidirectional RNN/LSTM/GRU layers with exact length handling.

    The backward direction of each layer is fed the length-reversed sequence (see the module
    docstring). GRU layers run both directions together in :class:`~rnnkit.nn.gru.FusedGRU`.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.directions = 2 if bidirectional else 1
        self.output_size = hidden_size * self.directions

        def layer(size: int) -> nn.Module:
            if cell == "gru":
                return FusedGRU(size, hidden_size, self.directions)
            return SeparateDirections(cell, size, hidden_size, self.directions)

        self.layers = nn.ModuleList(layer(input_size if i == 0 else self.output_size) for i in range(num_layers))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x (time, batch, input)`` post-padded -> ``(time, batch, hidden * dirs)``."""
        order = reading_order(lengths, x.size(0), self.directions)
        for i, layer in enumerate(self.layers):
            if i > 0:
                x = self.dropout(x)
            x = layer(x, order)
        return x


class Pooling(nn.Module):
    """Summarise encoder outputs ``(time, batch, size)`` into ``(batch, size)`` over real steps only."""

    def __init__(self, kind: str, size: int, bidirectional: bool):
        super().__init__()
        if kind not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {kind!r}")
        self.kind = kind
        self.bidirectional = bidirectional
        if kind == "attention":
            self.attention = nn.Sequential(nn.Linear(size, size), nn.Tanh(), nn.Linear(size, 1, bias=False))

    def forward(self, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = valid_steps(lengths, h.size(0))[:, :, None]
        if self.kind == "max":
            return h.masked_fill(~mask, float("-inf")).amax(dim=0)
        if self.kind == "mean":
            return h.masked_fill(~mask, 0.0).sum(dim=0) / lengths[:, None].to(h.dtype)
        if self.kind == "attention":
            scores = self.attention(h).masked_fill(~mask, float("-inf"))
            return (torch.softmax(scores, dim=0) * h).sum(dim=0)
        # "last": the forward state at the final real token; the backward state at step 0 has
        # read the whole sequence.
        last = h[lengths - 1, torch.arange(h.size(1), device=h.device)]
        if not self.bidirectional:
            return last
        half = h.size(2) // 2
        return torch.cat([last[:, :half], h[0, :, half:]], dim=1)


class SpatialDropout(nn.Module):
    """Drop whole embedding channels of a sequence, the same ones at every step (Keras' SpatialDropout1D).

    Neighbouring steps of a text are strongly correlated, so per-element dropout on embeddings
    regularises little; dropping a channel for the whole sequence does. It also draws
    ``batch * dim`` random numbers instead of ``time * batch * dim``.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (time, batch, dim)``."""
        if not self.training or self.p == 0:
            return x
        keep = torch.empty(1, x.size(1), x.size(2), dtype=x.dtype, device=x.device).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


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
