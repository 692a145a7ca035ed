"""The fused GRU layer (compiled and pure-PyTorch loops) against PyTorch's own GRU, run on each
sequence alone, and against numerical gradients; what both compiled cells must do."""

from __future__ import annotations

import warnings

import pytest
import torch

from rnnkit.nn import native
from rnnkit.nn.gru import FusedGRU, _Recurrence
from rnnkit.nn.lstm import FusedLSTM
from rnnkit.nn.steps import reading_order


def copy_into_torch_gru(fused: FusedGRU, direction: int) -> torch.nn.GRU:
    gru = torch.nn.GRU(fused.input_size, fused.hidden_size)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(fused.weight_ih[direction])
        gru.weight_hh_l0.copy_(fused.weight_hh[direction])
        gru.bias_ih_l0.copy_(fused.bias_ih[direction])
        gru.bias_hh_l0.copy_(fused.bias_hh[direction])
    return gru


@pytest.mark.parametrize("directions", [1, 2])
def test_outputs_and_gradients_match_torch_gru_on_each_sequence_alone(rnn_kernel, directions):
    """A padded batch through FusedGRU equals nn.GRU over each unpadded sequence (reversed for the
    backward direction): outputs at real positions, input gradients, all four weight gradients."""
    torch.manual_seed(0)
    fused = FusedGRU(input_size=5, hidden_size=7, directions=directions)
    references = [copy_into_torch_gru(fused, d) for d in range(directions)]
    lengths = torch.tensor([6, 2, 4])
    x = torch.randn(6, 3, 5, requires_grad=True)  # (time, batch, input), post-padded
    out = fused(x, reading_order(lengths, 6, directions))
    weights = torch.randn_like(out)  # an arbitrary loss over the real positions
    loss = sum((out[:n, b] * weights[:n, b]).sum() for b, n in enumerate(lengths.tolist()))
    loss.backward()

    size = fused.hidden_size
    for b, n in enumerate(lengths.tolist()):
        xs = x.detach()[:n, b].clone().requires_grad_(True)
        for d, gru in enumerate(references):
            seq = xs if d == 0 else xs.flip(0)
            ref = gru(seq)[0]
            ref = ref if d == 0 else ref.flip(0)
            torch.testing.assert_close(out[:n, b, d * size : (d + 1) * size], ref, atol=1e-6, rtol=1e-5)
            (ref * weights[:n, b, d * size : (d + 1) * size]).sum().backward()
        torch.testing.assert_close(x.grad[:n, b], xs.grad, atol=1e-5, rtol=1e-4)
    assert torch.count_nonzero(x.grad[2:, 1]) == 0  # padding received no gradient
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


LAYERS = {"gru": FusedGRU, "lstm": FusedLSTM}  # the tests below hold for both cells


@pytest.mark.parametrize("cell", LAYERS)
def test_compiled_and_pure_loops_agree_on_a_larger_layer(monkeypatch, cell):
    """The compiled loop against the one used without a compiler (pure PyTorch for the GRU, nn.LSTM)."""
    torch.manual_seed(3)
    fused = LAYERS[cell](16, 32, directions=2)
    lengths = torch.randint(1, 41, (9,))
    lengths[0] = 40
    order = reading_order(lengths, 40, 2)
    x = torch.randn(40, 9, 16)
    results = []
    for ops in (native.rnn_ops, lambda: None):
        monkeypatch.setattr(f"rnnkit.nn.{cell}.rnn_ops", ops)
        fused.zero_grad()
        x_in = x.clone().requires_grad_(True)
        out = fused(x_in, order)
        out.sin().sum().backward()
        results.append([out.detach(), x_in.grad, *(p.grad.clone() for p in fused.parameters())])
    for compiled, pure in zip(*results, strict=True):
        torch.testing.assert_close(compiled, pure, atol=2e-5, rtol=1e-4)
    assert not torch.equal(results[0][0], results[1][0])  # the compiled path (approximate exp) was taken


@pytest.mark.parametrize("cell", LAYERS)
def test_inference_path_equals_training_path(rnn_kernel, monkeypatch, cell):
    monkeypatch.setattr("rnnkit.nn.fused.fast_bfloat16", lambda: False)
    torch.manual_seed(2)
    fused = LAYERS[cell](4, 6, directions=2)
    x = torch.randn(5, 3, 4)
    order = reading_order(torch.tensor([5, 1, 3]), 5, 2)
    with torch.inference_mode():
        fast = fused(x, order)
    torch.testing.assert_close(fast, fused(x, order).detach(), rtol=0, atol=0)


@pytest.mark.parametrize("cell", LAYERS)
def test_bfloat16_prediction_stays_close_to_float32(monkeypatch, cell):
    """Prediction may read bfloat16 input projections (8 significant bits); the recurrence is float32,
    so states move by about the rounding of the inputs, not more."""
    monkeypatch.setattr("rnnkit.nn.fused.fast_bfloat16", lambda: True)
    torch.manual_seed(5)
    fused = LAYERS[cell](32, 64, directions=2)
    x = torch.randn(50, 8, 32)
    order = reading_order(torch.randint(1, 51, (8,)), 50, 2)
    with torch.inference_mode():
        low = fused(x, order)
    exact = fused(x, order).detach()
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, exact, atol=2e-2, rtol=0)
    assert not torch.equal(low, exact)  # the bfloat16 path was really taken


@pytest.mark.parametrize("cell", LAYERS)
def test_nan_in_the_input_propagates_instead_of_vanishing(rnn_kernel, cell):
    """The compiled loops use fast math for their exponentials, but NaN must still surface (training
    stops on a NaN loss)."""
    fused = LAYERS[cell](2, 3, directions=1)
    x = torch.zeros(3, 1, 2)
    x[1, 0, 0] = float("nan")
    out = fused(x, reading_order(torch.tensor([3]), 3, 1))
    assert torch.isnan(out[1:]).all() and not torch.isnan(out[0]).any()


def test_the_compiled_loop_rejects_positions_outside_the_sequence():
    ops = native.rnn_ops()
    gi, w, b = torch.zeros(2, 1, 9), torch.zeros(1, 9, 3), torch.zeros(1, 9)
    with pytest.raises(RuntimeError, match=r"steps: positions must lie in \[0, T\)"):
        ops.gru_forward(gi, torch.tensor([[[0], [2]]]), w, b, b, None, False)


def test_without_a_compiler_rnnkit_warns_once_and_uses_the_pure_loop(monkeypatch):
    from torch.utils import cpp_extension

    def no_compiler(**kwargs):
        raise RuntimeError("Ninja is required to load C++ extensions")

    monkeypatch.setattr(cpp_extension, "load", no_compiler)
    native.rnn_ops.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert native.rnn_ops() is None
            assert native.rnn_ops() is None
        assert [str(w.message) for w in caught] == [
            "rnnkit: could not build the compiled GRU/LSTM loops (Ninja is required to load C++ extensions); "
            "using the slower pure-PyTorch loops"
        ]
    finally:
        native.rnn_ops.cache_clear()


def test_environment_variable_forces_the_pure_loop(monkeypatch):
    monkeypatch.setenv("RNNKIT_NATIVE", "0")
    native.rnn_ops.cache_clear()
    try:
        assert native.rnn_ops() is None
    finally:
        native.rnn_ops.cache_clear()
