"""ONNX export on real models: agreement with rnnkit and speed in onnxruntime against rnnkit's own
prediction, in one run.

For a text classifier (IMDB): export, then ``--items`` seeded reviews of
``../shared/data/imdb/test.csv.gz`` through both, from raw text to probabilities (the same Python
tokenization feeds both; batches of 64 by length, as rnnkit batches), medians of ``--rounds``
alternating rounds. For a tagger (CoNLL-2003): the last ``--items`` sentences of the training file
(the tagger's own validation sentences), emissions and Viterbi tags against rnnkit's.

    .venv/bin/python bench/export.py CLASSIFIER [--tagger TAGGER] [--items 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import platform
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from rnnkit import load_model
from rnnkit.data.conll import read_tagged
from rnnkit.export.check import tagger_agreement
from rnnkit.export.inputs import classifier_inputs, tag_ids, tagger_inputs
from rnnkit.export.write import export_onnx
from rnnkit.text.batches import bucket_batches

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BATCH = 64


def session(path: Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def batches(items: list, sizes: np.ndarray) -> list[list]:
    return [[items[i] for i in idx] for idx in bucket_batches(sizes, BATCH)]


def exported(model, directory: Path, name: str) -> tuple[Path, float, dict]:
    started = time.perf_counter()
    result = export_onnx(model, directory / name)
    seconds = time.perf_counter() - started
    check = result["check"]
    print(
        f"  exported in {seconds:.1f} s (with its check), {result['bytes'] / 1e6:.1f} MB; held-out check: "
        f"{check['inputs']} inputs of {min(check['lengths'])}-{max(check['lengths'])} tokens, "
        f"max |difference| {check['max_abs_difference']:.2e}"
        + (f", tags differing {check['tags_differing']}" if "tags_differing" in check else "")
    )
    return directory / name, seconds, result


def timed(run, rounds: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - started)
    return float(np.median(times)), out


def classifier(path: str, items: int, rounds: int, directory: Path) -> None:
    model = load_model(path)
    with gzip.open(DATA / "imdb" / "test.csv.gz", "rt", encoding="utf-8", newline="") as f:
        texts = random.Random(0).sample([row["text"] for row in csv.DictReader(f)], items)
    print(f"classifier {path}: {items} IMDB test reviews")
    onnx_path, _, _ = exported(model, directory, "classifier.onnx")
    runtime = session(onnx_path)
    groups = batches(texts, np.array([len(t) for t in texts]))

    def through_onnx() -> np.ndarray:
        return np.concatenate([runtime.run(None, classifier_inputs(model, group))[0] for group in groups])

    model.predict_proba(texts[:BATCH])
    rnnkit_seconds, expected = [], None
    onnx_seconds, got = [], None
    for _ in range(rounds):  # alternating, so both meet the same machine
        seconds, expected = timed(lambda: model.predict_proba([t for g in groups for t in g]), 1)
        rnnkit_seconds.append(seconds)
        seconds, got = timed(through_onnx, 1)
        onnx_seconds.append(seconds)
    tokenize, _ = timed(lambda: [classifier_inputs(model, group) for group in groups], rounds)
    difference = np.abs(got - expected)
    flips = int((got.argmax(1) != expected.argmax(1)).sum())
    print(
        f"  probabilities: max |difference| {difference.max():.2e}, median {np.median(difference):.2e}; "
        f"labels differing {flips}"
    )
    report_speed("reviews", items, np.median(rnnkit_seconds), np.median(onnx_seconds), tokenize)


def tagger(path: str, items: int, rounds: int, directory: Path) -> None:
    model = load_model(path)
    sentences = read_tagged(DATA / "conll2003" / "train.conll.gz").tokens[-items:]
    print(f"tagger {path}: the last {len(sentences)} sentences of CoNLL-2003 train (its validation split)")
    onnx_path, _, _ = exported(model, directory, "tagger.onnx")
    runtime = session(onnx_path)
    groups = batches(sentences, np.array([len(s) for s in sentences]))

    def through_onnx() -> list[tuple[dict, dict]]:
        out = []
        for group in groups:
            inputs = tagger_inputs(model, group)
            outputs = dict(zip([o.name for o in runtime.get_outputs()], runtime.run(None, inputs), strict=True))
            out.append((inputs, outputs, tag_ids(outputs, inputs["lengths"])))  # the decoding is part of the cost
        return out

    rnnkit_seconds, onnx_seconds = [], []
    for _ in range(rounds):
        seconds, expected = timed(lambda: model.predict_bioes([s for g in groups for s in g]), 1)
        rnnkit_seconds.append(seconds)
        seconds, got = timed(through_onnx, 1)
        onnx_seconds.append(seconds)
    starts = np.cumsum([0, *map(len, groups)])
    agreements = np.array([
        tagger_agreement(model, group, inputs, outputs, expected[a:b])
        for group, (inputs, outputs, _), a, b in zip(groups, got, starts[:-1], starts[1:], strict=True)
    ])  # fmt: skip
    largest, (differing, tokens) = agreements[:, 0].max(), agreements[:, 1:].sum(axis=0).astype(int)
    tokenize, _ = timed(lambda: [tagger_inputs(model, group) for group in groups], rounds)
    print(f"  emissions: max |difference| {largest:.2e}; tags differing from rnnkit's: {differing} of {tokens}")
    report_speed("sentences", len(sentences), np.median(rnnkit_seconds), np.median(onnx_seconds), tokenize)


def report_speed(what: str, count: int, rnnkit: float, onnx: float, tokenize: float) -> None:
    print(
        f"  {what}/s from raw input: rnnkit {count / rnnkit:,.0f}, onnxruntime {count / onnx:,.0f} "
        f"({rnnkit / onnx:.2f}x); of which Python preparation of the ONNX inputs {tokenize:.2f} s of {onnx:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("classifier", help="a text classifier bundle (e.g. trained on imdb)")
    parser.add_argument("--tagger", help="a tagger bundle trained on CoNLL-2003")
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    processor = platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    print(f"{processor}, torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, {threads} threads")
    with tempfile.TemporaryDirectory() as directory:
        classifier(args.classifier, args.items, args.rounds, Path(directory))
        if args.tagger:
            tagger(args.tagger, args.items, args.rounds, Path(directory))


if __name__ == "__main__":
    main()
