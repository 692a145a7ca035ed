"""Time order: which position each direction of a recurrent layer reads at each of its steps.

Batches are post-padded (tokens first, then padding). The forward direction reads positions in order;
the backward direction reads each sequence reversed *within its true length*, so it starts on the last
real token, not on padding. Both leave padding positions where they are, so a state at a real position
has only ever seen real tokens, and the steps over padding hold values that nothing reads.
"""

from __future__ import annotations

import torch


def valid_steps(lengths: torch.Tensor, time: int) -> torch.Tensor:
    """Boolean mask ``(time, batch)``: True where a step holds a real token."""
    return torch.arange(time, device=lengths.device)[:, None] < lengths[None, :]


def reversal_index(lengths: torch.Tensor, time: int) -> torch.Tensor:
    """Index ``(time, batch)`` that reverses each sequence within its length, padding left in place.

    Applying it twice is the identity, so the same index maps inputs in and outputs back.
    """
    steps = torch.arange(time, device=lengths.device)[:, None]
    reversed_steps = lengths[None, :] - 1 - steps
    return torch.where(reversed_steps >= 0, reversed_steps, steps)


def reading_order(lengths: torch.Tensor, time: int, directions: int) -> torch.Tensor:
    """``(directions, time, batch)`` int64: the position direction ``d`` reads at its step ``t``, row ``b``."""
    forward = torch.arange(time, device=lengths.device)[:, None].expand(time, lengths.size(0))
    order = [forward, reversal_index(lengths, time)][:directions]
    return torch.stack(order).contiguous()


def gather_steps(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x[index[t, b], b]`` for a time-major ``x (time, batch, features)``: inputs into reading order."""
    return x.gather(0, index[:, :, None].expand(-1, -1, x.size(2)))


def scatter_steps(y: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`gather_steps`: outputs in reading order back to their positions."""
    return torch.zeros_like(y).scatter(0, index[:, :, None].expand(-1, -1, y.size(2)), y)
