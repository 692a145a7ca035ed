"""One process against two (torchrun, gloo) on a subset of IMDB: accuracy, wall time, throughput, traffic.

Draws a stratified subset of the IMDB training reviews and one of the test reviews (read in place from
the shared data; written as CSV files into a temporary directory outside the repository), then trains
the same model twice with the same effective batch (``batch_size`` is the batch of all processes
together): ``rnnkit train`` in one process and ``torchrun --standalone --nproc-per-node 2 -m rnnkit
train``, each under ``/usr/bin/time -v``. Reports each run's test accuracy, wall time, peak RSS of
the largest process, training throughput (training reviews per second of epoch time, validation
included) and the gradient bytes all-reduced per step (every trainable parameter's gradient, once per
step; a ring all-reduce sends about twice that over each link). Extra arguments go to both runs.

    .venv/bin/python bench/distributed.py [--train 5000] [--test 5000] [-- --epochs 10 ...]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import safetensors.torch

DATA = Path(os.environ.get("RNNKIT_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")) / "imdb"


def subset(source: Path, size: int, seed: int, target: Path) -> int:
    """``size`` reviews of ``source`` (half of each label), in a random order, into ``target`` (CSV)."""
    with gzip.open(source, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    rng = np.random.default_rng(seed)
    chosen = []
    for label in sorted({row["label"] for row in rows}):
        of_label = [i for i, row in enumerate(rows) if row["label"] == label]
        chosen += rng.choice(of_label, size=size // 2, replace=False).tolist()
    rng.shuffle(chosen)
    with open(target, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows((rows[i]["text"], rows[i]["label"]) for i in chosen)
    return len(chosen)


def measure(name: str, launcher: list[str], arguments: list[str], out: Path) -> dict:
    command = ["/usr/bin/time", "-v", sys.executable, *launcher, "rnnkit", "train", *arguments, "--out", str(out)]
    print(f"{name}: {' '.join(command[2:])}", file=sys.stderr, flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{name} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", result.stderr).group(1)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    metrics = json.loads((out / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())
    train_reviews = sum(metrics["data"]["training"]["label_counts"].values())
    epoch_seconds = [record["seconds"] for record in history]
    weights = safetensors.torch.load_file(out / "model.safetensors")
    line = next((x for x in result.stdout.splitlines() if x.startswith("distributed:")), None)
    return {
        "command": " ".join(command[2:]),
        "test_accuracy": metrics["test"]["accuracy"],
        "validation_accuracy": metrics["validation"]["accuracy"],
        "rnn_validation_accuracy": metrics.get("blend", {}).get("validation_accuracy", {}).get("rnn"),
        "epochs": metrics["epochs"],
        "best_epoch": metrics.get("best_epoch"),
        "wall_seconds": round(sum(float(p) * 60**i for i, p in enumerate(reversed(wall.split(":")))), 1),
        "peak_rss_gib": round(rss_kb / 2**20, 2),
        "train_seconds": metrics["train_seconds"],
        "median_epoch_seconds": round(float(np.median(epoch_seconds)), 1),
        "train_reviews_per_second": round(train_reviews / float(np.median(epoch_seconds)), 1),
        "gradient_bytes_per_step": sum(t.numel() * t.element_size() for t in weights.values()),
        "log": line,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=5000, help="training reviews drawn (half of each label)")
    parser.add_argument("--test", type=int, default=5000, help="test reviews drawn (half of each label)")
    parser.add_argument("--processes", type=int, default=2, help="processes of the distributed run")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="options passed to both runs (after --)")
    args = parser.parse_args()
    extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra
    with tempfile.TemporaryDirectory(prefix="rnnkit-bench-") as scratch:
        work = Path(scratch)
        subset(DATA / "train.csv.gz", args.train, 0, work / "train.csv")
        subset(DATA / "test.csv.gz", args.test, 1, work / "test.csv")
        arguments = [str(work / "train.csv"), "--test", str(work / "test.csv"), *extra]
        torchrun = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={args.processes}", "-m"]
        runs = {
            "one process": measure("one process", ["-m"], arguments, work / "one"),
            f"{args.processes} processes": measure(f"{args.processes} processes", torchrun, arguments, work / "two"),
        }
    report = {"date": datetime.date.today().isoformat(), "train": args.train, "test": args.test, "runs": runs}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
