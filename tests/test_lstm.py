"""The LSTM layer on the compiled loop against PyTorch's own LSTM run on each sequence alone."""

from __future__ import annotations

import pytest
import torch

from rnnkit.nn import native
from rnnkit.nn.lstm import FusedLSTM, SeparateDirections
from rnnkit.nn.steps import reading_order


def run_on_each_sequence(layer: FusedLSTM, x: torch.Tensor, lengths: torch.Tensor, weights: torch.Tensor):
    """The reference: each direction's own nn.LSTM over each unpadded sequence (reversed for the backward
    direction), the same loss as the fused run; returns the outputs ``(time, batch, dirs * h)``."""
    size = layer.rnns[0].hidden_size
    out = torch.zeros(x.size(0), x.size(1), size * len(layer.rnns))
    for b, n in enumerate(lengths.tolist()):
        for d, lstm in enumerate(layer.rnns):
            seq = x[:n, b : b + 1] if d == 0 else x[:n, b : b + 1].flip(0)
            ref = lstm(seq)[0][:, 0]
            ref = ref if d == 0 else ref.flip(0)
            (ref * weights[:n, b, d * size : (d + 1) * size]).sum().backward()
            out[:n, b, d * size : (d + 1) * size] = ref.detach()
    return out


@pytest.mark.parametrize("directions", [1, 2])
def test_outputs_and_gradients_match_torch_lstm_on_each_sequence_alone(directions):
    torch.manual_seed(0)
    layer = FusedLSTM(input_size=5, hidden_size=7, directions=directions)
    lengths = torch.tensor([6, 2, 4, 1])
    x = torch.randn(6, 4, 5, requires_grad=True)
    out = layer(x, reading_order(lengths, 6, directions))
    weights = torch.randn_like(out)
    real = torch.arange(6)[:, None, None] < lengths[None, :, None]
    (out * weights * real).sum().backward()
    fused_grads = [x.grad.clone(), *(p.grad.clone() for p in layer.parameters())]

    x.grad, _ = None, layer.zero_grad()
    reference = run_on_each_sequence(layer, x, lengths, weights)
    torch.testing.assert_close(out * real, reference, atol=1e-6, rtol=1e-5)
    for fused, ref in zip(fused_grads, [x.grad, *(p.grad for p in layer.parameters())], strict=True):
        torch.testing.assert_close(fused, ref, atol=1e-5, rtol=1e-4)
    assert torch.count_nonzero(fused_grads[0][2:, 1]) == 0  # padding received no gradient


def test_models_saved_with_separate_lstm_directions_load_and_compute_the_same(monkeypatch):
    """The fused layer keeps nn.LSTM's parameters per direction, so bundles saved before it load as they are."""
    monkeypatch.setattr("rnnkit.nn.fused.fast_bfloat16", lambda: False)  # float32 throughout, as nn.LSTM
    torch.manual_seed(4)
    before = SeparateDirections("lstm", 6, 5, directions=2)
    after = FusedLSTM(6, 5, directions=2)
    after.load_state_dict(before.state_dict())
    x, order = torch.randn(7, 3, 6), reading_order(torch.tensor([7, 3, 1]), 7, 2)
    real = torch.arange(7)[:, None, None] < torch.tensor([7, 3, 1])[None, :, None]
    with torch.no_grad():
        torch.testing.assert_close(after(x, order) * real, before(x, order) * real, atol=1e-6, rtol=1e-5)


def test_the_compiled_loop_rejects_a_wrong_weight_shape():
    gi, steps = torch.zeros(2, 1, 12), torch.zeros(1, 2, 1, dtype=torch.long)
    with pytest.raises(RuntimeError, match=r"w_hh: \(D, GH, H\)"):
        bias = torch.zeros(1, 12)
        native.rnn_ops().lstm_forward(gi, steps, torch.zeros(1, 9, 3), bias, bias, None, False)
