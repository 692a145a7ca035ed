"""The development suite: rnnkit's defaults against the TF-IDF baselines, on every kind of text.

For each dataset, runs the real commands a user runs, on the same split:
`rnnkit train TRAIN --test TEST` (the defaults, validation held out of TRAIN) and
`rnnkit baseline TRAIN --test TEST --json` (TF-IDF 1-2 grams + logistic regression / linear SVM,
trained on the same training part), and prints one table of test figures.

Data: `../shared/data/sentences/` (TREC with its own test split; SUBJ, CR and MPQA with a fixed
seeded, stratified 10% test split), `../shared/data/splice/` (20% held out; the DNA options of the
README) and, with `--imdb`, IMDB's official split (about 12 minutes). Settings are chosen on
validation figures (in each bundle's metrics.json); the test figures are for reporting.

    .venv/bin/python bench/suite.py [--data ../shared/data] [--imdb] [--only trec cr] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rnnkit.data.tables import stratified_split

DNA_OPTIONS = ["--tokenizer", "char", "--token-encoding", "onehot", "--no-lowercase", "--min-freq", "1"]
# name -> (file, test file or the fraction held out for testing, extra rnnkit train options)
DATASETS = {
    "trec": ("sentences/trec_train.csv", "sentences/trec_test.csv", []),
    "subj": ("sentences/subj.csv", 0.1, []),
    "cr": ("sentences/cr.csv", 0.1, []),
    "mpqa": ("sentences/mpqa.csv", 0.1, []),
    "splice": ("splice/train.csv", 0.2, DNA_OPTIONS),
    "imdb": ("imdb", None, []),
}
SPLIT_SEED = 123
BASELINES = ("tfidf+logreg", "tfidf+linear-svm")


def _read(path: Path) -> tuple[list[str], list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def _write(path: Path, texts: list[str], labels: list[str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels, strict=True))
    return path


def split_files(name: str, data: Path, scratch: Path) -> tuple[str, list[str]]:
    """(training data argument, test arguments) for ``rnnkit train``/``baseline``."""
    source, test, _ = DATASETS[name]
    if test is None:
        return source, []
    if isinstance(test, str):
        return str(data / source), ["--test", str(data / test)]
    texts, labels = _read(data / source)
    train_idx, test_idx = stratified_split(np.asarray(labels), test, SPLIT_SEED)
    train = _write(scratch / f"{name}-train.csv", [texts[i] for i in train_idx], [labels[i] for i in train_idx])
    held = _write(scratch / f"{name}-test.csv", [texts[i] for i in test_idx], [labels[i] for i in test_idx])
    return str(train), ["--test", str(held)]


def _rnnkit(*args: str, may_refuse: bool = False) -> subprocess.CompletedProcess | None:
    """Run ``rnnkit ARGS``; a one-line refusal (exit 2) gives None when ``may_refuse``."""
    result = subprocess.run([sys.executable, "-m", "rnnkit.cli", *args], capture_output=True, text=True)
    if result.returncode == 2 and may_refuse:
        print(f"{args[0]}: {result.stderr.strip()}", file=sys.stderr)
        return None
    if result.returncode != 0:
        sys.exit(f"rnnkit {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return result


def run(name: str, data: Path, scratch: Path) -> dict:
    train, test = split_files(name, data, scratch)
    extra = DATASETS[name][2]
    out = scratch / f"{name}-model"
    started = time.perf_counter()
    _rnnkit("train", train, *test, "--out", str(out), "--quiet", *extra)
    seconds = time.perf_counter() - started
    metrics = json.loads((out / "metrics.json").read_text())
    refused = _rnnkit("baseline", train, *test, "--json", may_refuse=True)  # word baselines refuse DNA
    baselines = json.loads(refused.stdout) if refused else {}
    row = {"dataset": name, "rnnkit_seconds": round(seconds, 1), "epochs": metrics["epochs"]}
    for split in ("validation", "test"):
        row[f"rnnkit_{split}"] = _figures(metrics[split])
        for baseline in BASELINES:
            row[f"{baseline}_{split}"] = _figures(baselines[baseline][split]) if baselines else None
    return row


def _figures(report: dict) -> dict:
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "n": report["n"]}


def table(rows: list[dict]) -> str:
    header = (
        "| data | test n | rnnkit acc | rnnkit macro F1 | TF-IDF+LR acc | TF-IDF+LR macro F1 | TF-IDF+SVM acc "
        "| rnnkit - LR (acc) | rnnkit val acc | LR val acc | epochs | rnnkit s |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for r in rows:
        ours, lr, svm, lr_val = (
            r[k] for k in ("rnnkit_test", "tfidf+logreg_test", "tfidf+linear-svm_test", "tfidf+logreg_validation")
        )
        gap = f"{100 * (ours['accuracy'] - lr['accuracy']):+.2f}" if lr else "n/a"
        lines.append(
            f"| {r['dataset']} | {ours['n']} | {ours['accuracy']:.4f} | {ours['macro_f1']:.4f} "
            f"| {_cell(lr, 'accuracy')} | {_cell(lr, 'macro_f1')} | {_cell(svm, 'accuracy')} | {gap} "
            f"| {r['rnnkit_validation']['accuracy']:.4f} | {_cell(lr_val, 'accuracy')} "
            f"| {r['epochs']} | {r['rnnkit_seconds']:.0f} |"
        )
    return "\n".join(lines)


def _cell(figures: dict | None, key: str) -> str:
    return f"{figures[key]:.4f}" if figures else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--imdb", action="store_true", help="also run IMDB (about 12 minutes)")
    parser.add_argument("--only", nargs="+", choices=list(DATASETS), help="run just these datasets")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    names = args.only or [n for n in DATASETS if n != "imdb" or args.imdb]
    rows = []
    with tempfile.TemporaryDirectory(prefix="rnnkit-suite-") as scratch:
        for name in names:
            rows.append(run(name, args.data, Path(scratch)))
            print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
