"""``rnnkit train | evaluate | predict | baseline`` for every task.

The task of ``train`` is ``--task`` or, when not given, told by the data (``.conll``/``.conllu``
files are tagging; everything else classification: of numeric series for UCR/UEA ``.ts`` files, else
of texts); ``evaluate`` and ``predict`` follow the task the
bundle records. Errors a user can cause end in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import warnings
from pathlib import Path

from rnnkit import __version__
from rnnkit.cli import classify, explain, export, forecast, launch, lm, series, serve, tag, translate
from rnnkit.data.conll import tagged_format
from rnnkit.data.timeseries import MISSING_RULES
from rnnkit.errors import ConfigError, RnnkitError, TrainingInterrupted
from rnnkit.tasks import load_model
from rnnkit.tasks.classification.estimator import TextClassifier
from rnnkit.tasks.forecasting.estimator import Forecaster
from rnnkit.tasks.language_model.estimator import LanguageModel
from rnnkit.tasks.params import CHOICES
from rnnkit.tasks.series_classification.estimator import SeriesClassifier
from rnnkit.tasks.tagging.estimator import SequenceTagger
from rnnkit.tasks.translation.estimator import Translator
from rnnkit.train import distributed

TASKS = {
    "classification": TextClassifier,
    "tagging": SequenceTagger,
    "lm": LanguageModel,
    "translation": Translator,
    "forecast": Forecaster,
}
CLI_MODULES = {
    TextClassifier: classify,
    SequenceTagger: tag,
    LanguageModel: lm,
    Translator: translate,
    Forecaster: forecast,
    SeriesClassifier: series,
}

# The estimator parameters offered as options, with their help: task_params reads back exactly these.
MODEL_OPTIONS = {
    "cell": "recurrent cell: rnn (Elman, tanh), lstm or gru",
    "bidirectional": "read each text in both directions",
    "num_layers": "stacked recurrent layers",
    "hidden_size": "hidden units per direction",
    "embedding_dim": "size of the token embeddings (ignored with --token-encoding onehot)",
    "embeddings": "initialise the embeddings from word vectors in this word2vec/GloVe/fastText text file (.gz ok)",
    "freeze_embeddings": "keep the pretrained embeddings fixed instead of fine-tuning them",
    "token_encoding": "how tokens enter the RNN: embedding, or onehot for small vocabularies such as DNA letters",
    "char_encoder": "tagging: how each word's spelling is read: cnn, a bidirectional lstm or gru, or none",
    "char_dim": "tagging: size of the character embeddings",
    "char_size": "tagging: size of each word's character encoding",
    "casing": "tagging: give the network each token's casing kind (lower, UPPER, Title, mixed, digits)",
    "crf": "tagging: score whole tag sequences with a linear-chain CRF (else one softmax per token)",
    "ensemble": "tagging: train this many taggers (seeds seed, seed+1, ...) and tag by their mean scores",
    "tag_scheme": "tagging: the scheme of the data's tags: iob1, iob2, bioes (iobes), plain, or auto (detected)",
    "word_dropout": "tagging: replace words seen once in training by <unk> with this probability, in [0, 1)",
    "attention": "translation: how the decoder scores the source: general (Luong), dot, or bahdanau (additive)",
    "vocab_size": "translation: subwords learned per language (the 256 byte pieces and 4 reserved ids included)",
    "subword_model": "translation: how subwords are learned: bpe (byte-pair merges) or unigram (a unigram model)",
    "shared_vocab": "translation: one subword vocabulary learned from both languages instead of one each",
    "label_smoothing": "translation: share of the target's probability spread over the vocabulary, in [0, 1)",
    "input_feeding": "translation: feed each step's attentional vector into the decoder's next step (Luong)",
    "beam": "translation: beam width for translating (1: greedy)",
    "length_penalty": "translation: alpha of the beam's length penalty ((5 + length) / 6) ** alpha (0: none)",
    "lookback": "forecast: steps of history each forecast reads",
    "horizon": "forecast: steps forecast at once (all directly, none fed back)",
    "segment": "the encoder reads this many steps at a time (1: step by step); forecast: divides lookback; "
    "series classification: 'auto' reads a series of the median length in about 24 steps",
    "season": "forecast: the season length of the seasonal naive baseline, in steps ('none': no such baseline)",
    "channel_mode": "forecast: independent (each target its own series, shared weights) or joint (all columns at once)",
    "instance_norm": "forecast: take each window's last value (last) or mean and spread (revin) out, or none",
    "highway": "forecast: add a linear map from each target's history to its forecast, trained with the network",
    "loss": "forecast: training loss, mae or mse (early stopping watches it on validation)",
    "steps": "lm: tokens per window; gradients flow back this far, the state runs on across windows",
    "tie_weights": "lm, translation: the output layer reuses the (target) embedding matrix",
    "dropout": "dropout on embeddings, between layers and before the output layer, in [0, 1)",
    "pooling": "how the sequence is summarised: last state, max, mean or attention (true lengths only)",
    "ngram_buckets": "add a linear model over words and this many hashed word-pair buckets (0: off)",
    "linear": "blend the RNN with linear models, weighted on validation (classification: TF-IDF and NB "
    "logistic regressions over word n-grams; forecast: the ridge regression from lookback to horizon)",
    "tokenizer": "word (words and punctuation) or char",
    "lowercase": "lowercase words (tagging: the word vectors only; spelling and casing keep the case)",
    "stopwords": "remove common English function words",
    "num_words": "vocabulary size cap, the 4 reserved ids included ('none' for no cap)",
    "min_freq": "keep tokens seen at least this often in training",
    "max_length": "keep at most this many tokens per text ('none' for all)",
    "padding": "where batches are padded: pre or post (results are the same; post is faster)",
    "truncating": "which end of a long text is cut: pre keeps the end, post keeps the start",
    "batch_size": "texts (or sentences; lm: rows of the text read side by side) per training batch",
    "epochs": "maximum number of epochs ('auto': 10, or more to make at least 3,000 updates on small data)",
    "lr": "Adam learning rate",
    "lr_decay": "multiply the learning rate by this after every epoch (1 keeps it constant)",
    "ema": "validate and keep a moving average of the weights, with this decay per step (0: the raw weights)",
    "clip_norm": "clip the gradient norm to this ('none' to disable)",
    "patience": "stop after this many epochs without a better validation score ('auto': a fifth of the epochs, >= 2)",
    "monitor": "validation score for early stopping and the epoch kept: accuracy (ties: lower loss), loss, or f1 "
    "(entity F1, tagging; auto: f1 for entity tags, else accuracy)",
    "class_weight": "none, or balanced to weight classes inversely to their frequency",
    "val_fraction": "fraction of the training data held out for validation when --val is not given",
    "seed": "random seed: the same seed and data give the same model",
    "neighbours": "series classification: blend the network with the training series' nearest neighbours "
    "(Euclidean), weighted on validation",
    "augment": "series classification: train on copies scaled by 1 + a * N(0, 1) per series, plus a * N(0, 1) "
    "noise per value (0: the series as they are; 'auto': 0 or 0.3, whichever validates better when cross-fitting)",
    "folds": "series classification: train this many networks, each validated on its own fold, and average them "
    "('auto': up to 5 for fewer than 1,000 series, else 1 with --val-fraction held out)",
}
# Options whose None is spelled 'auto' (chosen from the data) rather than 'none' (no limit).
AUTO_OPTIONS = ("epochs", "patience", "monitor", "tag_scheme", "segment", "folds", "augment")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, like every other rnnkit error."""

    def error(self, message: str) -> None:
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def _nullable(kind, spelled: str = "none"):
    def parse(text: str):
        return None if text.lower() == spelled else kind(text)

    parse.__name__ = kind.__name__
    return parse


