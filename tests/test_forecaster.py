"""The forecasting network's invariances, the Forecaster on a noisy seasonal series (against its
baselines), its bundle, window selection, the CLI, and bad inputs as one-line errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from rnnkit import Forecaster, load_model
from rnnkit.data.timeseries import TimeSeries
from rnnkit.errors import CheckpointError, ConfigError, DataError, TrainingInterrupted
from rnnkit.tasks.forecasting.estimator import blend_weight
from rnnkit.tasks.forecasting.model import SegmentRNN

from .conftest import interrupt_training_at

SMALL = {"lookback": 24, "horizon": 12, "segment": 6, "hidden_size": 32, "batch_size": 32, "lr": 0.005, "epochs": 12}


def seasonal(n: int = 700, seed: int = 0) -> np.ndarray:
    """Two channels: a period-12 wave with noise, and a slower wave on a level of 50."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return np.column_stack([np.sin(2 * np.pi * t / 12) + 0.1 * rng.normal(size=n), 50 + 5 * np.cos(2 * np.pi * t / 36)])


def _network(**options) -> SegmentRNN:
    torch.manual_seed(0)
    settings = {"lookback": 24, "horizon": 10, "channels": 3, "targets": 2, "hidden_size": 16, "segment": 6}
    return SegmentRNN(**{**settings, **options}).eval()


def test_each_window_is_forecast_alone_and_the_horizon_is_cut_from_whole_segments():
    model = _network()  # horizon 10 = two segments of 6, the last 2 values dropped
    history = torch.randn(5, 24, 3)
    out = model(history)
    assert out.shape == (5, 10, 2)
    torch.testing.assert_close(model(history[2:3]), out[2:3])


def test_independent_channels_do_not_read_each_other_and_joint_ones_do():
    history = torch.randn(1, 24, 3)
    changed = history.clone()
    changed[:, :12, 1] += 1.0  # not a level shift, which instance normalisation would take out
    independent, joint = _network(), _network(channel_mode="joint")
    torch.testing.assert_close(independent(changed)[..., 0], independent(history)[..., 0])
    assert not torch.allclose(independent(changed)[..., 1], independent(history)[..., 1])
    assert not torch.allclose(joint(changed)[..., 0], joint(history)[..., 0])


def test_the_highway_adds_a_linear_map_of_each_targets_own_history():
    model = _network(highway=True)
    with torch.no_grad():  # silence the recurrent part: the highway alone remains
        model.head.weight.zero_()
        model.head.bias.zero_()
    history = torch.randn(3, 24, 3)
    last = history[:, -1:, :2]
    expected = model.highway((history[..., :2] - last).transpose(1, 2)).transpose(1, 2) + last
    torch.testing.assert_close(model(history), expected)


@pytest.mark.parametrize("norm", ["last", "revin"])
def test_instance_normalisation_makes_a_level_shift_shift_the_forecast(norm):
    model = _network(instance_norm=norm, channel_mode="joint")
    history = torch.randn(2, 24, 3)
    shifted = history + torch.tensor([3.0, -2.0, 7.0])
    torch.testing.assert_close(model(shifted), model(history) + torch.tensor([3.0, -2.0]), rtol=1e-4, atol=1e-4)
    if norm == "revin":  # and scaling scales it
        torch.testing.assert_close(model(history * 4.0), model(history) * 4.0, rtol=1e-4, atol=1e-4)


def test_the_blend_weight_is_the_least_squares_one_in_zero_to_one():
    truth = np.random.default_rng(0).normal(size=(20, 4, 2))
    error = np.random.default_rng(1).normal(size=truth.shape)
    assert blend_weight(truth, truth + error, truth) == 1.0
    assert blend_weight(truth + error, truth, truth) == 0.0
    assert blend_weight(truth + error, truth - error, truth) == pytest.approx(0.5)
    assert blend_weight(truth + 2 * error, truth + error, truth) == 0.0  # the best line lies beyond: clipped
    weights = np.linspace(0, 1, 1001)  # brute force
    network, linear = truth + error, truth - 0.3 * error + 0.1
    errors = [np.mean((w * network + (1 - w) * linear - truth) ** 2) for w in weights]
    assert blend_weight(network, linear, truth) == pytest.approx(weights[int(np.argmin(errors))], abs=1e-3)


@pytest.fixture(scope="module")
def fitted():
    return Forecaster(**SMALL, season=12).fit(seasonal())


