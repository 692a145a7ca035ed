"""Ragged storage of encoded texts and length-bucketed, per-batch padded mini-batches.

A corpus is kept as one flat id array plus offsets, so memory grows with the real tokens; padding
exists only inside a batch, up to that batch's longest item, and the true lengths travel with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from rnnkit.text import UNK_ID, Vocab, pad_sequences

# Items are sorted by length inside pools of this many batches: batches hold similar lengths
# (little padding) while the order of the pools and of the batches stays random.
POOL_BATCHES = 50


@dataclass(frozen=True)
class Ragged:
    """Variable-length id sequences: item ``i`` is ``flat[offsets[i]:offsets[i + 1]]``."""

    flat: np.ndarray  # (total_tokens,) int32
    offsets: np.ndarray  # (n + 1,) int64

    @classmethod
    def from_sequences(cls, seqs: Iterable[Sequence[int]]) -> Ragged:
        arrays = [np.asarray(s, dtype=np.int32) for s in seqs]
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum([len(a) for a in arrays], out=offsets[1:])
        flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)
        return cls(flat, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.flat[self.offsets[i] : self.offsets[i + 1]]

    @cached_property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def encode_token_lists(
    token_lists: Iterable[Sequence[str]],
    vocab: Vocab,
    max_length: int | None = None,
    truncating: str = "pre",
) -> Ragged:
    """Map tokens to ids and truncate to ``max_length`` (``"pre"`` keeps the end of the text).

    A text with no tokens is encoded as a single ``<unk>`` so it still receives a prediction.
    """

    def encode(tokens: Sequence[str]) -> list[int]:
        if max_length is not None and len(tokens) > max_length:  # cut first: encode only what is kept
            tokens = tokens[-max_length:] if truncating == "pre" else tokens[:max_length]
        return vocab.encode(tokens) or [UNK_ID]

    return Ragged.from_sequences(encode(tokens) for tokens in token_lists)


def bucket_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Split item indices into batches of similar lengths.

    With ``rng`` (training) the items are shuffled, sorted by length within pools of
    ``POOL_BATCHES`` batches, and the batches shuffled. Without it (prediction) the order is
    deterministic: longest first, so identical inputs always meet identical batches.
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(-lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    pool = batch_size * POOL_BATCHES
    batches = []
    for start in range(0, n, pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(ragged: Ragged, indices: np.ndarray, padding: str = "post") -> tuple[torch.Tensor, torch.Tensor]:
    """Pad the selected items to the batch's longest: ``ids (batch, time)``, ``lengths (batch,)``."""
    ids = pad_sequences([ragged[int(i)] for i in indices], padding=padding)
    return torch.from_numpy(ids), torch.from_numpy(ragged.lengths[indices])
