"""The sequence tagger: encoding, exact lengths, CRF marginals, the estimator and its bundle."""

from __future__ import annotations

import itertools
import json
import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone

from rnnkit import SequenceTagger, load_model
from rnnkit.errors import ConfigError, DataError, TrainingInterrupted
from rnnkit.nn.chars import char_encoder
from rnnkit.tasks.tagging.encode import CASINGS, casing, collate, encode, normalize
from rnnkit.tasks.tagging.estimator import TagRepairWarning
from rnnkit.tasks.tagging.model import RNNTagger
from rnnkit.text.pipeline import Vocab

from .conftest import interrupt_training_at
from .tagging_corpus import SMALL_TAGGER, make_tagged, to_iob1

TAGS = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        *[("paris", "lower"), ("NATO", "upper"), ("Paris", "title"), ("McDonald", "mixed"), ("iPhone", "mixed")],
        *[("1996", "digits"), ("3rd", "has_digit"), ("1,000", "has_digit"), (".", "other"), ("--", "other")],
    ],
)
def test_casing_kinds(token, kind):
    assert CASINGS[casing(token)] == kind


def test_word_keys_lowercase_and_zero_digits():
    assert normalize("Paris1996", lowercase=True) == "paris0000"
    assert normalize("Paris1996", lowercase=False) == "Paris0000"


def test_a_batch_spells_each_distinct_form_once_and_pads_with_nothing_real():
    sentences = [["Tom", "met", "Tom"], ["tom", "."]]
    vocab = Vocab.build([[normalize(t, True) for t in s] for s in sentences])
    chars = Vocab.build(list(t) for s in sentences for t in s)
    batch = collate(encode(sentences, vocab, chars, True), np.array([0, 1]))
    assert batch.words.shape == (3, 2) and batch.lengths.tolist() == [3, 2]
    assert batch.words[2, 1] == 0 and batch.casing[2, 1] == 0  # padding
    assert batch.chars.shape[0] == 4  # Tom, met, tom, .
    rows = [batch.chars[batch.form_index[t, b]] for b in (0, 1) for t in range(len(sentences[b]))]
    spelled = ["".join(chars.decode(row[row > 0].tolist())) for row in rows]
    assert spelled == ["Tom", "met", "Tom", "tom", "."]
    assert batch.words[0, 0] == batch.words[0, 1]  # "Tom" and "tom" share a word vector
    assert [CASINGS[int(c)] for c in batch.casing[:, 0]] == ["title", "lower", "title"]


@pytest.mark.parametrize("kind", ["cnn", "lstm", "gru"])
def test_character_encoders_read_real_characters_only(kind):
    torch.manual_seed(0)
    encoder = char_encoder(kind, num_chars=12, char_dim=5, size=8).eval()
    word = torch.tensor([[5, 6, 7]])
    batch = torch.tensor([[5, 6, 7, 0, 0, 0], [4, 5, 6, 7, 8, 9]])
    alone = encoder(word, torch.tensor([3]))
    together = encoder(batch, torch.tensor([3, 6]))
    torch.testing.assert_close(together[0], alone[0], rtol=1e-5, atol=1e-6)


def _tagger(cell: str, crf: bool, words: int = 30, chars: int = 20) -> RNNTagger:
    torch.manual_seed(1)
    sizes = {"hidden_size": 8, "embedding_dim": 6, "char_dim": 4, "char_size": 6}
    return RNNTagger(words, chars, TAGS, cell=cell, crf=crf, **sizes).eval()


@pytest.mark.parametrize(("cell", "crf"), [("lstm", True), ("gru", True), ("lstm", False)])
def test_padding_never_changes_a_sentences_tags_or_scores(cell, crf):
    sentences = [["Tom", "in", "Paris"], ["Yesterday", "Eliza", "met", "Tom", "in", "Oslo", "."]]
    vocab = Vocab.build([[t.lower() for t in s] for s in sentences])
    chars = Vocab.build(list(t) for s in sentences for t in s)
    data = encode(sentences, vocab, chars, True)
    model = _tagger(cell, crf, len(vocab), len(chars))
    with torch.no_grad():
        alone = collate(data, np.array([0]))
        together = collate(data, np.array([1, 0]))
        e_alone, e_together = model(alone), model(together)
        torch.testing.assert_close(e_together[:3, 1], e_alone[:, 0], rtol=1e-5, atol=1e-6)
        best_alone = model.decode(e_alone, alone.lengths)[:, 0]
        assert torch.equal(model.decode(e_together, together.lengths)[:3, 1], best_alone)
        p_alone = model.tag_probabilities(e_alone, alone.lengths)
        p_together = model.tag_probabilities(e_together, together.lengths)
        torch.testing.assert_close(p_together[:3, 1], p_alone[:, 0], rtol=1e-5, atol=1e-6)


