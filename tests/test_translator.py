"""The Translator estimator on a toy language pair: it learns, beam search and greedy agree where
they must, bundles translate the same, and bad inputs are one-line errors."""

from __future__ import annotations

import json
import random

import pytest

from rnnkit import Translator, load_model
from rnnkit.errors import BundleError, ConfigError, DataError
from rnnkit.text.subwords import SubwordTokenizer

SMALL = {"hidden_size": 48, "embedding_dim": 32, "vocab_size": 300, "epochs": 14, "lr": 0.005, "dropout": 0.1}


def toy_pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """A word-for-word code between two small vocabularies, word order kept."""
    code = dict(
        zip(
            "cat dog sun hat red big run eat old new sea sky".split(),
            "KO HU MI TA RE BO NU SE LI PA WO ZE".split(),
            strict=True,
        )
    )
    rng = random.Random(seed)
    sources = [" ".join(rng.choice(list(code)) for _ in range(rng.randint(2, 6))) for _ in range(n)]
    return sources, [" ".join(code[w] for w in s.split()) for s in sources]


@pytest.fixture(scope="module")
def fitted():
    return Translator(**SMALL).fit(*toy_pairs(1200))


def test_it_learns_the_code_and_reports_sacrebleu(fitted):
    sources, targets = toy_pairs(60, seed=1)
    report = fitted.report(sources, targets)
    assert report["bleu"] > 60 and report["n"] == 60 and len(report["hypotheses"]) == 60
    assert report["signatures"]["bleu"].startswith("nrefs:1")
    assert fitted.history_[-1]["val_bleu"] > 50


def test_greedy_and_beams_agree_with_themselves_in_any_batch(fitted):
    sources, _ = toy_pairs(20, seed=2)
    five = fitted.translate(sources)
    assert [fitted.translate([s])[0] for s in sources[:8]] == five[:8]
    assert fitted.translate(sources, beam=1) == [fitted.translate([s], beam=1)[0] for s in sources]
    assert fitted.translate(["", sources[0]]) == ["", five[0]]


def test_a_bundle_translates_the_same(fitted, tmp_path):
    sources, _ = toy_pairs(20, seed=3)
    bundle = fitted.save(tmp_path / "mt")
    assert json.loads((bundle / "config.json").read_text())["task"] == "translation"
    loaded = load_model(bundle)
    assert isinstance(loaded, Translator) and loaded.translate(sources) == fitted.translate(sources)
    (bundle / "target.model").write_bytes(b"not a model")
    with pytest.raises(BundleError, match=r"target.model: not a SentencePiece model"):
        load_model(bundle)


def test_one_vocabulary_for_both_sides_and_unigram_subwords(tmp_path):
    sources, targets = toy_pairs(200)
    settings = {**SMALL, "epochs": 1, "shared_vocab": True, "subword_model": "unigram"}
    translator = Translator(**settings).fit(sources, targets, validation_data=toy_pairs(20, seed=1))
    expected = SubwordTokenizer.train(sources + targets, SMALL["vocab_size"], "unigram").to_bytes()
    assert translator.source_tokenizer_.to_bytes() == translator.target_tokenizer_.to_bytes() == expected
    loaded = load_model(translator.save(tmp_path / "mt"))
    assert loaded.params_["shared_vocab"] and loaded.translate(sources[:5]) == translator.translate(sources[:5])


def test_a_bundle_of_format_1_loads_with_the_settings_it_was_made_with(tmp_path):
    sources, targets = toy_pairs(200)
    translator = Translator(**{**SMALL, "epochs": 1}, input_feeding=True).fit(sources, targets)
    bundle = translator.save(tmp_path / "mt")
    config = json.loads((bundle / "config.json").read_text())
    for name in ("input_feeding", "subword_model", "shared_vocab"):
        del config["params"][name]
    (bundle / "config.json").write_text(json.dumps({**config, "format_version": 1}))
    loaded = load_model(bundle)
    assert {k: loaded.params_[k] for k in ("input_feeding", "subword_model", "shared_vocab")} == {
        "input_feeding": True,
        "subword_model": "bpe",
        "shared_vocab": False,
    }
    assert loaded.translate(sources[:5]) == translator.translate(sources[:5])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: Translator().fit(["a b"], ["x", "y"]), DataError, r"^1 training sentences but 2 translations"),
        (
            lambda: Translator().fit(["a", " "], ["x", "y"]),
            DataError,
            r"^training pair 1: the sentence to translate is empty$",
        ),
        (lambda: Translator().fit("a b", "x y"), DataError, r"must be lists of strings, not one string$"),
        (
            lambda: Translator(vocab_size=5000).fit(*toy_pairs(50)),
            ConfigError,
            r"^the source sentences cannot give 5000 subwords: ",
        ),
        (lambda: Translator(beam=0).fit(*toy_pairs(50)), ConfigError, r"^beam must be an integer >= 1; got 0$"),
        (
            lambda: Translator(attention="luong").fit(*toy_pairs(50)),
            ConfigError,
            r"^attention must be one of bahdanau, general, dot",
        ),
        (
            lambda: Translator(subword_model="wordpiece").fit(*toy_pairs(50)),
            ConfigError,
            r"^subword_model must be one of bpe, unigram; got 'wordpiece'$",
        ),
        (
            lambda: Translator(shared_vocab="yes").fit(*toy_pairs(50)),
            ConfigError,
            r"^shared_vocab must be True or False; got 'yes'$",
        ),
    ],
)
def test_bad_inputs_are_one_line_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_cli_trains_on_aligned_files_evaluates_and_translates(tmp_path, capsys):
    from rnnkit.cli import main

    sources, targets = toy_pairs(600)
    (tmp_path / "train.src").write_text("\n".join(sources) + "\n", encoding="utf-8")
    (tmp_path / "train.tgt").write_text("\n".join(targets) + "\n", encoding="utf-8")
    (tmp_path / "short.tgt").write_text("\n".join(targets[:10]) + "\n", encoding="utf-8")
    out = tmp_path / "mt"
    flags = ["--hidden-size=48", "--embedding-dim=32", "--vocab-size=300", "--epochs=2", "--lr=0.005", "--quiet"]
    pairs = ["--source", str(tmp_path / "train.src"), "--target", str(tmp_path / "train.tgt")]
    assert main(["train", *pairs, "--out", str(out), *flags]) == 0
    assert "BLEU" in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["task"] == "translation"
    assert {"bleu", "chrf", "bleu_lowercase", "n"} <= set(json.loads((out / "metrics.json").read_text())["validation"])
    hypotheses = tmp_path / "hyp.txt"
    assert main(["evaluate", str(out), *pairs, "--json", "--output", str(hypotheses), "--beam", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 600
    assert len(hypotheses.read_text(encoding="utf-8").splitlines()) == 600
    assert main(["predict", str(out), "cat dog", "sun", "--beam", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    bad = ["--source", str(tmp_path / "train.src"), "--target", str(tmp_path / "short.tgt")]
    assert main(["evaluate", str(out), *bad]) == 2
    assert "has 600 lines but" in capsys.readouterr().err
