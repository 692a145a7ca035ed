"""The matrix of bad inputs a user can give the CLI, each with the one line rnnkit must answer.

Shared by ``tests/test_bad_inputs.py`` (every case, in-process) and ``bench/bad_inputs.py`` (every
case through the real command in a subprocess, printed as a table). In ``argv`` and ``line``,
``{d}`` stands for the directory that :func:`write_inputs` filled.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import safetensors.torch
import torch

from rnnkit import Forecaster, LanguageModel, SequenceTagger, SeriesClassifier, TextClassifier, __version__
from rnnkit.data.timeseries import read_series
from rnnkit.tasks.classification.bundle import FORMAT_VERSION

from .tagging_corpus import make_tagged, write_conll

TINY = {"hidden_size": 8, "embedding_dim": 8, "epochs": 1, "ngram_buckets": 64, "min_freq": 1}
TRAIN_FLAGS = ["--hidden-size=8", "--embedding-dim=8", "--epochs=1", "--ngram-buckets=64", "--min-freq=1", "--quiet"]
TAGGER_FLAGS = ["--hidden-size=8", "--embedding-dim=8", "--char-size=8", "--epochs=1", "--quiet"]
SERIES_FLAGS = ["--hidden-size=8", "--epochs=1", "--quiet"]
FORECAST_FLAGS = ["--lookback=12", "--horizon=6", "--segment=6", "--hidden-size=8", "--epochs=1", "--quiet"]
LM_FLAGS = ["--hidden-size=8", "--embedding-dim=8", "--epochs=1", "--batch-size=2", "--steps=4", "--quiet"]
OUT = "{d}/out"  # where failing train runs are told to write: it must not exist afterwards


def _texts(n: int) -> tuple[list[str], list[str]]:
    labels = ["pos" if i % 2 else "neg" for i in range(n)]
    return [f"a {'good' if label == 'pos' else 'bad'} film number {i}" for i, label in enumerate(labels)], labels


def _csv(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def write_inputs(d: Path) -> None:
    """Write every bad (and the few good) inputs the cases refer to, and one tiny trained model."""
    texts, labels = _texts(40)
    good = [["text", "label"], *zip(texts, labels, strict=True)]
    _csv(d / "good.csv", good)
    _csv(d / "other_columns.csv", [["review", "sentiment"], *zip(texts, labels, strict=True)])
    _csv(d / "no_label_column.csv", [["text", "stars"], *zip(texts, labels, strict=True)])
    (d / "empty.csv").write_bytes(b"")
    (d / "header_only.csv").write_text("text,label\n")
    _csv(d / "empty_cells.csv", [*good, ["", "pos"], ["a text without label", ""]])
    _csv(d / "one_class.csv", [["text", "label"], *[(t, "pos") for t in texts]])
    (d / "latin1.csv").write_bytes("text,label\ncaf\u00e9 cr\u00e8me,pos\n".encode("latin-1"))
    (d / "unclosed_quote.csv").write_text('text,label\nfine,pos\n"never closed,neg\nmore,pos\n')
    (d / "extra_field.tsv").write_text("text\tlabel\nfine\tpos\nbad\tneg\textra\n")
    (d / "bad.jsonl").write_text('{"text": "fine", "label": "pos"}\n{"text": "oops", label: neg}\n')
    (d / "not_gzip.csv.gz").write_bytes(b"text,label\nplain,pos\n")
    with gzip.open(d / "cut.csv.gz", "wb") as f:
        f.write(b"text,label\n" + b"some text,pos\n" * 2000)
    (d / "cut.csv.gz").write_bytes((d / "cut.csv.gz").read_bytes()[:-40])
    (d / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    _csv(d / "unknown_labels.csv", [["text", "label"], ["x", "pos"], ["y", "maybe"], ["z", "maybe"], ["w", "meh"]])
    (d / "no_classes").mkdir()
    (d / "no_classes" / "loose.txt").write_text("a text outside any class folder")
    (d / "taken").write_text("a file where the model directory should go")
    (d / "not_a_checkpoint").mkdir()
    (d / "not_a_checkpoint" / "notes.txt").write_text("mine")

    sentences, tags = make_tagged(40)
    write_conll(d / "good.conll", sentences, tags)
    (d / "ragged.conll").write_text("Tom\tB-PER\nmet\tO\n\nEliza\tNNP\tB-PER\n")
    (d / "empty.conll").write_text("\n\n")
    (d / "bad.conllu").write_text("# text = Hi\n1\tHi\thi\tINTJ\n")
    (d / "vectors.txt").write_text("tom 0.1 0.2 0.3\nmet 0.1 0.2\n")
    SequenceTagger(hidden_size=8, embedding_dim=8, char_size=8, epochs=1, ensemble=1).fit(sentences, tags).save(
        d / "tagger"
    )
    (d / "blank.txt").write_text(" \n\n  \n")
    (d / "two.src").write_text("a b\nc d\n")
    (d / "one.tgt").write_text("x\n")
    LanguageModel(hidden_size=8, embedding_dim=8, epochs=1, batch_size=2, steps=4).fit("abc abc cab " * 20).save(
        d / "lm"
    )
    hours = [f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00" for i in range(200)]
    _csv(d / "series.csv", [["date", "v"], *[[h, str(i % 7)] for i, h in enumerate(hours)]])
    _csv(d / "short.csv", [["date", "v"], *[[h, "1"] for h in hours[:20]]])
    _csv(d / "series_text.csv", [["date", "v"], *[[h, "abc" if i == 3 else "1"] for i, h in enumerate(hours)]])
    (d / "bad_label.ts").write_text("@problemName x\n@univariate true\n@classLabel true a b\n@data\n1,2,3:a\n1,2,3:c\n")
    ramps = [[float(i * (1 if k % 2 else -1)) for i in range(8)] for k in range(20)]
    SeriesClassifier(hidden_size=8, epochs=1).fit(ramps, ["up" if k % 2 else "down" for k in range(20)]).save(
        d / "series_model"
    )
    Forecaster(lookback=12, horizon=6, segment=6, hidden_size=8, epochs=1).fit(read_series(d / "series.csv")).save(
        d / "forecaster"
    )

    model = d / "model"
    TextClassifier(**TINY).fit(texts, labels).save(model)
    TextClassifier(**TINY).fit(texts, labels, checkpoint_dir=d / "checkpoint", checkpoint_every=0.0)
    for name, change in BROKEN_MODELS.items():
        copy = d / name
        copy.mkdir()
        for file in model.iterdir():
            (copy / file.name).write_bytes(file.read_bytes())
        change(copy)


def _edit_config(bundle: Path, **changes) -> None:
    config = json.loads((bundle / "config.json").read_text())
    config.update(changes)
    (bundle / "config.json").write_text(json.dumps(config))


def _retensor(bundle: Path, **changes: torch.Tensor) -> None:
    tensors = safetensors.torch.load_file(str(bundle / "model.safetensors"))
    tensors.update(changes)
    safetensors.torch.save_file(tensors, str(bundle / "model.safetensors"))


BROKEN_MODELS = {
    "model_incomplete": lambda b: (b / "model.safetensors").unlink(),
    "model_newer": lambda b: _edit_config(b, format_version=FORMAT_VERSION + 1, rnnkit_version="9.0.0"),
    "model_bad_config": lambda b: (b / "config.json").write_text("{not json"),
    "model_wrong_weights": lambda b: _retensor(b, **{"head.weight": torch.zeros(1, 3)}),
    "model_extra_tensor": lambda b: _retensor(b, evil=torch.zeros(1)),
    "model_garbage_weights": lambda b: (b / "model.safetensors").write_bytes(b"\xff" * 64),
}

E = "rnnkit: error: "

# (what is wrong, argv, the one line on stderr). Every case must exit with code 2, print nothing else
# on stderr, and leave no OUT behind. Train cases get TRAIN_FLAGS and --out OUT unless they name
# their own --out.
CASES: list[tuple[str, list[str], str]] = [
    # files and datasets
    (
        "missing file",
        ["train", "{d}/missing.csv"],
        E + "{d}/missing.csv: no such file or directory (dataset names: imdb)",
    ),
    ("unknown dataset name", ["train", "imdbb"], E + "imdbb: no such file or directory (dataset names: imdb)"),
    (
        "missing --test file",
        ["train", "{d}/good.csv", "--test", "{d}/gone.csv"],
        E + "{d}/gone.csv: no such file or directory (dataset names: imdb)",
    ),
    (
        "unknown file type",
        ["train", "{d}/sheet.xlsx"],
        E + "{d}/sheet.xlsx: unknown file type '.xlsx'; use .csv, .tsv or .jsonl (optionally .gz)",
    ),
    (
        "folder without class folders",
        ["train", "{d}/no_classes"],
        E + "{d}/no_classes: no .txt files in class sub-folders (expected {d}/no_classes/<label>/*.txt)",
    ),
    ("not gzip", ["train", "{d}/not_gzip.csv.gz"], E + "{d}/not_gzip.csv.gz: cannot read (Not a gzipped file (b'te'))"),
    (
        "truncated gzip",
        ["train", "{d}/cut.csv.gz"],
        E + "{d}/cut.csv.gz: cannot read (Compressed file ended before the end-of-stream marker was reached)",
    ),
    # columns and rows
    (
        "missing text column",
        ["train", "{d}/other_columns.csv"],
        E + "{d}/other_columns.csv: no column 'text' (row 1); columns found: review, sentiment",
    ),
    (
        "missing label column",
        ["train", "{d}/no_label_column.csv"],
        E + "{d}/no_label_column.csv: no column 'label' (row 1); columns found: text, stars",
    ),
    (
        "wrong --label-column",
        ["train", "{d}/other_columns.csv", "--text-column", "review", "--label-column", "stars"],
        E + "{d}/other_columns.csv: no column 'stars' (row 1); columns found: review, sentiment",
    ),
    (
        "empty file",
        ["train", "{d}/empty.csv"],
        E + "{d}/empty.csv: no data rows (the file is empty or has only a header line)",
    ),
    (
        "header only",
        ["train", "{d}/header_only.csv"],
        E + "{d}/header_only.csv: no data rows (the file is empty or has only a header line)",
    ),
    (
        "empty text, --strict",
        ["train", "{d}/empty_cells.csv", "--strict"],
        E + "{d}/empty_cells.csv, line 42: the 'text' column is empty (strict mode refuses such rows)",
    ),
    (
        "one class",
        ["train", "{d}/one_class.csv"],
        E + "the training data has only one class (pos); at least two are needed",
    ),
    (
        "one class, baseline",
        ["baseline", "{d}/one_class.csv"],
        E + "the training data has only one class (pos); at least two are needed",
    ),
    # encodings and syntax
    (
        "invalid UTF-8",
        ["train", "{d}/latin1.csv"],
        E
        + "{d}/latin1.csv: not valid UTF-8 (invalid continuation byte at byte 14); if the file is in another encoding, name it (--encoding, e.g. cp1252)",
    ),
    (
        "unknown --encoding",
        ["train", "{d}/good.csv", "--encoding", "klingon"],
        E + "unknown text encoding 'klingon'; try utf-8, cp1252 or latin-1",
    ),
    (
        "--encoding that is not for text",
        ["train", "{d}/good.csv", "--encoding", "base64"],
        E + "unknown text encoding 'base64'; try utf-8, cp1252 or latin-1",
    ),
    (
        "unclosed quote",
        ["train", "{d}/unclosed_quote.csv"],
        E
        + "{d}/unclosed_quote.csv, line 4: malformed CSV (unexpected end of data; a quote opened earlier is never closed)",
    ),
    (
        "extra field",
        ["train", "{d}/extra_field.tsv"],
        E + "{d}/extra_field.tsv, line 3: more fields than the header has",
    ),
    (
        "bad JSON line",
        ["train", "{d}/bad.jsonl"],
        E + "{d}/bad.jsonl, line 2: not valid JSON (Expecting property name enclosed in double quotes)",
    ),
    # labels of other splits
    (
        "unknown labels in --test",
        ["train", "{d}/good.csv", "--test", "{d}/unknown_labels.csv"],
        E
        + "{d}/unknown_labels.csv has labels the model was not trained on: maybe (2), meh (1); known labels: neg, pos",
    ),
    (
        "unknown labels in --val",
        ["train", "{d}/good.csv", "--val", "{d}/unknown_labels.csv"],
        E
        + "{d}/unknown_labels.csv has labels the model was not trained on: maybe (2), meh (1); known labels: neg, pos",
    ),
    (
        "unknown labels, evaluate",
        ["evaluate", "{d}/model", "{d}/unknown_labels.csv"],
        E
        + "{d}/unknown_labels.csv has labels the model was not trained on: maybe (2), meh (1); known labels: neg, pos",
    ),
    # option values, refused before any data is read
    (
        "negative --hidden-size",
        ["train", "{d}/good.csv", "--hidden-size=-1"],
        E + "hidden_size must be an integer >= 1; got -1",
    ),
    (
        "zero --embedding-dim",
        ["train", "{d}/good.csv", "--embedding-dim=0"],
        E + "embedding_dim must be an integer >= 1; got 0",
    ),
    ("zero --batch-size", ["train", "{d}/good.csv", "--batch-size=0"], E + "batch_size must be an integer >= 1; got 0"),
    (
        "negative --max-length",
        ["train", "{d}/good.csv", "--max-length=-5"],
        E + "max_length must be an integer >= 1 or None; got -5",
    ),
    (
        "zero --epochs",
        ["train", "{d}/good.csv", "--epochs=0"],
        E + "epochs must be an integer >= 1 or None (auto); got 0",
    ),
    (
        "--num-words below the specials",
        ["train", "{d}/good.csv", "--num-words=2"],
        E + "num_words must be an integer >= 5 or None; got 2",
    ),
    (
        "unknown --cell",
        ["train", "{d}/good.csv", "--cell=transformer"],
        "rnnkit train: error: argument --cell: invalid choice: 'transformer' (choose from 'rnn', 'lstm', 'gru') (see --help)",
    ),
    (
        "unknown --pooling",
        ["train", "{d}/good.csv", "--pooling=sum"],
        "rnnkit train: error: argument --pooling: invalid choice: 'sum' (choose from 'last', 'max', 'mean', 'attention') (see --help)",
    ),
    ("--dropout 1", ["train", "{d}/good.csv", "--dropout=1"], E + "dropout must be a number in [0, 1); got 1.0"),
    (
        "negative --dropout",
        ["train", "{d}/good.csv", "--dropout=-0.1"],
        E + "dropout must be a number in [0, 1); got -0.1",
    ),
    ("zero --lr", ["train", "{d}/good.csv", "--lr=0"], E + "lr must be a positive number; got 0.0"),
    (
        "non-numeric --epochs",
        ["train", "{d}/good.csv", "--epochs=ten"],
        "rnnkit train: error: argument --epochs: invalid int value: 'ten' (see --help)",
    ),
    (
        "--val-fraction 1",
        ["train", "{d}/good.csv", "--val-fraction=1"],
        E + "val_fraction must be a number in [0, 1); got 1.0",
    ),
    (
        "negative --checkpoint-every",
        ["train", "{d}/good.csv", "--checkpoint-every=-1"],
        E + "--checkpoint-every must be a number of minutes >= 0; got -1.0",
    ),
    # output paths and checkpoints
    (
        "--out is a file",
        ["train", "{d}/good.csv", "--out", "{d}/taken"],
        E + "{d}/taken: exists and is not a directory; choose another output path",
    ),
    (
        "--resume from a non-checkpoint",
        ["train", "{d}/good.csv", "--resume", "{d}/not_a_checkpoint"],
        E + "{d}/not_a_checkpoint: not a training checkpoint (no checkpoint.json)",
    ),
    (
        "--resume with other options",
        ["train", "{d}/good.csv", "--resume", "{d}/checkpoint", "--hidden-size=12"],
        E + "{d}/checkpoint: this checkpoint was made with other settings: hidden_size 8 (now 12)",
    ),
    (
        "--resume from nothing",
        ["train", "{d}/good.csv", "--resume", "{d}/nowhere"],
        E + "{d}/nowhere: no such checkpoint directory",
    ),
    (
        "predict --output is a directory",
        ["predict", "{d}/model", "some text", "--output", "{d}/no_classes"],
        E + "{d}/no_classes: is a directory; --output needs a file name such as predictions.csv",
    ),
    # model directories
    ("missing model", ["evaluate", "{d}/nomodel", "{d}/good.csv"], E + "{d}/nomodel: no such model directory"),
    (
        "incomplete model",
        ["evaluate", "{d}/model_incomplete", "{d}/good.csv"],
        E + "{d}/model_incomplete: incomplete model directory, missing model.safetensors",
    ),
    (
        "model from a newer rnnkit",
        ["evaluate", "{d}/model_newer", "{d}/good.csv"],
        E
        + "{d}/model_newer: written by rnnkit 9.0.0 (bundle format "
        + str(FORMAT_VERSION + 1)
        + "); this rnnkit "
        + __version__
        + " reads format "
        + str(FORMAT_VERSION)
        + ": upgrade rnnkit",
    ),
    (
        "model config not JSON",
        ["predict", "{d}/model_bad_config", "text"],
        E
        + "{d}/model_bad_config/config.json: not readable JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
    ),
    (
        "weights of another shape",
        ["predict", "{d}/model_wrong_weights", "text"],
        E
        + "{d}/model_wrong_weights/model.safetensors: tensor head.weight is (1, 3) F32, config.json needs (1, 16) F32",
    ),
    (
        "an extra tensor",
        ["predict", "{d}/model_extra_tensor", "text"],
        E + "{d}/model_extra_tensor/model.safetensors: tensors do not match config.json; unexpected evil",
    ),
    (
        "weights not safetensors",
        ["predict", "{d}/model_garbage_weights", "text"],
        E
        + "{d}/model_garbage_weights/model.safetensors: not a readable safetensors file (Error while deserializing header: header too large)",
    ),
    # prediction inputs
    ("predict without texts", ["predict", "{d}/model"], E + "give either texts or --input FILE, not both or neither"),
    (
        "predict --input missing",
        ["predict", "{d}/model", "--input", "{d}/missing.txt"],
        E + "{d}/missing.txt: no such file",
    ),
    (
        "predict --input is a directory",
        ["predict", "{d}/model", "--input", "{d}/no_classes"],
        E + "{d}/no_classes: is a directory; --input needs a file of texts",
    ),
    (
        "predict --input empty",
        ["predict", "{d}/model", "--input", "{d}/empty.csv"],
        E + "{d}/empty.csv: no data rows (the file is empty or has only a header line)",
    ),
    # tagging
    (
        "CoNLL line with another column count",
        ["train", "{d}/ragged.conll"],
        E + "{d}/ragged.conll:4: 3 columns where line 1 has 2; every token line needs the same number of columns",
    ),
    (
        "CoNLL file without sentences",
        ["train", "{d}/empty.conll"],
        E + "{d}/empty.conll: no sentences (the file is empty or holds only blank and -DOCSTART- lines)",
    ),
    (
        "--tag-column out of range",
        ["train", "{d}/good.conll", "--tag-column", "5"],
        E
        + "{d}/good.conll:1: --tag-column 5 is out of range for lines of 2 columns; use 0 to 1, or -2 to -1 counting from the end",
    ),
    (
        "CoNLL-U line without 10 columns",
        ["train", "{d}/bad.conllu"],
        E
        + "{d}/bad.conllu:2: 4 columns; CoNLL-U word lines have 10, separated by tabs (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC)",
    ),
    (
        "unknown --tag-scheme",
        ["train", "{d}/good.conll", "--tag-scheme", "bilou"],
        "rnnkit train: error: argument --tag-scheme: invalid choice: 'bilou' (choose from 'auto', 'iob1', 'iob2', 'bioes', 'plain', 'iobes') (see --help)",
    ),
    (
        "vectors of two sizes",
        ["train", "{d}/good.conll", "--embeddings", "{d}/vectors.txt"],
        E + "{d}/vectors.txt, line 2: 2 numbers where earlier lines have 3",
    ),
    (
        "a classifier option for a tagger",
        ["train", "{d}/good.conll", "--pooling", "mean"],
        E + "--pooling is not an option of tagging (see --help)",
    ),
    (
        "a tagger option for a classifier",
        ["train", "{d}/good.csv", "--char-encoder", "lstm"],
        E + "--char-encoder is not an option of classification (see --help)",
    ),
    (
        "tagger predict as csv",
        ["predict", "{d}/tagger", "Tom met Eliza.", "--format", "csv"],
        E + "--format csv is for classifiers; a tagger writes text, conll or json",
    ),
    (
        "tagger evaluated on a csv",
        ["evaluate", "{d}/tagger", "{d}/good.csv"],
        E
        + "{d}/good.csv: cannot tell the format from the file name; give it (--data-format conll, conllu or jsonl), or name the file .conll, .bio, .iob, .conllu or .jsonl (optionally .gz)",
    ),
    (
        "language model on an empty corpus",
        ["train", "{d}/blank.txt", "--task", "lm"],
        E + "{d}/blank.txt: the corpus is empty (no text to learn from)",
    ),
    (
        "a prompt of unknown characters",
        ["generate", "{d}/lm", "--prompt", "XYZ"],
        E + "the prompt 'XYZ' has no token the model knows",
    ),
    (
        "a negative temperature",
        ["generate", "{d}/lm", "--temperature", "-1"],
        E + "temperature must be a number >= 0; got -1.0",
    ),
    (
        "generate with a classifier",
        ["generate", "{d}/model"],
        E + "{d}/model: generate needs a language model (rnnkit train --task lm); this is a TextClassifier",
    ),
    (
        "language model predict as csv",
        ["predict", "{d}/lm", "abc", "--format", "csv"],
        E + "--format csv is not for language models; they write text or json",
    ),
    (
        "translation files of different lengths",
        ["train", "--source", "{d}/two.src", "--target", "{d}/one.tgt"],
        E
        + "{d}/two.src has 2 lines but {d}/one.tgt has 1 line; line i of the target must translate line i of the source",
    ),
    (
        "--source without --target",
        ["train", "--source", "{d}/two.src"],
        E + "give both files of the pairs: --source FILE and --target FILE (line-aligned)",
    ),
    (
        "a classifier option for a language model",
        ["train", "{d}/blank.txt", "--task", "lm", "--pooling", "max"],
        E + "--pooling is not an option of lm (see --help)",
    ),
    (
        "a series with a word among its numbers",
        ["train", "{d}/series_text.csv", "--task", "forecast"],
        E + "{d}/series_text.csv, line 5, \"v\": 'abc' is not a number",
    ),
    (
        "a forecast horizon of 0",
        ["train", "{d}/series.csv", "--task", "forecast", "--horizon", "0"],
        E + "horizon must be an integer >= 1; got 0",
    ),
    (
        "a series shorter than lookback + horizon",
        ["train", "{d}/short.csv", "--task", "forecast"],
        E
        + "the series has 20 rows, 16 of them for training; lookback 12 + horizon 6 needs at least 18 training rows (shorten them or lower val_fraction)",
    ),
    (
        "a forecast target that is not a column",
        ["train", "{d}/series.csv", "--task", "forecast", "--target", "w"],
        E + "{d}/series.csv: no value column 'w'; the value columns are v",
    ),
    (
        "a forecast scored from a time that is not one",
        ["evaluate", "{d}/forecaster", "{d}/series.csv", "--from", "soon"],
        E + "'soon' is not an ISO 8601 time (such as 2017-11-01 or 2017-11-01 06:00)",
    ),
    (
        "a forecaster given two files",
        ["predict", "{d}/forecaster", "{d}/series.csv", "{d}/short.csv"],
        E + "a forecaster predicts from one series file: rnnkit predict MODEL FILE",
    ),
    (
        "a .ts label outside its @classLabel",
        ["train", "{d}/bad_label.ts"],
        E + "{d}/bad_label.ts:6: class label 'c' is not one of the @classLabel classes (a b)",
    ),
    (
        "a series classifier given a csv",
        ["predict", "{d}/series_model", "{d}/good.csv"],
        E
        + "{d}/good.csv: a series classifier reads UCR/UEA .ts files or tables of a label and numbers per row (.csv/.tsv, optionally .gz)",
    ),
    (
        "explain with a tagger",
        ["explain", "{d}/tagger", "Tom met Eliza."],
        E + "{d}/tagger: explain needs a text classifier; this is a SequenceTagger",
    ),
    (
        "explain with no integration points",
        ["explain", "{d}/model", "good", "--steps", "0"],
        E + "--steps must be at least 1; got 0",
    ),
    (
        "explain with an unknown method",
        ["explain", "{d}/model", "good", "--method", "lime"],
        "rnnkit explain: error: argument --method: invalid choice: 'lime' (choose from 'integrated-gradients', 'occlusion') (see --help)",
    ),
    (
        "explain into a directory",
        ["explain", "{d}/model", "good", "--html", "{d}/no_classes"],
        E + "{d}/no_classes: is a directory; --html needs a file name such as why.html",
    ),
    (
        "serve with no room for a request",
        ["serve", "{d}/model", "--max-request-bytes", "0"],
        E + "--max-request-bytes must be at least 1; got 0",
    ),
    (
        "serve two models under one name",
        ["serve", "{d}/model", "{d}/tagger", "--name", "x"],
        E + "--name names a single model; with several, each is named by its directory",
    ),
    (
        "serve on a port that cannot be",
        ["serve", "{d}/model", "--port", "70000"],
        E + "--port must be from 1 to 65535; got 70000",
    ),
    (
        "serve a directory that is not a model",
        ["serve", "{d}/no_classes"],
        E + "{d}/no_classes: incomplete model directory, missing config.json",
    ),
    (
        "a forecaster given other columns",
        ["predict", "{d}/forecaster", "{d}/good.csv"],
        E + "{d}/good.csv: no time column 'date'; the columns are text, label",
    ),
    (
        "export of a language model",
        ["export", "{d}/lm", "--out", "{d}/lm.onnx"],
        E + "ONNX export is for text classifiers and sequence taggers; this is a LanguageModel",
    ),
    (
        "export --out a directory",
        ["export", "{d}/model", "--out", "{d}"],
        E + "{d}: is a directory; --out needs a file name such as model.onnx",
    ),
    (
        "export --out in a missing directory",
        ["export", "{d}/model", "--out", "{d}/out/model.onnx"],
        E + "{d}/out: no such directory",
    ),
]


def command(case_argv: list[str], d: Path) -> list[str]:
    """The full argv of a case: placeholders filled, and a train run given TRAIN_FLAGS and --out OUT."""
    argv = [a.format(d=d) for a in case_argv]
    if argv[0] == "train" and "--source" in argv:
        argv = [*argv, "--quiet"]
    elif argv[0] == "train":
        flags = TAGGER_FLAGS if ".conll" in argv[1] else LM_FLAGS if "lm" in argv else TRAIN_FLAGS
        flags = FORECAST_FLAGS if "forecast" in argv else SERIES_FLAGS if ".ts" in argv[1] else flags
        argv = [*argv[:2], *flags, *argv[2:]]  # the case's own options come last and win
        if "--out" not in argv:
            argv += ["--out", OUT.format(d=d)]
    return argv