def test_it_beats_the_last_value_and_matches_the_seasonal_baseline(fitted):
    report = fitted.validation_
    assert report["n"] == 140 - 12 + 1  # the last 20% of 700 rows, whose windows fit
    base = report["baselines"]
    assert set(base) == {"last_value", "linear", "seasonal_naive", "network_alone"}
    assert report["mse"] < 0.5 * base["last_value"]["mse"]
    assert report["mse"] < 2 * base["seasonal_naive"]["mse"]
    assert {"mse", "mae", "mse_raw", "mae_raw", "n"} <= set(report) and "mape" not in report  # channel 0 goes below 0


def test_without_the_linear_blend_the_forecast_is_the_network_alone():
    alone = Forecaster(**{**SMALL, "epochs": 2}, linear=False).fit(seasonal())
    assert alone.blend_ == 1.0 and "network_alone" not in alone.validation_["baselines"]


def test_predict_forecasts_after_the_history_on_the_original_scale(fitted):
    values = seasonal()
    forecast = fitted.predict(values[:600])
    assert forecast.shape == (12, 2)
    assert np.abs(forecast[:, 1] - values[600:612, 1]).mean() < 2.0  # level 50 kept, swing of 5
    report = fitted.report(values, start=600, stop=610)
    assert report["n"] == 10  # origins 600..609
    assert fitted.evaluate(values, start=600, stop=610) == report


def test_a_bundle_forecasts_the_same(fitted, tmp_path):
    values = seasonal()
    bundle = fitted.save(tmp_path / "fc", {"validation": fitted.validation_}, {"forecast.png": b"\x89PNG"})
    loaded = load_model(bundle)
    assert isinstance(loaded, Forecaster)
    np.testing.assert_array_equal(loaded.predict(values[:500]), fitted.predict(values[:500]))
    assert loaded.report(values, start=600)["mse"] == pytest.approx(fitted.report(values, start=600)["mse"])
    assert (bundle / "forecast.png").read_bytes() == b"\x89PNG"
    assert json.loads((bundle / "config.json").read_text())["task"] == "forecast"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: Forecaster(horizon=0).fit(seasonal()), ConfigError, r"^horizon must be an integer >= 1; got 0$"),
        (
            lambda: Forecaster(lookback=25, segment=6).fit(seasonal()),
            ConfigError,
            r"^lookback 25 must be a multiple of segment 6",
        ),
        (
            lambda: Forecaster(lookback=24, segment=6, season=48).fit(seasonal()),
            ConfigError,
            r"^season 48 must be at most lookback 24",
        ),
        (
            lambda: Forecaster(lookback=96, horizon=96).fit(seasonal(150)),
            DataError,
            r"^the series has 150 rows, 120 of them for training; lookback 96 \+ horizon 96 needs at least 192",
        ),
        (
            lambda: Forecaster(**SMALL).fit([[1.0, float("nan")]] * 100),
            DataError,
            r"^the series has a missing or infinite value at row 0; fill it first$",
        ),
        (lambda: Forecaster(channel_mode="shared").fit(seasonal()), ConfigError, r"^channel_mode must be one of"),
    ],
)
def test_bad_inputs_are_one_line_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(monkeypatch, tmp_path):
    params = {**SMALL, "epochs": 3}
    values = seasonal(400)
    uninterrupted = Forecaster(**params).fit(values)
    interrupt_training_at(monkeypatch, 12)  # mid-epoch 2: 8 batches an epoch
    with pytest.raises(TrainingInterrupted):
        Forecaster(**params).fit(values, checkpoint_dir=tmp_path / "ck")
    monkeypatch.undo()
    resumed = Forecaster(**params).fit(values, checkpoint_dir=tmp_path / "ck", resume=True)
    np.testing.assert_array_equal(resumed.predict(values), uninterrupted.predict(values))
    with pytest.raises(CheckpointError):  # another series is not this run's
        Forecaster(**params).fit(values + 1.0, checkpoint_dir=tmp_path / "ck", resume=True)


def test_inputs_are_read_jointly_and_said_to_be_unread_independently():
    values = seasonal(300)
    series = TimeSeries(values, ["wave", "level"], targets=1)
    settings = {**SMALL, "epochs": 1}
    with pytest.warns(UserWarning, match=r"^the input column\(s\) level are not read: channel_mode 'independent'"):
        Forecaster(**settings).fit(series)
    joint = Forecaster(**settings, channel_mode="joint").fit(series)
    assert joint.predict(series).shape == (12, 1)


def test_a_history_of_other_columns_or_too_short_is_refused(fitted):
    with pytest.raises(DataError, match=r"^the series has 1 columns; the model was trained on 2 \(0, 1\)$"):
        fitted.predict(seasonal()[:, :1])
    with pytest.raises(DataError, match=r"^the history has 10 rows; the model reads the last 24$"):
        fitted.predict(seasonal()[:10])


