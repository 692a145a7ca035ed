"""Recurrent layers whose directions run together, on the compiled time loops of :mod:`rnnkit.nn.native`.

Why not ``nn.GRU``/``nn.LSTM``: on CPU their training path runs every time step through autograd as
separate small matrix products per direction, which leaves most of the machine idle. Here

* the input projections of all steps and both directions are one large matrix product;
* the sequential time loop runs compiled, one thread per direction, each step's gate arithmetic fused
  into one pass, and stores what its hand-written backward pass needs;
* the recurrent weight gradient is one large product over all steps at the end.

Time runs over the full padded width. Each direction reads the positions in its own order, given by
the caller (:func:`rnnkit.nn.steps.reading_order`: the backward direction reverses each sequence
within its true length), so states past a sequence's end are never read.

:func:`fused_layer` is that path for either cell; :class:`~rnnkit.nn.gru.FusedGRU` and
:class:`~rnnkit.nn.lstm.FusedLSTM` hold the weights and the pure-PyTorch path used where no C++
compiler is available. The weights are PyTorch's, stacked over directions, in its gate order.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from rnnkit.nn.native import fast_bfloat16, rnn_ops


class _NativeRecurrence(torch.autograd.Function):
    """The compiled time loop of ``cell``: ``gi (time, batch, dirs * G*h)`` in natural order, without the
    input bias, the reading order ``(dirs, time, batch)`` and the initial state ``(dirs, S, batch, h)`` or
    None (zeros) -> states ``(time, batch, dirs * h)`` and the final state ``(dirs, S, batch, h)``."""

    @staticmethod
    def forward(ctx, cell: str, gi, order, w_hh, b_ih, b_hh, initial):
        states, saved, final = getattr(rnn_ops(), f"{cell}_forward")(gi, order, w_hh, b_ih, b_hh, initial, True)
        ctx.cell = cell
        ctx.save_for_backward(order, w_hh, saved)
        return states, final

    @staticmethod
    @once_differentiable  # the backward is hand-written: a second derivative must fail loudly
    def backward(ctx, grad_states: torch.Tensor, grad_final: torch.Tensor):
        order, w_hh, saved = ctx.saved_tensors
        kernel = getattr(rnn_ops(), f"{ctx.cell}_backward")
        grad_gi, grad_gh, grad_initial = kernel(grad_states, order, saved, w_hh, grad_final.contiguous())
        h_prev = saved[..., -w_hh.size(2) :]  # the kernel keeps each step's h_prev last beside its gates
        grad_w_hh, grad_b_hh = recurrent_weight_grads(grad_gh, h_prev)
        grad_b_ih = grad_gi.sum(dim=(0, 1)).view_as(grad_b_hh)
        grad_initial = grad_initial if ctx.needs_input_grad[6] else None
        return None, grad_gi, None, grad_w_hh, grad_b_ih, grad_b_hh, grad_initial


def recurrent_weight_grads(grad_gh: torch.Tensor, h_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of ``w_hh`` and ``b_hh`` from those of ``W_h h_prev + b_h`` at every step: one product.

    ``grad_gh (dirs, time, batch, G*h)`` and ``h_prev (dirs, time, batch, h)``, both in step order.
    """
    dirs, time, batch, size = h_prev.shape
    flat_gh = grad_gh.reshape(dirs, time * batch, -1)
    grad_w = torch.bmm(flat_gh.transpose(1, 2), h_prev.reshape(dirs, time * batch, size))
    return grad_w, flat_gh.sum(dim=1)


def fused_layer(
    cell: str,
    x: torch.Tensor,
    order: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor,
    bias_hh: torch.Tensor,
    initial: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One ``cell`` layer (``"gru"`` or ``"lstm"``) on the compiled loop, which must be available.

    ``x (time, batch, input)`` time-major and each direction's reading order ``(dirs, time, batch)`` ->
    ``(time, batch, hidden * dirs)``, directions side by side, and the state after the last step
    ``(dirs, S, batch, hidden)``: S planes, h (and c for the LSTM). The loop starts from ``initial``
    (that shape) or zeros; gradients flow through both (a decoder run one step at a time). Weights are
    PyTorch's stacked over directions: ``weight_ih (dirs, G*h, input)``, ``weight_hh (dirs, G*h, h)``,
    biases ``(dirs, G*h)``.
    """
    time, batch, input_size = x.shape
    # All steps and directions at once: (time * batch, input) @ (input, dirs * G*h). The bias is added
    # later, inside the time loop, which reads gi anyway.
    w_ih = weight_ih.reshape(-1, input_size)
    training = torch.is_grad_enabled()
    if not training and fast_bfloat16():
        x, w_ih = x.bfloat16(), w_ih.bfloat16()
    gi = torch.mm(x.reshape(time * batch, -1), w_ih.t()).view(time, batch, -1)
    initial = None if initial is None else initial.contiguous()
    if training:
        return _NativeRecurrence.apply(cell, gi, order, weight_hh, bias_ih, bias_hh, initial)
    states, _, final = getattr(rnn_ops(), f"{cell}_forward")(gi, order, weight_hh, bias_ih, bias_hh, initial, False)
    return states, final