def _spelled(name: str, value: object) -> str:
    if value is None:
        return "auto" if name in AUTO_OPTIONS else "none"
    return str(value)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """One option per estimator parameter. An option left out takes the chosen task's default, so
    options start absent from the namespace (``SUPPRESS``); the help shows each task's default."""
    group = parser.add_argument_group("model and training options")
    defaults = {task: estimator().get_params() for task, estimator in TASKS.items()}
    defaults["series classification"] = SeriesClassifier().get_params()
    for name, help_text in MODEL_OPTIONS.items():
        shown = {task: _spelled(name, d[name]) for task, d in defaults.items() if name in d}
        if len(set(shown.values())) == 1:
            text = f"{help_text} (default: {next(iter(shown.values()))})"
        else:
            text = f"{help_text} (default: {'; '.join(f'{t} {v}' for t, v in shown.items())})"
        default = next(d[name] for d in defaults.values() if name in d)
        flag, kwargs = "--" + name.replace("_", "-"), {"default": argparse.SUPPRESS, "help": text}
        auto = "auto" if name in AUTO_OPTIONS else "none"
        if isinstance(default, bool):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
        elif name in CHOICES:  # spelled choices; task_params turns 'auto'/'none' into None
            allowed = [*CHOICES[name], None] if name == "monitor" else CHOICES[name]
            group.add_argument(flag, choices=[_spelled(name, c) for c in allowed], **kwargs)
        elif name == "embeddings":
            group.add_argument(flag, metavar="FILE", **kwargs)
        elif name in ("num_words", "max_length", "epochs", "patience", "season", "segment", "folds"):
            group.add_argument(flag, type=_nullable(int, auto), **kwargs)
        elif name == "augment":
            group.add_argument(flag, type=_nullable(float, auto), **kwargs)
        elif name == "clip_norm":
            group.add_argument(flag, type=_nullable(float), **kwargs)
        else:
            group.add_argument(flag, type=type(default), **kwargs)


