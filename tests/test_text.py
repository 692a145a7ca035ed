"""Tests for rnnkit.text: cleaning, tokenizing, the vocabulary, padding and one-hot encoding."""

import dataclasses
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.errors import BundleError, ConfigError, RnnkitError
from rnnkit.text.pipeline import (
    _WORD,
    EOS,
    EOS_ID,
    PAD,
    PAD_ID,
    SOS,
    SOS_ID,
    SPECIALS,
    STOPWORDS,
    UNK,
    UNK_ID,
    TextPipeline,
    Vocab,
    char_tokenize,
    clean_text,
    one_hot,
    pad_sequences,
    remove_stopwords,
    word_tokenize,
)

SPECIAL_LIST = ["<pad>", "<unk>", "<sos>", "<eos>"]

# -- clean_text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Great film.<br /><br />Loved it.", "Great film. Loved it."),
        ("one<br/>two<BR>three", "one two three"),
        ("<p>A <b>bold</b> <i class='x'>claim</i></p>", "A bold claim"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("&quot;quoted&quot; &#39;single&#39; caf&eacute;", "\"quoted\" 'single' café"),
        ("  lots \t of\n\n whitespace\r\n ", "lots of whitespace"),
        ("a\u00a0b", "a b"),  # &nbsp; as a character is whitespace too
        ("x&nbsp;&nbsp;y", "x y"),  # unescaped entities are collapsed as well
        ("", ""),
        ("   ", ""),
        ("<br />", ""),
    ],
)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


def test_clean_text_keeps_escaped_tags_as_text():
    # Tags are stripped before entities are unescaped, so an escaped tag survives as literal text.
    assert clean_text("use &lt;br&gt; for breaks") == "use <br> for breaks"


# -- tokenizers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("It's great!", ["It's", "great", "!"]),
        ("Don't stop... at o'clock", ["Don't", "stop", ".", ".", ".", "at", "o'clock"]),
        ("rock 'n' roll", ["rock", "'", "n", "'", "roll"]),
        ("the actors' work", ["the", "actors", "'", "work"]),
        ("10/10, would watch again", ["10", "/", "10", ",", "would", "watch", "again"]),
        ("(great)-ish?!", ["(", "great", ")", "-", "ish", "?", "!"]),
        ("snake_case words", ["snake_case", "words"]),
        ("naïve café", ["naïve", "café"]),
        ("", []),
        ("   \n\t ", []),
    ],
)
def test_word_tokenize(text, tokens):
    assert word_tokenize(text) == tokens


def test_char_tokenize():
    assert char_tokenize("a b!") == ["a", " ", "b", "!"]
    assert char_tokenize("ACGT") == ["A", "C", "G", "T"]
    assert char_tokenize("") == []


def test_remove_stopwords_keeps_negations():
    tokens = ["The", "movie", "is", "not", "good", ",", "no", "way", "AND", "nothing", "else"]
    assert remove_stopwords(tokens) == ["movie", "not", "good", ",", "no", "way", "nothing", "else"]
    assert "not" not in STOPWORDS
    assert "no" not in STOPWORDS
    assert {"the", "a", "and", "is"} <= STOPWORDS


def test_remove_stopwords_custom_list():
    assert remove_stopwords(["Cats", "and", "dogs"], frozenset({"cats"})) == ["and", "dogs"]
    assert remove_stopwords([], STOPWORDS) == []


# -- TextPipeline ----------------------------------------------------------------------------------

REVIEW = "<br />The movie was NOT   great!"


def test_pipeline_defaults():
    pipe = TextPipeline()
    assert (pipe.tokenizer, pipe.lowercase, pipe.stopwords, pipe.clean) == ("word", True, False, True)
    assert pipe(REVIEW) == ["the", "movie", "was", "not", "great", "!"]


def test_pipeline_lowercase_off():
    assert TextPipeline(lowercase=False)(REVIEW) == ["The", "movie", "was", "NOT", "great", "!"]


def test_pipeline_stopwords():
    assert TextPipeline(stopwords=True)(REVIEW) == ["movie", "not", "great", "!"]
    # Stopwords are matched case-insensitively even when the case is kept.
    assert TextPipeline(stopwords=True, lowercase=False)(REVIEW) == ["movie", "NOT", "great", "!"]


