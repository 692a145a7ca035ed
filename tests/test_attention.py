"""Attention over encoder states: each kind against its formula computed position by position, and
padding that gets no weight and changes nothing."""

from __future__ import annotations

import pytest
import torch

from rnnkit.nn.attention import ATTENTIONS, Attention


def _reference(attention: Attention, query: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One query ``(q,)`` over one unpadded source ``(n, m)``, score by score with the formula."""
    scores = []
    for m in memory:
        if attention.kind == "bahdanau":
            hidden = attention.query.weight @ query + attention.memory.weight @ m + attention.memory.bias
            scores.append(attention.score.weight[0] @ torch.tanh(hidden))
        elif attention.kind == "general":
            scores.append(query @ (attention.memory.weight @ m))
        else:
            scores.append(query @ m)
    weights = torch.softmax(torch.stack(scores), dim=0)
    return weights @ memory, weights


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_each_kind_matches_its_formula_and_ignores_padding(kind):
    torch.manual_seed(0)
    size = 6
    attention = Attention(kind, size, size, hidden_size=5 if kind == "bahdanau" else None).double()
    lengths = torch.tensor([4, 2, 1])
    memory = torch.randn(4, 3, size, dtype=torch.float64)
    queries = torch.randn(2, 3, size, dtype=torch.float64)
    contexts, weights = attention(queries, memory, attention.keys(memory), lengths)
    for b, n in enumerate(lengths.tolist()):
        assert torch.count_nonzero(weights[:, b, n:]) == 0
        for t in range(2):
            context, expected = _reference(attention, queries[t, b], memory[:n, b])
            torch.testing.assert_close(weights[t, b, :n], expected)
            torch.testing.assert_close(contexts[t, b], context)
    garbage = memory.clone()
    garbage[2:, 1] = 1e6  # padding of the second source
    again, _ = attention(queries, garbage, attention.keys(garbage), lengths)
    torch.testing.assert_close(again, contexts)
    assert weights.sum(dim=2).sub(1).abs().max() < 1e-12


def test_one_step_at_a_time_equals_all_steps_at_once():
    torch.manual_seed(1)
    attention = Attention("bahdanau", 4, 6)
    memory, lengths = torch.randn(5, 2, 6), torch.tensor([5, 3])
    queries, keys = torch.randn(3, 2, 4), attention.keys(memory)
    together = attention(queries, memory, keys, lengths)[0]
    apart = torch.cat([attention(queries[t : t + 1], memory, keys, lengths)[0] for t in range(3)])
    torch.testing.assert_close(apart, together)


def test_bad_kinds_and_sizes_are_refused():
    with pytest.raises(ValueError, match=r"attention must be one of bahdanau, general, dot, got 'luong'"):
        Attention("luong", 4, 4)
    with pytest.raises(ValueError, match=r"dot attention needs queries and memory of one size, got 4 and 6"):
        Attention("dot", 4, 6)
    with pytest.raises(ValueError, match=r"hidden_size is for bahdanau attention; general attention has none"):
        Attention("general", 4, 6, hidden_size=3)
    attention, memory = Attention("dot", 4, 4), torch.randn(3, 2, 4)
    with pytest.raises(ValueError, match=r"every source needs at least one position"):
        attention(torch.randn(1, 2, 4), memory, memory, torch.tensor([3, 0]))
