"""The forecaster's side of ``rnnkit train | evaluate | predict``."""

from __future__ import annotations

import argparse
import csv
import io
import json
import time

import numpy as np

from rnnkit.cli.run import data_files, fit_options, prepare, reports, write_output
from rnnkit.data.timeseries import TimeSeries, read_series
from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks.forecasting.estimator import Forecaster
from rnnkit.train import checkpoint


def train(args: argparse.Namespace, params: dict) -> int:
    forecaster = Forecaster(**params)
    checkpoint_dir = prepare(args, params)
    if args.val:
        raise ConfigError("a forecaster validates on the rows at the end of its training file: use --val-fraction")
    series = read_series(args.data, args.time_column, args.target, args.missing, args.encoding)
    if not args.quiet:
        targets = ", ".join(series.columns[: series.targets])
        inputs = series.columns[series.targets :]
        print(f"data: {len(series):,} rows; forecast {targets}" + (f"; inputs {', '.join(inputs)}" if inputs else ""))
    started = time.perf_counter()
    forecaster.fit(series, **fit_options(args, checkpoint_dir))
    if not reports():  # the other processes of a distributed run only train
        return 0
    metrics = {"validation": forecaster.validation_}
    figures = {"forecast_validation.png": forecaster.figure(series, "the last validation window")}
    if args.test:
        test = read_like(args, forecaster, args.test)
        metrics["test"] = forecaster.report(test)
        figures["forecast_test.png"] = forecaster.figure(test, "the last test window")
    metrics["train_seconds"] = round(forecaster.train_seconds_, 2)
    metrics["epochs"] = len(forecaster.history_)
    for split in ("validation", "test"):
        if split in metrics:
            print(f"{split} ({metrics[split]['n']:,} windows): {_headline(metrics[split])}")
    metrics["data"] = data_files(args)
    out = forecaster.save(args.out, metrics, figures)
    checkpoint.remove(checkpoint_dir)
    print(f"trained {metrics['epochs']} epochs in {time.perf_counter() - started:.0f}s\nmodel saved to {out}/")
    return 0


def _headline(report: dict) -> str:
    text = f"MSE {report['mse']:.4f}, MAE {report['mae']:.4f} (standardised)"
    for name, scores in report["baselines"].items():
        text += f"; {name.replace('_', ' ')} MSE {scores['mse']:.4f}"
    return text


def read_like(args: argparse.Namespace, forecaster: Forecaster, path: str) -> TimeSeries:
    """A file read with the columns the model was trained on."""
    targets = forecaster.columns_[: forecaster.targets_]
    return read_series(path, forecaster.time_column_, targets, args.missing, args.encoding)


def evaluate(args: argparse.Namespace, forecaster: Forecaster) -> int:
    series = read_like(args, forecaster, args.data)
    start, stop = 0, None
    if args.start or args.until:
        if series.times is None:
            raise DataError(f"{args.data}: --from/--until need a time column; the file has none")
        start = _row(series, args.start, "left") if args.start else 0
        stop = _row(series, args.until, "right") if args.until else None
    report = forecaster.report(series, start, stop)
    print(json.dumps(report, indent=2) if args.json else f"{report['n']:,} windows: {_headline(report)}")
    return 0


def _row(series: TimeSeries, text: str, side: str) -> int:
    try:
        moment = np.datetime64(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise ConfigError(f"{text!r} is not an ISO 8601 time (such as 2017-11-01 or 2017-11-01 06:00)") from None
    return int(np.searchsorted(series.times, moment, side=side))


def predict(args: argparse.Namespace, forecaster: Forecaster) -> int:
    """``rnnkit predict MODEL FILE``: the horizon after the file's last row, as CSV (or JSON)."""
    if args.format not in (None, "csv", "json"):
        raise DataError(f"--format {args.format} is not for forecasters; they write csv or json")
    paths = [args.input] if args.input else args.texts
    if len(paths) != 1:
        raise DataError("a forecaster predicts from one series file: rnnkit predict MODEL FILE")
    series = read_like(args, forecaster, paths[0])
    values = forecaster.predict(series, args.forecast_steps)
    names = forecaster.columns_[: forecaster.targets_]
    step = series.step if series.step is not None else forecaster.step_
    if series.times is not None and step is not None:
        stamps = [str(t).replace("T", " ") for t in series.times[-1] + step * np.arange(1, len(values) + 1)]
        first = series.time_column
    else:
        stamps, first = [str(len(series) + i) for i in range(len(values))], "step"
    if args.format == "json" or (args.output or "").lower().endswith(".json"):
        rows = zip(stamps, values.tolist(), strict=True)
        records = [{first: stamp, **dict(zip(names, row, strict=True))} for stamp, row in rows]
        return write_output(args, json.dumps(records, indent=2) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([first, *names])
    writer.writerows([s, *(f"{v:.6g}" for v in row)] for s, row in zip(stamps, values, strict=True))
    return write_output(args, buffer.getvalue())
