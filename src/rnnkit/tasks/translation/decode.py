"""Decoding a translation: greedy, and batched beam search with a length penalty.

Beam search keeps ``beam`` hypotheses per sentence, all sentences of a batch at once. A hypothesis that
ends (``<eos>``) keeps its score and its place while the others go on, so the search stops per
hypothesis, not when the top one ends; a sentence is done when all of its hypotheses are, or at its
length limit (``max_ratio`` times the source length plus ``max_extra``), where the unfinished ones are
ended. The best hypothesis is then chosen by log-probability divided by the length penalty of Wu et al.
2016, ``((5 + length) / 6) ** alpha`` (``alpha`` 0: none; larger favours longer outputs). Every
computation is per row, so a sentence gets the same output in any batch.
"""

from __future__ import annotations

import torch

from rnnkit.tasks.translation.model import DecoderState, Seq2Seq
from rnnkit.text.pipeline import EOS_ID, PAD_ID, SOS_ID, UNK_ID

NEVER = (PAD_ID, UNK_ID, SOS_ID)  # tokens a translation never produces


def length_limits(lengths: torch.Tensor, max_ratio: float, max_extra: int) -> torch.Tensor:
    """Each sentence's longest output ``(batch,)``, ``<eos>`` included."""
    return (lengths.double() * max_ratio).long() + max_extra


@torch.no_grad()
def greedy(
    model: Seq2Seq, source: torch.Tensor, lengths: torch.Tensor, max_ratio: float = 2.0, max_extra: int = 10
) -> list[list[int]]:
    """The likeliest token at every step, for each sentence of ``source (source, batch)``; at the length
    limit the output ends."""
    model.eval()
    encoded, state = model.encode(source, lengths)
    limits = length_limits(lengths, max_ratio, max_extra)
    batch = source.size(1)
    tokens = torch.full((batch,), SOS_ID, dtype=torch.long)
    ends = torch.full((batch,), -1, dtype=torch.long)  # the step each output ended at (-1: open)
    steps = []
    for t in range(int(limits.max())):
        scores, state = model.step(tokens, encoded, state)
        scores[:, list(NEVER)] = float("-inf")
        tokens = scores.argmax(dim=1)
        steps.append(tokens)
        # the limit's step is the <eos>, as in beam_search
        ending = (ends < 0) & ((tokens == EOS_ID) | (t + 1 >= limits))
        ends[ending] = t
        if bool((ends >= 0).all()):
            break
    if not steps:  # a limit of 0 steps
        return [[] for _ in range(batch)]
    found = torch.stack(steps, dim=1).tolist()  # (batch, steps)
    return [row[:end] for row, end in zip(found, ends.tolist(), strict=True)]


@torch.no_grad()
def beam_search(
    model: Seq2Seq,
    source: torch.Tensor,
    lengths: torch.Tensor,
    beam: int = 5,
    alpha: float = 0.6,
    max_ratio: float = 2.0,
    max_extra: int = 10,
) -> list[list[int]]:
    """The best hypothesis of a ``beam``-wide search for each sentence (see the module docstring)."""
    model.eval()
    batch = source.size(1)
    encoded, state = model.encode(source, lengths)
    encoded = encoded.repeat(beam)
    state = DecoderState(state.rnn.repeat_interleave(beam, dim=2), state.feed.repeat_interleave(beam, dim=0))
    limits = length_limits(lengths, max_ratio, max_extra)
    scores = torch.zeros(batch, beam, dtype=torch.float64)
    scores[:, 1:] = float("-inf")  # at first the hypotheses are one and the same
    tokens = torch.full((batch * beam,), SOS_ID, dtype=torch.long)
    history = torch.zeros(batch, beam, 0, dtype=torch.long)
    finished = torch.zeros(batch, beam, dtype=torch.bool)
    for t in range(int(limits.max())):
        logits, state = model.step(tokens, encoded, state)
        logp = torch.log_softmax(logits.double(), dim=1).view(batch, beam, -1)
        logp[..., list(NEVER)] = float("-inf")
        at_limit = (t + 1 >= limits)[:, None, None]  # the last step: every open hypothesis ends
        logp = torch.where(at_limit & (torch.arange(logp.size(2)) != EOS_ID), float("-inf"), logp)
        ended = torch.full_like(logp[0, 0], float("-inf"))
        ended[PAD_ID] = 0.0  # an ended hypothesis goes on with padding, at no cost
        logp = torch.where(finished[..., None], ended, logp)
        best, index = (scores[..., None] + logp).view(batch, -1).topk(beam, dim=1)
        origin, token = index // logp.size(2), index % logp.size(2)
        history = torch.cat([history.gather(1, origin[..., None].expand(-1, -1, t)), token[..., None]], dim=2)
        finished = finished.gather(1, origin) | (token == EOS_ID)
        scores = best
        state = state.select((torch.arange(batch)[:, None] * beam + origin).view(-1))
        tokens = token.view(-1)
        if finished.all():
            break
    penalty = ((5.0 + (history != PAD_ID).sum(dim=2)) / 6.0) ** alpha
    chosen = (scores / penalty).argmax(dim=1)
    return [[int(i) for i in history[b, chosen[b]] if i not in (PAD_ID, EOS_ID)] for b in range(batch)]
