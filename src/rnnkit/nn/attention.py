"""Attention of a decoder over the encoder's states, masked by each source's true length.

A decoder state (the query) scores every encoder state (the memory); the softmax of the scores over
the source's real positions weighs the memory into one context vector. The scores:

* ``"bahdanau"`` (additive, Bahdanau et al. 2015): ``v . tanh(W_q q + W_m m)``;
* ``"general"`` (multiplicative, Luong et al. 2015): ``q . (W m)``;
* ``"dot"``: ``q . m`` (query and memory of one size).

The memory's projections do not depend on the query, so :meth:`Attention.keys` computes them once per
source and every decoding step reuses them. Padding positions get weight exactly zero, whatever they
hold. Shapes: queries ``(steps, batch, query)`` (one step or many at once), memory
``(source, batch, memory)``, ``lengths (batch,)``; contexts ``(steps, batch, memory)``, weights
``(steps, batch, source)``.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnkit.nn.steps import valid_steps

ATTENTIONS = ("bahdanau", "general", "dot")


class Attention(nn.Module):
    def __init__(self, kind: str, query_size: int, memory_size: int, hidden_size: int | None = None):
        super().__init__()
        if kind not in ATTENTIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, got {kind!r}")
        if hidden_size is not None and kind != "bahdanau":
            raise ValueError(f"hidden_size is for bahdanau attention; {kind} attention has none")
        if kind == "dot" and query_size != memory_size:
            raise ValueError(f"dot attention needs queries and memory of one size, got {query_size} and {memory_size}")
        self.kind = kind
        if kind == "bahdanau":
            hidden_size = hidden_size or query_size
            self.query = nn.Linear(query_size, hidden_size, bias=False)
            self.memory = nn.Linear(memory_size, hidden_size)
            self.score = nn.Linear(hidden_size, 1, bias=False)
        elif kind == "general":
            self.memory = nn.Linear(memory_size, query_size, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """What the queries are scored against, computed once per source: ``(source, batch, size)``."""
        return memory if self.kind == "dot" else self.memory(memory)

    def forward(
        self, queries: torch.Tensor, memory: torch.Tensor, keys: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(contexts ``(steps, batch, memory)``, weights ``(steps, batch, source)``) for ``queries``."""
        if self.kind == "bahdanau":
            # (steps, 1, batch, hidden) + (1, source, batch, hidden) -> (steps, source, batch)
            scores = self.score(torch.tanh(self.query(queries)[:, None] + keys[None]))[..., 0].transpose(1, 2)
        else:
            scores = torch.einsum("tbh,sbh->tbs", queries, keys)
        if not bool((lengths > 0).all()):
            raise ValueError("every source needs at least one position to attend to (a length of 0 was given)")
        real = valid_steps(lengths, memory.size(0)).t()[None]  # (1, batch, source)
        weights = torch.softmax(scores.masked_fill(~real, float("-inf")), dim=2)
        return torch.einsum("tbs,sbh->tbh", weights, memory), weights
