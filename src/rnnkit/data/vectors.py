"""Pretrained word vectors (word2vec, GloVe, fastText ``.vec`` text formats) for the embedding layer.

On a few thousand labelled texts, vectors learned from billions of words add points that no amount
of tuning does (Kim 2014: 3-5 points on sentence tasks). The text format is one word and its
numbers per line, separated by spaces; word2vec and fastText files start with a header line
``count dimension``, GloVe files do not. Files may be gzip-compressed.

Only the vectors of the vocabulary's words are parsed, so a 5 GB file costs one pass of reading and
the memory of the vocabulary. A word is looked up exactly, then lowercased (the first, usually the
most frequent, casing of a lowercased match wins); words without a vector keep a random vector of
the pretrained vectors' scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.tables import open_text, reading
from rnnkit.errors import DataError
from rnnkit.text.pipeline import PAD_ID, SPECIALS, Vocab


@dataclass(frozen=True)
class Coverage:
    """How many vocabulary words got a pretrained vector (``exact`` + ``lowercased`` of ``words``)."""

    words: int
    exact: int
    lowercased: int

    def __str__(self) -> str:
        found = self.exact + self.lowercased
        return (
            f"{found:,} of {self.words:,} vocabulary words have a pretrained vector ({found / max(self.words, 1):.1%}; "
            f"{self.lowercased:,} of them found lowercased)"
        )


def read_vectors(path: str | Path, vocab: Vocab) -> tuple[dict[str, np.ndarray], int, Coverage]:
    """(vector of each vocabulary word found, dimension, coverage) from a word-vector text file."""
    path = Path(path)
    words = list(vocab.itos[len(SPECIALS) :])
    wanted = set(words)
    exact: dict[str, str] = {}
    lowered: dict[str, str] = {}
    dimension = None
    with reading(path), open_text(path) as f:  # .gz, a byte order mark, and read errors in one line
        for number, line in enumerate(f, start=1):
            word, _, numbers = line.rstrip(" \r\n").partition(" ")
            if number == 1 and _is_header(word, numbers):
                continue
            if not numbers:
                if not word:
                    continue  # a blank line
                raise DataError(f"{path}, line {number}: expected a word and its numbers, got one field")
            if dimension is None:
                dimension = numbers.count(" ") + 1
            if word in wanted:
                keep = word not in exact
                if keep:
                    exact[word] = numbers
            else:
                lower = word.lower()
                keep = lower in wanted and lower not in lowered
                if keep:
                    lowered[lower] = numbers
            if keep and numbers.count(" ") + 1 != dimension:
                raise DataError(
                    f"{path}, line {number}: {numbers.count(' ') + 1} numbers where earlier lines have {dimension}"
                )
    if dimension is None:
        raise DataError(f"{path}: no word vectors in the file")
    vectors, found_lower = {}, 0
    for word in words:
        numbers = exact.get(word)
        if numbers is None and word in lowered:
            numbers, found_lower = lowered[word], found_lower + 1
        if numbers is not None:
            vectors[word] = _parse(numbers, path, word)
    return vectors, dimension, Coverage(len(words), len(vectors) - found_lower, found_lower)


def _is_header(word: str, numbers: str) -> bool:
    """word2vec/fastText's first line: ``count dimension``."""
    return word.isdigit() and numbers.isdigit()


def _parse(numbers: str, path: Path, word: str) -> np.ndarray:
    try:
        vector = np.array(numbers.split(" "), dtype=np.float32)
    except ValueError:
        raise DataError(f"{path}: the vector of {word!r} holds something that is not a number") from None
    if not np.isfinite(vector).all():
        raise DataError(f"{path}: the vector of {word!r} holds NaN or infinite values")
    return vector


def embedding_matrix(
    vectors: dict[str, np.ndarray], dimension: int, vocab: Vocab, rng: np.random.Generator
) -> np.ndarray:
    """Initial embedding weights ``(len(vocab), dimension)``: pretrained rows where found, random rows of
    the pretrained vectors' standard deviation elsewhere, zeros for padding."""
    scale = float(np.std(np.stack(list(vectors.values())))) if vectors else 1.0
    matrix = rng.normal(0.0, scale, size=(len(vocab), dimension)).astype(np.float32)
    for word, vector in vectors.items():
        matrix[vocab.stoi[word]] = vector
    matrix[PAD_ID] = 0.0
    return matrix


def pretrained_matrix(path: str | Path, vocab: Vocab, seed: int, verbose: bool) -> np.ndarray:
    """The initial embedding weights ``(len(vocab), dimension)`` from the vector file ``path`` (its
    coverage of ``vocab`` printed when ``verbose``); the file decides the dimension."""
    vectors, dimension, coverage = read_vectors(path, vocab)
    if verbose:
        print(f"embeddings: {coverage}")
    return embedding_matrix(vectors, dimension, vocab, np.random.default_rng(seed))
