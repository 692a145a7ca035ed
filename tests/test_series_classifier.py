"""The series classifier: exact lengths (padding never read, segments included), it learns a
shape-based task, the nearest neighbours and the 1-NN baseline against scikit-learn and brute force,
the blend weight by hand, cross-fitting, bundles (format 1 too), resume, and bad inputs as one-line
errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from rnnkit import load_model
from rnnkit.data.tables import stratified_folds
from rnnkit.errors import ConfigError, DataError, TrainingInterrupted
from rnnkit.series.baselines import nearest_neighbour_accuracy, resample
from rnnkit.series.neighbours import NearestNeighbours
from rnnkit.tasks.series_classification.estimator import SeriesClassifier, blend_weight
from rnnkit.tasks.series_classification.model import SeriesEnsemble, SeriesRNN, auto_segment, collate, segments

from .conftest import interrupt_training_at, write_text

SMALL = {"hidden_size": 8, "epochs": 2, "batch_size": 16}


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


def test_nearest_neighbours_answer_as_scikit_learn_with_probabilities():
    rng = np.random.default_rng(1)
    train = [rng.normal(size=(int(rng.integers(6, 12)), 2)) for _ in range(30)]
    test = [rng.normal(size=(int(rng.integers(6, 12)), 2)) for _ in range(40)]
    targets = np.arange(30) % 3
    nearest = NearestNeighbours.fit(train, targets, num_classes=4)  # class 3 has no member
    length = max(len(s) for s in train)
    reference = KNeighborsClassifier(n_neighbors=1).fit(resample(train, length), targets)
    proba = nearest.predict_proba(test)
    np.testing.assert_array_equal(proba.argmax(axis=1), reference.predict(resample(test, length)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba[:, 3] == 0).all()
    # a class's distance is that of its nearest member, by brute force
    flat_train, flat_test = resample(train, length), resample(test, length)
    brute = np.sqrt(((flat_test[:, None] - flat_train[None]) ** 2).sum(axis=2))
    np.testing.assert_allclose(nearest.class_distances(test)[:, 0], brute[:, targets == 0].min(axis=1), rtol=1e-9)
    # the scale: the median distance from a member to its nearest other member, never itself
    members = np.sqrt(((flat_train[:, None] - flat_train[None]) ** 2).sum(axis=2)) + np.diag(np.full(30, np.inf))
    assert nearest.scale == pytest.approx(np.median(members.min(axis=1)), rel=1e-9)
    logits = -nearest.class_distances(test[:1]) / nearest.scale
    np.testing.assert_allclose(proba[0], np.exp(logits[0]) / np.exp(logits[0]).sum(), rtol=1e-9)


def test_the_blend_weight_by_hand():
    # two series; the network is right about the first only, the neighbours about the second only
    network = np.array([[0.9, 0.1], [0.6, 0.4]])
    neighbours = np.array([[0.3, 0.7], [0.0, 1.0]])
    targets = np.array([0, 1])
    # w * 0.9 + (1 - w) * 0.3 > 0.5 needs w > 1/3; w * 0.4 + (1 - w) > 0.5 needs w < 5/6: both right
    # for w in 0.35, 0.40, ..., 0.80 of the grid. Of those, the log loss is lowest where
    # (0.3 + 0.6 w)(1 - 0.6 w) is highest, at w = 7/12: 0.60 of the grid (0.4224 against 0.4221 at 0.55)
    assert blend_weight(network, neighbours, targets) == pytest.approx(0.6)
    # other neighbours: every w gets the first right (0.9 w + 0.8 (1 - w)) and the second wrong
    # (0.4 w + 0.1 (1 - w) < 0.5): all 21 weights tie; (0.8 + 0.1 w)(0.1 + 0.3 w) grows with w: 1.0
    other = np.array([[0.8, 0.2], [0.9, 0.1]])
    assert blend_weight(network, other, targets) == pytest.approx(1.0)


def test_folds_deal_every_class_evenly():
    labels = np.array(["a"] * 10 + ["b"] * 7 + ["c"] * 3)
    fold = stratified_folds(labels, 5, seed=0)
    assert np.bincount(fold).tolist() == [4, 4, 4, 4, 4]
    assert np.bincount(fold[:10]).tolist() == [2, 2, 2, 2, 2]
    assert sorted(np.bincount(fold[10:17], minlength=5).tolist()) == [1, 1, 1, 2, 2]
    np.testing.assert_array_equal(fold, stratified_folds(labels, 5, seed=0))


def test_segments_put_consecutive_steps_side_by_side_and_stay_exact():
    values = np.arange(14, dtype=np.float32).reshape(7, 2)  # 7 steps, 2 channels
    cut = segments(values, 3)
    assert cut.shape == (3, 6)
    np.testing.assert_array_equal(cut[0], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(cut[2], [12, 13, 0, 0, 0, 0])  # the last segment filled with zeros
    assert segments(values, 1) is values
    assert auto_segment([150, 150, 151]) == 6 and auto_segment([24, 30]) == 1
    series, labels = shapes(40)
    model = SeriesClassifier(**SMALL, segment=4, folds=1).fit(series, labels)
    alone = np.concatenate([model.predict_proba([s]) for s in series[:6]])
    np.testing.assert_allclose(model.predict_proba(series[:6]), alone, rtol=1e-5, atol=1e-6)


def test_small_sets_are_cross_fitted_and_validated_out_of_fold():
    series, labels = shapes(50)
    model = SeriesClassifier(**SMALL).fit(series, labels)
    assert isinstance(model.model_, SeriesEnsemble) and len(model.model_.members) == 5
    assert model.validation_["n"] == 50  # every series validated once, by the network that did not train on it
    assert {r["member"] for r in model.history_} == {1, 2, 3, 4, 5}
    assert 0.0 <= model.blend_ <= 1.0 and len(model.neighbours_.memory) == 50
    held = SeriesClassifier(**SMALL, folds=1).fit(series, labels)
    assert isinstance(held.model_, SeriesRNN) and held.validation_["n"] == 10
    given = SeriesClassifier(**SMALL).fit(series[:40], labels[:40], validation_data=(series[40:], labels[40:]))
    assert isinstance(given.model_, SeriesRNN) and given.validation_["n"] == 10
    assert len(given.neighbours_.memory) == 50  # the validation series are neighbours too
    alone = SeriesClassifier(**SMALL, neighbours=False).fit(series, labels)
    assert alone.blend_ == 1.0 and alone.neighbours_ is None
    np.testing.assert_array_equal(alone.predict_proba(series[:5]), alone.network_proba(series[:5]))
    none = SeriesClassifier(**SMALL, val_fraction=0.0).fit(series, labels)
    assert isinstance(none.model_, SeriesRNN) and none.validation_ is None and none.neighbours_ is None


def test_a_version_1_bundle_loads_as_the_network_alone(tmp_path):
    series, labels = shapes(30)
    model = SeriesClassifier(**SMALL, segment=1, neighbours=False, folds=1).fit(series, labels)
    path = model.save(tmp_path / "v2")
    config = json.loads((path / "config.json").read_text())
    config["format_version"] = 1
    for key in ("segment_length", "members", "blend"):
        del config[key]
    for key in ("segment", "neighbours", "folds"):
        del config["params"][key]
    (path / "config.json").write_text(json.dumps(config))
    loaded = load_model(path)
    assert loaded.segment_ == 1 and loaded.blend_ == 1.0 and loaded.params_["folds"] == 1
    np.testing.assert_array_equal(loaded.predict_proba(series[:5]), model.predict_proba(series[:5]))


def test_an_interrupted_cross_fitted_run_resumes_to_the_same_model(monkeypatch, tmp_path):
    series, labels = shapes(40)
    params = {**SMALL, "folds": 3}
    uninterrupted = SeriesClassifier(**params).fit(series, labels)
    interrupt_training_at(monkeypatch, 6)  # in the second network: 2 batches an epoch, 2 epochs each
    with pytest.raises(TrainingInterrupted):
        SeriesClassifier(**params).fit(series, labels, checkpoint_dir=tmp_path / "ck")
    monkeypatch.undo()
    resumed = SeriesClassifier(**params).fit(series, labels, checkpoint_dir=tmp_path / "ck", resume=True)
    np.testing.assert_array_equal(resumed.predict_proba(series), uninterrupted.predict_proba(series))
    assert resumed.blend_ == uninterrupted.blend_


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


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"folds": 0}, r"^folds must be an integer >= 1 or None \(auto\); got 0$"),
        ({"segment": 0}, r"^segment must be an integer >= 1 or None \(auto\); got 0$"),
        ({"neighbours": "yes"}, r"^neighbours must be True or False; got 'yes'$"),
    ],
)
def test_bad_settings_are_one_line_errors(params, message):
    series, labels = shapes(10)
    with pytest.raises(ConfigError, match=message):
        SeriesClassifier(**params).fit(series, labels)


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


def test_leave_one_out_neighbours_skip_the_series_itself():
    rng = np.random.default_rng(2)
    train = [rng.normal(size=(10, 1)) for _ in range(12)]
    targets = np.arange(12) % 2
    nearest = NearestNeighbours.fit(train, targets, 2)
    assert np.allclose(nearest.class_distances(train)[np.arange(12), targets], 0, atol=1e-6)  # each finds itself
    left_out = nearest.class_distances(train, np.arange(12))
    flat = resample(train, 10)
    brute = np.sqrt(((flat[:, None] - flat[None]) ** 2).sum(axis=2)) + np.diag(np.full(12, np.inf))
    np.testing.assert_allclose(
        left_out[np.arange(12), targets], [brute[i, targets == targets[i]].min() for i in range(12)]
    )
