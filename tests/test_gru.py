"""The fused GRU against PyTorch's own GRU and against numerical gradients."""

from __future__ import annotations

import pytest
import torch

from rnnkit.gru import FusedGRU, _Recurrence


def copy_into_torch_gru(fused: FusedGRU, direction: int) -> torch.nn.GRU:
    gru = torch.nn.GRU(fused.input_size, fused.hidden_size)  # time-major, like FusedGRU
    with torch.no_grad():
        gru.weight_ih_l0.copy_(fused.weight_ih[direction])
        gru.weight_hh_l0.copy_(fused.weight_hh[direction])
        gru.bias_ih_l0.copy_(fused.bias_ih[direction])
        gru.bias_hh_l0.copy_(fused.bias_hh[direction])
    return gru


@pytest.mark.parametrize("directions", [1, 2])
def test_outputs_and_gradients_match_torch_gru(directions):
    torch.manual_seed(0)
    fused = FusedGRU(input_size=5, hidden_size=7, directions=directions)
    references = [copy_into_torch_gru(fused, d) for d in range(directions)]
    x = torch.randn(directions, 6, 3, 5, requires_grad=True)  # (dirs, time, batch, input)
    x_ref = x.detach().clone().requires_grad_(True)
    out = fused(x)
    ref = torch.stack([gru(x_ref[d])[0] for d, gru in enumerate(references)])
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)

    weights = torch.randn_like(out)  # an arbitrary loss that touches every output
    (out * weights).sum().backward()
    (ref * weights).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, atol=1e-5, rtol=1e-4)
    for d, gru in enumerate(references):
        torch.testing.assert_close(fused.weight_ih.grad[d], gru.weight_ih_l0.grad, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(fused.weight_hh.grad[d], gru.weight_hh_l0.grad, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(fused.bias_ih.grad[d], gru.bias_ih_l0.grad, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(fused.bias_hh.grad[d], gru.bias_hh_l0.grad, atol=1e-5, rtol=1e-4)


def test_hand_written_backward_passes_gradcheck():
    torch.manual_seed(1)
    gi = torch.randn(2, 4, 3, 9, dtype=torch.float64, requires_grad=True)
    w_hh = torch.randn(2, 9, 3, dtype=torch.float64, requires_grad=True)
    b_hh = torch.randn(2, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_Recurrence.apply, (gi, w_hh, b_hh))


def test_inference_path_equals_training_path():
    torch.manual_seed(2)
    fused = FusedGRU(4, 6, directions=2)
    x = torch.randn(2, 3, 5, 4)
    with torch.inference_mode():
        fast = fused(x)
    torch.testing.assert_close(fast, fused(x).detach(), rtol=0, atol=0)
