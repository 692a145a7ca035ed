"""``rnnkit train | evaluate | predict``.

Errors a user can cause end in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

import rnnkit.data.tables as datasets
from rnnkit import __version__
from rnnkit.errors import ConfigError, RnnkitError, TrainingInterrupted
from rnnkit.store.atomic import write_bytes
from rnnkit.store.bundle import check_output_directory, load_model
from rnnkit.tasks.classification.baseline import run_baselines
from rnnkit.tasks.classification.estimator import (
    TextClassifier,
    check_classes,
    check_embeddings_file,
    check_known_labels,
    holdout,
)
from rnnkit.tasks.classification.metrics import classification_report, format_report
from rnnkit.tasks.params import CHOICES, validate_params
from rnnkit.train import checkpoint
from rnnkit.train.loop import validation_score

# The estimator parameters offered as options, with their help: model_params reads back exactly these.
MODEL_OPTIONS = {
    "cell": "recurrent cell: rnn (Elman, tanh), lstm or gru",
    "bidirectional": "read each text in both directions",
    "num_layers": "stacked recurrent layers",
    "hidden_size": "hidden units per direction",
    "embedding_dim": "size of the token embeddings (ignored with --token-encoding onehot)",
    "embeddings": "initialise the embeddings from word vectors in this word2vec/GloVe/fastText text file (.gz ok)",
    "freeze_embeddings": "keep the pretrained embeddings fixed instead of fine-tuning them",
    "token_encoding": "how tokens enter the RNN: embedding, or onehot for small vocabularies such as DNA letters",
    "dropout": "dropout on embeddings, between layers and before the output layer, in [0, 1)",
    "pooling": "how the sequence is summarised: last state, max, mean or attention (true lengths only)",
    "ngram_buckets": "add a linear model over words and this many hashed word-pair buckets (0: off)",
    "linear": "blend the RNN with TF-IDF and NB logistic regressions over word n-grams, weighted on validation",
    "tokenizer": "word (words and punctuation) or char",
    "lowercase": "lowercase texts before tokenizing",
    "stopwords": "remove common English function words",
    "num_words": "vocabulary size cap, the 4 reserved ids included ('none' for no cap)",
    "min_freq": "keep tokens seen at least this often in training",
    "max_length": "keep at most this many tokens per text ('none' for all)",
    "padding": "where batches are padded: pre or post (results are the same; post is faster)",
    "truncating": "which end of a long text is cut: pre keeps the end, post keeps the start",
    "batch_size": "texts per training batch",
    "epochs": "maximum number of epochs ('auto': 10, or more to make at least 3,000 updates on small data)",
    "lr": "Adam learning rate",
    "lr_decay": "multiply the learning rate by this after every epoch (1 keeps it constant)",
    "ema": "validate and keep a moving average of the weights, with this decay per step (0: the raw weights)",
    "clip_norm": "clip the gradient norm to this ('none' to disable)",
    "patience": "stop after this many epochs without a better validation score ('auto': a fifth of the epochs, >= 2)",
    "monitor": "validation score for early stopping and for the epoch kept: accuracy (ties: lower loss) or loss",
    "class_weight": "none, or balanced to weight classes inversely to their frequency",
    "val_fraction": "fraction of the training data held out for validation when --val is not given",
    "seed": "random seed: the same seed and data give the same model",
}


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, like every other rnnkit error."""

    def error(self, message: str) -> None:
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


# Options whose None is spelled 'auto' (chosen from the data) rather than 'none' (no limit).
AUTO_OPTIONS = ("epochs", "patience")


def _nullable(kind, spelled: str = "none"):
    def parse(text: str):
        return None if text.lower() == spelled else kind(text)

    parse.__name__ = kind.__name__
    return parse


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """One option per estimator parameter, with the estimator's own defaults."""
    group = parser.add_argument_group("model and training options")
    defaults = TextClassifier().get_params()
    for name, help_text in MODEL_OPTIONS.items():
        default = defaults[name]
        flag = "--" + name.replace("_", "-")
        shown = default if default is not None else "auto" if name in AUTO_OPTIONS else "none"
        text = f"{help_text} (default: {shown})"
        if isinstance(default, bool):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=text)
        elif name in CHOICES:
            choices = [c or "none" for c in CHOICES[name]]
            group.add_argument(flag, choices=choices, default=default or "none", help=text)
        elif name in ("num_words", "max_length"):
            group.add_argument(flag, type=_nullable(int), default=default, help=text)
        elif name == "embeddings":
            group.add_argument(flag, metavar="FILE", default=default, help=text)
        elif name in AUTO_OPTIONS:
            group.add_argument(flag, type=_nullable(int, "auto"), default=default, help=text)
        elif name == "clip_norm":
            group.add_argument(flag, type=_nullable(float), default=default, help=text)
        else:
            group.add_argument(flag, type=type(default), default=default, help=text)


def model_params(args: argparse.Namespace) -> dict:
    params = {name: getattr(args, name) for name in MODEL_OPTIONS}
    params["class_weight"] = None if params["class_weight"] == "none" else params["class_weight"]
    params["verbose"] = not args.quiet
    return params


