"""The forecasting network: a recurrent encoder over segments of the window, a direct multi-step head.

:class:`SegmentRNN` follows SegRNN (Lin et al. 2023), which showed that one GRU built right matches
the long-horizon transformers and linear models:

* instance normalisation (``instance_norm``): each window's own last value (``"last"``, SegRNN's) or
  mean and spread (``"revin"``, RevIN without its affine part) is taken out before the network and put
  back after, so a level shift between training and test periods does not bias the forecast;
* segments: the ``lookback`` steps are cut into ``lookback / segment`` pieces of ``segment`` steps,
  each embedded by a linear layer and ReLU; the GRU reads the segments (``segment=1``: the points), so
  a 96-step window is 8 recurrent steps at ``segment=12``, which is fast and keeps gradients short;
* direct multi-step output: the ``ceil(horizon / segment)`` output segments are decoded in parallel,
  each from the encoder's final state and an embedding of its position (and, channel-independent, of
  the channel), through one GRU step and a linear layer to ``segment`` values. No forecast is fed back,
  so errors do not compound.

``highway`` adds a linear map from each target's normalised history to its forecast, trained with the
rest (LSTNet's autoregressive component, Lai et al. 2018): the network then only has to learn what a
linear model misses, and it is never worse than one on its training windows.

``channels="independent"`` reads every target channel as a separate univariate series with shared
weights (SegRNN's and PatchTST's choice: it generalises better on few series); ``"joint"`` reads all
channels of a step together (targets and inputs) and forecasts the targets together.

Shapes: history ``(batch, lookback, channels)`` -> forecast ``(batch, horizon, targets)``.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnkit.nn.dropout import Dropout
from rnnkit.nn.stateful import StatefulRNN

INSTANCE_NORMS = ("last", "revin", "none")
CHANNEL_MODES = ("independent", "joint")


class SegmentRNN(nn.Module):
    def __init__(
        self,
        lookback: int,
        horizon: int,
        channels: int,
        targets: int,
        cell: str = "gru",
        hidden_size: int = 512,
        segment: int = 12,
        channel_mode: str = "independent",
        instance_norm: str = "last",
        dropout: float = 0.1,
        highway: bool = False,
    ):
        super().__init__()
        if lookback % segment:
            raise ValueError(f"lookback {lookback} is not a multiple of segment {segment}")
        self.lookback, self.horizon, self.targets, self.segment = lookback, horizon, targets, segment
        self.channel_mode, self.instance_norm = channel_mode, instance_norm
        self.outputs = -(-horizon // segment)  # output segments
        width = 1 if channel_mode == "independent" else channels
        out_width = 1 if channel_mode == "independent" else targets
        self.embed = nn.Sequential(nn.Linear(segment * width, hidden_size), nn.ReLU())
        self.encoder = StatefulRNN(cell, hidden_size, hidden_size)
        if channel_mode == "independent":
            self.position = nn.Parameter(torch.randn(self.outputs, hidden_size // 2))
            self.channel = nn.Parameter(torch.randn(targets, hidden_size - hidden_size // 2))
        else:
            self.position = nn.Parameter(torch.randn(self.outputs, hidden_size))
        self.decoder = StatefulRNN(cell, hidden_size, hidden_size)
        self.dropout = Dropout(dropout)
        self.head = nn.Linear(hidden_size, segment * out_width)
        self.highway = nn.Linear(lookback, horizon) if highway else None

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        batch = history.size(0)
        if self.channel_mode == "independent":
            history = history[..., : self.targets]
        x, shift, scale = self._normalise(history)  # x (batch, lookback, width)
        if self.channel_mode == "independent":  # one row per (window, channel), window-major
            x = x.transpose(1, 2).reshape(-1, self.lookback, 1)
        rows = x.size(0)
        pieces = x.reshape(rows, self.lookback // self.segment, -1)  # (rows, segments, segment * width)
        _, state = self.encoder(self.embed(pieces).transpose(0, 1))  # state (1, 1, rows, hidden)
        # One decoder step per (row, output segment), row-major: its query, and its row's final state.
        queries = self._queries(batch).reshape(1, rows * self.outputs, -1)
        h, _ = self.decoder(queries, state.repeat_interleave(self.outputs, dim=2))
        y = self.head(self.dropout(h[0])).view(rows, self.outputs * self.segment, -1)[:, : self.horizon]
        if self.channel_mode == "independent":
            y = y.reshape(batch, self.targets, self.horizon).transpose(1, 2)
        if self.highway is not None:  # each target's own history, linearly (LSTNet's autoregressive part)
            independent = self.channel_mode == "independent"
            past = x.view(batch, self.targets, self.lookback) if independent else x[..., : self.targets].transpose(1, 2)
            y = y + self.highway(past).transpose(1, 2)
        return y * scale[..., : self.targets] + shift[..., : self.targets]

    def _queries(self, batch: int) -> torch.Tensor:
        """What each output segment's decoder step reads: ``(batch, [targets,] outputs, hidden)``, its
        position's embedding (and, channel-independent, its channel's)."""
        if self.channel_mode == "joint":
            return self.position.expand(batch, -1, -1)
        size = (batch, self.targets, self.outputs, -1)
        position = self.position[None, None].expand(size)
        channel = self.channel[None, :, None].expand(size)
        return torch.cat([position, channel], dim=3)

    def _normalise(self, history: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(normalised history, shift, scale), shift and scale ``(batch, 1, channels)``."""
        if self.instance_norm == "last":
            shift = history[:, -1:]
            return history - shift, shift, torch.ones_like(shift)
        if self.instance_norm == "revin":
            shift = history.mean(dim=1, keepdim=True)
            scale = (history.var(dim=1, keepdim=True, unbiased=False) + 1e-5).sqrt()
            return (history - shift) / scale, shift, scale
        ones = history.new_ones(history.size(0), 1, history.size(2))
        return history, ones * 0, ones
