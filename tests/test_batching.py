"""Encoding a corpus into ragged id arrays, checked against a plain per-text reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit.text.batches as batching
from rnnkit.errors import ConfigError
from rnnkit.text.batches import encode_indexed, encode_texts, index_texts, truncate
from rnnkit.text.pipeline import UNK_ID, TextPipeline, Vocab, pad_sequences

words = st.sampled_from(["a", "b", "c", "d", "don't", "<unk>", "<pad>", "é", "!", "<br />"])
corpora = st.lists(st.lists(words, max_size=12).map(" ".join), max_size=8)


def reference(texts, pipeline, vocab, max_length, truncating):
    """The definition, one text at a time: tokenize, cut, look up; an empty text gets one <unk>."""
    out = []
    for text in texts:
        tokens = pipeline(text)
        if max_length is not None and len(tokens) > max_length:
            tokens = tokens[-max_length:] if truncating == "pre" else tokens[:max_length]
        out.append([vocab[t] for t in tokens] or [UNK_ID])
    return out


@settings(max_examples=150, deadline=None)
@given(corpora, st.sampled_from([None, 1, 3, 20]), st.sampled_from(["pre", "post"]), st.sampled_from([None, 6]))
def test_encoding_equals_the_text_by_text_definition(texts, max_length, truncating, num_words):
    pipeline = TextPipeline()
    types, flat, lengths = index_texts(texts, pipeline)
    vocab = Vocab.from_counts(types, np.bincount(flat, minlength=len(types)), num_words, 1)
    assert vocab.itos == Vocab.build(map(pipeline, texts), num_words=num_words).itos
    data = encode_indexed(types, flat, lengths, vocab, max_length, truncating)
    want = reference(texts, pipeline, vocab, max_length, truncating)
    assert [data[i].tolist() for i in range(len(data))] == want
    again = encode_texts(texts, pipeline, vocab, max_length, truncating)
    assert np.array_equal(again.flat, data.flat) and np.array_equal(again.offsets, data.offsets)
    assert data.flat.dtype == np.int32 and data.lengths.tolist() == [len(w) for w in want]


def test_the_two_process_split_gives_exactly_the_one_pass_result(monkeypatch):
    texts = [f"w{i % 7} w{i % 11} shared!" if i % 5 else "" for i in range(101)]
    one_pass = index_texts(texts, TextPipeline())
    monkeypatch.setattr(batching, "PARALLEL_MIN_CHARS", 0)
    split = index_texts(texts, TextPipeline())
    assert split[0] == one_pass[0]  # the same tokens, numbered in the same first-appearance order
    assert np.array_equal(split[1], one_pass[1]) and np.array_equal(split[2], one_pass[2])


def test_ranks_by_frequency_then_first_appearance_and_applies_min_freq():
    texts = ["b a c", "a c d"]
    types, flat, lengths = index_texts(texts, TextPipeline())
    vocab = Vocab.from_counts(types, np.bincount(flat), num_words=None, min_freq=2)
    assert vocab.itos[4:] == ["a", "c"]  # both seen twice, "a" first; "b" and "d" once only
    data = encode_indexed(types, flat, lengths, vocab)
    assert [data[0].tolist(), data[1].tolist()] == [[UNK_ID, 4, 5], [4, 5, UNK_ID]]


def test_unknown_truncating_side_is_refused():
    with pytest.raises(ConfigError, match="truncating must be 'pre' or 'post', got 'middle'"):
        truncate(np.zeros(1, np.int32), np.array([1]), 1, "middle")


@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_a_huge_text_is_cut_before_tokenizing_and_encodes_as_if_it_were_not(monkeypatch, truncating):
    pipeline = TextPipeline()
    vocab = Vocab.build([["good", "bad", "film"]], min_freq=1)
    huge = " ".join(f"good film {i} bad <br /> film" for i in range(300_000))  # 9.4 MB
    tokenized = []
    original = batching.index_texts

    def spy(texts, pipe):
        tokenized.extend(len(t) for t in texts)
        return original(texts, pipe)

    monkeypatch.setattr(batching, "index_texts", spy)
    encoded = encode_texts([huge, "good film"], pipeline, vocab, max_length=20, truncating=truncating)
    assert tokenized == [20 * batching.CHARS_PER_KEPT_TOKEN, len("good film")]
    assert [encoded[0].tolist(), encoded[1].tolist()] == reference([huge, "good film"], pipeline, vocab, 20, truncating)


def test_clip_characters_keeps_the_side_that_truncation_keeps():
    texts = ["short", "x" * 10 + "END"]
    assert batching.clip_characters(texts, 1, "pre") is texts  # nothing to cut: no copy
    limit = batching.CHARS_PER_KEPT_TOKEN
    assert batching.clip_characters(["a" * (limit + 5) + "END"], 1, "pre") == ["a" * (limit - 3) + "END"]
    assert batching.clip_characters(["START" + "a" * limit], 1, "post") == ["START" + "a" * (limit - 5)]
    assert batching.clip_characters(texts, None, "pre") is texts


def test_ragged_padding_matches_pad_sequences():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 50, size=n).tolist() for n in [3, 0, 7, 1, 7, 2]]
    ragged = batching.Ragged.from_sequences(seqs)
    for rows in ([0, 1, 2], [4, 2], [1], [5, 3, 0]):
        expected = pad_sequences([seqs[i] for i in rows], padding="post", value=-1)
        np.testing.assert_array_equal(ragged.padded(np.array(rows), fill=-1), expected)
    assert ragged.padded(np.array([1]), fill=0).shape == (1, 0)
