"""Translation scores: sacreBLEU's numbers, hand-checked on small cases."""

from __future__ import annotations

import math
import re

import pytest

from rnnkit.tasks.translation.metrics import translation_scores


def test_identical_text_scores_100_and_signatures_say_how():
    refs = ["A man rides a bike.", "Two dogs play in the snow."]
    scores = translation_scores(refs, refs)
    assert scores["bleu"] == pytest.approx(100) and scores["chrf"] == pytest.approx(100)
    assert scores["n"] == 2
    signature = r"nrefs:1\|case:mixed\|eff:no\|tok:13a\|smooth:exp\|version:[\d.]+"
    assert re.fullmatch(signature, scores["signatures"]["bleu"])
    assert "case:lc" in scores["signatures"]["bleu_lowercase"]


def test_bleu_by_hand_and_case_only_matters_to_cased_bleu():
    # 13a tokens: hypothesis "the cat sat on a mat ." vs reference "the cat sat on the mat ." (7 each):
    # matches 1-grams 6/7, 2-grams 4/6, 3-grams 2/5, 4-grams 1/4; no brevity penalty.
    scores = translation_scores(["the cat sat on a mat."], ["the cat sat on the mat."])
    expected = 100 * math.exp((math.log(6 / 7) + math.log(4 / 6) + math.log(2 / 5) + math.log(1 / 4)) / 4)
    assert scores["bleu"] == pytest.approx(expected, abs=1e-9)
    shouted = translation_scores(["THE CAT SAT ON A MAT."], ["the cat sat on the mat."])
    assert shouted["bleu"] < 10  # only "." matches, the rest is smoothing
    assert shouted["bleu_lowercase"] == pytest.approx(expected, abs=1e-9)


def test_mismatched_or_empty_input_is_refused():
    with pytest.raises(ValueError, match=r"^1 hypotheses for 2 references; one each is needed$"):
        translation_scores(["a"], ["a", "b"])
    with pytest.raises(ValueError, match=r"^no sentences to score$"):
        translation_scores([], [])