def test_tag_probabilities_are_the_crf_marginals_by_enumeration():
    torch.manual_seed(2)
    model = _tagger("lstm", crf=True)
    crf = model.crf
    emissions = torch.randn(3, 1, len(TAGS), dtype=torch.float64)
    crf.double()
    marginals = model.tag_probabilities(emissions, torch.tensor([3]))[:, 0]
    expected = torch.zeros(3, len(TAGS), dtype=torch.float64)
    for path in itertools.product(range(len(TAGS)), repeat=3):
        tags = torch.tensor(path)[:, None]
        weight = torch.exp(-crf.nll(emissions, tags, torch.tensor([3])))[0]
        expected[torch.arange(3), torch.tensor(path)] += weight
    torch.testing.assert_close(marginals, expected, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(marginals.sum(1), torch.ones(3, dtype=torch.float64))


# -- the estimator ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus():
    return make_tagged(300), make_tagged(60, seed=1)


@pytest.fixture(scope="module")
def fitted(corpus):
    (tokens, tags), _ = corpus
    return SequenceTagger(**SMALL_TAGGER).fit(tokens, tags)


def test_the_tagger_learns_names_it_never_saw(fitted, corpus):
    _, (tokens, tags) = corpus
    assert fitted.scheme_ == "iob2"
    assert fitted.history_[-1]["val_f1"] > 0.9
    assert fitted.score(tokens, tags) > 0.9
    unseen = [["yesterday", "Ingrid", "met", "Zorn", "in", "Paris", "."]]
    assert fitted.predict(unseen)[0][1] in ("B-PER", "I-PER")


def test_predictions_come_back_in_the_scheme_of_the_training_data(corpus):
    (tokens, tags), (test_tokens, test_tags) = corpus
    tagger = SequenceTagger(**SMALL_TAGGER).fit(tokens, [to_iob1(t) for t in tags])
    assert tagger.scheme_ == "iob1"
    predicted = tagger.predict(test_tokens)
    assert predicted == [to_iob1(p) for p in tagger.predict(test_tokens)]  # already IOB1
    assert tagger.score(test_tokens, [to_iob1(t) for t in test_tags]) > 0.9


def test_entities_of_raw_text_have_character_offsets_and_scores(fitted):
    text = "Yesterday Tom met Eliza in Paris."
    (found,) = fitted.predict_entities([text])
    assert [(e["text"], e["label"]) for e in found] == [("Tom", "PER"), ("Eliza", "PER"), ("Paris", "LOC")]
    for entity in found:
        assert text[entity["start"] : entity["end"]] == entity["text"]
        assert 0 < entity["score"] <= 1
    assert fitted.predict_entities([""]) == [[]]


def test_ill_formed_tags_are_repaired_and_counted_in_a_warning(corpus):
    (tokens, tags), _ = corpus
    broken = [list(t) for t in tags]
    broken[0][broken[0].index(next(t for t in broken[0] if t.startswith("B-")))] = (
        "I-" + next(t for t in broken[0] if t.startswith("B-"))[2:]
    )
    with pytest.warns(TagRepairWarning, match=r"^1 ill-formed tags in the training data"):
        SequenceTagger(**{**SMALL_TAGGER, "epochs": 1}).fit(tokens[:100], broken[:100])


def test_plain_tags_train_on_token_accuracy_and_report_per_tag(corpus):
    (tokens, _), (test_tokens, _) = corpus

    def kinds(sentence):
        return ["NAME" if t[0].isupper() else "PUNCT" if t == "." else "WORD" for t in sentence]

    tagger = SequenceTagger(**SMALL_TAGGER).fit(tokens, [kinds(s) for s in tokens])
    assert tagger.scheme_ == "plain" and "val_f1" not in tagger.history_[0]
    report = tagger.report(test_tokens, [kinds(s) for s in test_tokens])
    assert set(report) == {"token_accuracy", "per_tag", "n"} and report["token_accuracy"] > 0.95
    with pytest.raises(ConfigError, match="monitor='f1' needs entity tags"):
        SequenceTagger(**{**SMALL_TAGGER, "monitor": "f1"}).fit(tokens, [kinds(s) for s in tokens])
    with pytest.raises(ConfigError, match="plain"):
        tagger.predict_entities(["Tom went home."])


def test_softmax_instead_of_crf_also_learns(corpus):
    (tokens, tags), (test_tokens, test_tags) = corpus
    tagger = SequenceTagger(**{**SMALL_TAGGER, "crf": False, "char_encoder": "gru"}).fit(tokens, tags)
    assert tagger.model_.crf is None and tagger.score(test_tokens, test_tags) > 0.85


def test_save_and_load_give_the_same_tags_and_the_task_is_recorded(fitted, corpus, tmp_path):
    _, (tokens, _) = corpus
    path = fitted.save(tmp_path / "tagger")
    config = json.loads((path / "config.json").read_text())
    assert (config["task"], config["format"], config["scheme"]) == ("tagging", "rnnkit-sequence-tagger", "iob2")
    loaded = load_model(path)
    assert isinstance(loaded, SequenceTagger)
    assert loaded.predict(tokens) == fitted.predict(tokens)
    assert loaded.predict_entities(["Tom met Eliza."]) == fitted.predict_entities(["Tom met Eliza."])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: (p / "tags.json").write_text('["O", "B-PER"]'), "tags.json: expected the 13 tags of a tagger"),
        (lambda p: (p / "chars.json").unlink(), "incomplete model directory, missing chars.json"),
        (lambda p: _config(p, scheme="bilou"), "config.json: scheme must be one of"),
        (lambda p: _config(p, num_chars=3), "chars.json has"),
        (lambda p: _config(p, params={"cell": "lstm"}), "params do not match this rnnkit"),
    ],
)
def test_broken_tagger_bundles_are_refused_with_a_clear_message(fitted, tmp_path, edit, message):
    from rnnkit.errors import BundleError

    path = fitted.save(tmp_path / "tagger")
    edit(path)
    with pytest.raises(BundleError, match=re.escape(message)):
        load_model(path)


