"""The command line, end to end on small data: train, evaluate, predict, and user errors."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys

import pytest

from rnnkit.cli import main

from .conftest import SMALL, make_corpus, write_csv

SMALL_FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One trained CLI bundle shared by the read-only tests below."""
    root = tmp_path_factory.mktemp("cli")
    train = write_csv(root / "train.csv", *make_corpus(240))
    test = write_csv(root / "test.csv", *make_corpus(60, seed=1))
    out = root / "model"
    assert main(["train", str(train), "--test", str(test), "--out", str(out), "--quiet", *SMALL_FLAGS]) == 0
    return root, out


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnkit.cli", *args], capture_output=True, text=True)


def test_train_writes_a_complete_bundle_with_metrics(trained):
    _, out = trained
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"validation", "test", "train_seconds", "epochs", "best_epoch", "blend", "data"}
    assert metrics["data"]["training"]["label_counts"] == {"neg": 108, "pos": 108}
    assert metrics["data"]["test"]["bytes"] > 0
    assert set(metrics["blend"]["weights"]) == {"tfidf", "nb", "rnn"}
    assert metrics["blend"]["validation_accuracy"]["blend"] == metrics["validation"]["accuracy"]
    assert 1 <= metrics["best_epoch"] <= metrics["epochs"]
    assert metrics["test"]["n"] == 60 and metrics["validation"]["n"] == 24
    assert metrics["test"]["accuracy"] >= 0.9
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(metrics["test"])
    assert metrics["epochs"] == len(json.loads((out / "history.json").read_text()))
    for name in ("confusion_matrix_test.png", "confusion_matrix_validation.png", "learning_curves.png"):
        assert (out / name).stat().st_size > 1000


def test_every_bundle_has_a_model_card_from_what_it_knows(trained):
    _, out = trained
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    metrics = json.loads((out / "metrics.json").read_text())
    assert card.startswith("# Model card: text classification (a label per text)")
    assert "bidirectional GRU, 1 layer(s) of 16 units, max pooling" in card
    assert f"- **test**: n 60, accuracy {metrics['test']['accuracy']:.4f}" in card
    assert "108 (50.0%)" in card and "train.csv`, " in card  # the file, its size and its labels
    assert "| max_length | 400 |" in card and "Texts are cut to 400 tokens" in card
    assert "PyTorch 2." in card and "Intended use and known limits" in card


def test_train_prints_per_epoch_lines_and_the_reports(tmp_path, train_csv, test_csv, capsys):
    args = ["train", str(train_csv), "--test", str(test_csv), "--out", str(tmp_path / "m"), *SMALL_FLAGS]
    assert main([*args, "--epochs=2"]) == 0
    out = capsys.readouterr().out
    assert "data: 216 training texts, 24 validation, 60 test" in out
    assert "epoch 1/2  loss" in out and "epoch 2/2  loss" in out
    assert "test (n=60)" in out and "macro avg" in out
    assert "test accuracy" in out and f"model saved to {tmp_path / 'm'}/" in out


def test_explicit_validation_file_is_used(tmp_path, train_csv, test_csv, capsys):
    out = tmp_path / "m"
    assert main(["train", str(train_csv), "--val", str(test_csv), "--out", str(out), "--quiet", *SMALL_FLAGS]) == 0
    assert json.loads((out / "metrics.json").read_text())["validation"]["n"] == 60
    printed = capsys.readouterr().out
    assert "data:" not in printed and "epoch 1/" not in printed  # --quiet: only the summary


