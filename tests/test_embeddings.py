"""Pretrained word vectors: both text formats, exact then lowercased matches, freezing, bad files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from rnnkit import TextClassifier
from rnnkit.cli import main
from rnnkit.data.vectors import embedding_matrix, read_vectors
from rnnkit.errors import ConfigError, DataError
from rnnkit.text.pipeline import PAD_ID, Vocab

from .conftest import SMALL, make_corpus, write_csv

VOCAB = Vocab.build([["good", "film", "bad", "zzz"]], min_freq=1)


def _write(path, lines, header=None):
    text = "".join(f"{line}\n" for line in ([header] if header else []) + lines)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "header"), [("vectors.vec.gz", "5 3"), ("glove.txt", None)])
def test_vectors_are_found_exactly_then_lowercased_in_both_formats(tmp_path, name, header):
    lines = ["film 0.1 0.2 0.3", "Good 1 2 3", "good 4 5 6", "BAD 7 8 9", "Bad -1 -1 -1", "other 0 0 0"]
    vectors, dimension, coverage = read_vectors(_write(tmp_path / name, lines, header), VOCAB)
    assert dimension == 3
    np.testing.assert_array_equal(vectors["good"], [4, 5, 6])  # the exact match beats "Good"
    np.testing.assert_array_equal(vectors["bad"], [7, 8, 9])  # the first lowercased match wins
    np.testing.assert_allclose(vectors["film"], [0.1, 0.2, 0.3])
    assert "zzz" not in vectors
    assert (coverage.words, coverage.exact, coverage.lowercased) == (4, 2, 1)
    assert str(coverage) == "3 of 4 vocabulary words have a pretrained vector (75.0%; 1 of them found lowercased)"


def test_the_matrix_holds_the_vectors_at_their_ids_and_random_rows_of_their_scale():
    rng = np.random.default_rng(0)
    vectors = {"good": np.full(50, 0.5, dtype=np.float32), "film": np.full(50, -0.5, dtype=np.float32)}
    matrix = embedding_matrix(vectors, 50, VOCAB, rng)
    assert matrix.shape == (len(VOCAB), 50)
    np.testing.assert_array_equal(matrix[VOCAB["good"]], vectors["good"])
    np.testing.assert_array_equal(matrix[PAD_ID], 0)
    assert 0.3 < matrix[VOCAB["zzz"]].std() < 0.7  # the pretrained vectors' scale, 0.5


@pytest.mark.parametrize("freeze", [True, False])
def test_training_starts_from_the_vectors_and_freezing_keeps_them(tmp_path, freeze):
    texts, labels = make_corpus(80)
    words = ["good", "bad", "the", "film"]
    rng = np.random.default_rng(1)
    lines = [w + " " + " ".join(f"{x:.4f}" for x in rng.normal(size=12)) for w in words]
    path = _write(tmp_path / "v.txt", lines)
    clf = TextClassifier(**{**SMALL, "epochs": 2}, embeddings=str(path), freeze_embeddings=freeze).fit(texts, labels)
    assert clf.params_["embedding_dim"] == 12 and clf.embedding_dim == 16  # the file decides; params untouched
    vectors, _, _ = read_vectors(path, clf.vocab_)
    weights = clf.model_.embedding.weight.detach().numpy()
    same = [np.array_equal(weights[clf.vocab_[w]], vectors[w]) for w in words]
    assert all(same) if freeze else not any(same)


BAD_FILES = {
    "ragged": (["good 1 2 3", "film 1 2"], "v.txt, line 2: 2 numbers where earlier lines have 3"),
    "one field": (["good 1 2", "film"], "v.txt, line 2: expected a word and its numbers, got one field"),
    "not numbers": (["good 1 x 3"], "the vector of 'good' holds something that is not a number"),
    "nan": (["good 1 nan 3"], "the vector of 'good' holds NaN or infinite values"),
    "empty": ([], "v.txt: no word vectors in the file"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_broken_vector_files_are_refused_naming_the_line(tmp_path, case):
    lines, message = BAD_FILES[case]
    with pytest.raises(DataError, match=message):
        read_vectors(_write(tmp_path / "v.txt", lines), VOCAB)


def test_vectors_with_onehot_tokens_are_refused(tmp_path):
    path = _write(tmp_path / "v.txt", ["good 1 2"])
    with pytest.raises(ConfigError, match="embeddings \\(pretrained word vectors\\) need token_encoding='embedding'"):
        TextClassifier(embeddings=str(path), token_encoding="onehot").fit(["a good", "a bad"], ["p", "n"])


def test_the_cli_names_a_missing_vector_file_before_reading_data(tmp_path, capsys):
    data = write_csv(tmp_path / "d.csv", *make_corpus(20))
    code = main(["train", str(data), "--embeddings", str(tmp_path / "none.vec"), "--out", str(tmp_path / "m")])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [f"rnnkit: error: {tmp_path / 'none.vec'}: no such word-vector file"]
    assert not (tmp_path / "m").exists()


def test_a_vector_file_that_is_not_utf8_is_named_with_the_byte(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(b"good 1 2\ncaf\xe9 3 4\n")
    with pytest.raises(DataError, match=r"v.txt: not valid UTF-8 \(invalid continuation byte at byte 12\)"):
        read_vectors(path, VOCAB)
