"""The series classifier's network and its side of the training loop.

:class:`SeriesRNN`: the standardised channels of each step -> the shared recurrent encoder (exact
lengths: a short series is never read into padding) -> pooling over its real steps -> linear head.
:class:`SeriesExamples` is one split for the loop (the classifier's, with series for texts); batches
are padded to their longest series only.
Shapes: series ``(time, channels)`` each; a batch ``(time, batch, channels)`` with ``lengths (batch,)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rnnkit.nn.encoder import Pooling, RecurrentEncoder
from rnnkit.tasks.classification.model import ClassificationExamples, batched_probabilities
from rnnkit.text.pipeline import pad_sequences


class SeriesRNN(nn.Module):
    """``(time, batch, channels)`` and lengths -> logits: ``(batch, 1)`` for two classes, else ``(batch, classes)``."""

    def __init__(
        self,
        channels: int,
        num_classes: int,
        cell: str = "gru",
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.1,
        pooling: str = "mean",
    ):
        super().__init__()
        self.encoder = RecurrentEncoder(cell, channels, hidden_size, num_layers, bidirectional, dropout)
        self.pooling = Pooling(pooling, self.encoder.output_size, bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.output_size, 1 if num_classes == 2 else num_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.pooling(self.encoder(x, lengths), lengths)))


def collate(series: list[np.ndarray], idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The series ``idx`` post-padded with zeros: ``(time, batch, channels)`` float32 and lengths."""
    chosen = [series[i] for i in idx]
    x = pad_sequences(chosen, dtype="float32", padding="post")  # (batch, time, channels)
    return torch.from_numpy(x).transpose(0, 1).contiguous(), torch.tensor([len(s) for s in chosen])


@dataclass(frozen=True)
class SeriesExamples(ClassificationExamples):
    """Standardised series (``data``: a list of ``(time, channels)`` arrays) with their class indices."""

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.data])

    def inputs(self, model: nn.Module, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return collate(self.data, idx)


def predict_proba(model: SeriesRNN, series: list[np.ndarray]) -> np.ndarray:
    """Class probabilities ``(n, classes)`` in input order."""
    return batched_probabilities(model, np.array([len(s) for s in series]), lambda idx: collate(series, idx))
