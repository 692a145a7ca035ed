"""ETTh1 long-horizon forecasting: rnnkit's Forecaster against its baselines on the same windows.

The standard protocol (Informer, DLinear, SegRNN): all 7 channels, lookback 96, the first 12 months
for training and the next 4 for validation (``ett/ETTh1_train_val.csv.gz`` holds these 16 months;
the 4 test months after them are held out of this repository, so the figures here are validation
figures: the published ones are on the test months, which are easier). MSE and MAE on the scale
standardised with the training months' statistics. Every horizon trains its own model with the
Forecaster's defaults; the baselines (last value, seasonal naive over a day, ridge from lookback to
horizon) are fitted and scored on the same windows in the same run.

    .venv/bin/python bench/forecast.py [--horizons 96 192 336 720] [--option name=value ...]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from rnnkit import Forecaster
from rnnkit.data.timeseries import read_series

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ett" / "ETTh1_train_val.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--horizons", type=int, nargs="+", default=[96, 192, 336, 720])
    parser.add_argument("--option", action="append", default=[], help="a Forecaster parameter, name=json-value")
    args = parser.parse_args()
    options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.option)}
    series = read_series(DATA)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"ETTh1, {len(series)} rows, 7 channels, lookback 96, validation = months 13-16; options {options or 'none'}")
    columns = (("horizon", 8), ("rnnkit MSE", 12), ("MAE", 8), ("linear MSE", 12), ("MAE", 8), ("last MSE", 10))
    print("".join(f"{name:>{width}}" for name, width in (*columns, ("seasonal", 10), ("s", 7))))
    for horizon in args.horizons:
        started = time.perf_counter()
        model = Forecaster(horizon=horizon, val_fraction=0.25, season=24, **options).fit(series)
        seconds = time.perf_counter() - started
        report, base = model.validation_, model.validation_["baselines"]
        print(
            f"{horizon:>8}{report['mse']:>12.4f}{report['mae']:>8.4f}{base['linear']['mse']:>12.4f}"
            f"{base['linear']['mae']:>8.4f}{base['last_value']['mse']:>10.4f}{base['seasonal_naive']['mse']:>10.4f}"
            f"{seconds:>7.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