def test_evaluate_prints_the_same_metrics_as_training_wrote(trained, capsys):
    root, out = trained
    assert main(["evaluate", str(out), str(root / "test.csv"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads((out / "metrics.json").read_text())["test"]
    assert main(["evaluate", str(out), str(root / "test.csv")]) == 0
    assert "precision  recall" in capsys.readouterr().out


def test_predict_texts_as_csv_and_json(trained, capsys):
    _, out = trained
    assert main(["predict", str(out), "a good film", "an awful plot"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [r["label"] for r in rows] == ["pos", "neg"]
    assert list(rows[0]) == ["text", "label", "prob_neg", "prob_pos"]
    assert abs(float(rows[0]["prob_neg"]) + float(rows[0]["prob_pos"]) - 1) < 1e-5
    assert main(["predict", str(out), "a good film", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["label"] == "pos" and row["prob_pos"] > 0.5


def test_predict_input_files_to_an_output_file(trained, tmp_path):
    _, out = trained
    lines = tmp_path / "texts.txt"
    lines.write_text("a great film\n\nawful and dull\n")
    target = tmp_path / "pred.json"
    assert main(["predict", str(out), "--input", str(lines), "--output", str(target)]) == 0
    assert [r["label"] for r in json.loads(target.read_text())] == ["pos", "neg"]
    jsonl = tmp_path / "texts.jsonl"
    jsonl.write_text('{"review": "so much fun"}\n{"review": "bad"}\n')
    target = tmp_path / "pred.csv"
    assert main(["predict", str(out), "--input", str(jsonl), "--text-column", "review", "--output", str(target)]) == 0
    assert [r["label"] for r in csv.DictReader(target.open())] == ["pos", "neg"]


def test_folder_per_class_data_trains(tmp_path):
    texts, labels = make_corpus(120)
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / label / f"{i}.txt").write_text(text)
    out = tmp_path / "m"
    assert main(["train", str(tmp_path / "data"), "--out", str(out), "--quiet", *SMALL_FLAGS, "--epochs=1"]) == 0
    assert json.loads((out / "labels.json").read_text()) == ["neg", "pos"]


USER_ERRORS = [
    (["train", "missing.csv"], "rnnkit: error: missing.csv: no such file or directory (dataset names: imdb)"),
    (["train", "x.csv", "--dropout", "1"], "rnnkit: error: dropout must be a number in [0, 1); got 1.0"),
    (["train", "x.csv", "--hidden-size", "-4"], "rnnkit: error: hidden_size must be an integer >= 1; got -4"),
    (
        ["train", "x.csv", "--pooling", "sum"],
        "rnnkit train: error: argument --pooling: invalid choice: 'sum' (choose from 'last', 'max', 'mean', "
        "'attention') (see --help)",
    ),
    (["evaluate", "nomodel", "x.csv"], "rnnkit: error: nomodel: no such model directory"),
    (["predict", "nomodel"], "rnnkit: error: give either texts or --input FILE, not both or neither"),
]


@pytest.mark.parametrize(("args", "line"), USER_ERRORS, ids=[" ".join(a) for a, _ in USER_ERRORS])
def test_user_errors_are_one_line_with_exit_code_2(tmp_path, args, line):
    result = subprocess.run([sys.executable, "-m", "rnnkit.cli", *args], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [line]
    assert not any(tmp_path.iterdir())  # nothing written


def test_missing_column_and_single_class_are_user_errors(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("review,label\nhello,pos\n")
    assert main(["train", str(bad), "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err == f"rnnkit: error: {bad}: no column 'text' (row 1); columns found: review, label\n"
    one = write_csv(tmp_path / "one.csv", ["a b", "c d", "e f"], ["pos", "pos", "pos"])
    assert main(["train", str(one), "--out", str(tmp_path / "m")]) == 2
    assert "only one class (pos)" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_evaluating_on_unknown_labels_names_them(trained, tmp_path, capsys):
    _, out = trained
    other = write_csv(tmp_path / "other.csv", ["good", "bad", "fine"], ["pos", "meh", "meh"])
    assert main(["evaluate", str(out), str(other)]) == 2
    assert capsys.readouterr().err == (
        f"rnnkit: error: {other} has labels the model was not trained on: meh (2); known labels: neg, pos\n"
    )


def test_a_test_file_with_unknown_labels_fails_before_training(tmp_path, train_csv, capsys):
    other = write_csv(tmp_path / "other.csv", ["good", "bad", "fine"], ["pos", "meh", "meh"])
    assert main(["train", str(train_csv), "--test", str(other), "--out", str(tmp_path / "m")]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"rnnkit: error: {other} has labels the model was not trained on: meh (2); known labels: neg, pos\n"
    )
    assert "epoch" not in captured.out and not (tmp_path / "m").exists()


def test_an_output_path_that_is_a_file_fails_before_training(tmp_path, train_csv, capsys):
    (tmp_path / "taken").write_text("x")
    assert main(["train", str(train_csv), "--out", str(tmp_path / "taken")]) == 2
    assert capsys.readouterr().err == (
        f"rnnkit: error: {tmp_path / 'taken'}: exists and is not a directory; choose another output path\n"
    )


def test_predict_into_a_directory_is_one_line_error(trained, tmp_path):
    _, out = trained
    result = run_cli("predict", str(out), "good", "--output", str(tmp_path))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("rnnkit: error: ")


def test_a_corrupt_gzip_input_is_one_line_error(trained, tmp_path, capsys):
    _, out = trained
    bad = tmp_path / "texts.txt.gz"
    bad.write_bytes(b"not gzip at all")
    assert main(["predict", str(out), "--input", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"rnnkit: error: {bad}: cannot read (")


def test_baseline_reports_linear_models_beside_the_rnn(trained, capsys):
    root, out = trained
    args = ["baseline", str(root / "train.csv"), "--test", str(root / "test.csv"), "--model", str(out)]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "train", "s", "val", "acc", "val", "F1", "test", "acc", "test", "F1"]
    assert [line.split()[0] for line in lines[1:]] == ["tfidf+logreg", "tfidf+linear-svm", "rnn"]
    assert main([*args, "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["tfidf+logreg"]["test"]["accuracy"] >= 0.9  # the cue words are easy for a linear model
    rnn = results[f"rnn ({out})"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert rnn["test"] == metrics["test"] and rnn["validation"] == metrics["validation"]  # the same split


def test_baseline_refuses_a_bad_model_before_any_work(tmp_path, train_csv, capsys):
    assert main(["baseline", str(train_csv), "--model", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err == f"rnnkit: error: {tmp_path / 'none'}: no such model directory\n"


def test_baseline_on_character_data_refuses_in_one_line(tmp_path, capsys):
    rng = random.Random(0)
    sequences = ["".join(rng.choice("ACGT") for _ in range(30)) for _ in range(40)]
    data = write_csv(tmp_path / "dna.csv", sequences, ["EI", "N"] * 20)
    assert main(["baseline", str(data)]) == 2
    assert capsys.readouterr().err == (
        "rnnkit: error: the TF-IDF baselines found no word (2+ letters) in two training texts: word baselines do "
        "not apply to this data (character sequences such as DNA?)\n"
    )
