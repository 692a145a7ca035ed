"""rnnkit's shared layers as ONNX: the exact-length recurrent encoder, pooling, and the building
blocks the task graphs share.

Exact lengths, as in :mod:`rnnkit.nn.encoder`: every direction reads a post-padded batch; the forward
direction is an ONNX ``GRU``/``LSTM``/``RNN`` operator told each sequence's length; the backward
direction is the same operator run forward over ``ReverseSequence(x, lengths)``, which reverses each
sequence *within its length* and leaves the padding in place, and its outputs are reversed back the
same way. So a state at a real step has only seen real tokens, in ONNX as in rnnkit, and no runtime's
own reading of ``direction="reverse"`` with lengths is relied on.

Layout: time-major inside, ``x (time, batch, features)``; ``lengths (batch,)`` int64, each >= 1.
"""

from __future__ import annotations

import numpy as np
import torch
from onnx import TensorProto
from torch import nn

from rnnkit.export.graph import Graph
from rnnkit.nn.encoder import Pooling, RecurrentEncoder
from rnnkit.nn.gru import FusedGRU

# PyTorch's gate order -> ONNX's: GRU (r, z, n) -> (z, r, h); LSTM (i, f, g, o) -> (i, o, f, c).
GATE_ORDER = {"gru": [1, 0, 2], "lstm": [0, 3, 1, 2], "rnn": [0]}
OPERATOR = {"gru": "GRU", "lstm": "LSTM", "rnn": "RNN"}


def positions(g: Graph, like: str, axis: int) -> str:
    """``0, 1, ..., like.shape[axis] - 1`` int64."""
    return g.op("Range", g.scalar(0), g.squeeze(g.dim(like, axis), 0), g.scalar(1))


def step_mask(g: Graph, lengths: str, like: str) -> str:
    """``(time, batch)`` bool, True at real steps, for the time-major tensor ``like (time, batch, ...)``."""
    return g.op("Less", g.unsqueeze(positions(g, like, 0), 1), g.unsqueeze(lengths, 0))


def row_mask(g: Graph, like: str, limit: str) -> str:
    """``(batch, width)`` bool: position ``j`` of row ``b`` of ``like (batch, width, ...)`` is below ``limit[b]``."""
    return g.op("Less", g.unsqueeze(positions(g, like, 1), 0), g.unsqueeze(limit, 1))


def _reordered(weight: torch.Tensor, cell: str) -> np.ndarray:
    """Rows of a PyTorch gate-stacked ``(G*h, ...)`` weight or ``(G*h,)`` bias in ONNX's gate order."""
    gates = weight.detach().float().numpy().reshape(len(GATE_ORDER[cell]), -1, *weight.shape[1:])
    return gates[GATE_ORDER[cell]].reshape(weight.shape)


