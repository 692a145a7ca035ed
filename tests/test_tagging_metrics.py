"""Entity scores against seqeval (strict IOB2, the CoNLL definition) and by hand; accuracy and reports."""

from __future__ import annotations

import random
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

from rnnkit.tasks.tagging.metrics import (
    entity_scores,
    format_tagging_report,
    per_tag_accuracy,
    tagging_report,
    token_accuracy,
)
from rnnkit.tasks.tagging.schemes import from_bioes


def random_bioes(rng: random.Random, length: int, types: tuple[str, ...] = ("PER", "LOC", "ORG")) -> list[str]:
    """A well-formed BIOES sentence of ``length`` tags: O runs and chunks of 1-3 tokens."""
    tags: list[str] = []
    while len(tags) < length:
        size = min(rng.randint(1, 3), length - len(tags))
        if rng.random() < 0.4:
            tags += ["O"] * size
            continue
        kind = rng.choice(types)
        tags += [f"S-{kind}"] if size == 1 else [f"B-{kind}"] + [f"I-{kind}"] * (size - 2) + [f"E-{kind}"]
    return tags


def predicted(rng: random.Random, gold: list[str]) -> list[str]:
    """Predictions near the gold: often exact, else a fresh sentence (other spans and types)."""
    return list(gold) if rng.random() < 0.5 else random_bioes(rng, len(gold))


def assert_matches_seqeval(gold: list[list[str]], pred: list[list[str]]) -> None:
    ours = entity_scores(gold, pred)
    gold2 = [from_bioes(tags, "iob2") for tags in gold]
    pred2 = [from_bioes(tags, "iob2") for tags in pred]
    options = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval's macro average warns when there are no entities
        report = classification_report(gold2, pred2, output_dict=True, **options)
        assert ours["precision"] == pytest.approx(precision_score(gold2, pred2, **options))
        assert ours["recall"] == pytest.approx(recall_score(gold2, pred2, **options))
        assert ours["f1"] == pytest.approx(f1_score(gold2, pred2, **options))
    theirs = {kind: row for kind, row in report.items() if not kind.endswith(" avg")}
    assert list(ours["per_type"]) == sorted(theirs)
    for kind, row in theirs.items():
        expected = {"precision": row["precision"], "recall": row["recall"], "f1": row["f1-score"]}
        row_ours = dict(ours["per_type"][kind])
        assert row_ours.pop("support") == row["support"]
        assert row_ours == pytest.approx(expected)


def test_entity_scores_match_seqeval_on_random_corpora() -> None:
    rng = random.Random(0)
    for _ in range(200):
        gold = [random_bioes(rng, rng.randint(0, 12)) for _ in range(rng.randint(1, 6))]
        assert_matches_seqeval(gold, [predicted(rng, tags) for tags in gold])


@settings(max_examples=50, deadline=None)
@given(st.randoms(use_true_random=False), st.lists(st.integers(0, 10), min_size=1, max_size=5))
def test_entity_scores_match_seqeval_hypothesis(rng: random.Random, lengths: list[int]) -> None:
    gold = [random_bioes(rng, n, ("A", "B")) for n in lengths]
    assert_matches_seqeval(gold, [predicted(rng, tags) for tags in gold])


def test_entity_scores_by_hand() -> None:
    gold = [["B-PER", "E-PER", "O", "S-LOC", "S-LOC"], ["S-MISC"]]
    pred = [["B-PER", "E-PER", "O", "S-LOC", "O"], ["O"]]
    scores = entity_scores(gold, pred)
    # 2 of 2 predictions right, 2 of 4 gold entities found.
    assert (scores["precision"], scores["recall"]) == (1.0, 0.5)
    assert scores["f1"] == pytest.approx(2 / 3)
    assert scores["per_type"] == {
        "LOC": {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2},
        "MISC": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
        "PER": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
    }


def test_span_and_type_must_both_match() -> None:
    gold = [["B-PER", "E-PER", "O", "S-LOC"]]
    pred = [["S-PER", "O", "O", "S-ORG"]]  # PER span too short, LOC span with the wrong type
    scores = entity_scores(gold, pred)
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.0, 0.0, 0.0)
    assert scores["per_type"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_no_predicted_or_no_entities_give_zero_not_nan() -> None:
    scores = entity_scores([["S-PER", "O"]], [["O", "O"]])
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.0, 0.0, 0.0)
    assert scores["per_type"] == {"PER": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}}
    assert entity_scores([["O"]], [["O"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "per_type": {}}
    assert entity_scores([], []) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "per_type": {}}


def test_ill_formed_predictions_are_read_like_conlleval() -> None:
    scores = entity_scores([["B-PER", "E-PER"]], [["I-PER", "E-PER"]])
    assert scores["f1"] == 1.0


@pytest.mark.parametrize("metric", [entity_scores, token_accuracy, per_tag_accuracy])
def test_mismatched_lengths_are_value_errors(metric) -> None:
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted ones"):
        metric([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match="sentence 1 has 2 gold tags but 1 predicted ones"):
        metric([["O"], ["O", "O"]], [["O"], ["O"]])


def test_token_and_per_tag_accuracy() -> None:
    gold = [["DET", "NOUN", "VERB"], ["NOUN", "NOUN"]]
    pred = [["DET", "VERB", "VERB"], ["NOUN", "DET"]]
    assert token_accuracy(gold, pred) == 3 / 5
    assert per_tag_accuracy(gold, pred) == {
        "DET": {"accuracy": 1.0, "support": 1},
        "NOUN": {"accuracy": 1 / 3, "support": 3},
        "VERB": {"accuracy": 1.0, "support": 1},
    }
    assert token_accuracy([], []) == 0.0
    assert per_tag_accuracy([], []) == {}


def test_tagging_report_and_table_for_entities() -> None:
    gold = [["B-PER", "E-PER", "O", "S-LOC"]]
    pred = [["B-PER", "E-PER", "O", "O"]]
    report = tagging_report(gold, pred, "iobes")
    assert report == {
        "f1": pytest.approx(2 / 3),
        "precision": 1.0,
        "recall": 0.5,
        "token_accuracy": 0.75,
        "per_type": entity_scores(gold, pred)["per_type"],
        "n": 1,
    }
    assert format_tagging_report("dev", report).splitlines() == [
        "dev (n=1 sentences)",
        "           precision  recall      f1  support",
        "LOC           0.0000  0.0000  0.0000        1",
        "PER           1.0000  1.0000  1.0000        1",
        "micro avg     1.0000  0.5000  0.6667        2",
        "token accuracy 0.7500",
    ]


def test_tagging_report_and_table_for_plain_tags() -> None:
    tags = [f"T{i:02d}" for i in range(12)]
    gold = [[tag] * (i + 1) for i, tag in enumerate(tags)]  # T11 most frequent, T00 least
    pred = [list(sentence) for sentence in gold]
    pred[11][0] = "T00"
    report = tagging_report(gold, pred, "plain")
    assert set(report) == {"token_accuracy", "per_tag", "n"}
    assert report["n"] == 12 and report["token_accuracy"] == 77 / 78
    lines = format_tagging_report("test", report).splitlines()
    assert lines[1] == "tag        accuracy  support  (10 most frequent of 12 tags)"
    assert lines[2] == "T11          0.9167       12"
    assert [line.split()[0] for line in lines[2:12]] == tags[:1:-1]  # T11 .. T02; T01 and T00 left out
    assert lines[-1] == "token accuracy 0.9872"
