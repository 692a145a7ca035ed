"""Character encoders: one vector per word from its spelling.

Why: a tagger meets names it never saw in training ("Jorgensen", "Vojvodina"); their spelling
(capitals, suffixes like "-ski" or "-burg", digits, hyphens) is what tells PER from LOC. Both encoders
map ``chars (words, length)`` post-padded with ``lengths (words,)`` to ``(words, output_size)``
and read real characters only:

* ``cnn``: character embeddings, one convolution (width 3) and max-pooling over the real positions
  (Ma & Hovy 2016): one matrix product for all words, the fastest on a CPU;
* ``lstm``/``gru``: a bidirectional recurrent encoder over the characters, the forward state at
  the last character and the backward state at the first (Lample et al. 2016), with the exact-length
  handling of :class:`~rnnkit.nn.encoder.RecurrentEncoder`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.nn.encoder import Pooling, RecurrentEncoder
from rnnkit.nn.steps import valid_steps
from rnnkit.text.pipeline import PAD_ID

CHAR_ENCODERS = ("cnn", "lstm", "gru", "none")
WIDTH = 3  # characters a filter sees: enough for suffixes, the usual choice


class CharCNN(nn.Module):
    def __init__(self, num_chars: int, char_dim: int, output_size: int):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=PAD_ID)
        self.conv = nn.Conv1d(char_dim, output_size, WIDTH, padding=WIDTH // 2)
        self.output_size = output_size

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # The convolution as one matrix product over every window of every word: on these tiny inputs
        # (a few hundred words of a dozen characters) about 1.3x faster than calling Conv1d, forward and
        # backward. self.conv only holds the weights, so saved models keep their layout.
        words, length = chars.shape
        x = F.pad(self.embedding(chars), (0, 0, WIDTH // 2, WIDTH // 2))  # padding: PAD embeddings are zeros
        windows = x.unfold(1, WIDTH, 1).reshape(words * length, -1)  # (words * length, dim * width)
        h = torch.addmm(self.conv.bias, windows, self.conv.weight.view(self.output_size, -1).t())
        real = valid_steps(lengths, length).t()[:, :, None]
        return h.view(words, length, -1).masked_fill(~real, float("-inf")).amax(dim=1)


class CharRNN(nn.Module):
    def __init__(self, cell: str, num_chars: int, char_dim: int, hidden_size: int):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=PAD_ID)
        self.encoder = RecurrentEncoder(cell, char_dim, hidden_size, bidirectional=True)
        self.pooling = Pooling("last", self.encoder.output_size, bidirectional=True)
        self.output_size = self.encoder.output_size

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.embedding(chars.t()), lengths)  # time-major: (length, words, 2 * hidden)
        return self.pooling(h, lengths)


def char_encoder(kind: str, num_chars: int, char_dim: int, size: int) -> nn.Module | None:
    """The encoder ``kind`` (one of ``CHAR_ENCODERS``) with ``size`` outputs (split over two directions
    for the recurrent ones), or None for ``"none"``."""
    if kind == "none":
        return None
    if kind == "cnn":
        return CharCNN(num_chars, char_dim, size)
    return CharRNN(kind, num_chars, char_dim, size // 2)
