"""Truncated-BPTT batches of a token stream: checked against the stream itself."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.text.stream import stream_rows, windows


def test_a_hand_made_stream():
    rows = stream_rows(np.arange(11), batch_size=2)  # 11 tokens, 2 rows of 5: token 10 is dropped
    assert rows.tolist() == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    got = [(x.tolist(), y.tolist()) for x, y in windows(rows, steps=3)]
    assert got == [([[0, 1, 2], [5, 6, 7]], [[1, 2, 3], [6, 7, 8]]), ([[3], [8]], [[4], [9]])]


@given(n=st.integers(2, 300), batch=st.integers(1, 8), steps=st.integers(1, 40))
def test_every_target_is_the_next_token_and_each_row_reads_on_without_gaps(n, batch, steps):
    stream = np.random.default_rng(n).integers(0, 50, n)
    if n // batch < 2:
        with pytest.raises(ValueError, match="too few for"):
            stream_rows(stream, batch)
        return
    rows = stream_rows(stream, batch)
    length = n // batch
    read = [[] for _ in range(batch)]
    for x, y in windows(rows, steps):
        assert x.shape == y.shape and 1 <= x.shape[1] <= steps
        for b in range(batch):
            start = b * length + len(read[b])  # where this row's window must start in the stream
            assert x[b].tolist() == stream[start : start + x.shape[1]].tolist()
            assert y[b].tolist() == stream[start + 1 : start + 1 + x.shape[1]].tolist()
            read[b].extend(x[b].tolist())
    assert all(len(r) == length - 1 for r in read)  # every token but a row's last is read once


def test_steps_must_be_positive():
    with pytest.raises(ValueError, match=r"^steps must be at least 1, got 0$"):
        next(windows(np.zeros((2, 5), dtype=np.int64), 0))
