"""The GRU on the fused layer (:mod:`rnnkit.nn.fused`), and its time loop in PyTorch operations.

The compiled loop is used wherever it builds; :func:`recurrence` with its hand-written backward pass
(:class:`_Recurrence`) computes the same function where it does not. Its design is the kernel's:

* each time step is one batched product ``(directions, batch, hidden) @ (directions, hidden, 3 * hidden)``
  for all directions at once, plus a handful of element-wise operations;
* the backward pass is the GRU's own chain rule, step by step, and the recurrent weight gradient is
  again one large product over all steps at the end.

The equations are PyTorch's (gates in the order reset, update, new)::

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from rnnkit.nn.fused import fused_layer, recurrent_weight_grads
from rnnkit.nn.native import rnn_ops
from rnnkit.nn.steps import gather_steps, scatter_steps


def recurrence(gi: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor, for_backward: bool = False):
    """Run the GRU over time: ``gi (dirs, time, batch, 3h)`` -> states ``(dirs, time, batch, h)``.

    Results are written in place (``out=``) into whole-sequence buffers, so a step makes no copies.
    With ``for_backward`` (training), each step also stores its local derivatives while its values are hot
    in cache, packed so that the backward step is a single broadcast product:

    * ``factors (dirs, time, batch, 3, h)``: d(h')/d(W_h h + b_h), gate by gate (r, z, n);
    * ``d_n (dirs, time, batch, h)``: d(h')/d(n's pre-activation), for the input projection;
    * ``z (time, dirs, batch, h)``: the update gate, h's direct share in h'.
    """
    dirs, time, batch, three_h = gi.shape
    size = three_h // 3
    w_t = w_hh.transpose(1, 2)  # (dirs, h, 3h)
    bias = b_hh[:, None, :]
    states = gi.new_empty(dirs, time, batch, size)
    if for_backward:
        factors = gi.new_empty(dirs, time, batch, 3, size)
        d_n = gi.new_empty(dirs, time, batch, size)
        gates_z = gi.new_empty(time, dirs, batch, size)
    h = gi.new_zeros(dirs, batch, size)
    for t in range(time):
        gh = torch.baddbmm(bias, h, w_t)
        rz = torch.sigmoid(gi[:, t, :, : 2 * size] + gh[..., : 2 * size])
        r, z = rz[..., :size], rz[..., size:]
        n = torch.tanh(torch.addcmul(gi[:, t, :, 2 * size :], r, gh[..., 2 * size :]))
        h_next = torch.addcmul(n, z, h - n, out=states[:, t])
        if for_backward:
            keep_z = torch.rsub(z, 1)
            dn = torch.mul(keep_z, torch.addcmul(torch.ones_like(n), n, n, value=-1), out=d_n[:, t])  # tanh'
            f = factors[:, t]
            torch.mul(dn * gh[..., 2 * size :], r * torch.rsub(r, 1), out=f[:, :, 0])  # via r's sigmoid
            torch.mul(h - n, z * keep_z, out=f[:, :, 1])  # via z's sigmoid
            torch.mul(dn, r, out=f[:, :, 2])  # via r * (W_hn h + b_hn)
            gates_z[t] = z
        h = h_next
    return (states, factors, d_n, gates_z) if for_backward else states


class _Recurrence(torch.autograd.Function):
    """:func:`recurrence` with its hand-written backward pass."""

    @staticmethod
    def forward(ctx, gi: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:
        states, factors, d_n, gates_z = recurrence(gi, w_hh, b_hh, for_backward=True)
        ctx.save_for_backward(w_hh, states, factors, d_n, gates_z)
        return states

    @staticmethod
    @once_differentiable  # the backward is hand-written: a second derivative must fail loudly
    def backward(ctx, grad_states: torch.Tensor):
        w_hh, states, factors, d_n, gates_z = ctx.saved_tensors
        dirs, time, batch, size = states.shape
        grad_gh = torch.empty_like(factors)  # gradient of W_h h + b_h, gates r, z, n
        grad_n = torch.empty_like(d_n)  # gradient of n's pre-activation
        grad_h = states.new_zeros(dirs, batch, size)
        for t in range(time - 1, -1, -1):
            grad_h += grad_states[:, t]
            torch.mul(grad_h[:, :, None, :], factors[:, t], out=grad_gh[:, t])
            torch.mul(grad_h, d_n[:, t], out=grad_n[:, t])
            grad_h = torch.baddbmm(grad_h * gates_z[t], grad_gh[:, t].view(dirs, batch, 3 * size), w_hh)
        grad_gi = torch.cat([grad_gh[:, :, :, :2].flatten(3), grad_n], dim=3)
        h_prev = torch.cat([states.new_zeros(dirs, 1, batch, size), states[:, :-1]], dim=1)
        return (grad_gi, *recurrent_weight_grads(grad_gh.view(dirs, time, batch, 3 * size), h_prev))


class FusedGRU(nn.Module):
    """One GRU layer with ``directions`` independent directions computed together.

    ``forward(x, order)``: ``x (time, batch, input)`` time-major and each direction's reading order
    ``(dirs, time, batch)`` -> ``(time, batch, hidden * dirs)``, directions side by side.
    """

    def __init__(self, input_size: int, hidden_size: int, directions: int = 1):
        super().__init__()
        self.input_size, self.hidden_size, self.directions = input_size, hidden_size, directions
        self.weight_ih = nn.Parameter(torch.empty(directions, 3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(directions, 3 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(directions, 3 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(directions, 3 * hidden_size))
        bound = 1 / math.sqrt(hidden_size)  # nn.GRU's initialisation
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        weights = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        if rnn_ops() is not None:
            return fused_layer("gru", x, order, *weights)[0]
        return self._pure_pytorch(x, order)

    def _pure_pytorch(self, x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        """The same layer without the compiled loop: project, reorder, run :func:`recurrence`, restore."""
        dirs, size = self.directions, self.hidden_size
        w_ih = self.weight_ih.view(-1, self.input_size)
        gi = torch.addmm(self.bias_ih.view(-1), x.reshape(-1, self.input_size), w_ih.t())
        per_direction = gi.view(*x.shape[:2], dirs, 3 * size).unbind(2)
        ordered = torch.stack([gather_steps(g, index) for g, index in zip(per_direction, order, strict=True)])
        if torch.is_grad_enabled():
            states = _Recurrence.apply(ordered, self.weight_hh, self.bias_hh)
        else:
            states = recurrence(ordered, self.weight_hh, self.bias_hh)
        return torch.cat([scatter_steps(h, index) for h, index in zip(states, order, strict=True)], dim=2)