def task_params(args: argparse.Namespace, task: str, estimator: type) -> dict:
    """The chosen estimator's parameters: its defaults, then the options given (refusing another task's)."""
    params = estimator().get_params()
    given = {name: getattr(args, name) for name in MODEL_OPTIONS if hasattr(args, name)}
    for name in given.keys() & CHOICES.keys():
        given[name] = None if given[name] in ("auto", "none") else given[name]
    foreign = [name for name in given if name not in params]
    if foreign:
        flag = "--" + foreign[0].replace("_", "-")
        raise ConfigError(f"{flag} is not an option of {task} (see --help)")
    return {**params, **given, "verbose": not args.quiet}


def train_task(args: argparse.Namespace) -> str:
    """``--task``; else translation with ``--source``, tagging for CoNLL/CoNLL-U files, else classification."""
    if args.task:
        return args.task
    if args.source or (args.target and args.data is None):
        return "translation"
    if args.data is None:
        raise RnnkitError("give the training data (or --source and --target for translation)")
    return "tagging" if tagged_format(Path(args.data)) in ("conll", "conllu") else "classification"


def build_parser() -> Parser:
    parser = Parser(
        prog="rnnkit", description="Train, evaluate and use recurrent text classifiers, taggers and language models."
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    train = commands.add_parser("train", help="train a model and save it as a bundle directory")
    train.add_argument(
        "data",
        nargs="?",
        help="training data: .csv/.tsv/.jsonl[.gz], a folder-per-class directory, or imdb; "
        "for tagging .conll/.conllu/.jsonl[.gz]; for lm a plain text file[.gz]; "
        "for translation a table of pairs (or --source/--target)",
    )
    train.add_argument(
        "--task", choices=tuple(TASKS), help="the task (default: tagging for .conll/.conllu data, else classification)"
    )
    train.add_argument("--test", help="test data, evaluated after training (default for imdb: its test split)")
    train.add_argument("--val", help="validation data for early stopping (default: a split of the training data)")
    train.add_argument("--out", default="rnnkit-model", help="model directory to write (default: rnnkit-model)")
    add_column_options(train)
    add_pair_options(train, validation=True)
    add_series_options(train, train=True)
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
    train.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="train with N processes on this machine, as torchrun --standalone --nproc-per-node N would "
        "(batch_size stays the batch of all processes together; default: 1)",
    )
    train.add_argument(
        "--dist-backend",
        choices=distributed.BACKENDS,
        default="auto",
        help="how distributed processes exchange gradients: gloo (CPU); auto adds nccl where a CUDA GPU is "
        "present (default: auto)",
    )
    add_model_options(train)

    defaults = TextClassifier().get_params()
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
    evaluate.add_argument("data", nargs="?", help="labelled data (same formats as for train)")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.add_argument("--output", help="translation: write the hypotheses here, one per line")
    evaluate.add_argument("--beam", type=int, help="translation: beam width (default: the model's)")
    add_column_options(evaluate)
    add_pair_options(evaluate, validation=False)
    add_series_options(evaluate, train=False)
    evaluate.add_argument(
        "--from", dest="start", metavar="TIME", help="forecast: score the windows whose first step is at TIME or later"
    )
    evaluate.add_argument("--until", metavar="TIME", help="forecast: ... and at TIME or earlier")

    predict = commands.add_parser("predict", help="predict labels (or tags) for new texts")
    predict.add_argument("model", help="model directory written by 'rnnkit train'")
    predict.add_argument("texts", nargs="*", help="texts to classify or tag (language models: prompts to continue)")
    predict.add_argument(
        "--input",
        help="file of texts: .csv/.tsv/.jsonl[.gz] (text column) or .txt (one per line); "
        "for a tagger also .conll/.conllu (tokens given)",
    )
    predict.add_argument("--output", help="write here instead of stdout (format from its suffix: .csv or .json)")
    predict.add_argument(
        "--format",
        choices=("csv", "json", "conll", "text"),
        help="output format (classifier: csv, the default, or json; tagger: text, the default, conll or json; "
        "language model: text, the default, or json)",
    )
    predict.add_argument("--text-column", default="text", help="column holding the texts (default: text)")
    add_encoding_option(predict)
    add_tagged_options(predict)
    add_sampling_options(predict)
    predict.add_argument("--beam", type=int, help="translation: beam width (default: the model's)")
    add_series_options(predict, train=False)
    predict.add_argument(
        "--steps",
        dest="forecast_steps",
        type=int,
        metavar="N",
        help="forecast: steps to forecast (default: the horizon); beyond it, forecasts are fed back as history",
    )

    explain.add_parser(commands)
    serve.add_parser(commands)
    export.add_parser(commands)
    generate = commands.add_parser("generate", help="continue a prompt with a language model")
    generate.add_argument("model", help="language model directory written by 'rnnkit train --task lm'")
    generate.add_argument("--prompt", default="", help="text to continue (default: start a new line)")
    generate.add_argument("--output", help="write here instead of stdout")
    add_sampling_options(generate)
    return parser


