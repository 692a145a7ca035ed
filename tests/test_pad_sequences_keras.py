"""``pad_sequences`` against Keras' own tests, then what Keras leaves untested.

The first part ports ``PadSequencesTest`` of ``keras/src/utils/sequence_utils_test.py`` (Keras 3),
expected values unchanged; ``assertAllClose``/``assertAllEqual`` become their numpy equivalents.
One deliberate difference: our default ``dtype`` is ``int64`` (Keras: ``int32``), so the message
for a string ``value`` under the default dtype names ``int64``; the Keras message is checked with
an explicit ``dtype="int32"``.
"""

import re

import numpy as np
import pytest

from rnnkit.errors import ConfigError, DataError
from rnnkit.text.pipeline import pad_sequences

# -- ported from Keras -----------------------------------------------------------------------------


def test_pad_sequences():
    a = [[1], [1, 2], [1, 2, 3]]

    # test padding
    b = pad_sequences(a, maxlen=3, padding="pre")
    np.testing.assert_allclose(b, [[0, 0, 1], [0, 1, 2], [1, 2, 3]])
    b = pad_sequences(a, maxlen=3, padding="post")
    np.testing.assert_allclose(b, [[1, 0, 0], [1, 2, 0], [1, 2, 3]])

    # test truncating
    b = pad_sequences(a, maxlen=2, truncating="pre")
    np.testing.assert_allclose(b, [[0, 1], [1, 2], [2, 3]])
    b = pad_sequences(a, maxlen=2, truncating="post")
    np.testing.assert_allclose(b, [[0, 1], [1, 2], [1, 2]])

    # test value
    b = pad_sequences(a, maxlen=3, value=1)
    np.testing.assert_allclose(b, [[1, 1, 1], [1, 1, 2], [1, 2, 3]])


def test_pad_sequences_float():
    a = [[1.2], [1.2, 2.3], [1.2, 2.3, 3.4]]

    # test padding
    b = pad_sequences(a, maxlen=3, padding="pre", dtype="float32")
    np.testing.assert_allclose(b, [[0, 0, 1.2], [0, 1.2, 2.3], [1.2, 2.3, 3.4]], rtol=1e-6)
    b = pad_sequences(a, maxlen=3, padding="post", dtype="float32")
    np.testing.assert_allclose(b, [[1.2, 0, 0], [1.2, 2.3, 0], [1.2, 2.3, 3.4]], rtol=1e-6)

    # test truncating
    b = pad_sequences(a, maxlen=2, truncating="pre", dtype="float32")
    np.testing.assert_allclose(b, [[0, 1.2], [1.2, 2.3], [2.3, 3.4]], rtol=1e-6)
    b = pad_sequences(a, maxlen=2, truncating="post", dtype="float32")
    np.testing.assert_allclose(b, [[0, 1.2], [1.2, 2.3], [1.2, 2.3]], rtol=1e-6)

    # test value
    b = pad_sequences(a, maxlen=3, value=1, dtype="float32")
    np.testing.assert_allclose(b, [[1, 1, 1.2], [1, 1.2, 2.3], [1.2, 2.3, 3.4]], rtol=1e-6)


def test_pad_sequences_str():
    a = [["1"], ["1", "2"], ["1", "2", "3"]]

    # test padding
    b = pad_sequences(a, maxlen=3, padding="pre", value="pad", dtype=object)
    np.testing.assert_array_equal(b, [["pad", "pad", "1"], ["pad", "1", "2"], ["1", "2", "3"]])
    b = pad_sequences(a, maxlen=3, padding="post", value="pad", dtype="<U3")
    np.testing.assert_array_equal(b, [["1", "pad", "pad"], ["1", "2", "pad"], ["1", "2", "3"]])

    # test truncating
    b = pad_sequences(a, maxlen=2, truncating="pre", value="pad", dtype=object)
    np.testing.assert_array_equal(b, [["pad", "1"], ["1", "2"], ["2", "3"]])
    b = pad_sequences(a, maxlen=2, truncating="post", value="pad", dtype="<U3")
    np.testing.assert_array_equal(b, [["pad", "1"], ["1", "2"], ["1", "2"]])

    with pytest.raises(ValueError, match="`dtype` int32 is not compatible with "):
        pad_sequences(a, maxlen=2, truncating="post", value="pad", dtype="int32")
    # Keras' call as written (default dtype): ours is int64
    with pytest.raises(ValueError, match="`dtype` int64 is not compatible with "):
        pad_sequences(a, maxlen=2, truncating="post", value="pad")


