"""The series toolbox: windows against brute force, scaling fitted on training rows only, the
baselines against hand-computed values and scikit-learn's ridge, and the time series reader."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from rnnkit.data.timeseries import read_series
from rnnkit.errors import DataError
from rnnkit.series import baselines
from rnnkit.series.baselines import LinearBaseline, last_value, seasonal_naive
from rnnkit.series.scaling import Standardizer
from rnnkit.series.windows import Windows, origins

from .conftest import write_text


def test_windows_read_the_rows_before_and_from_their_origin():
    values = np.arange(40, dtype=np.float32).reshape(20, 2)  # row r holds (2r, 2r + 1)
    windows = Windows(values, origins(0, 12, 4, 3), 4, 3, targets=1)
    assert windows.origins.tolist() == list(range(4, 10))  # history exists, the future ends by row 12
    history, future = windows.batch(np.array([0, 5]))
    for b, t in enumerate((4, 9)):
        np.testing.assert_array_equal(history[b].numpy(), values[t - 4 : t])
        np.testing.assert_array_equal(future[b].numpy(), values[t : t + 3, :1])


def test_validation_windows_forecast_after_the_cut_with_history_from_before():
    cut, lookback, horizon = 50, 8, 5
    train, val = origins(0, cut, lookback, horizon), origins(cut, 70, lookback, horizon)
    assert (train + horizon <= cut).all() and train[-1] + horizon == cut  # nothing after the cut is forecast
    assert val[0] == cut and val[-1] + horizon == 70 and (val - lookback < cut).any()


def test_the_scaler_sees_only_the_rows_it_is_fitted_on():
    rng = np.random.default_rng(0)
    values = rng.normal(3.0, 2.0, size=(100, 2))
    scaler = Standardizer.fit(values[:80])
    np.testing.assert_allclose(scaler.mean, values[:80].mean(axis=0))
    np.testing.assert_allclose(scaler.scale, values[:80].std(axis=0))
    changed = values.copy()
    changed[80:] += 100  # the later rows move: the scaling does not
    np.testing.assert_array_equal(Standardizer.fit(changed[:80]).mean, scaler.mean)
    np.testing.assert_allclose(scaler.inverse(scaler.transform(values)), values, rtol=1e-5, atol=1e-5)


def test_a_constant_channel_is_centred_with_a_warning_never_divided_by_zero():
    values = np.column_stack([np.arange(10.0), np.full(10, 7.0)])
    with pytest.warns(UserWarning, match=r"constant channel\(s\) flat in the training rows"):
        scaler = Standardizer.fit(values, ["ramp", "flat"])
    assert scaler.scale[1] == 1.0
    assert np.isfinite(scaler.transform(values)).all() and (scaler.transform(values)[:, 1] == 0).all()


def test_last_value_and_seasonal_naive_by_hand():
    history = np.array([[[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]]])  # (1, 6, 1)
    np.testing.assert_array_equal(last_value(history, 3)[0, :, 0], [6, 6, 6])
    # season 4: the next steps repeat the last full season 3 4 5 6
    np.testing.assert_array_equal(seasonal_naive(history, 6, 4)[0, :, 0], [3, 4, 5, 6, 3, 4])


def test_the_linear_baseline_is_ridge_with_an_unpenalised_constant(monkeypatch):
    monkeypatch.setattr(baselines, "RIDGE_PENALTIES", (3.0,))
    rng = np.random.default_rng(1)
    values = np.cumsum(rng.normal(size=(300, 2)), axis=0).astype(np.float32)
    train = Windows(values, origins(0, 240, 10, 4), 10, 4, targets=2)
    val = Windows(values, origins(240, 300, 10, 4), 10, 4, targets=2)
    ours = LinearBaseline.fit(train, val)
    # scikit-learn: one row per (window, channel), the channel's 10 history values -> its 4 next
    x = np.moveaxis(train.history(), 2, 1).reshape(-1, 10).astype(np.float64)
    y = np.moveaxis(train.future(), 2, 1).reshape(-1, 4).astype(np.float64)
    reference = Ridge(alpha=3.0).fit(x, y)  # centres the data: the intercept is not penalised
    expected = reference.predict(np.moveaxis(val.history(), 2, 1).reshape(-1, 10).astype(np.float64))
    got = np.moveaxis(ours.predict(val.history()), 2, 1).reshape(-1, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert ours.penalty == 3.0


def test_reading_a_series_finds_the_time_column_and_orders_targets_first(tmp_path):
    path = write_text(
        tmp_path / "s.csv.gz",
        "load,date,temp\n1,2020-01-01 00:00:00,10\n2,2020-01-01 01:00:00,11\n3,2020-01-01 02:00:00,12\n",
    )
    series = read_series(path, targets=["temp"])
    assert series.time_column == "date" and series.columns == ["temp", "load"] and series.targets == 1
    np.testing.assert_array_equal(series.values, [[10, 1], [11, 2], [12, 3]])
    assert series.step == np.timedelta64(3600, "s")
    monthly = read_series(write_text(tmp_path / "m.csv", "Month,#Passengers\n1949-01,112\n1949-02,118\n1949-03,132\n"))
    assert monthly.step == np.timedelta64(1, "M") and monthly.columns == ["#Passengers"]


def test_missing_values_are_interpolated_and_reported_or_refused(tmp_path):
    path = write_text(tmp_path / "s.csv", "t,a,b\n0,1,5\n1,,6\n2,3,NA\n3,4,8\n")
    with pytest.warns(
        UserWarning, match=r"missing values filled by linear interpolation in time \(a 1, b 1; first at line 3\)"
    ):
        series = read_series(path, time_column=None)
    np.testing.assert_array_equal(series.values, [[0, 1, 5], [1, 2, 6], [2, 3, 7], [3, 4, 8]])
    with pytest.raises(DataError, match=r'^.*s\.csv, line 3, "a": a value is missing'):
        read_series(path, missing="refuse")


def test_irregular_steps_are_reported(tmp_path):
    days = "date,v\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n2020-01-05,4\n2020-01-06,5\n"
    path = write_text(tmp_path / "s.csv", days)
    with pytest.warns(UserWarning, match=r"1 irregular time step\(s\) \(the usual step is 1 days; first at line 5"):
        read_series(path)


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("date,v\n2020-01-01,1\n2020-01-02,abc\n", {}, r'line 3, "v": \'abc\' is not a number$'),
        ("date,v\n2020-01-02,1\n2020-01-01,2\n", {}, r'line 3, "date": times must increase; 2020-01-01 does not$'),
        ("date,v\nyesterday,1\n", {}, r"line 2, \"date\": 'yesterday' is not an ISO 8601 time$"),
        ("date,v\n2020-01-01,1\n", {"targets": ["w"]}, r"no value column 'w'; the value columns are v$"),
        ("date,v\n2020-01-01,1\n", {"time_column": "when"}, r"no time column 'when'; the columns are date, v$"),
        ("date,v\n2020-01-01,inf\n", {}, r"'inf' is not a finite number$"),
        ("date,v\n2020-01-01,\n2020-01-02,\n", {}, r'column "v" has no values$'),
    ],
)
def test_bad_series_files_are_one_line_errors(tmp_path, text, options, message):
    path = write_text(tmp_path / "bad.csv", text)
    with warnings.catch_warnings(), pytest.raises(DataError, match=message):
        warnings.simplefilter("ignore")
        read_series(path, **options)
