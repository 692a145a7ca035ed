"""A linear-chain conditional random field (CRF), the output layer of a BiLSTM-CRF tagger.

Why a CRF: a per-token softmax picks each tag on its own, yet tags depend on their neighbours
(``I-PER`` cannot follow ``B-ORG``). The CRF scores a whole tag path as the sum of

* ``start[y_0]``, the score of beginning with tag ``y_0``;
* ``emissions[t, y_t]`` at every step, from the encoder;
* ``transitions[y_{t-1}, y_t]`` between neighbours (``[from, to]``);
* ``end[y_{n-1}]`` at the sequence's last real step,

and trains by the negative log-likelihood of the gold path among all ``num_tags ** n`` paths (the
forward algorithm sums them in ``O(n * num_tags ** 2)``); :meth:`CRF.decode` finds the best one (Viterbi).
Hard constraints (:meth:`CRF.constrain`) add ``-10000`` to disallowed starts, transitions and ends, in the
loss and in decoding alike, so the model trains as it decodes.

Layout: time-major and post-padded, ``emissions (time, batch, num_tags)``, ``tags (time, batch)``,
``lengths (batch,)`` with ``1 <= length <= time``; sequence ``b`` is at positions ``0 .. lengths[b] - 1``.
Padding: a step past a sequence's end leaves its running scores unchanged, chosen with ``torch.where``
rather than multiplied by a 0/1 mask, so whatever the padded positions hold (even huge values) has no
effect on the results, and their gradients are exactly zero.
"""

from __future__ import annotations

import torch
from torch import nn

DISALLOWED = -10000.0  # added to the score of a disallowed start, transition or end (as AllenNLP does)


class CRF(nn.Module):
    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))  # [from, to]
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        # Which starts/transitions/ends are allowed (all, until constrain()): derived from the tag set, never saved.
        for name, shape in [("start", (num_tags,)), ("transitions", (num_tags, num_tags)), ("end", (num_tags,))]:
            self.register_buffer(f"allowed_{name}", torch.ones(shape, dtype=torch.bool), persistent=False)

    def constrain(self, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor) -> None:
        """Allow only the starts ``(K,)``, transitions ``(K, K)`` ``[from, to]`` and ends ``(K,)`` that are True."""
        k = self.num_tags
        for name, allowed, shape in [("start", start, (k,)), ("transitions", transitions, (k, k)), ("end", end, (k,))]:
            if allowed.shape != shape:
                raise ValueError(f"allowed {name} must have shape {shape}, got {tuple(allowed.shape)}")
            setattr(self, f"allowed_{name}", allowed.to(device=self.start.device, dtype=torch.bool).clone())

    def _scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Start, transition and end scores, with the penalty on the disallowed ones."""
        return (
            torch.where(self.allowed_start, self.start, self.start + DISALLOWED),
            torch.where(self.allowed_transitions, self.transitions, self.transitions + DISALLOWED),
            torch.where(self.allowed_end, self.end, self.end + DISALLOWED),
        )

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Score of the given tag paths, ``(batch,)``."""
        start, transitions, end = self._scores()
        real = _steps(lengths, emissions.shape[0])
        emitted = torch.where(real, emissions.gather(2, tags.unsqueeze(2)).squeeze(2), 0.0).sum(0)
        moved = torch.where(real[1:], transitions[tags[:-1], tags[1:]], 0.0).sum(0)
        last = tags.gather(0, (lengths - 1).unsqueeze(0)).squeeze(0)
        return start[tags[0]] + emitted + moved + end[last]

    def log_partition(self, emissions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Log of the summed exponentiated scores of all tag paths (the forward algorithm), ``(batch,)``."""
        start, transitions, end = self._scores()
        real = _steps(lengths, emissions.shape[0]).unsqueeze(2)
        alpha = start + emissions[0]  # (batch, K): log-sum over the paths ending in each tag
        for t in range(1, emissions.shape[0]):
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[t]
            alpha = torch.where(real[t], step, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of each gold tag path, ``(batch,)``."""
        return self.log_partition(emissions, lengths) - self.score(emissions, tags, lengths)

    def decode(self, emissions: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Best tag paths ``(time, batch)`` int64 (0 at padded positions) and their scores ``(batch,)`` (Viterbi)."""
        start, transitions, end = self._scores()
        time = emissions.shape[0]
        real = _steps(lengths, time)
        best = start + emissions[0]  # (batch, K): score of the best path ending in each tag
        backpointers = []  # [t - 1]: (batch, K), the best previous tag for each tag at step t
        for t in range(1, time):
            step, previous = (best.unsqueeze(2) + transitions).max(dim=1)
            best = torch.where(real[t].unsqueeze(1), step + emissions[t], best)
            backpointers.append(previous)
        score, last = (best + end).max(dim=1)
        # Walk back, restarting at each sequence's own last step: what the walk held past it (padding) is discarded.
        tag, path = last, []
        for t in range(time - 1, -1, -1):
            tag = torch.where(lengths - 1 == t, last, tag)
            path.append(tag)
            if t > 0:
                tag = backpointers[t - 1].gather(1, tag.unsqueeze(1)).squeeze(1)
        return torch.where(real, torch.stack(path[::-1]), 0), score


def mean_crf(crfs: list[CRF]) -> CRF:
    """A CRF whose start, transition and end scores are the means of ``crfs``' (same tags, same
    constraints): with the mean of their emissions, every path scores the mean of its scores."""
    mean = CRF(crfs[0].num_tags).to(crfs[0].start.device, crfs[0].start.dtype)
    with torch.no_grad():
        for name in ("start", "transitions", "end"):
            getattr(mean, name).copy_(torch.stack([getattr(crf, name) for crf in crfs]).mean(dim=0))
    mean.constrain(crfs[0].allowed_start, crfs[0].allowed_transitions, crfs[0].allowed_end)
    return mean


def _steps(lengths: torch.Tensor, time: int) -> torch.Tensor:
    """``(time, batch)`` True at the real (not padded) steps."""
    return torch.arange(time, device=lengths.device).unsqueeze(1) < lengths
