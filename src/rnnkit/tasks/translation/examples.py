"""Sentence pairs as the training loop sees them (:func:`rnnkit.train.loop.train`): batches of sources
of similar lengths, their teacher-forced loss, and the validation scores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from rnnkit.tasks.translation.decode import greedy
from rnnkit.tasks.translation.model import Seq2Seq, real_tokens, translation_loss
from rnnkit.text.batches import Ragged, bucket_batches
from rnnkit.text.pipeline import EOS_ID, PAD_ID, SOS_ID

EVAL_BATCH_SIZE = 64


@dataclass(frozen=True)
class Pairs:
    """Source ids and target ids (``<sos>`` ... ``<eos>`` added here), one pair per item."""

    sources: Ragged
    targets: Ragged

    @classmethod
    def of(cls, sources: list[list[int]], targets: list[list[int]]) -> Pairs:
        return cls(Ragged.from_sequences(sources), Ragged.from_sequences([[SOS_ID, *t, EOS_ID] for t in targets]))

    def __len__(self) -> int:
        return len(self.sources)

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``source (source, batch)``, ``lengths (batch,)``, ``target (target, batch)``, time-major, post-padded."""
        source = torch.from_numpy(self.sources.padded(idx, PAD_ID)).t().contiguous()
        target = torch.from_numpy(self.targets.padded(idx, PAD_ID)).t().contiguous()
        return source, torch.from_numpy(self.sources.lengths[idx]), target


@dataclass(frozen=True)
class TranslationExamples:
    """One split for the training loop; ``score`` turns greedy outputs into the validation score(s)."""

    pairs: Pairs
    smoothing: float = 0.0
    score: Callable[[list[list[int]]], dict[str, float]] | None = None  # greedy outputs, in item order -> scores

    @property
    def lengths(self) -> np.ndarray:
        return self.pairs.sources.lengths

    def loss(self, model: Seq2Seq, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """(summed label-smoothed loss, target tokens, tokens whose likeliest prediction is right, tokens)."""
        source, lengths, target = self.pairs.batch(idx)
        scores = model(source, lengths, target)
        total, count = translation_loss(scores, target, self.smoothing)
        correct = int((scores.detach().argmax(dim=1) == real_tokens(target)).sum())
        return total, total.new_tensor(float(count)), correct, count

    @torch.inference_mode()
    def evaluate(self, model: Seq2Seq) -> dict[str, float]:
        """``{"loss", "accuracy"}`` (teacher-forced, as in training) and the ``score`` of greedy outputs."""
        model.eval()
        total, correct, count = 0.0, 0, 0
        outputs: list[list[int]] = [[] for _ in range(len(self.pairs))]
        for idx in bucket_batches(self.lengths, EVAL_BATCH_SIZE):
            batch_total, _, batch_correct, batch_count = self.loss(model, idx)
            total, correct, count = total + float(batch_total), correct + batch_correct, count + batch_count
            if self.score is not None:
                source, lengths, _ = self.pairs.batch(idx)
                for i, output in zip(idx, greedy(model, source, lengths), strict=True):
                    outputs[i] = output
        scores = {"loss": total / count, "accuracy": correct / count}
        if self.score is not None:
            scores |= self.score(outputs)
        return scores