def _config(path, **changes):
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, **changes}))


def test_clone_keeps_the_parameters_and_nothing_learned(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "model_")


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        ("Tom met Eliza", [["O"]], "expected a list of sentences"),
        ([], [], "no training data"),
        ([["Tom", "met"]], [["B-PER"]], "training sentence 0 has 2 tokens but 1 tags"),
        ([["Tom", ""]], [["B-PER", "O"]], "training sentence 0: every token must be a non-blank string"),
        ([[]], [[]], "training sentence 0 has no tokens"),
        ([["Tom"]], [["B-PER"], ["O"]], "training data has 1 sentences but 2 tag lists"),
    ],
)
def test_bad_training_data_is_refused_in_one_line(X, y, message):
    with pytest.raises(DataError, match=re.escape(message)):
        SequenceTagger(**SMALL_TAGGER).fit(X, y)


def test_validation_tags_unknown_to_training_are_named(corpus):
    (tokens, tags), _ = corpus
    with pytest.raises(DataError, match=r"the validation data has tags the training data lacks: .*MISC"):
        SequenceTagger(**SMALL_TAGGER).fit(tokens, tags, validation_data=([["Euro"]], [["B-MISC"]]))


def test_an_interrupted_tagger_resumes_to_the_same_model(corpus, tmp_path, monkeypatch):
    (tokens, tags), (test_tokens, _) = corpus
    params = {**SMALL_TAGGER, "epochs": 2}
    uninterrupted = SequenceTagger(**params).fit(tokens, tags)
    interrupt_training_at(monkeypatch, 5)
    with pytest.raises(TrainingInterrupted):
        SequenceTagger(**params).fit(tokens, tags, checkpoint_dir=tmp_path / "ck")
    monkeypatch.undo()
    resumed = SequenceTagger(**params).fit(tokens, tags, checkpoint_dir=tmp_path / "ck", resume=True)
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in m.history_] for m in (resumed, uninterrupted)]
    assert strip[0] == strip[1]
    assert resumed.predict(test_tokens) == uninterrupted.predict(test_tokens)


def test_pretrained_vectors_initialise_the_word_embeddings(corpus, tmp_path):
    (tokens, tags), _ = corpus
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("paris 1 2 3 4\nTom 5 6 7 8\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tagger = SequenceTagger(**{**SMALL_TAGGER, "epochs": 1, "embeddings": str(vectors), "lr": 1e-9})
        tagger.fit(tokens, tags)
    assert tagger.params_["embedding_dim"] == 4
    weights = tagger.model_.embedding.weight.detach()
    torch.testing.assert_close(weights[tagger.vocab_["paris"]], torch.tensor([1.0, 2, 3, 4]), rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(weights[tagger.vocab_["tom"]], torch.tensor([5.0, 6, 7, 8]), rtol=1e-3, atol=1e-3)
