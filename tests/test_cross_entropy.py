"""The fused label-smoothed cross-entropy against PyTorch's own, values and gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.nn.cross_entropy import smoothed_cross_entropy


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_value_and_gradient_equal_pytorchs(smoothing):
    torch.manual_seed(0)
    scores = (torch.randn(7, 11, dtype=torch.float64) * 3).requires_grad_()
    gold = torch.tensor([0, 3, 10, 3, 5, 1, 10])
    ours = smoothed_cross_entropy(scores, gold, smoothing)
    (ours * 2.5).backward()
    ours_grad = scores.grad.clone()
    scores.grad = None
    reference = F.cross_entropy(scores, gold, reduction="sum", label_smoothing=smoothing)
    (reference * 2.5).backward()
    assert ours.item() == pytest.approx(reference.item(), rel=1e-12)
    torch.testing.assert_close(ours_grad, scores.grad, rtol=1e-12, atol=1e-12)


def test_a_hand_computed_token():
    """Two classes, scores (0, ln 3): p = (1/4, 3/4); gold 1, smoothing 0.2 spreads 0.1 on each class."""
    scores = torch.tensor([[0.0, math.log(3.0)]], dtype=torch.float64, requires_grad=True)
    loss = smoothed_cross_entropy(scores, torch.tensor([1]), 0.2)
    assert loss.item() == pytest.approx(-(0.9 * math.log(0.75) + 0.1 * math.log(0.25)), rel=1e-12)
    loss.backward()
    # gradient p - target distribution: (0.25 - 0.1, 0.75 - 0.9)
    torch.testing.assert_close(scores.grad, torch.tensor([[0.15, -0.15]], dtype=torch.float64))


def test_the_graph_goes_back_once():
    """The backward writes the gradient over its saved tensor: a second backward is refused, not wrong."""
    scores = torch.randn(3, 5, requires_grad=True)
    loss = smoothed_cross_entropy(scores, torch.tensor([1, 2, 3]), 0.1)
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
