"""``rnnkit train | evaluate | predict`` with a tagger: CoNLL, CoNLL-U and JSONL data end to end."""

from __future__ import annotations

import gzip
import json

import pytest

from rnnkit import SequenceTagger, load_model
from rnnkit.cli import main

from .tagging_corpus import make_tagged, to_iob1, write_conll

FLAGS = [
    *["--hidden-size=24", "--embedding-dim=16", "--char-size=16", "--epochs=8", "--batch-size=16", "--lr=0.01"],
    "--ensemble=1",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("tagging")
    train, test = make_tagged(300), make_tagged(60, seed=1)
    write_conll(root / "train.conll", train[0], [to_iob1(t) for t in train[1]], docstart=True)
    with gzip.open(root / "test.conll.gz", "wt", encoding="utf-8") as f:
        f.write((write_conll(root / "plain.conll", test[0], [to_iob1(t) for t in test[1]])).read_text())
    out = root / "model"
    args = ["train", str(root / "train.conll"), "--test", str(root / "test.conll.gz"), "--out", str(out), "--quiet"]
    assert main([*args, *FLAGS]) == 0
    return root, out


def test_training_on_conll_infers_the_task_and_records_the_reports(trained, capsys):
    root, out = trained
    assert isinstance(load_model(out), SequenceTagger)
    metrics = json.loads((out / "metrics.json").read_text())
    for split in ("validation", "test"):
        assert {"f1", "precision", "recall", "token_accuracy", "per_type", "n"} <= set(metrics[split])
        assert set(metrics[split]["per_type"]) == {"LOC", "ORG", "PER"}
    assert metrics["test"]["n"] == 60 and metrics["test"]["f1"] > 0.9
    assert json.loads((out / "config.json").read_text())["scheme"] == "iob1"
    assert main(["evaluate", str(out), str(root / "test.conll.gz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == metrics["test"]


def test_the_default_ensemble_records_each_member_and_evaluates_as_one(tmp_path, capsys):
    train, test = make_tagged(120), make_tagged(30, seed=1)
    write_conll(tmp_path / "train.conll", *train)
    write_conll(tmp_path / "test.conll", *test)
    out = tmp_path / "m"
    assert main(["train", str(tmp_path / "train.conll"), "--out", str(out), "--quiet", *FLAGS[:3], "--epochs=2"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert "best_epoch" not in metrics and metrics["epochs"] == 4
    assert [m["epochs"] for m in metrics["members"]] == [2, 2]
    assert all(m["kept_epoch"] in (1, 2) for m in metrics["members"])
    history = json.loads((out / "history.json").read_text())
    assert [(r["member"], r["epoch"]) for r in history] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    capsys.readouterr()
    assert main(["evaluate", str(out), str(tmp_path / "test.conll"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 30


def test_predict_prints_tokens_with_tags_and_the_entities_with_offsets(trained, capsys):
    _, out = trained
    assert main(["predict", str(out), "Yesterday Tom met Eliza in Paris."]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Yesterday/O Tom/I-PER met/O Eliza/I-PER in/O Paris/I-LOC ./O")  # IOB1, as trained
    assert [line.split("\t")[:3] for line in lines[1:]] == [
        ["  Tom", "PER", "10-13"],
        ["  Eliza", "PER", "18-23"],
        ["  Paris", "LOC", "27-32"],
    ]


def test_predict_reads_conll_tokens_and_writes_conll_or_json(trained, tmp_path, capsys):
    root, out = trained
    assert main(["predict", str(out), "--input", str(root / "test.conll.gz"), "--format", "conll"]) == 0
    blocks = capsys.readouterr().out.strip("\n").split("\n\n")
    assert len(blocks) == 60 and all(len(line.split("\t")) == 2 for line in blocks[0].splitlines())
    target = tmp_path / "tags.json"
    assert main(["predict", str(out), "Tom met Eliza.", "--output", str(target)]) == 0
    (record,) = json.loads(target.read_text())
    assert record["tokens"] == ["Tom", "met", "Eliza", "."] and len(record["tags"]) == 4
    assert [e["text"] for e in record["entities"]] == ["Tom", "Eliza"]


def test_conllu_parts_of_speech_train_with_a_validation_file(tmp_path, capsys):
    def conllu(sentences):
        lines = []
        for tokens in sentences:
            lines.append("# text = " + " ".join(tokens))
            for i, token in enumerate(tokens, 1):
                upos = "PROPN" if token[0].isupper() else "PUNCT" if token == "." else "VERB"
                lines.append(f"{i}\t{token}\t{token.lower()}\t{upos}\t_\t_\t0\troot\t_\t_")
            lines.append("")
        return "\n".join(lines) + "\n"

    (tmp_path / "train.conllu").write_text(conllu(make_tagged(200)[0]))
    (tmp_path / "dev.conllu").write_text(conllu(make_tagged(40, seed=2)[0]))
    out = tmp_path / "pos"
    args = ["train", str(tmp_path / "train.conllu"), "--val", str(tmp_path / "dev.conllu"), "--out", str(out)]
    assert main([*args, "--quiet", *FLAGS]) == 0
    metrics = json.loads((out / "metrics.json").read_text())["validation"]
    assert set(metrics) == {"token_accuracy", "per_tag", "n"} and metrics["token_accuracy"] > 0.95
    assert "token accuracy" in capsys.readouterr().out


def test_jsonl_tagged_data_needs_the_task_named(tmp_path):
    sentences, tags = make_tagged(120)
    lines = [json.dumps({"tokens": s, "tags": t}) for s, t in zip(sentences, tags, strict=True)]
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "m"
    args = ["train", str(tmp_path / "train.jsonl"), "--task", "tagging", "--out", str(out), "--quiet"]
    assert main([*args, *FLAGS]) == 0
    assert json.loads((out / "config.json").read_text())["task"] == "tagging"


def test_a_run_with_docstart_lines_and_repairs_warns_in_one_line(tmp_path, capsys):
    sentences, tags = make_tagged(80)
    tags[0] = ["I-" + t[2:] if t.startswith("B-") else t for t in tags[0]]  # IOB2 with an ill-formed start
    write_conll(tmp_path / "train.conll", sentences, tags)
    out = tmp_path / "m"
    assert main(["train", str(tmp_path / "train.conll"), "--out", str(out), "--quiet", *FLAGS[:3], "--epochs=1"]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "ill-formed tags in the training data" in warning[0]
