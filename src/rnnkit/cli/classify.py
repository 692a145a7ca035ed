"""The classifier's side of ``rnnkit train | evaluate | predict | baseline``."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

import rnnkit.data.tables as datasets
from rnnkit.cli.run import data_files, fit_options, label_counts, prepare, reports, write_output
from rnnkit.errors import ConfigError, RnnkitError
from rnnkit.tasks import load_model
from rnnkit.tasks.classification.baseline import run_baselines
from rnnkit.tasks.classification.estimator import (
    TextClassifier,
    check_classes,
    check_embeddings_file,
    check_known_labels,
    holdout,
)
from rnnkit.tasks.classification.metrics import classification_report, format_report
from rnnkit.tasks.params import validate_params
from rnnkit.train import checkpoint
from rnnkit.train.loop import validation_score


def load_split(args: argparse.Namespace, source: str, split: str = "train") -> datasets.LabeledTexts:
    return datasets.load(
        source,
        split=split,
        text_column=args.text_column,
        label_column=args.label_column,
        encoding=args.encoding,
        strict=args.strict,
    )


def evaluate_on(clf: TextClassifier, data: datasets.LabeledTexts) -> dict:
    """Metrics of ``clf`` on labelled data; labels compare as text, as they are read from files."""
    classes = [str(c) for c in clf.classes_]
    check_known_labels(np.asarray(data.labels), np.asarray(classes), data.source)
    predicted = [str(label) for label in clf.predict(data.texts)]
    return classification_report(data.labels, predicted, classes)


def load_splits(args: argparse.Namespace, val_fraction: float, seed: int) -> tuple:
    """(training texts, training labels, validation data, test data or None) as train sees them.

    Validation is ``--val`` or a stratified split of the training data; the test data is ``--test``
    or, for a dataset name, its test split. Labels of both must be known to training: checked
    here, before any training, not after hours of it.
    """
    train = load_split(args, args.data)
    named = args.data in datasets.NAMED_DATASETS and not Path(args.data).exists()
    test_source = args.test or (args.data if named else None)
    test = load_split(args, test_source, "test") if test_source else None
    texts, labels = train.texts, np.asarray(train.labels)
    if args.val:
        val = load_split(args, args.val)
    else:
        texts, labels, val_texts, val_labels = holdout(texts, labels, val_fraction, seed)
        val = datasets.LabeledTexts(val_texts, val_labels.tolist(), "the validation split")
    classes = check_classes(labels)
    for other in (val, test):
        if other is None:
            continue
        check_known_labels(np.asarray(other.labels), classes, other.source)
        absent = sorted(set(classes.tolist()) - set(other.labels))
        if absent and other.labels:
            print(f"warning: {other.source} has no examples of {', '.join(map(str, absent))}", file=sys.stderr)
    return texts, labels, val, test


def train(args: argparse.Namespace, params: dict) -> int:
    clf = TextClassifier(**params)
    # Bad options, output paths and checkpoints fail here, before any data is read.
    validate_params(clf.get_params(), clf.monitors)
    check_embeddings_file(clf.get_params())
    checkpoint_dir = prepare(args, clf.get_params())
    say = (lambda *_: None) if args.quiet else print
    texts, labels, val, test = load_splits(args, clf.val_fraction, clf.seed)
    say(
        f"data: {len(texts)} training texts, {len(val.texts)} validation"
        + (f", {len(test.texts)} test" if test else "")
    )
    started = time.perf_counter()
    clf.fit(
        texts,
        labels,
        validation_data=(val.texts, val.labels),
        **fit_options(args, checkpoint_dir),
    )
    if not reports():  # the other processes of a distributed run only train
        return 0
    metrics = {}
    if val.texts:
        metrics["validation"] = evaluate_on(clf, val)
    if test:
        metrics["test"] = evaluate_on(clf, test)
    if clf.blend_report_:
        metrics["blend"] = clf.blend_report_
    metrics["train_seconds"] = round(clf.train_seconds_, 2)
    metrics["epochs"] = len(clf.history_)
    if val.texts:
        kept = max(clf.history_, key=lambda r: validation_score(r, clf.params_["monitor"]))
        metrics["best_epoch"] = kept["epoch"]
    for split in ("validation", "test"):
        if split in metrics:
            print(format_report(split, metrics[split]), end="\n\n")
    metrics["data"] = data_files(args, training=label_counts(labels), validation=label_counts(val.labels))
    out = clf.save(args.out, metrics)
    checkpoint.remove(checkpoint_dir)  # the run is complete: nothing left to resume
    summary = f"trained {metrics['epochs']} epochs in {time.perf_counter() - started:.0f}s"
    if test:
        summary += f"; test accuracy {metrics['test']['accuracy']:.4f}, macro F1 {metrics['test']['macro_f1']:.4f}"
    print(f"{summary}\nmodel saved to {out}/")
    return 0


def baseline(args: argparse.Namespace) -> int:
    if not 0 <= args.val_fraction < 1:
        raise RnnkitError(f"val_fraction must be a number in [0, 1); got {args.val_fraction}")
    rnn = load_model(args.model) if args.model else None  # a bad bundle fails before any work
    texts, labels, val, test = load_splits(args, args.val_fraction, args.seed)
    splits = {"validation": (val.texts, val.labels)} if val.texts else {}
    if test:
        splits["test"] = (test.texts, test.labels)
    results = run_baselines(texts, labels.tolist(), splits, args.seed)
    if rnn is not None:
        results[f"rnn ({args.model})"] = {
            "train_seconds": round(rnn.train_seconds_, 2),
            **{split: evaluate_on(rnn, datasets.LabeledTexts(*data, split)) for split, data in splits.items()},
        }
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    short = {"validation": "val", "test": "test"}
    header = f"{'model':<28}{'train s':>9}" + "".join(f"{short[s] + ' acc':>10}{short[s] + ' F1':>9}" for s in splits)
    print(header)
    for name, result in results.items():
        cells = "".join(f"{result[s]['accuracy']:>10.4f}{result[s]['macro_f1']:>9.4f}" for s in splits)
        print(f"{name:<28}{result['train_seconds']:>9.1f}{cells}")
    return 0


def evaluate(args: argparse.Namespace, clf: TextClassifier) -> int:
    report = evaluate_on(clf, load_split(args, args.data, "test"))
    print(json.dumps(report, indent=2) if args.json else format_report(str(args.data), report))
    return 0


def predict(args: argparse.Namespace, clf: TextClassifier) -> int:
    if args.format not in (None, "csv", "json"):
        raise ConfigError(f"--format {args.format} is for taggers; a classifier writes csv or json")
    texts = datasets.read_texts(Path(args.input), args.text_column, args.encoding) if args.input else args.texts
    proba = clf.predict_proba(texts)
    labels = [str(c) for c in clf.classes_]
    rows = [
        {
            "text": text,
            "label": labels[p.argmax()],
            **{f"prob_{c}": round(float(q), 6) for c, q in zip(labels, p, strict=True)},
        }
        for text, p in zip(texts, proba, strict=True)
    ]
    fmt = args.format or ("json" if args.output and args.output.lower().endswith(".json") else "csv")
    if fmt == "json":
        payload = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        payload = buffer.getvalue()
    return write_output(args, payload)
