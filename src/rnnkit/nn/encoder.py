"""The shared recurrent encoder: exact-length RNN/LSTM/GRU stacks, pooling and input dropout.

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
from torch import nn

from rnnkit.nn.gru import FusedGRU
from rnnkit.nn.lstm import FusedLSTM, SeparateDirections
from rnnkit.nn.steps import reading_order, valid_steps

CELLS = ("rnn", "lstm", "gru")
POOLINGS = ("last", "max", "mean", "attention")
ENCODINGS = ("embedding", "onehot")


def left_align(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Turn a pre-padded id batch into a post-padded one (tokens first, then padding)."""
    time = ids.size(1)
    steps = torch.arange(time, device=ids.device)[None, :]
    source = (steps + (time - lengths)[:, None]) % time
    return ids.gather(1, source)


class RecurrentEncoder(nn.Module):
    """A stack of uni- or bidirectional RNN/LSTM/GRU layers with exact length handling.

    The backward direction of each layer is fed the length-reversed sequence (see the module
    docstring). GRU and LSTM layers run both directions together on the compiled loop
    (:class:`~rnnkit.nn.gru.FusedGRU`, :class:`~rnnkit.nn.lstm.FusedLSTM`).
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
            if cell == "lstm":
                return FusedLSTM(size, hidden_size, self.directions)
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


def use_pretrained(embedding: nn.Embedding, matrix: torch.Tensor, freeze: bool) -> None:
    """Start ``embedding`` from pretrained weights ``(vocab, dim)``; ``freeze`` keeps them fixed."""
    with torch.no_grad():
        embedding.weight.copy_(matrix)
    embedding.weight.requires_grad_(not freeze)