def test_pipeline_char_tokenizer():
    assert TextPipeline(tokenizer="char")("Hi <br/>  There") == list("hi there")
    assert TextPipeline(tokenizer="char", lowercase=False)("Ab") == ["A", "b"]


def test_pipeline_without_cleaning():
    assert TextPipeline(clean=False)("a<br />B") == ["a", "<", "br", "/", ">", "b"]


def test_pipeline_unknown_tokenizer():
    with pytest.raises(ConfigError, match=re.escape("tokenizer must be one of word, char, got 'bpe'")):
        TextPipeline(tokenizer="bpe")


def test_pipeline_is_frozen_and_comparable():
    pipe = TextPipeline(tokenizer="char")
    with pytest.raises(dataclasses.FrozenInstanceError):
        pipe.lowercase = False  # type: ignore[misc]
    assert pipe == TextPipeline(tokenizer="char")
    assert dataclasses.asdict(pipe) == {"tokenizer": "char", "lowercase": True, "stopwords": False, "clean": True}


# -- Vocab -----------------------------------------------------------------------------------------

# Counts: x=3, z=2, y=2, w=1, v=1. First appearance: z, y, x, w, v. The specials in the text are
# ignored; ties go to the token seen first (z before y, w before v), not alphabetical order.
CORPUS = [["z", "y", "x", "y"], ["w", "x", "<pad>", "z", "x"], ["v", "<unk>"]]


def test_reserved_ids():
    assert (PAD, UNK, SOS, EOS) == tuple(SPECIAL_LIST) == SPECIALS
    assert (PAD_ID, UNK_ID, SOS_ID, EOS_ID) == (0, 1, 2, 3)
    vocab = Vocab.build(CORPUS)
    assert [vocab[t] for t in SPECIAL_LIST] == [0, 1, 2, 3]


def test_build_orders_by_frequency_then_first_appearance():
    vocab = Vocab.build(CORPUS)
    assert vocab.itos == [*SPECIAL_LIST, "x", "z", "y", "w", "v"]
    assert vocab.stoi == {t: i for i, t in enumerate(vocab.itos)}
    assert len(vocab) == 9


def test_build_is_deterministic_and_accepts_generators():
    a = Vocab.build(iter(CORPUS))
    b = Vocab.build(list(CORPUS))
    assert a.itos == b.itos


def test_build_num_words_counts_the_specials():
    assert Vocab.build(CORPUS, num_words=6).itos == [*SPECIAL_LIST, "x", "z"]
    assert Vocab.build(CORPUS, num_words=5).itos == [*SPECIAL_LIST, "x"]
    assert len(Vocab.build(CORPUS, num_words=1000)) == 9


@pytest.mark.parametrize("num_words", [4, 0, -1])
def test_build_num_words_too_small(num_words):
    msg = f"num_words must be greater than 4 (the reserved ids), got {num_words}"
    with pytest.raises(ConfigError, match=re.escape(msg)):
        Vocab.build(CORPUS, num_words=num_words)


def test_build_min_freq():
    assert Vocab.build(CORPUS, min_freq=2).itos == [*SPECIAL_LIST, "x", "z", "y"]
    assert Vocab.build(CORPUS, min_freq=3).itos == [*SPECIAL_LIST, "x"]
    assert Vocab.build(CORPUS, min_freq=4).itos == SPECIAL_LIST
    assert Vocab.build(CORPUS, min_freq=2, num_words=5).itos == [*SPECIAL_LIST, "x"]


def test_build_min_freq_too_small():
    with pytest.raises(ConfigError, match=re.escape("min_freq must be at least 1, got 0")):
        Vocab.build(CORPUS, min_freq=0)


def test_build_empty_corpus():
    assert Vocab.build([]).itos == SPECIAL_LIST


def test_lookup_unknown_and_contains():
    vocab = Vocab.build(CORPUS)
    assert vocab["x"] == 4
    assert vocab["v"] == 8
    assert vocab["never-seen"] == UNK_ID == 1
    assert "x" in vocab
    assert "never-seen" not in vocab
    assert "<eos>" in vocab


