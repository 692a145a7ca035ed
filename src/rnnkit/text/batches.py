"""Ragged storage of encoded texts and length-bucketed, per-batch padded mini-batches.

A corpus is kept as one flat id array plus offsets, so memory grows with the real tokens; padding
exists only inside a batch, up to that batch's longest item, and the true lengths travel with it.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from rnnkit.errors import ConfigError
from rnnkit.text.pipeline import UNK_ID, TextPipeline, Vocab, index_tokens, pad_sequences

# Below this many characters, a second process costs more to start than it saves.
PARALLEL_MIN_CHARS = 2_000_000
# Before tokenizing, a text is cut to this many characters per token it may keep: far more than real
# tokens need (the kept tokens are the same), while a text of hundreds of megabytes costs no more
# time or memory than one of a few hundred kilobytes.
CHARS_PER_KEPT_TOKEN = 1000
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

    def padded(self, rows: np.ndarray, fill: int = 0) -> np.ndarray:
        """Items ``rows`` post-padded with ``fill`` to the longest of them: ``(len(rows), longest)``
        int64, gathered in one vectorised step (no Python loop over the items)."""
        lengths = self.lengths[rows]
        steps = np.arange(lengths.max(initial=0))
        real = steps[None, :] < lengths[:, None]
        source = np.where(real, self.offsets[rows][:, None] + steps[None, :], 0)
        return np.where(real, self.flat[source] if len(self.flat) else fill, fill).astype(np.int64)


def index_texts(texts: Sequence[str], pipeline: TextPipeline) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Tokenize ``texts`` and number the distinct tokens by first appearance (:func:`index_tokens`):
    ``(types, flat, lengths)``, with ``flat`` (int32) the number of every token, text after text.

    Tokenizing is Python-regex bound, so a large corpus is cut in two: a forked process tokenizes
    the second half while this one does the first. Only numbers and the distinct tokens travel
    back, and the halves are merged so the result is exactly that of one pass.
    """
    if sum(map(len, texts)) < PARALLEL_MIN_CHARS or "fork" not in multiprocessing.get_all_start_methods():
        return _index_part(texts, pipeline)
    half = len(texts) // 2
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        second = pool.submit(_index_part, texts[half:], pipeline)
        types, flat, lengths = _index_part(texts[:half], pipeline)
        more_types, more_flat, more_lengths = second.result()
    numbering = {token: i for i, token in enumerate(types)}
    for token in more_types:
        numbering.setdefault(token, len(numbering))
    renumber = np.fromiter(map(numbering.__getitem__, more_types), dtype=np.int32, count=len(more_types))
    return list(numbering), np.concatenate([flat, renumber[more_flat]]), np.concatenate([lengths, more_lengths])


def _index_part(texts: Sequence[str], pipeline: TextPipeline) -> tuple[list[str], np.ndarray, np.ndarray]:
    token_lists = [pipeline(text) for text in texts]
    types, flat = index_tokens(token_lists)
    return types, flat, np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))


def encode_indexed(
    types: Sequence[str],
    flat: np.ndarray,
    lengths: np.ndarray,
    vocab: Vocab,
    max_length: int | None = None,
    truncating: str = "pre",
) -> Ragged:
    """Ids of :func:`index_texts` output under ``vocab`` (unknown tokens: ``<unk>``), cut to ``max_length``."""
    ids = np.fromiter(map(vocab.stoi.__getitem__, types), dtype=np.int32, count=len(types))
    return truncate(ids[flat], lengths, max_length, truncating)


def encode_texts(
    texts: Sequence[str], pipeline: TextPipeline, vocab: Vocab, max_length: int | None = None, truncating: str = "pre"
) -> Ragged:
    """Texts -> ragged ids: tokenized by ``pipeline``, mapped by ``vocab``, truncated to ``max_length``
    (``"pre"`` keeps the end of the text). A text with no tokens becomes a single ``<unk>``."""
    clipped = clip_characters(texts, max_length, truncating)
    return encode_indexed(*index_texts(clipped, pipeline), vocab, max_length, truncating)


def clip_characters(texts: Sequence[str], max_length: int | None, truncating: str = "pre") -> Sequence[str]:
    """Texts longer than ``max_length * CHARS_PER_KEPT_TOKEN`` characters cut to that, on the side
    that truncation drops (``"pre"`` keeps the end), so tokenizing them stays bounded."""
    if max_length is None:
        return texts
    limit = max_length * CHARS_PER_KEPT_TOKEN
    if all(len(text) <= limit for text in texts):
        return texts
    return [text if len(text) <= limit else text[-limit:] if truncating == "pre" else text[:limit] for text in texts]


def truncate(ids: np.ndarray, lengths: np.ndarray, max_length: int | None, truncating: str) -> Ragged:
    """Cut the texts stored back to back in ``ids`` to ``max_length`` tokens; empty texts become ``[<unk>]``."""
    if truncating not in ("pre", "post"):
        raise ConfigError(f"truncating must be 'pre' or 'post', got {truncating!r}")
    kept = lengths if max_length is None else np.minimum(lengths, max_length)
    starts = np.cumsum(lengths) - lengths
    if truncating == "pre":
        starts += lengths - kept
    empty = kept == 0
    kept = np.maximum(kept, 1)
    offsets = np.zeros(len(kept) + 1, dtype=np.int64)
    np.cumsum(kept, out=offsets[1:])
    # Position of every kept token in `ids`: its text's start plus its index within the text.
    source = np.repeat(starts - offsets[:-1], kept) + np.arange(offsets[-1])
    flat = np.full(offsets[-1], UNK_ID, dtype=np.int32)
    real = np.repeat(~empty, kept)
    flat[real] = ids[source[real]]
    return Ragged(flat, offsets)


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