def build_parser() -> Parser:
    parser = Parser(prog="rnnkit", description="Train, evaluate and use recurrent text classifiers.")
    defaults = TextClassifier().get_params()
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    train = commands.add_parser("train", help="train a model and save it as a bundle directory")
    train.add_argument("data", help="training data: .csv/.tsv/.jsonl[.gz], a folder-per-class directory, or imdb")
    train.add_argument("--test", help="test data, evaluated after training (default for imdb: its test split)")
    train.add_argument("--val", help="validation data for early stopping (default: a split of the training data)")
    train.add_argument("--out", default="rnnkit-model", help="model directory to write (default: rnnkit-model)")
    add_column_options(train)
    train.add_argument("--quiet", action="store_true", help="no per-epoch lines or progress bar")
    train.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the interrupted run whose checkpoint is DIR (same data and options as that run)",
    )
    train.add_argument(
        "--checkpoint-every",
        type=float,
        default=10.0,
        metavar="MINUTES",
        help="save the training state every MINUTES into OUT.checkpoint (0: only on Ctrl-C; default: 10)",
    )
    add_model_options(train)

    baseline = commands.add_parser(
        "baseline", help="TF-IDF + linear models on the same split, to see whether the RNN earns its cost"
    )
    baseline.add_argument("data", help="training data (same formats as for train)")
    baseline.add_argument("--test", help="test data (default for imdb: its test split)")
    baseline.add_argument("--val", help="validation data (default: the same split of the training data as train)")
    baseline.add_argument("--model", help="an rnnkit model directory to evaluate beside the baselines")
    baseline.add_argument("--val-fraction", type=float, default=defaults["val_fraction"], help="as for train")
    baseline.add_argument("--seed", type=int, default=defaults["seed"], help="as for train")
    baseline.add_argument("--json", action="store_true", help="print the results as JSON")
    add_column_options(baseline)

    evaluate = commands.add_parser("evaluate", help="report metrics of a saved model on labelled data")
    evaluate.add_argument("model", help="model directory written by 'rnnkit train'")
    evaluate.add_argument("data", help="labelled data (same formats as for train)")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    add_column_options(evaluate)

    predict = commands.add_parser("predict", help="predict labels and probabilities for new texts")
    predict.add_argument("model", help="model directory written by 'rnnkit train'")
    predict.add_argument("texts", nargs="*", help="texts to classify")
    predict.add_argument("--input", help="file of texts: .csv/.tsv/.jsonl[.gz] (text column) or .txt (one per line)")
    predict.add_argument("--output", help="write here instead of stdout (format from its suffix: .csv or .json)")
    predict.add_argument("--format", choices=("csv", "json"), help="output format (default: csv)")
    predict.add_argument("--text-column", default="text", help="column holding the texts (default: text)")
    add_encoding_option(predict)
    return parser


def add_column_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-column", default="text", help="column holding the texts (default: text)")
    parser.add_argument("--label-column", default="label", help="column holding the labels (default: label)")
    add_encoding_option(parser)
    parser.add_argument(
        "--strict", action="store_true", help="refuse rows with an empty text or label instead of skipping them"
    )


def add_encoding_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoding", default="utf-8", help="text encoding of the data files (default: utf-8)")


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


def cmd_train(args: argparse.Namespace) -> int:
    clf = TextClassifier(**model_params(args))
    # Bad options, output paths and checkpoints fail here, before any data is read.
    validate_params(clf.get_params())
    datasets.check_encoding(args.encoding)
    check_embeddings_file(clf.get_params())
    if not args.checkpoint_every >= 0:
        raise ConfigError(f"--checkpoint-every must be a number of minutes >= 0; got {args.checkpoint_every}")
    check_output_directory(Path(args.out))
    checkpoint_dir = Path(args.resume) if args.resume else checkpoint.default_directory(Path(args.out))
    if args.resume:
        checkpoint.check_resumable(checkpoint_dir, clf.get_params())
    else:
        checkpoint.check_fresh(checkpoint_dir)
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
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=args.checkpoint_every * 60 or None,
        resume=bool(args.resume),
    )
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
    out = clf.save(args.out, metrics)
    checkpoint.remove(checkpoint_dir)  # the run is complete: nothing left to resume
    summary = f"trained {metrics['epochs']} epochs in {time.perf_counter() - started:.0f}s"
    if test:
        summary += f"; test accuracy {metrics['test']['accuracy']:.4f}, macro F1 {metrics['test']['macro_f1']:.4f}"
    print(f"{summary}\nmodel saved to {out}/")
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
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


def cmd_evaluate(args: argparse.Namespace) -> int:
    clf = load_model(args.model)
    report = evaluate_on(clf, load_split(args, args.data, "test"))
    print(json.dumps(report, indent=2) if args.json else format_report(str(args.data), report))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    if bool(args.texts) == bool(args.input):
        raise RnnkitError("give either texts to classify or --input FILE, not both or neither")
    if args.output and Path(args.output).is_dir():
        raise RnnkitError(f"{args.output}: is a directory; --output needs a file name such as predictions.csv")
    clf = load_model(args.model)
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
    if args.output:
        write_bytes(Path(args.output), payload.encode("utf-8"))
    else:
        sys.stdout.write(payload)
    return 0


COMMANDS = {"train": cmd_train, "baseline": cmd_baseline, "evaluate": cmd_evaluate, "predict": cmd_predict}


def resume_command(argv: list[str], checkpoint_dir: str) -> str:
    """The command line that continues an interrupted run: the same one, with ``--resume``."""
    kept, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--resume="):
            skip = False
            continue
        if arg == "--resume":
            skip = True
            continue
        kept.append(arg)
    return shlex.join(["rnnkit", *kept, "--resume", checkpoint_dir])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except TrainingInterrupted as exc:
        print(f"rnnkit: {exc}\nresume with: {resume_command(argv, exc.checkpoint)}", file=sys.stderr)
        return 130
    except RnnkitError as exc:
        print(f"rnnkit: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `rnnkit predict ... | head`: the reader has all it wanted
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except OSError as exc:  # the file system refused: permissions, a full disk, a file in the way
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rnnkit: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
