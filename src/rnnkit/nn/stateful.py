"""A one-directional recurrent stack whose state goes in and comes out: for language models (the state
runs on from one window of the text to the next) and decoders (it starts from the encoder's summary).

The parameters are those of one ``nn.GRU``/``nn.LSTM``/``nn.RNN`` of ``num_layers`` layers, which also
runs them, except the cells in ``COMPILED_CELLS`` where the compiled loop builds
(:func:`~rnnkit.nn.fused.fused_layer`). Which is faster was measured, one direction, 64 rows of 128
steps, 512 units, forward and backward: the compiled GRU 402 ms against ``nn.GRU``'s 452 ms, but
``nn.LSTM`` (PyTorch runs it with oneDNN on CPU) 379 ms against the compiled LSTM's 554 ms. (In the
bidirectional encoders the compiled LSTM wins: there ``nn.LSTM`` runs each direction apart.)

Every sequence is read from its first step: the steps after a shorter sequence's end are read too,
which changes none of its real outputs, but then its final state is the one after the padding. So
only equal-length batches (a language model's windows) should carry the final state on.

State: ``(layers, S, batch, hidden)``, S planes: h for the GRU and RNN; h and c for the LSTM.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnkit.nn.dropout import Dropout
from rnnkit.nn.fused import fused_layer
from rnnkit.nn.native import rnn_ops

MODULES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
COMPILED_CELLS = ("gru",)  # see the module docstring


class StatefulRNN(nn.Module):
    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.cell = cell
        self.rnn = MODULES[cell](input_size, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = Dropout(dropout)  # between layers, as the PyTorch module's own
        self.planes = 2 if cell == "lstm" else 1

    def initial_state(self, batch: int) -> torch.Tensor:
        """Zeros ``(layers, S, batch, hidden)``."""
        weight = self.rnn.weight_hh_l0
        return weight.new_zeros(self.rnn.num_layers, self.planes, batch, self.rnn.hidden_size)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x (time, batch, input)`` and the state (None: zeros) -> outputs ``(time, batch, hidden)`` of
        the last layer and the state after the last step. Gradients flow through the state both ways (a
        decoder's steps); a language model detaches it where a window ends."""
        if self.cell not in COMPILED_CELLS or rnn_ops() is None:
            return self._pytorch(x, state)
        time, batch = x.shape[:2]
        order = torch.arange(time)[None, :, None].expand(1, time, batch).contiguous()
        finals = []
        for layer in range(self.rnn.num_layers):
            if layer > 0:
                x = self.dropout(x)
            weights = (getattr(self.rnn, f"{name}_l{layer}")[None] for name in WEIGHTS)
            initial = None if state is None else state[layer][None]
            x, final = fused_layer(self.cell, x, order, *weights, initial)
            finals.append(final[0])
        return x, torch.stack(finals)

    def _pytorch(self, x: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        hx = None
        if state is not None:
            hx = (state[:, 0].contiguous(), state[:, 1].contiguous()) if self.planes == 2 else state[:, 0].contiguous()
        outputs, last = self.rnn(x, hx)
        return outputs, torch.stack(last, dim=1) if self.planes == 2 else last[:, None]
