"""The series classifier's side of ``rnnkit train | evaluate | predict``: UCR/UEA ``.ts`` files, and
wide tables (``.csv``/``.tsv``, a label and the values of one series per row)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from pathlib import Path

import numpy as np

from rnnkit.cli.run import data_files, fit_options, label_counts, prepare, reports, write_output
from rnnkit.data.ucr import LabeledSeries, read_ts
from rnnkit.data.wide import is_wide_table, read_wide
from rnnkit.errors import ConfigError, DataError
from rnnkit.series.baselines import nearest_neighbour_accuracy
from rnnkit.tasks.classification.estimator import check_known_labels
from rnnkit.tasks.classification.metrics import classification_report, format_report
from rnnkit.tasks.series_classification.estimator import SeriesClassifier, check_series
from rnnkit.train import checkpoint

SERIES_SUFFIXES = (".ts", ".ts.gz")


def is_series_file(path: str | None) -> bool:
    """A ``.ts`` file, or a table whose rows are a label and numbers (not texts)."""
    return path is not None and (str(path).lower().endswith(SERIES_SUFFIXES) or is_wide_table(path))


def train(args: argparse.Namespace, params: dict) -> int:
    classifier = SeriesClassifier(**params)
    checkpoint_dir = prepare(args, params)
    data = _read(args.data)
    series, labels = check_series(data.series, "training"), np.asarray(data.labels)
    validation_data = None
    if args.val:
        val = _read(args.val)
        validation_data = (check_series(val.series, "validation"), np.asarray(val.labels))
    test = _read(args.test) if args.test else None
    if not args.quiet:
        lengths = [len(s) for s in data.series]
        print(
            f"data: {len(series)} training series, {data.channels} channel(s), lengths {min(lengths)}-{max(lengths)}, "
            f"classes {', '.join(map(str, np.unique(labels)))}"
            + (f"; validation: {len(validation_data[0])} series from {args.val}" if args.val else "")
        )
    started = time.perf_counter()
    classifier.fit(series, labels, validation_data=validation_data, **fit_options(args, checkpoint_dir))
    if not reports():  # the other processes of a distributed run only train
        return 0
    metrics = {}
    if classifier.validation_ is not None:  # the 1-NN of each validation series reads the series it did not validate
        metrics["validation"] = classifier.validation_
    if test is not None:
        metrics["test"] = report(classifier, test.series, np.asarray(test.labels), (series, labels), str(args.test))
    metrics["train_seconds"] = round(classifier.train_seconds_, 2)
    metrics["epochs"] = len(classifier.history_)
    for split in ("validation", "test"):
        if split in metrics:
            scores = metrics[split]
            baselines = scores["baselines"]
            print(
                f"{split}: accuracy {scores['accuracy']:.4f}; network alone {baselines['network_alone']:.4f}, "
                f"1-NN Euclidean {baselines['1nn_euclidean']:.4f} (network weight {classifier.blend_:.2f})"
            )
    metrics["data"] = data_files(args, training=label_counts(labels))
    out = classifier.save(args.out, metrics)
    checkpoint.remove(checkpoint_dir)
    print(f"trained {metrics['epochs']} epochs in {time.perf_counter() - started:.0f}s\nmodel saved to {out}/")
    return 0


def report(classifier: SeriesClassifier, series: list, labels: np.ndarray, training: tuple, what: str) -> dict:
    """The classification report of ``series``, with the network's accuracy alone and the 1-NN
    Euclidean accuracy from ``training`` (scikit-learn's, the archive's reference)."""
    series = check_series(series, what)
    check_known_labels(labels, classifier.classes_, what)
    scores = classification_report(labels, classifier.predict(series), classifier.classes_)
    network = classifier.classes_[classifier.network_proba(series).argmax(axis=1)]
    scores["baselines"] = {
        "1nn_euclidean": nearest_neighbour_accuracy(*training, series, labels),
        "network_alone": float(np.mean(network == labels)),
    }
    return scores


def evaluate(args: argparse.Namespace, classifier: SeriesClassifier) -> int:
    data = _read(args.data)
    labels = np.asarray(data.labels)
    check_known_labels(labels, classifier.classes_, str(args.data))
    scores = classification_report(labels, classifier.predict(data.series), classifier.classes_)
    print(json.dumps(scores, indent=2) if args.json else format_report(str(args.data), scores))
    return 0


def predict(args: argparse.Namespace, classifier: SeriesClassifier) -> int:
    """``rnnkit predict MODEL FILE.ts``: each series' label and class probabilities, as CSV (or JSON)."""
    if args.format not in (None, "csv", "json"):
        raise ConfigError(f"--format {args.format} is not for series classifiers; they write csv or json")
    paths = [args.input] if args.input else args.texts
    if len(paths) != 1:
        raise DataError("a series classifier predicts the series of one .ts file: rnnkit predict MODEL FILE.ts")
    proba = classifier.predict_proba(_read(paths[0]).series)
    classes = [str(c) for c in classifier.classes_]
    labels = [classes[i] for i in proba.argmax(axis=1)]
    if args.format == "json" or (args.output or "").lower().endswith(".json"):
        records = [
            {"label": label, "probabilities": dict(zip(classes, row.tolist(), strict=True))}
            for label, row in zip(labels, proba, strict=True)
        ]
        return write_output(args, json.dumps(records, indent=2) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["label", *(f"p_{c}" for c in classes)])
    writer.writerows([label, *(f"{p:.6f}" for p in row)] for label, row in zip(labels, proba, strict=True))
    return write_output(args, buffer.getvalue())


def _read(path: str) -> LabeledSeries:
    if str(path).lower().endswith(SERIES_SUFFIXES):
        return read_ts(Path(path))
    if is_wide_table(path):
        return read_wide(Path(path))
    raise DataError(
        f"{path}: a series classifier reads UCR/UEA .ts files or tables of a label and numbers per row "
        "(.csv/.tsv, optionally .gz)"
    )
