"""The language model: truncated backpropagation through time against one pass over the whole
text, learning and sampling, bundles, the CLI, and every bad input's one-line error."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from rnnkit import LanguageModel, SequenceTagger, load_model
from rnnkit.cli import main
from rnnkit.errors import ConfigError, DataError, TrainingInterrupted
from rnnkit.tasks.language_model.estimator import held_out
from rnnkit.tasks.language_model.model import RNNLanguageModel, TextStream
from rnnkit.tasks.language_model.tokens import join, split

from .conftest import interrupt_training_at
from .tagging_corpus import SMALL_TAGGER, make_tagged

PATTERN = "the cat sat on the mat.\nthe dog sat on the log.\n" * 40
SMALL = {"hidden_size": 32, "embedding_dim": 16, "batch_size": 4, "steps": 20, "epochs": 12, "lr": 0.01}


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_windows_with_the_state_carried_compute_the_whole_text_at_once(cell, monkeypatch):
    monkeypatch.setattr("rnnkit.nn.fused.fast_bfloat16", lambda: False)  # training and scoring alike in float32
    torch.manual_seed(0)
    model = RNNLanguageModel(10, cell=cell, embedding_dim=6, hidden_size=8, dropout=0.0).eval()
    ids = np.random.default_rng(0).integers(4, 10, size=2 * 31 + 1)
    stream = TextStream(ids, batch_size=2, steps=7)  # windows of 7, 7, 7, 7, 2 over rows of 31
    assert stream.lengths.tolist() == [7, 7, 7, 7, 2]
    rows = torch.from_numpy(ids[:62].reshape(2, 31))
    with torch.no_grad():
        logits, _ = model(rows[:, :-1].t())
    whole = torch.nn.functional.cross_entropy(logits.flatten(0, 1), rows[:, 1:].t().flatten()).item()
    assert stream.evaluate(model)["loss"] == pytest.approx(whole, abs=1e-5)
    total = sum(stream.loss(model, np.array([k]))[0].item() for k in range(len(stream.windows)))
    assert total / 60 == pytest.approx(whole, abs=1e-5)


def test_word_tokens_keep_line_breaks_and_join_with_single_spaces():
    tokens = split("ROMEO:\nO Juliet, hi!", "word")
    assert tokens == ["ROMEO", ":", "\n", "O", "Juliet", ",", "hi", "!"]
    assert join(tokens, "word") == "ROMEO :\nO Juliet , hi !"
    assert join(split("a\n\nb", "char"), "char") == "a\n\nb"


@pytest.fixture(scope="module")
def fitted():
    return LanguageModel(**SMALL).fit(PATTERN)


def test_it_learns_the_text_and_continues_it(fitted):
    assert fitted.history_[-1]["val_loss"] < 0.5
    report = fitted.report(PATTERN[:200])
    assert report["n"] == 199 and report["bits_per_char"] == pytest.approx(report["loss"] / math.log(2))
    assert report["perplexity"] == pytest.approx(math.exp(report["loss"]))
    text = fitted.generate("the dog sat on the", length=6, temperature=0)
    assert text == "the dog sat on the log.\n"


def test_sampling_is_seeded_and_top_1_is_the_likeliest(fitted):
    a = fitted.generate("the", length=60, temperature=1.5, seed=3)
    assert a == fitted.generate("the", length=60, temperature=1.5, seed=3)
    assert a != fitted.generate("the", length=60, temperature=1.5, seed=4)
    assert fitted.generate("the", 30, temperature=1.0, top_k=1, seed=5) == fitted.generate("the", 30, temperature=0)
    assert len(a) == 3 + 60 and set(a) <= set(PATTERN)


def test_a_bundle_scores_and_samples_the_same(fitted, tmp_path):
    loaded = load_model(fitted.save(tmp_path / "lm"))
    assert isinstance(loaded, LanguageModel)
    assert loaded.report(PATTERN[:300]) == fitted.report(PATTERN[:300])
    assert loaded.generate("the", 40, seed=1) == fitted.generate("the", 40, seed=1)


def test_tied_weights_store_the_matrix_once_and_load(tmp_path):
    lm = LanguageModel(**{**SMALL, "epochs": 1, "tie_weights": True}).fit(PATTERN)
    names = set(lm.model_.state_dict())
    assert "head.weight" not in names and {"embedding.weight", "project.weight", "output_bias"} <= names
    loaded = load_model(lm.save(tmp_path / "lm"))
    assert loaded.report(PATTERN[:100]) == lm.report(PATTERN[:100])


def test_words_learn_and_generate_whole_tokens():
    lm = LanguageModel(**{**SMALL, "tokenizer": "word", "steps": 8, "epochs": 30}).fit(PATTERN)
    assert "bits_per_char" not in lm.report(PATTERN[:200])
    assert lm.generate("the dog sat on the", length=2, temperature=0) == "the dog sat on the log ."


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda lm: LanguageModel().fit("   \n "), DataError, r"^the training text is empty$"),
        (lambda lm: LanguageModel().fit(["a", 3]), DataError, r"^the training text must be a string or a list"),
        (lambda lm: LanguageModel(steps=1).fit("abc"), ConfigError, r"^steps must be an integer >= 2; got 1$"),
        (lambda lm: lm.generate("XYZ"), DataError, r"^the prompt 'XYZ' has no token the model knows$"),
        (lambda lm: lm.generate("the", temperature=-1), ConfigError, r"^temperature must be a number >= 0"),
        (lambda lm: lm.generate("the", length=-2), ConfigError, r"^length must be an integer >= 0; got -2$"),
        (lambda lm: lm.generate("the", top_k=0), ConfigError, r"^top_k must be an integer >= 1 or None; got 0$"),
        (lambda lm: lm.report("a"), DataError, r"^the text has 1 tokens; at least 2 are needed"),
    ],
)
def test_bad_inputs_are_one_line_errors(fitted, call, error, message):
    with pytest.raises(error, match=message):
        call(fitted)


def test_an_interrupted_run_resumes_to_the_same_model(tmp_path, monkeypatch):
    params = {**SMALL, "epochs": 3}
    uninterrupted = LanguageModel(**params).fit(PATTERN)
    windows = len(TextStream(np.zeros(round(len(PATTERN) * 0.9)), 4, 20).windows)
    interrupt_training_at(monkeypatch, windows)  # an epoch starts from a zero state: the resume is exact
    with pytest.raises(TrainingInterrupted):
        LanguageModel(**params).fit(PATTERN, checkpoint_dir=tmp_path / "ck")
    monkeypatch.undo()
    resumed = LanguageModel(**params).fit(PATTERN, checkpoint_dir=tmp_path / "ck", resume=True)
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in m.history_] for m in (resumed, uninterrupted)]
    assert strip[0] == strip[1]


def test_the_cli_trains_evaluates_and_generates(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(PATTERN, encoding="utf-8")
    out = tmp_path / "lm"
    flags = ["--hidden-size=32", "--embedding-dim=16", "--batch-size=4", "--steps=20", "--epochs=3", "--lr=0.01"]
    assert main(["train", str(corpus), "--task", "lm", "--out", str(out), "--quiet", *flags]) == 0
    assert "sample (temperature 0.8):" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"loss", "perplexity", "bits_per_char", "n"} <= set(metrics["validation"])
    assert main(["evaluate", str(out), str(corpus), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == len(PATTERN) - 1
    assert main(["generate", str(out), "--prompt", "the cat", "--length", "20", "--seed", "1"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("the cat") and len(first) == len("the cat") + 20 + 1
    assert main(["generate", str(out), "--prompt", "the cat", "--length", "20", "--seed", "1"]) == 0
    assert capsys.readouterr().out == first
    assert main(["predict", str(out), "the", "a dog", "--length", "5", "--seed", "0", "--format", "json"]) == 0
    assert [r["prompt"] for r in json.loads(capsys.readouterr().out)] == ["the", "a dog"]


def test_generate_with_another_kind_of_model_is_one_line(tmp_path, capsys):
    SequenceTagger(**{**SMALL_TAGGER, "epochs": 1}).fit(*make_tagged(40)).save(tmp_path / "tagger")
    assert main(["generate", str(tmp_path / "tagger"), "--prompt", "x"]) == 2
    needs = "generate needs a language model (rnnkit train --task lm); this is a SequenceTagger"
    assert capsys.readouterr().err == f"rnnkit: error: {tmp_path / 'tagger'}: {needs}\n"


def test_tiny_temperatures_take_the_likeliest_without_overflow(fitted):
    assert fitted.generate("the", 20, temperature=1e-40, seed=0) == fitted.generate("the", 20, temperature=0)


def test_the_held_out_part_starts_at_a_line_and_may_be_blank():
    assert held_out("ab\ncd\nef", 0.5) == ("ab\ncd\n", "ef")
    assert held_out("one two three", 0.3) == ("one two ", "three")
    lm = LanguageModel(**{**SMALL, "epochs": 1}).fit(PATTERN, validation_data="\n\n\n")
    assert lm.report("\n\n")["n"] == 1
    with pytest.raises(DataError, match=r"^no held-out text to validate on: give --val, or a larger val_fraction$"):
        LanguageModel(val_fraction=0.0).fit("abc def")


def test_an_empty_prompt_starts_at_the_commonest_token_in_a_text_without_line_breaks():
    lm = LanguageModel(**{**SMALL, "epochs": 1}).fit("abcab " * 100)
    assert len(lm.generate("", length=7, seed=0)) == 7
