"""The stateful one-directional stack (language models, decoders): the compiled loop against PyTorch's
own GRU/LSTM given the same initial state, and a carried state continuing a sequence exactly."""

from __future__ import annotations

import pytest
import torch

from rnnkit.nn import native
from rnnkit.nn.stateful import StatefulRNN


def _run(layer: StatefulRNN, x: torch.Tensor, state: torch.Tensor, weights: torch.Tensor):
    """Outputs, final state and the gradients (through both) of x, the initial state and every parameter."""
    x, state = x.clone().requires_grad_(), state.clone().requires_grad_()
    layer.zero_grad()
    out, final = layer(x, state)
    ((out * weights).sum() + (final * torch.linspace(-1, 1, final.numel()).view_as(final)).sum()).backward()
    return out.detach(), final.detach(), [x.grad, state.grad, *(p.grad.clone() for p in layer.parameters())]


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_the_compiled_loop_matches_pytorch_from_a_given_state(cell, monkeypatch):
    assert native.rnn_ops() is not None, "the compiled loops did not build"
    monkeypatch.setattr("rnnkit.nn.stateful.COMPILED_CELLS", ("gru", "lstm"))  # the LSTM's loop too
    torch.manual_seed(0)
    layer = StatefulRNN(cell, input_size=5, hidden_size=6, num_layers=2)
    x, state = torch.randn(7, 3, 5), torch.randn(2, layer.planes, 3, 6)
    weights = torch.randn(7, 3, 6)
    compiled = _run(layer, x, state, weights)
    monkeypatch.setattr("rnnkit.nn.stateful.rnn_ops", lambda: None)
    reference = _run(layer, x, state, weights)
    torch.testing.assert_close(compiled[0], reference[0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(compiled[1], reference[1], atol=1e-6, rtol=1e-5)
    for got, want in zip(compiled[2], reference[2], strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    assert compiled[2][1].abs().sum() > 0  # the initial state does receive gradients


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_a_carried_state_continues_the_sequence_exactly(cell):
    torch.manual_seed(1)
    layer = StatefulRNN(cell, input_size=4, hidden_size=5, num_layers=2).eval()
    x = torch.randn(9, 2, 4)
    with torch.no_grad():
        whole, end = layer(x)
        first, middle = layer(x[:4])
        second, end_in_two = layer(x[4:], middle)
    torch.testing.assert_close(torch.cat([first, second]), whole, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(end_in_two, end, atol=1e-6, rtol=1e-5)
    assert end.shape == (2, layer.planes, 2, 5)
    torch.testing.assert_close(layer.initial_state(2), torch.zeros_like(end))


def test_the_compiled_loop_rejects_an_initial_state_of_the_wrong_shape():
    gi, steps = torch.zeros(2, 1, 12), torch.zeros(1, 2, 1, dtype=torch.long)
    w, b = torch.zeros(1, 12, 3), torch.zeros(1, 12)
    with pytest.raises(RuntimeError, match=r"initial: contiguous float32 \(D, S, B, H\)"):
        native.rnn_ops().lstm_forward(gi, steps, w, b, b, torch.zeros(1, 1, 1, 3), False)


def test_the_compiled_backward_rejects_a_final_gradient_of_the_wrong_shape():
    gi, steps = torch.zeros(2, 1, 9), torch.zeros(1, 2, 1, dtype=torch.long)
    w, b = torch.zeros(1, 9, 3), torch.zeros(1, 9)
    _, saved, _ = native.rnn_ops().gru_forward(gi, steps, w, b, b, None, True)
    with pytest.raises(RuntimeError, match=r"grad_final: contiguous float32 \(D, S, B, H\)"):
        native.rnn_ops().gru_backward(torch.zeros(2, 1, 3), steps, saved, w, torch.zeros(1, 2, 1, 3))