def add_pair_options(parser: argparse.ArgumentParser, validation: bool) -> None:
    group = parser.add_argument_group("sentence pairs (translation)")
    group.add_argument("--source", metavar="FILE", help="sentences to translate, one per line (.gz ok)")
    group.add_argument(
        "--target",
        action="append",
        metavar="FILE|COLUMN",
        help="translation: the translations of --source, line by line; forecast: a column to forecast "
        "(repeat for several; default: every value column)",
    )
    if validation:
        group.add_argument("--val-source", metavar="FILE", help="validation sentences (default: the last pairs)")
        group.add_argument("--val-target", metavar="FILE", help="their translations")
    group.add_argument("--source-column", default="source", help="column of a pairs table (default: source)")
    group.add_argument("--target-column", default="target", help="column of a pairs table (default: target)")


def add_series_options(parser: argparse.ArgumentParser, train: bool) -> None:
    """Reading a time series table; after training the model knows its time column and columns."""
    group = parser.add_argument_group("time series (forecast)")
    if train:
        group.add_argument(
            "--time-column", help="column of the time stamps (default: one named date, time, timestamp, ... if any)"
        )
    group.add_argument(
        "--missing",
        choices=MISSING_RULES,
        default="interpolate",
        help="fill missing values by linear interpolation in time (reported) or refuse them (default: interpolate)",
    )


def add_sampling_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("generation (language models)")
    group.add_argument("--length", type=int, default=400, help="tokens to generate (default: 400)")
    group.add_argument(
        "--temperature", type=float, default=0.8, help="lower is safer, 0 always takes the likeliest (default: 0.8)"
    )
    group.add_argument("--top-k", type=int, help="sample among the k likeliest tokens only (default: all)")
    group.add_argument("--seed", type=int, help="random seed: the same seed gives the same text (default: fresh)")


