"""The series classifier: exact lengths (padding never read), it learns a shape-based task, the 1-NN
baseline against brute force, and bad inputs as one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnnkit import load_model
from rnnkit.errors import DataError
from rnnkit.series.baselines import nearest_neighbour_accuracy, resample
from rnnkit.tasks.series_classification.estimator import SeriesClassifier
from rnnkit.tasks.series_classification.model import SeriesRNN, collate

from .conftest import write_text


def shapes(n: int, seed: int = 0) -> tuple[list[np.ndarray], list[str]]:
    """Two channels, 20-60 steps: a rising or a falling ramp in channel 0 under noise."""
    rng = np.random.default_rng(seed)
    series, labels = [], []
    for i in range(n):
        length = int(rng.integers(20, 61))
        label = "up" if i % 2 else "down"
        ramp = np.linspace(-1, 1, length) * (1 if label == "up" else -1)
        series.append(np.column_stack([ramp + 0.3 * rng.normal(size=length), rng.normal(size=length)]))
        labels.append(label)
    return series, labels


def test_a_series_gets_the_same_logits_alone_and_in_a_padded_batch():
    torch.manual_seed(0)
    for pooling in ("mean", "max", "last", "attention"):
        model = SeriesRNN(2, 3, hidden_size=8, pooling=pooling).eval()
        series, _ = shapes(5)
        together = model(*collate(series, np.arange(5)))
        alone = torch.cat([model(*collate(series, np.array([i]))) for i in range(5)])
        torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)


def test_it_learns_ramps_of_any_length_and_beats_nothing_less_than_the_baseline():
    series, labels = shapes(160)
    test, test_labels = shapes(60, seed=1)
    model = SeriesClassifier(hidden_size=16, epochs=15, batch_size=16).fit(series, labels)
    accuracy = float(np.mean(model.predict(test) == np.array(test_labels)))
    assert accuracy >= 0.95
    assert model.predict_proba(test[:3]).shape == (3, 2)
    standardised = model.scaler_.transform(np.concatenate(series))
    assert abs(standardised.mean()) < 0.2  # the scaler saw the training series (some went to validation)


def test_a_bundle_predicts_the_same(tmp_path):
    series, labels = shapes(60)
    model = SeriesClassifier(hidden_size=8, epochs=2).fit(series, labels)
    loaded = load_model(model.save(tmp_path / "sc"))
    assert isinstance(loaded, SeriesClassifier) and loaded.classes_.tolist() == ["down", "up"]
    np.testing.assert_array_equal(loaded.predict_proba(series[:10]), model.predict_proba(series[:10]))
    with pytest.raises(DataError, match=r"^prediction series 0 has 1 channels; expected 2$"):
        loaded.predict([np.zeros(5)])


def test_one_nearest_neighbour_against_brute_force():
    rng = np.random.default_rng(0)
    train = [rng.normal(size=(int(rng.integers(5, 9)), 2)) for _ in range(12)]
    test = [rng.normal(size=(int(rng.integers(5, 9)), 2)) for _ in range(7)]
    train_labels, test_labels = np.array(list("abcabcabcabc")), np.array(list("abcabca"))
    length = max(len(s) for s in train)
    flat_train, flat_test = resample(train, length), resample(test, length)
    predicted = [train_labels[np.argmin(((flat_train - x) ** 2).sum(axis=1))] for x in flat_test]
    expected = float(np.mean(np.array(predicted) == test_labels))
    assert nearest_neighbour_accuracy(train, train_labels, test, test_labels) == pytest.approx(expected)
    # resampling keeps the ends and interpolates between: (0, 2) over 3 steps -> 0, 1, 2
    np.testing.assert_allclose(resample([np.array([[0.0], [2.0]])], 3), [[0.0, 1.0, 2.0]])


def test_missing_values_are_interpolated_with_a_warning():
    series, labels = shapes(40)
    series[3][5, 0] = np.nan
    with pytest.warns(
        UserWarning, match=r"^1 missing value\(s\) in the training series filled by linear interpolation$"
    ):
        SeriesClassifier(hidden_size=8, epochs=1).fit(series, labels)


@pytest.mark.parametrize(
    ("series", "labels", "message"),
    [
        ([np.zeros((5, 2)), np.zeros((5, 3))], ["a", "b"], r"^training series 1 has 3 channels; expected 2$"),
        ([np.zeros((5, 2)), np.zeros((0, 2))], ["a", "b"], r"^training series 1 has shape \(0, 2\); expected"),
        ([np.zeros(5), np.full(5, np.inf)], ["a", "b"], r"^training series 1 has an infinite value$"),
        (
            [np.zeros(5), np.zeros(5)],
            ["a"],
            r"^got 2 training series but 1 labels; there must be one label per series$",
        ),
        (
            [np.zeros(5), np.zeros(5)],
            ["a", "a"],
            r"^the training data has only one class \(a\); at least two are needed$",
        ),
        (["abc", np.zeros(5)], ["a", "b"], r"^training series 0 is not an array of numbers$"),
    ],
)
def test_bad_inputs_are_one_line_errors(series, labels, message):
    with pytest.raises(DataError, match=message):
        SeriesClassifier(epochs=1).fit(series, labels)


def _ts(path, series: list[np.ndarray], labels: list[str]):
    """A univariate-or-multivariate .ts file of the series (channels ``:``-separated) and labels."""
    classes = " ".join(sorted(set(labels)))
    head = (
        f"@problemName ramps\n@univariate false\n@dimensions {series[0].shape[1]}\n@classLabel true {classes}\n@data\n"
    )
    lines = [
        ":".join(",".join(f"{v:.5f}" for v in s[:, c]) for c in range(s.shape[1])) + f":{label}"
        for s, label in zip(series, labels, strict=True)
    ]
    return write_text(path, head + "\n".join(lines) + "\n")


def test_the_cli_trains_on_ts_files_with_the_1nn_baseline_evaluates_and_predicts(tmp_path, capsys):
    from rnnkit.cli import main

    train = _ts(tmp_path / "ramps_TRAIN.ts", *shapes(120))
    test = _ts(tmp_path / "ramps_TEST.ts.gz", *shapes(40, seed=1))
    out = tmp_path / "sc"
    flags = ["--hidden-size=16", "--epochs=10", "--batch-size=16", "--quiet"]
    assert main(["train", str(train), "--test", str(test), "--out", str(out), *flags]) == 0
    printed = capsys.readouterr().out
    assert "test: accuracy" in printed and "1-NN Euclidean" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["n"] == 40 and metrics["test"]["accuracy"] >= 0.9
    assert 0 <= metrics["validation"]["baselines"]["1nn_euclidean"] <= 1
    assert main(["evaluate", str(out), str(test), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == metrics["test"]["accuracy"]
    assert main(["predict", str(out), str(test)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "label,p_down,p_up" and len(lines) == 41
