"""The language model's network and its side of the training loop.

:class:`RNNLanguageModel`: token ids -> embedding -> a one-directional recurrent stack whose state is
carried from one window of the text to the next -> a score for every token of the vocabulary. With
``tie_weights`` the output layer reuses the embedding matrix (Press & Wolf 2017; Inan et al. 2017):
fewer parameters and, on words, lower perplexity. Everything is time-major: ``(time, batch, ...)``.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.errors import ConfigError
from rnnkit.nn.dropout import Dropout
from rnnkit.nn.stateful import StatefulRNN
from rnnkit.text.stream import stream_rows, windows


class RNNLanguageModel(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        cell: str = "lstm",
        embedding_dim: int = 128,
        hidden_size: int = 512,
        num_layers: int = 1,
        dropout: float = 0.1,
        tie_weights: bool = False,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.dropout = Dropout(dropout)
        self.rnn = StatefulRNN(cell, embedding_dim, hidden_size, num_layers, dropout)
        self.tie_weights = tie_weights
        if tie_weights:
            # The embedding matrix is the output layer; a projection makes the sizes meet. Tied rather
            # than shared tensors: safetensors stores each tensor once.
            self.project = nn.Linear(hidden_size, embedding_dim) if hidden_size != embedding_dim else None
            self.output_bias = nn.Parameter(torch.zeros(vocab_size))
        else:
            self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``ids (time, batch)`` and the state (None: zeros) -> logits ``(time, batch, vocab)`` for the
        token after each position, and the state after the last step."""
        h, state = self.rnn(self.dropout(self.embedding(ids)), state)
        h = self.dropout(h)
        if not self.tie_weights:
            return self.head(h), state
        if self.project is not None:
            h = self.project(h)
        return F.linear(h, self.embedding.weight, self.output_bias), state


class TextStream:
    """A token stream for :func:`rnnkit.train.loop.train`: ``batch_size`` rows read ``steps`` tokens at a
    time, in order, each window's final state carried into the next (truncated backpropagation through
    time, :mod:`rnnkit.text.stream`). An item is a window; an epoch reads every window once, in order,
    starting from a zero state (so does a resumed epoch, from the window it resumes at)."""

    def __init__(self, ids: np.ndarray, batch_size: int, steps: int):
        self.rows = torch.from_numpy(stream_rows(np.asarray(ids, dtype=np.int64), batch_size))
        self.windows = [(inputs.t(), targets.t()) for inputs, targets in windows(self.rows, steps)]
        self._state: torch.Tensor | None = None

    @property
    def lengths(self) -> np.ndarray:
        return np.array([inputs.size(0) for inputs, _ in self.windows])

    def shard(self, rank: int, size: int) -> TextStream:
        """Rank ``rank`` of ``size``'s part of every window in a distributed run: rows ``rank``,
        ``rank + size``, ... (each row's state stays on one rank); every rank reads every window."""
        if len(self.rows) < size:
            raise ConfigError(f"batch_size {len(self.rows)} gives fewer rows than the {size} training processes")
        part = copy.copy(self)
        part.rows = self.rows[rank::size]
        part.windows = [(inputs[:, rank::size], targets[:, rank::size]) for inputs, targets in self.windows]
        return part

    def batches(self, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
        """Every window once, in reading order (the rows are the batch)."""
        return [np.array([k]) for k in range(len(self.windows))]

    def loss(self, model: RNNLanguageModel, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """(summed cross-entropy, tokens, tokens whose most likely prediction is right, tokens)."""
        k = int(idx[0])
        inputs, targets = self.windows[k]
        total, correct, state = _window(model, inputs, targets, None if k == 0 else self._state)
        self._state = state.detach()  # the next window starts here; gradients stop at the window's end
        return total, total.new_tensor(float(targets.numel())), correct, targets.numel()

    @torch.inference_mode()
    def evaluate(self, model: RNNLanguageModel) -> dict[str, float]:
        """``{"loss"}`` (nats per token), ``"accuracy"`` and ``"perplexity"`` over every window, in order."""
        model.eval()
        total, correct, count, state = 0.0, 0, 0, None
        for inputs, targets in self.windows:
            window_total, window_correct, state = _window(model, inputs, targets, state)
            total, correct, count = total + float(window_total), correct + window_correct, count + targets.numel()
        loss = total / count
        return {"loss": loss, "accuracy": correct / count, "perplexity": math.exp(min(loss, 700.0))}


def _window(
    model: RNNLanguageModel, inputs: torch.Tensor, targets: torch.Tensor, state: torch.Tensor | None
) -> tuple[torch.Tensor, int, torch.Tensor]:
    """(summed cross-entropy, correct predictions, the state after) of one window ``(time, batch)``."""
    logits, state = model(inputs, state)
    total = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum")
    return total, int((logits.detach().argmax(dim=2) == targets).sum()), state