def _direction_weights(layer: nn.Module, direction: int) -> tuple[str, list[torch.Tensor]]:
    """(cell, [weight_ih, weight_hh, bias_ih, bias_hh]) of one direction of an rnnkit layer, PyTorch's layout."""
    if isinstance(layer, FusedGRU):
        return "gru", [layer.weight_ih[direction], layer.weight_hh[direction], layer.bias_ih[direction],
                       layer.bias_hh[direction]]  # fmt: skip
    rnn = layer.rnns[direction]
    cell = "lstm" if isinstance(rnn, nn.LSTM) else "rnn"  # rnnkit's vanilla RNNs are tanh, as ONNX's RNN
    return cell, [getattr(rnn, f"{name}_l0") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def _direction(g: Graph, layer: nn.Module, direction: int, x: str, lengths32: str) -> str:
    """One direction's states ``(time, batch, hidden)`` over ``x`` in its reading order."""
    cell, (w_ih, w_hh, b_ih, b_hh) = _direction_weights(layer, direction)
    hidden = w_hh.shape[1]
    w = g.const(_reordered(w_ih, cell)[None], hint="W")
    r = g.const(_reordered(w_hh, cell)[None], hint="R")
    b = g.const(np.concatenate([_reordered(b_ih, cell), _reordered(b_hh, cell)])[None], hint="B")
    options = {"hidden_size": hidden, "direction": "forward"}
    if cell == "gru":
        options["linear_before_reset"] = 1  # PyTorch's GRU: r * (W_hn h + b_hn)
    y = g.op(OPERATOR[cell], x, w, r, b, lengths32, outputs=1, **options)  # (time, 1, batch, hidden)
    return g.squeeze(y, 1)


def recurrent_encoder(g: Graph, encoder: RecurrentEncoder, x: str, lengths: str) -> str:
    """:class:`RecurrentEncoder` (in eval mode): ``x (time, batch, input)`` -> ``(time, batch, hidden * dirs)``."""
    lengths32 = g.op("Cast", lengths, to=TensorProto.INT32)
    for layer in encoder.layers:
        states = [_direction(g, layer, 0, x, lengths32)]
        if encoder.directions == 2:
            reverse = {"batch_axis": 1, "time_axis": 0}
            backward = _direction(g, layer, 1, g.op("ReverseSequence", x, lengths, **reverse), lengths32)
            states.append(g.op("ReverseSequence", backward, lengths, **reverse))
        x = states[0] if len(states) == 1 else g.op("Concat", *states, axis=2)
    return x


def pooling(g: Graph, pool: Pooling, h: str, lengths: str) -> str:
    """:class:`Pooling`: ``h (time, batch, size)`` -> ``(batch, size)`` over the real steps only."""
    mask = g.unsqueeze(step_mask(g, lengths, h), 2)
    if pool.kind == "max":
        return g.op("ReduceMax", g.op("Where", mask, h, g.const(-np.inf)), g.ints(0), keepdims=0)
    if pool.kind == "mean":
        total = g.op("ReduceSum", g.op("Where", mask, h, g.const(0.0)), g.ints(0), keepdims=0)
        return g.op("Div", total, g.unsqueeze(g.op("Cast", lengths, to=TensorProto.FLOAT), 1))
    if pool.kind == "attention":
        first, _, second = pool.attention
        scores = linear(g, second, g.op("Tanh", linear(g, first, h)))
        weights = g.op("Softmax", g.op("Where", mask, scores, g.const(-np.inf)), axis=0)
        return g.op("ReduceSum", g.op("Mul", weights, h), g.ints(0), keepdims=0)
    # "last": the forward state at each sequence's last real step; the backward state at step 0.
    size = g.dim(h, 2)
    index = g.unsqueeze(g.op("Sub", lengths, g.scalar(1)), 0, 2)  # (1, batch, 1)
    index = g.op("Expand", index, g.op("Concat", g.ints(1), g.dim(h, 1), size, axis=0))
    last = g.squeeze(g.op("GatherElements", h, index, axis=0), 0)
    if not pool.bidirectional:
        return last
    half = g.op("Div", size, g.ints(2))
    forward = g.slice(last, 0, half, axis=1)
    backward = g.slice(g.squeeze(g.slice(h, 0, 1), 0), half, axis=1)
    return g.op("Concat", forward, backward, axis=1)


def linear(g: Graph, layer: nn.Linear, x: str) -> str:
    """``nn.Linear`` over the last axis of ``x``."""
    weight = g.const(layer.weight.detach().numpy().T, hint="weight")
    out = g.op("MatMul", x, weight)
    return out if layer.bias is None else g.op("Add", out, g.const(layer.bias.detach().numpy(), hint="bias"))


def embedding(g: Graph, table: nn.Embedding, ids: str) -> str:
    """Rows of an embedding table for the ids ``ids`` (any shape) -> ``ids.shape + (dim,)``."""
    return g.op("Gather", g.const(table.weight.detach().numpy(), hint="embedding"), ids, axis=0)
