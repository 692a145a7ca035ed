"""Explanations: completeness (the scores add up to the logit difference, the gap small and reported),
the planted cue word on top by every method, exact linear shares against the models' own scores,
the integrated-gradients baseline against the network's own forward pass, and offsets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnnkit import TextClassifier
from rnnkit.explain.attribution import integrated_gradients, linear_contributions, margin_vector
from rnnkit.explain.spans import token_offsets
from rnnkit.explain.text import explain, occlusion
from rnnkit.text.pipeline import PAD_ID

from .conftest import SMALL, make_corpus

TEXT = "the movie was this actor and that scene was great and the music"


@pytest.fixture(scope="module")
def blended():
    texts, labels = make_corpus(240)
    return TextClassifier(**SMALL).fit(texts, labels)


@pytest.fixture(scope="module")
def network_only():
    texts, labels = make_corpus(240, classes=("neg", "pos", "meh"))
    return TextClassifier(**SMALL, linear=False, ngram_buckets=1000).fit(texts, labels)


def test_the_scores_add_up_and_the_cue_word_leads(blended, network_only):
    for model in (blended, network_only):
        result = explain(model, TEXT)
        assert result["label"] == "pos" and result["method"] == "integrated_gradients"
        scores = [t["score"] for t in result["tokens"]]
        assert result["tokens"][int(np.argmax(scores))]["text"] == "great"
        total = sum(scores) + result["completeness_gap"]
        assert total == pytest.approx(result["logit_difference"], rel=1e-9)
        assert abs(result["completeness_gap"]) <= 0.01 * abs(result["logit_difference"])


def test_occlusion_agrees_on_the_cue_word(blended):
    result = occlusion(blended, TEXT)
    scores = [t["score"] for t in result["tokens"]]
    assert result["tokens"][int(np.argmax(scores))]["text"] == "great" and max(scores) > 0
    assert result["completeness_gap"] == 0.0


def test_the_baseline_is_padding_and_the_difference_the_network_s_own(network_only, monkeypatch):
    monkeypatch.setattr("rnnkit.nn.fused.fast_bfloat16", lambda: False)  # no_grad would read bfloat16 inputs
    model = network_only.model_.eval()
    ids = np.array(network_only.vocab_.encode(TEXT.split()))
    v = margin_vector(3, 2, 0)
    contributions, difference = integrated_gradients(model, ids, v, steps=256)
    with torch.no_grad():  # the network's own forward pass, without its bag, on the text and on padding

        def margin(token_ids: np.ndarray) -> float:
            x = model.embedding(torch.as_tensor(token_ids)[:, None])
            lengths = torch.tensor([len(token_ids)])
            return float(model.head(model.pooling(model.encoder(x, lengths), lengths))[0] @ v)

        expected = margin(ids) - margin(np.full_like(ids, PAD_ID))
    assert difference == pytest.approx(expected, rel=1e-4, abs=1e-5)
    assert contributions.sum() == pytest.approx(expected, rel=2e-3, abs=1e-4)  # 256 points: a small gap


def test_linear_shares_are_exact(blended):
    tokens = TEXT.split()
    classes = blended.linear_.tfidf_coef.shape[1]
    v = np.array([1.0]) if classes == 1 else np.eye(classes)[1] - np.eye(classes)[0]
    tfidf, nb, tfidf_margin, nb_margin = linear_contributions(blended.linear_, tokens, v)
    types = list(dict.fromkeys(tokens))
    flat = np.array([types.index(t) for t in tokens])
    log_p = blended.linear_.log_probas(types, flat, np.array([len(tokens)]))
    bias = [float(blended.linear_.tfidf_bias @ v), float(blended.linear_.nb_bias @ v)]
    for part, share, margin, b in zip(log_p, (tfidf, nb), (tfidf_margin, nb_margin), bias, strict=True):
        assert share.sum() == pytest.approx(margin, rel=1e-6)
        assert margin + b == pytest.approx(part[0, 1] - part[0, 0], rel=1e-5)  # the model's own score


def test_offsets_point_into_the_text_as_given():
    text = "It\u2019s <b>GREAT</b> &amp; fun!"
    tokens = ["it's", "great", "&", "fun", "!"]
    spans = token_offsets(text, tokens, lowercase=True)
    assert [text[a:b] for a, b in spans] == ["It\u2019s", "GREAT", "&", "fun", "!"]
    assert token_offsets("a &quot; b", ["a", '"', "b"], lowercase=True) == [(0, 1), (1, 1), (9, 10)]


def test_a_cut_text_keeps_offsets_and_linear_shares_beyond_the_cut(blended):
    long = " ".join(["the movie was good"] * 150)  # 600 tokens; the network reads the last 400
    result = explain(blended, long)
    assert len(result["tokens"]) == 600
    first, last = result["tokens"][0], result["tokens"][-1]
    assert (first["start"], first["end"]) == (0, 3) and long[last["start"] : last["end"]] == "good"
    total = sum(t["score"] for t in result["tokens"]) + result["completeness_gap"]
    assert total == pytest.approx(result["logit_difference"], rel=1e-9)


def test_the_cli_prints_writes_html_and_png_and_escapes(blended, tmp_path, capsys):
    from rnnkit.cli import main

    model = blended.save(tmp_path / "clf")
    text = "<script>alert(1)</script> this scene was great & fun"
    page, strip = tmp_path / "why.html", tmp_path / "why.png"
    assert main(["explain", str(model), text, "--json", "--html", str(page), "--png", str(strip)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["label"] == "pos" and {"tokens", "logit_difference", "completeness_gap"} <= set(result)
    html = page.read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html and "great</span>" in html
    assert strip.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["explain", str(model), "dull and awful", "--method", "occlusion"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("label: neg") and "occlusion" in printed
