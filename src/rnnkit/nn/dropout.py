"""Inverted dropout whose mask is drawn with ``torch.rand``.

Same arithmetic as ``nn.Dropout`` (each value zeroed with probability ``p``, the others scaled by
``1 / (1 - p)``), but PyTorch's CPU ``bernoulli_``, which ``nn.Dropout`` draws its mask with, is
about three times slower than drawing uniform numbers and comparing: 4.2 ms against 1.3 ms for a
``(20, 32, 400)`` activation on one of our 2-core machines, which was 8% of a tagger's training step.
"""

from __future__ import annotations

import torch
from torch import nn


class Dropout(nn.Module):
    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` of any shape; unchanged outside training."""
        if not self.training or self.p == 0:
            return x
        keep = torch.rand_like(x) >= self.p
        return x * keep.to(x.dtype) * (1 / (1 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"
