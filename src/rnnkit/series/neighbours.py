"""Nearest neighbours under the Euclidean distance, with class probabilities.

1-NN Euclidean is the UCR archive's reference classifier, and on small sets of short series a hard
one to beat: a network learns little from 30 series, while their nearest neighbour is often right.
:class:`NearestNeighbours` keeps the training series (resampled to one length) and gives each class
the probability ``softmax(-d_c / scale)`` of its nearest member's distance ``d_c``; the most probable
class is exactly the 1-NN answer, and the probabilities can be blended with a network's (the
series classifier does, with a weight chosen on validation data).
Shapes: series ``(time, channels)`` each; the memory ``(n, length * channels)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.series.baselines import resample

CHUNK = 1024  # queries per distance block: a (CHUNK, n) matrix at a time
SCALE_SAMPLE = 512  # memory series whose nearest-other distance sets the scale


@dataclass(frozen=True)
class NearestNeighbours:
    """``memory (n, length * channels)`` float64 with class indices ``targets (n,)`` of ``num_classes``;
    ``scale`` is the distance that divides the softmax's inputs."""

    memory: np.ndarray
    targets: np.ndarray
    num_classes: int
    length: int
    scale: float

    @classmethod
    def fit(cls, series: list[np.ndarray], targets: np.ndarray, num_classes: int) -> NearestNeighbours:
        """Remember ``series``, resampled to the longest one's length. The scale is the median
        distance from a member to its nearest other member (over up to ``SCALE_SAMPLE`` members),
        so probabilities do not depend on the units of the series."""
        length = max(len(s) for s in series)
        memory = resample(series, length)
        sample = np.arange(0, len(memory), max(1, len(memory) // SCALE_SAMPLE))[:SCALE_SAMPLE]
        scale = 1.0
        if len(memory) > 1:
            distances = pairwise(memory[sample], memory)
            distances[np.arange(len(sample)), sample] = np.inf  # not the member itself
            nearest = float(np.median(distances.min(axis=1)))
            if nearest > 0:
                scale = nearest
        return cls(memory, np.asarray(targets, dtype=np.int64), num_classes, length, scale)

    def class_distances(self, series: list[np.ndarray], members: np.ndarray | None = None) -> np.ndarray:
        """``(len(series), num_classes)``: the distance to each class's nearest member (inf for a
        class with none). ``members[i]``, when given, is the memory row that series ``i`` is, left
        out of its own search (leave-one-out)."""
        queries = resample(series, self.length)
        out = np.full((len(queries), self.num_classes), np.inf)
        for start in range(0, len(queries), CHUNK):
            distances = pairwise(queries[start : start + CHUNK], self.memory)
            if members is not None:
                distances[np.arange(len(distances)), members[start : start + CHUNK]] = np.inf
            for c in np.unique(self.targets):
                out[start : start + CHUNK, c] = distances[:, self.targets == c].min(axis=1)
        return out

    def predict_proba(self, series: list[np.ndarray], members: np.ndarray | None = None) -> np.ndarray:
        """``(len(series), num_classes)`` probabilities, ``softmax(-distance / scale)`` over classes
        (``members``: leave-one-out, see :meth:`class_distances`)."""
        logits = -self.class_distances(series, members) / self.scale
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)


def pairwise(queries: np.ndarray, memory: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(len(queries), len(memory))`` (float64 throughout: near ties must be
    resolved as a direct computation would)."""
    squared = (queries**2).sum(axis=1)[:, None] + (memory**2).sum(axis=1)[None, :] - 2.0 * (queries @ memory.T)
    return np.sqrt(np.maximum(squared, 0.0))