def test_pad_sequences_vector():
    a = [[[1, 1]], [[2, 1], [2, 2]], [[3, 1], [3, 2], [3, 3]]]

    # test padding
    b = pad_sequences(a, maxlen=3, padding="pre")
    np.testing.assert_allclose(
        b,
        [
            [[0, 0], [0, 0], [1, 1]],
            [[0, 0], [2, 1], [2, 2]],
            [[3, 1], [3, 2], [3, 3]],
        ],
    )
    b = pad_sequences(a, maxlen=3, padding="post")
    np.testing.assert_allclose(
        b,
        [
            [[1, 1], [0, 0], [0, 0]],
            [[2, 1], [2, 2], [0, 0]],
            [[3, 1], [3, 2], [3, 3]],
        ],
    )

    # test truncating
    b = pad_sequences(a, maxlen=2, truncating="pre")
    np.testing.assert_allclose(b, [[[0, 0], [1, 1]], [[2, 1], [2, 2]], [[3, 2], [3, 3]]])

    b = pad_sequences(a, maxlen=2, truncating="post")
    np.testing.assert_allclose(b, [[[0, 0], [1, 1]], [[2, 1], [2, 2]], [[3, 1], [3, 2]]])

    # test value
    b = pad_sequences(a, maxlen=3, value=1)
    np.testing.assert_allclose(
        b,
        [
            [[1, 1], [1, 1], [1, 1]],
            [[1, 1], [2, 1], [2, 2]],
            [[3, 1], [3, 2], [3, 3]],
        ],
    )


# -- beyond Keras' tests ---------------------------------------------------------------------------


def test_dtype_is_the_output_dtype():
    assert pad_sequences([[1, 2], [3]]).dtype == np.int64
    assert pad_sequences([[1, 2], [3]], dtype="int32").dtype == np.int32
    assert pad_sequences([[1, 2], [3]], dtype=np.float32, value=0.5).tolist() == [[1, 2], [0.5, 3]]
    assert pad_sequences([[1.7]], dtype="int64").tolist() == [[1]]  # items are cast as numpy (and Keras) cast


def test_dtype_is_the_third_argument_as_in_keras():
    assert pad_sequences([[1], [2, 3]], 2, "float32", "post").tolist() == [[1.0, 0.0], [2.0, 3.0]]


def test_vectors_of_higher_rank_and_arrays():
    seqs = [np.ones((3, 2, 2)), np.zeros((1, 2, 2)), np.empty((0, 2, 2))]
    out = pad_sequences(seqs, dtype="float32", value=-1, padding="post")
    assert out.shape == (3, 3, 2, 2)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0], np.ones((3, 2, 2)))
    np.testing.assert_array_equal(out[1, 0], np.zeros((2, 2)))
    np.testing.assert_array_equal(out[1, 1:], np.full((2, 2, 2), -1))
    np.testing.assert_array_equal(out[2], np.full((3, 2, 2), -1))


def test_vectors_with_empty_sequences_and_maxlen_zero():
    seqs = [[], [[1, 2]], []]
    np.testing.assert_array_equal(pad_sequences(seqs), [[[0, 0]], [[1, 2]], [[0, 0]]])
    assert pad_sequences(seqs, maxlen=0).shape == (3, 0, 2)
    assert pad_sequences([[], []], maxlen=2).shape == (2, 2)
    assert pad_sequences([], dtype="float32").dtype == np.float32