def test_encode_and_decode():
    vocab = Vocab.build(CORPUS)
    assert vocab.encode(["x", "nope", "y", "v"]) == [4, 1, 6, 8]
    assert vocab.encode(["x", "nope"], wrap=True) == [2, 4, 1, 3]
    assert vocab.encode([], wrap=True) == [SOS_ID, EOS_ID]
    assert vocab.encode([]) == []
    assert vocab.decode([2, 4, 1, 6, 3, 0]) == ["<sos>", "x", "<unk>", "y", "<eos>", "<pad>"]
    tokens = ["z", "w", "x"]
    assert vocab.decode(vocab.encode(tokens)) == tokens


def test_json_round_trip():
    vocab = Vocab.build(CORPUS)
    data = vocab.to_json()
    assert data == {"tokens": [*SPECIAL_LIST, "x", "z", "y", "w", "v"]}
    again = Vocab.from_json(json.loads(json.dumps(data)))
    assert again.itos == vocab.itos
    assert again.stoi == vocab.stoi
    assert again.encode(["y", "?"], wrap=True) == [2, 6, 1, 3]


def test_json_round_trip_unicode_tokens():
    vocab = Vocab.build([["café", "naïve", "日本", "café"]])
    again = Vocab.from_json(json.loads(json.dumps(vocab.to_json(), ensure_ascii=False)))
    assert again.itos == [*SPECIAL_LIST, "café", "naïve", "日本"]


SHAPE_MSG = "vocab.json must hold an object with a 'tokens' list of strings"


@pytest.mark.parametrize(
    "data",
    [None, [], "tokens", 3, {}, {"itos": SPECIAL_LIST}, {"tokens": "abc"}, {"tokens": [*SPECIAL_LIST, 5]}],
)
def test_from_json_rejects_bad_shapes(data):
    with pytest.raises(BundleError, match=re.escape(SHAPE_MSG)):
        Vocab.from_json(data)


def test_from_json_rejects_missing_specials():
    msg = "vocab.json: a vocabulary must start with the specials ['<pad>', '<unk>', '<sos>', '<eos>']"
    for tokens in ([], ["<pad>", "<unk>"], ["<unk>", "<pad>", "<sos>", "<eos>", "a"], ["a", *SPECIAL_LIST]):
        with pytest.raises(BundleError, match=re.escape(msg)):
            Vocab.from_json({"tokens": tokens})


def test_from_json_rejects_duplicates():
    with pytest.raises(BundleError, match=re.escape("vocab.json: a vocabulary must not contain a token twice")):
        Vocab.from_json({"tokens": [*SPECIAL_LIST, "a", "b", "a"]})


def test_bundle_error_is_a_value_error():
    with pytest.raises(ValueError):
        Vocab.from_json(None)
    with pytest.raises(RnnkitError):
        Vocab.from_json(None)


def test_constructor_validates():
    assert Vocab([*SPECIAL_LIST, "a"]).itos == [*SPECIAL_LIST, "a"]
    with pytest.raises(ValueError, match=re.escape("a vocabulary must start with the specials")):
        Vocab(["a"])
    with pytest.raises(ValueError, match=re.escape("a vocabulary must not contain a token twice")):
        Vocab([*SPECIAL_LIST, "<pad>"])


# -- pad_sequences ---------------------------------------------------------------------------------

SEQS = [[1, 2, 3, 4], [5, 6], [7]]


@pytest.mark.parametrize(
    ("padding", "truncating", "expected"),
    [
        ("pre", "pre", [[2, 3, 4], [0, 5, 6], [0, 0, 7]]),
        ("post", "pre", [[2, 3, 4], [5, 6, 0], [7, 0, 0]]),
        ("pre", "post", [[1, 2, 3], [0, 5, 6], [0, 0, 7]]),
        ("post", "post", [[1, 2, 3], [5, 6, 0], [7, 0, 0]]),
    ],
)
def test_pad_sequences_sides(padding, truncating, expected):
    out = pad_sequences(SEQS, maxlen=3, padding=padding, truncating=truncating)
    assert out.dtype == np.int64
    assert out.shape == (3, 3)
    np.testing.assert_array_equal(out, np.array(expected))


def test_pad_sequences_defaults_are_pre():
    np.testing.assert_array_equal(pad_sequences(SEQS, maxlen=3), [[2, 3, 4], [0, 5, 6], [0, 0, 7]])


def test_pad_sequences_maxlen_none_uses_longest():
    np.testing.assert_array_equal(pad_sequences(SEQS), [[1, 2, 3, 4], [0, 0, 5, 6], [0, 0, 0, 7]])
    np.testing.assert_array_equal(pad_sequences(SEQS, padding="post"), [[1, 2, 3, 4], [5, 6, 0, 0], [7, 0, 0, 0]])


