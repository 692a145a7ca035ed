"""Series classification and DNA against their reference baselines, in one run.

* UCR/UEA sets (``../shared/data/ucr``: GunPoint, JapaneseVowels; ``--more DIR`` adds every
  ``*_TRAIN.ts`` of DIR with its ``*_TEST.ts``, e.g. the sets sktime and aeon ship in their wheels):
  ``SeriesClassifier()`` with the defaults, trained on TRAIN (its validation carved from it), scored
  on TEST, beside 1-NN Euclidean fitted on the whole TRAIN (the archive's reference) and the
  network without the neighbours.
* Splice junctions (``../shared/data/splice/train.csv``): a seeded stratified 20% held out; the text
  classifier on characters, one-hot (the README's DNA options), beside a logistic regression on the
  one-hot letter at each of the 60 positions (scikit-learn, default C).

    .venv/bin/python bench/series.py [--more DIR]
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from rnnkit import SeriesClassifier, TextClassifier
from rnnkit.data.tables import stratified_split
from rnnkit.data.ucr import read_ts
from rnnkit.series.baselines import nearest_neighbour_accuracy
from rnnkit.tasks.series_classification.estimator import check_series

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DNA = {"tokenizer": "char", "token_encoding": "onehot", "lowercase": False, "min_freq": 1}


def ucr(train_path: Path, test_path: Path) -> None:
    train, test = read_ts(train_path), read_ts(test_path)
    started = time.perf_counter()
    model = SeriesClassifier().fit(train)
    seconds = time.perf_counter() - started
    labels = np.asarray(test.labels)
    accuracy = float(np.mean(model.predict(test.series) == labels))
    network = float(np.mean(model.classes_[model.network_proba(test.series).argmax(axis=1)] == labels))
    train_series, test_series = check_series(train.series, "training"), check_series(test.series, "test")
    baseline = nearest_neighbour_accuracy(train_series, np.asarray(train.labels), test_series, labels)
    name = train_path.name.split("_TRAIN")[0]
    print(
        f"{name:<24}{len(test):>6}{accuracy:>10.4f}{baseline:>12.4f}{network:>10.4f}{model.blend_:>7.2f}"
        f"{model.augment_:>6.1f}{seconds:>8.0f}",
        flush=True,
    )


def splice() -> None:
    with open(DATA / "splice" / "train.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    texts, labels = [r["text"] for r in rows], np.array([r["label"] for r in rows])
    train, test = stratified_split(labels, 0.2, 0)
    letters = sorted(set("".join(texts)))
    onehot = np.zeros((len(texts), 60 * len(letters)))
    for i, text in enumerate(texts):
        for position, letter in enumerate(text[:60]):
            onehot[i, position * len(letters) + letters.index(letter)] = 1
    regression = LogisticRegression(max_iter=5000).fit(onehot[train], labels[train])
    baseline = float(np.mean(regression.predict(onehot[test]) == labels[test]))
    started = time.perf_counter()
    model = TextClassifier(**DNA).fit([texts[i] for i in train], labels[train])
    seconds = time.perf_counter() - started
    accuracy = float(np.mean(model.predict([texts[i] for i in test]) == labels[test]))
    print(f"{'splice':<24}{len(test):>6}{accuracy:>10.4f}{baseline:>12.4f}{'':>23}{seconds:>8.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--more", type=Path, help="a directory of further NAME_TRAIN.ts / NAME_TEST.ts pairs")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        f"{'data':<24}{'test n':>6}{'rnnkit':>10}{'baseline':>12}{'network':>10}{'w':>7}{'aug':>6}{'s':>8}"
        "   (UCR: 1-NN Euclidean; splice: LR)"
    )
    for name in ("GunPoint", "JapaneseVowels"):
        ucr(*(DATA / "ucr" / f"{name}_{split}.ts.gz" for split in ("TRAIN", "TEST")))
    for train in sorted(args.more.glob("*_TRAIN.ts*")) if args.more else []:
        ucr(train, train.with_name(train.name.replace("_TRAIN", "_TEST")))
    splice()


if __name__ == "__main__":
    main()
