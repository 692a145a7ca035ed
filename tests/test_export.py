"""ONNX export: classifiers and taggers of every shape run in onnxruntime and give rnnkit's numbers
(probabilities within 1e-5; emissions within 1e-5 and the very same decoded tags) on batches mixing
lengths 1, short, odd and longer than the model keeps; the pieces written by hand (the n-gram hashing
modulo 2**22, Viterbi) against independent references; and the command end to end."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import onnxruntime as ort

from rnnkit import SequenceTagger, TextClassifier
from rnnkit.cli import main
from rnnkit.export.check import emissions
from rnnkit.export.classifier import _ngram_buckets, classifier_graph
from rnnkit.export.graph import INT64, Graph
from rnnkit.export.inputs import classifier_inputs, tag_ids, tagger_inputs, viterbi
from rnnkit.export.tagger import tagger_graph
from rnnkit.nn.native import float32_only
from rnnkit.tasks.classification.linear import ngram_buckets

from .conftest import SMALL, make_corpus
from .tagging_corpus import SMALL_TAGGER, make_tagged
from .test_positional import DNA, motif_data


def run(graph: Graph, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    model = graph.model("test", "", {})  # onnx.checker runs here
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs), strict=True))


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(240)


@pytest.mark.parametrize(
    "options",
    [
        {},  # GRU, max pooling, the linear models blended in
        {"cell": "lstm", "pooling": "last", "linear": False, "max_length": 30},
        {"cell": "rnn", "pooling": "attention", "num_layers": 2, "linear": False},
        {"bidirectional": False, "pooling": "mean", "ngram_buckets": 50, "linear": False, "padding": "pre"},
        {"token_encoding": "onehot", "tokenizer": "char", "pooling": "last", "max_length": 60, "linear": False},
    ],
    ids=["gru-linear", "lstm-last", "rnn-attention", "unidirectional-bag", "onehot-chars"],
)
def test_classifiers_give_rnnkits_probabilities(corpus, options):
    texts, labels = corpus
    clf = TextClassifier(**{**SMALL, "epochs": 2, **options}).fit(texts, labels)
    # one token, short, odd, empty, unseen words, and longer than max_length (when it is set)
    held_out = [*texts[:5], "great", "", "zzyzx qwerty", " ".join(texts[5:60])]
    inputs = classifier_inputs(clf, held_out)
    assert inputs["lengths"].min() == 1 and ("hashes" in inputs) == clf.params_["linear"]
    got = run(classifier_graph(clf), inputs)["probabilities"]
    with float32_only():
        expected = clf.predict_proba(held_out)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert got.argmax(1).tolist() == expected.argmax(1).tolist()


def test_three_classes_with_the_linear_models(corpus):
    texts, labels = corpus
    three = [label if i % 3 else "meh" for i, label in enumerate(labels)]
    clf = TextClassifier(**{**SMALL, "epochs": 2}).fit(texts, three)
    held_out = [*texts[:7], "a"]
    with float32_only():
        expected = clf.predict_proba(held_out)
    np.testing.assert_allclose(run(classifier_graph(clf), classifier_inputs(clf, held_out))["probabilities"], expected,
                               atol=1e-5)  # fmt: skip


def test_the_positional_model_of_fixed_length_sequences_exports():
    texts, labels = motif_data(200)
    clf = TextClassifier(**DNA, epochs=1).fit(texts, labels)
    assert clf.positional_ is not None
    held_out = [*motif_data(6, seed=1)[0], "A", "ACG", motif_data(1, length=45, seed=2)[0][0]]  # shorter, longer
    with float32_only():
        expected = clf.predict_proba(held_out)
    got = run(classifier_graph(clf), classifier_inputs(clf, held_out))["probabilities"]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_ngram_buckets_modulo_2_22_equal_the_wrapping_64_bit_hash():
    rng = np.random.default_rng(0)
    lengths = np.array([5, 1, 0, 3, 2])
    hashes = rng.integers(0, 2**32, size=lengths.sum(), dtype=np.uint64)
    hashes[:3] = 2**32 - 1  # the largest hashes, where 64-bit products wrap
    padded = np.zeros((len(lengths), lengths.max()), dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    for row, (start, n) in enumerate(zip(starts, lengths, strict=True)):
        padded[row, :n] = hashes[start : start + n]
    for order in (1, 2, 3):
        g = Graph()
        buckets, valid = _ngram_buckets(g, g.input("h", INT64, ["b", "t"]), g.input("n", INT64, ["b"]), order)
        g.output(buckets, "buckets", INT64, ["b", "j"])
        g.output(g.op("Cast", valid, to=INT64), "valid", INT64, ["b", "j"])
        out = run(g, {"h": padded, "n": lengths})
        per_text, expected = ngram_buckets(hashes, lengths, order)
        assert out["valid"].sum(1).tolist() == per_text.tolist()
        assert out["buckets"][out["valid"].astype(bool)].tolist() == expected.tolist()


@pytest.mark.parametrize(
    "options",
    [
        {},  # GRU, character CNN, casing, CRF
        {"char_encoder": "lstm", "ensemble": 2},
        {"crf": False, "char_encoder": "gru", "cell": "lstm"},
        {"char_encoder": "none", "casing": False, "cell": "rnn", "num_layers": 2},
    ],
    ids=["gru-cnn-crf", "ensemble-char-lstm", "softmax-lstm", "rnn-words-only"],
)
def test_taggers_give_rnnkits_emissions_and_tags(options):
    sentences, tags = make_tagged(200)
    tagger = SequenceTagger(**{**SMALL_TAGGER, "epochs": 2, **options}).fit(sentences, tags)
    held_out = [*sentences[:6], ["Zyx"], ["Qwerty", "Berg", "in", "XYZ-9", "1996"] * 9]
    inputs = tagger_inputs(tagger, held_out)
    out = run(tagger_graph(tagger), inputs)
    expected_emissions = emissions(tagger, held_out)
    with float32_only():
        expected = tagger.predict_bioes(held_out)
    real = np.arange(inputs["words"].shape[1])[None, :] < inputs["lengths"][:, None]
    np.testing.assert_allclose(out["emissions"][real], expected_emissions[real], atol=1e-5)
    if "probabilities" in out:
        softmax = torch.softmax(torch.from_numpy(expected_emissions), 2).numpy()
        np.testing.assert_allclose(out["probabilities"][real], softmax[real], atol=1e-6)
    assert [[tagger.tag_names_[i] for i in path] for path in tag_ids(out, inputs["lengths"])] == expected


def test_viterbi_finds_the_best_path_of_all():
    rng = np.random.default_rng(1)
    tags, length = 3, 5
    emissions = rng.normal(size=(2, length, tags))
    start, transitions, end = rng.normal(size=tags), rng.normal(size=(tags, tags)), rng.normal(size=tags)

    def score(row: np.ndarray, path: tuple[int, ...]) -> float:
        moves = sum(transitions[a, b] for a, b in itertools.pairwise(path))
        return start[path[0]] + sum(row[t, y] for t, y in enumerate(path)) + moves + end[path[-1]]

    for row, n, path in zip(emissions, [5, 2], viterbi(emissions, np.array([5, 2]), start, transitions, end),
                            strict=True):  # fmt: skip
        best = max(itertools.product(range(tags), repeat=n), key=lambda p: score(row, p))
        assert tuple(path.tolist()) == best


def test_the_command_writes_the_model_and_its_files_and_checks_them(corpus, tmp_path, capsys):
    texts, labels = corpus
    TextClassifier(**{**SMALL, "epochs": 1}).fit(texts, labels).save(tmp_path / "clf")
    SequenceTagger(**{**SMALL_TAGGER, "epochs": 1}).fit(*make_tagged(100)).save(tmp_path / "ner")
    assert main(["export", str(tmp_path / "clf"), "--format", "onnx", "--out", str(tmp_path / "clf.onnx")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"wrote {tmp_path / 'clf.onnx'} (") and lines[0].endswith(
        "and beside it labels.json, preprocessing.json, vocab.json"
    )
    assert "on 9 held-out inputs of 1-437 tokens: largest difference from rnnkit" in lines[1]
    assert float(lines[1].split("rnnkit ")[1].split()[0]) < 1e-5
    assert json.loads((tmp_path / "labels.json").read_text()) == ["neg", "pos"]
    preprocessing = json.loads((tmp_path / "preprocessing.json").read_text())
    assert set(preprocessing["inputs"]) == {"ids", "lengths", "hashes", "hash_lengths"}
    out = tmp_path / "tagger"
    out.mkdir()
    assert main(["export", str(tmp_path / "ner"), "--out", str(out / "ner.onnx")]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line.endswith("in emissions; decoded tags differing: 0 of 508")
    assert sorted(p.name for p in out.iterdir()) == ["chars.json", "ner.onnx", "preprocessing.json", "tags.json",
                                                     "vocab.json"]  # fmt: skip
