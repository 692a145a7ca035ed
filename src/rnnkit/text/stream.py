"""A continuous token stream as batches for truncated backpropagation through time (language models).

A language model reads its corpus as one long sequence. Cutting it into independent sentences
would reset the memory at every cut, and padding them wastes work; the usual way (Zaremba et al.
2014, AWD-LSTM) is:

* split the stream into ``batch`` equally long rows, row *b* being the *b*-th contiguous part of the
  text (the few tokens that do not fill a row are dropped from the end);
* read the rows ``steps`` tokens at a time, left to right: window *k+1* of row *b* continues exactly
  where window *k* of row *b* stopped, so the hidden state of each row can be carried from one
  window to the next (detached: gradients flow back ``steps`` tokens at most);
* the target of every input token is the token after it in the stream.

Shapes: rows ``(batch, length)``; windows ``(batch, steps)`` (the last one may be shorter).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def stream_rows(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """The stream ``ids (n,)`` as ``(batch_size, n // batch_size)`` contiguous rows.

    Raises ValueError if the stream is too short for two tokens per row (an input and its target).
    """
    length = len(ids) // batch_size
    if length < 2:
        raise ValueError(
            f"the text has {len(ids)} tokens, too few for {batch_size} rows of at least 2; "
            "use a smaller batch size or more text"
        )
    return np.ascontiguousarray(ids[: batch_size * length].reshape(batch_size, length))


def windows(rows: np.ndarray, steps: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(inputs, targets)`` windows of ``rows (batch, length)`` in reading order, each ``(batch, <= steps)``;
    targets are the inputs shifted by one token in the stream."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    for start in range(0, rows.shape[1] - 1, steps):
        end = min(start + steps, rows.shape[1] - 1)
        yield rows[:, start:end], rows[:, start + 1 : end + 1]
