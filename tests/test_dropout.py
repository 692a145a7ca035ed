"""The dropout drawn with torch.rand: nn.Dropout's arithmetic, checked value by value."""

from __future__ import annotations

import pytest
import torch

from rnnkit.nn.dropout import Dropout


def test_it_zeroes_about_p_and_scales_the_rest_and_so_does_its_gradient():
    torch.manual_seed(0)
    x = torch.rand(200, 300, dtype=torch.float64) + 1.0  # no zeros of its own
    x.requires_grad_()
    y = Dropout(0.3).train()(x)
    kept = y != 0
    assert kept.double().mean().item() == pytest.approx(0.7, abs=0.01)
    torch.testing.assert_close(y[kept], x[kept] / 0.7)
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.double() / 0.7)


def test_the_same_seed_draws_the_same_mask_and_evaluation_changes_nothing():
    x = torch.randn(5, 7)
    layer = Dropout(0.5).train()
    torch.manual_seed(1)
    a = layer(x)
    torch.manual_seed(1)
    assert torch.equal(layer(x), a)
    assert layer.eval()(x) is x
    assert Dropout(0.0).train()(x) is x


@pytest.mark.parametrize("p", [-0.1, 1.0])
def test_a_probability_outside_0_1_is_refused(p):
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\)"):
        Dropout(p)
