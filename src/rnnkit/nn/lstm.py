"""Layers with PyTorch's own per-direction modules: the vanilla RNN, and the LSTM on the compiled loop.

:class:`SeparateDirections` runs one single-layer ``nn.RNN``/``nn.LSTM`` per direction, one after the
other. :class:`FusedLSTM` keeps exactly those modules and parameters (so saved models keep their
layout and the loop without a compiler is ``nn.LSTM`` itself) but, where the compiled loop of
:mod:`rnnkit.nn.native` builds, stacks the two directions' weights and runs them together through
:func:`~rnnkit.nn.fused.fused_layer`. The equations are PyTorch's (gates input, forget, cell, output)::

    i, f, g, o = sigmoid(W_ii x + b_ii + W_hi h + b_hi), sigmoid(...), tanh(...), sigmoid(...)
    c' = f * c + i * g
    h' = o * tanh(c')
"""

from __future__ import annotations

import torch
from torch import nn

from rnnkit.nn.fused import fused_layer
from rnnkit.nn.native import rnn_ops
from rnnkit.nn.steps import gather_steps, scatter_steps

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM}


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


class FusedLSTM(SeparateDirections):
    """An LSTM layer whose directions run together on the compiled loop (see the module docstring)."""

    def __init__(self, input_size: int, hidden_size: int, directions: int):
        super().__init__("lstm", input_size, hidden_size, directions)

    def forward(self, x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        if rnn_ops() is None:
            return super().forward(x, order)
        # Stacking copies the weights once per batch, a few hundred kilobytes: small beside the loop.
        names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        weights = (torch.stack([getattr(rnn, name) for rnn in self.rnns]) for name in names)
        return fused_layer("lstm", x, order, *weights)[0]