def test_the_cli_trains_evaluates_from_a_time_and_predicts_with_time_stamps(tmp_path, capsys):
    from rnnkit.cli import main

    values = seasonal(600)
    times = np.datetime64("2021-01-01T00:00") + np.arange(600) * np.timedelta64(1, "h")
    data = tmp_path / "series.csv"
    with open(data, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["date", "wave", "level"])
        writer.writerows([str(t).replace("T", " "), *row] for t, row in zip(times, values, strict=True))
    out = tmp_path / "fc"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items()] + ["--epochs=3", "--season=12", "--quiet"]
    assert main(["train", str(data), "--task", "forecast", "--target", "wave", "--out", str(out), *flags]) == 0
    printed = capsys.readouterr().out
    assert "validation (109 windows): MSE" in printed and "seasonal naive MSE" in printed
    metrics = json.loads((out / "metrics.json").read_text())["validation"]
    assert {"mse", "mae", "mse_raw", "mae_raw", "n", "baselines"} <= set(metrics)
    assert (out / "forecast_validation.png").stat().st_size > 0
    assert (
        main(["evaluate", str(out), str(data), "--from", "2021-01-20 00:00", "--until", "2021-01-20 23:00", "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["n"] == 24
    assert main(["predict", str(out), str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "date,wave" and len(lines) == 13
    assert lines[1].startswith("2021-01-26 00:00")  # the hour after the last row (600 h after the start)
    assert main(["predict", str(out), str(data), "--steps", "5"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == lines[1:6]
    assert main(["predict", str(out), str(data), "--steps", "13"]) == 2
    assert capsys.readouterr().err == (
        "rnnkit: error: forecasting 13 steps (beyond the horizon of 12) feeds forecasts back as history, so every "
        "column must be a target; this model also reads level\n"
    )


def test_a_pandas_frame_is_read_by_column_names_with_its_dates():
    pd = pytest.importorskip("pandas")
    values = seasonal(300)
    index = pd.date_range("2020-01-01", periods=300, freq="h")
    frame = pd.DataFrame({"level": values[:, 1], "wave": values[:, 0]}, index=index)
    settings = {**SMALL, "epochs": 1, "channel_mode": "joint"}
    model = Forecaster(**settings).fit(frame, targets=["wave"])
    assert model.columns_ == ["wave", "level"] and model.targets_ == 1
    assert model.step_ == np.timedelta64(3600, "s")
    series = TimeSeries(values, ["wave", "level"], targets=1)
    np.testing.assert_array_equal(model.predict(frame), model.predict(series))  # by name, not position
    np.testing.assert_array_equal(model.predict(frame[["wave", "level"]]), model.predict(series))
    with pytest.raises(DataError, match=r"^no column 'x' in the frame; its columns are level, wave$"):
        Forecaster(**settings).fit(frame, targets=["x"])
    gap = frame.copy()
    gap.iloc[5, 1] = np.nan
    with pytest.raises(DataError, match=r"^column 'wave' of the frame has a missing or infinite value at row 5"):
        Forecaster(**settings).fit(gap, targets=["wave"])
    with pytest.raises(ConfigError, match=r"^targets= names columns of a DataFrame"):
        Forecaster(**settings).fit(values, targets=["0"])


def test_forecasts_beyond_the_horizon_feed_the_forecasts_back(fitted):
    values = seasonal()
    direct = fitted.predict(values[:600])
    longer = fitted.predict(values[:600], steps=30)  # 12 + 12 + 6 steps
    assert longer.shape == (30, 2) and np.array_equal(longer[:12], direct)
    # the second round is the forecast from a history whose last 12 rows are the first round's
    fed = np.concatenate([values[:600], direct])
    np.testing.assert_allclose(longer[12:24], fitted.predict(fed), rtol=1e-5, atol=1e-6)
    assert np.abs(longer[:, 1] - values[600:630, 1]).mean() < 2.0  # still on the level of 50
    assert np.array_equal(fitted.predict(values[:600], steps=5), direct[:5])
    with pytest.raises(ConfigError, match=r"^steps must be an integer >= 1; got 0$"):
        fitted.predict(values[:600], steps=0)
    series = TimeSeries(seasonal(300), ["wave", "level"], targets=1)
    joint = Forecaster(**{**SMALL, "epochs": 1}, channel_mode="joint").fit(series)
    assert joint.predict(series, steps=7).shape == (7, 1)
    message = r"^forecasting 13 steps \(beyond the horizon of 12\) feeds forecasts back as history, so every column"
    with pytest.raises(ConfigError, match=message + r" must be a target; this model also reads level$"):
        joint.predict(series, steps=13)