def add_column_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-column", default="text", help="column holding the texts (default: text)")
    parser.add_argument("--label-column", default="label", help="column holding the labels (default: label)")
    add_encoding_option(parser)
    parser.add_argument(
        "--strict", action="store_true", help="refuse rows with an empty text or label instead of skipping them"
    )
    add_tagged_options(parser)


def add_encoding_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoding", default="utf-8", help="text encoding of the data files (default: utf-8)")


def add_tagged_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("tagged data (tagging)")
    group.add_argument("--token-column", type=int, default=0, help="CoNLL column of the tokens (default: 0)")
    group.add_argument(
        "--tag-column",
        help="CoNLL column of the tags, a number (default: -1, the last); CoNLL-U: a column name (default: upos)",
    )
    group.add_argument(
        "--data-format",
        choices=("conll", "conllu", "jsonl"),
        help="format of tagged data files whose name does not tell (default: from the suffix)",
    )


def cmd_train(args: argparse.Namespace) -> int:
    if not distributed.launched():
        return train_model(args)
    with distributed.session(args.dist_backend) as world:
        if args.workers not in (None, world.size):
            launched = f"{world.size} processes were launched"
            raise ConfigError(f"--workers {args.workers}, but {launched}: leave --workers out under torchrun")
        if world.main:
            return train_model(args)
        args.quiet = True  # the other ranks only train: rank 0 speaks and writes
        with open(os.devnull, "w") as nowhere, contextlib.redirect_stdout(nowhere):
            return train_model(args)


def train_model(args: argparse.Namespace) -> int:
    task = train_task(args)
    if args.data is None and task != "translation":
        raise RnnkitError(f"give the training data of the {task} task")
    estimator = TASKS[task]
    if task == "classification" and series.is_series_file(args.data):  # numbers, not text
        estimator = SeriesClassifier
    return CLI_MODULES[estimator].train(args, task_params(args, task, estimator))


def cmd_evaluate(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    if args.data is None and not isinstance(model, Translator):
        raise RnnkitError("give the data to evaluate on")
    return CLI_MODULES[type(model)].evaluate(args, model)


def cmd_predict(args: argparse.Namespace) -> int:
    if bool(args.texts) == bool(args.input):
        raise RnnkitError("give either texts or --input FILE, not both or neither")
    if args.output and Path(args.output).is_dir():
        raise RnnkitError(f"{args.output}: is a directory; --output needs a file name such as predictions.csv")
    model = load_model(args.model)
    return CLI_MODULES[type(model)].predict(args, model)


def cmd_generate(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    if not isinstance(model, LanguageModel):
        raise RnnkitError(
            f"{args.model}: generate needs a language model (rnnkit train --task lm); this is a {type(model).__name__}"
        )
    return lm.generate(args, model)


COMMANDS = {
    "train": cmd_train,
    "baseline": classify.baseline,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "generate": cmd_generate,
    "explain": explain.run,
    "serve": serve.run,
    "export": export.run,
}


def resume_command(argv: list[str], checkpoint_dir: str) -> str:
    """The command line that continues an interrupted run: the same one, with ``--resume`` (under
    torchrun, with the same torchrun options)."""
    kept, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--resume="):
            skip = False
            continue
        if arg == "--resume":
            skip = True
            continue
        kept.append(arg)
    command = shlex.join(["rnnkit", *kept, "--resume", checkpoint_dir])
    by_torchrun = distributed.launched() and not any(arg.split("=")[0] == "--workers" for arg in kept)
    return command.replace("rnnkit", "torchrun [the same torchrun options] -m rnnkit", 1) if by_torchrun else command


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    speaks = distributed.launched_rank() == 0  # in a distributed run, rank 0 reports what every rank meets
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            if not speaks:
                warnings.simplefilter("ignore")
            if args.command == "train" and launch.wanted(args.workers):
                return launch.run(args.workers, argv)
            return COMMANDS[args.command](args)
    except TrainingInterrupted as exc:
        if speaks:
            print(f"rnnkit: {exc}\nresume with: {resume_command(argv, exc.checkpoint)}", file=sys.stderr)
        return 130
    except RnnkitError as exc:
        if speaks:
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