def test_strings_with_plain_str_dtype_fit_the_longest():
    out = pad_sequences([["a", "bbbb"], ["cc"]], dtype=str, value="-")
    assert out.dtype == np.dtype("<U4")
    np.testing.assert_array_equal(out, [["a", "bbbb"], ["-", "cc"]])
    out = pad_sequences([["a"]], maxlen=2, dtype=str, value="<pad>")
    np.testing.assert_array_equal(out, [["<pad>", "a"]])


@pytest.mark.parametrize(
    ("seqs", "msg"),
    [
        (
            [[[1, 1]], [[1, 2, 3]]],
            "sequence 1 has items of shape (3,), which is different from the expected shape (2,) of sequence 0; "
            "every item of every sequence must have one shape",
        ),
        (
            [[], [[1, 1]], [1, 2]],
            "sequence 2 has items of shape (), which is different from the expected shape (2,) of sequence 1; "
            "every item of every sequence must have one shape",
        ),
        ([[1], 5], "sequence 1 is not a sequence but 5; pass a list of lists or arrays"),
        (
            [["a"]],
            "sequence 0 cannot be stored as int64 (invalid literal for int() with base 10: 'a'); "
            "choose a dtype that holds its items",
        ),
    ],
)
def test_bad_sequences(seqs, msg):
    with pytest.raises(DataError, match=f"^{re.escape(msg)}$"):
        pad_sequences(seqs)


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        (
            {"value": "pad"},
            "`dtype` int64 is not compatible with `value`'s type: <class 'str'>; "
            "use `dtype=object` or a string dtype (str, '<U5') for strings",
        ),
        (
            {"value": "pad", "dtype": "float32"},
            "`dtype` float32 is not compatible with `value`'s type: <class 'str'>; "
            "use `dtype=object` or a string dtype (str, '<U5') for strings",
        ),
        ({"value": 1.5}, "`value` 1.5 does not fit `dtype` int64; pick a value it holds or another dtype"),
        (
            {"value": -1, "dtype": "uint8"},
            "`value` -1 does not fit `dtype` uint8; pick a value it holds or another dtype",
        ),
        (
            {"value": 300, "dtype": "int8"},
            "`value` 300 does not fit `dtype` int8; pick a value it holds or another dtype",
        ),
        ({"value": float("nan")}, "`value` nan does not fit `dtype` int64; pick a value it holds or another dtype"),
        ({"value": None}, "`value` None does not fit `dtype` int64; pick a value it holds or another dtype"),
        ({"value": "padding", "dtype": "<U3"}, "`value` 'padding' is longer than the 3 characters of `dtype` <U3"),
        ({"dtype": "nope"}, "dtype 'nope' is not a numpy dtype; try 'int64', 'float32' or object"),
        ({"maxlen": -1}, "maxlen must be None or an integer >= 0, got -1"),
        ({"maxlen": 2.0}, "maxlen must be None or an integer >= 0, got 2.0"),
    ],
)
def test_bad_options(kwargs, msg):
    with pytest.raises(ConfigError, match=f"^{re.escape(msg)}$"):
        pad_sequences([[1], [2, 3]], **kwargs)


def test_values_that_fit_are_kept():
    assert pad_sequences([[1]], maxlen=2, value=0.0).tolist() == [[0, 1]]  # Keras' default value
    assert pad_sequences([[1]], maxlen=2, dtype="uint8", value=255).tolist() == [[255, 1]]
    assert np.isnan(pad_sequences([[1]], maxlen=2, dtype="float32", value=float("nan"))[0, 0])
    assert pad_sequences([[True]], maxlen=2, dtype=bool, value=False).tolist() == [[False, True]]
    assert pad_sequences([["a"]], maxlen=2, dtype=object, value=None).tolist() == [[None, "a"]]