def test_pad_sequences_longer_maxlen():
    np.testing.assert_array_equal(pad_sequences([[1, 2]], maxlen=5), [[0, 0, 0, 1, 2]])
    np.testing.assert_array_equal(pad_sequences([[1, 2]], maxlen=5, padding="post"), [[1, 2, 0, 0, 0]])


def test_pad_sequences_value():
    np.testing.assert_array_equal(pad_sequences([[1], [2, 3]], maxlen=3, value=-1), [[-1, -1, 1], [-1, 2, 3]])
    np.testing.assert_array_equal(
        pad_sequences([[1], [2, 3]], maxlen=3, value=-1, padding="post"), [[1, -1, -1], [2, 3, -1]]
    )


def test_pad_sequences_empty_sequence():
    out = pad_sequences([[], [4, 5, 6]], maxlen=2, value=9)
    np.testing.assert_array_equal(out, [[9, 9], [5, 6]])
    np.testing.assert_array_equal(pad_sequences([[], []]), np.zeros((2, 0), dtype=np.int64))
    assert pad_sequences([[], []]).shape == (2, 0)


def test_pad_sequences_no_sequences():
    out = pad_sequences([])
    assert out.shape == (0, 0)
    assert out.dtype == np.int64
    assert pad_sequences([], maxlen=3).shape == (0, 3)


def test_pad_sequences_maxlen_zero():
    out = pad_sequences([[1, 2], [3]], maxlen=0)
    assert out.shape == (2, 0)
    assert out.dtype == np.int64
    assert pad_sequences([[1, 2], [3]], maxlen=0, padding="post", truncating="post").shape == (2, 0)


def test_pad_sequences_accepts_arrays_and_tuples():
    out = pad_sequences([np.array([1, 2, 3]), (4,)], maxlen=2, truncating="post")
    np.testing.assert_array_equal(out, [[1, 2], [0, 4]])


def test_pad_sequences_does_not_modify_input():
    seqs = [[1, 2, 3], [4]]
    pad_sequences(seqs, maxlen=2)
    assert seqs == [[1, 2, 3], [4]]


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"padding": "left"}, "padding must be 'pre' or 'post', got 'left'"),
        ({"truncating": "end"}, "truncating must be 'pre' or 'post', got 'end'"),
        ({"padding": "POST"}, "padding must be 'pre' or 'post', got 'POST'"),
    ],
)
def test_pad_sequences_bad_side(kwargs, msg):
    with pytest.raises(ConfigError, match=re.escape(msg)):
        pad_sequences(SEQS, maxlen=2, **kwargs)


# -- one_hot ---------------------------------------------------------------------------------------


def test_one_hot_values_and_shape():
    out = one_hot([[0, 2], [1, 0]], 3)
    assert out.shape == (2, 2, 3)
    assert out.dtype == np.float32
    expected = np.array([[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [1, 0, 0]]], dtype=np.float32)
    np.testing.assert_array_equal(out, expected)


def test_one_hot_vector_and_scalar():
    np.testing.assert_array_equal(one_hot([1, 3], 4), [[0, 1, 0, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(one_hot(2, 3), [0, 0, 1])
    np.testing.assert_array_equal(one_hot(np.array([0]), 1), [[1]])


def test_one_hot_empty():
    assert one_hot([], 5).shape == (0, 5)
    assert one_hot(np.zeros((2, 0), dtype=np.int64), 5).shape == (2, 0, 5)


@pytest.mark.parametrize(
    ("ids", "size", "msg"),
    [
        ([0, 3], 3, "ids must lie in [0, 3), got values from 0 to 3"),
        ([-1, 2], 3, "ids must lie in [0, 3), got values from -1 to 2"),
        ([[5, 7]], 4, "ids must lie in [0, 4), got values from 5 to 7"),
    ],
)
def test_one_hot_out_of_range(ids, size, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        one_hot(ids, size)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab1_'’ é!?.-<>\t\n\u00a0\u2028ß٣")), max_size=40) | st.text(max_size=40))
def test_word_tokenize_equals_the_regex_on_any_text(text):
    assert word_tokenize(text) == _WORD.findall(text)
