"""The IMDB accuracy run: `rnnkit train imdb` with the defaults, measured from outside.

Runs the real CLI in a child process under `/usr/bin/time -v` (wall time and peak RSS of the whole
run: reading, tokenizing, training, testing, saving) and reports them with the test accuracy
from the bundle's metrics.json. Extra arguments go to `rnnkit train` unchanged.

    .venv/bin/python bench/imdb.py [--out models/bench-imdb] [-- --max-length 500 ...]
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
from pathlib import Path


def measure(out: Path, extra: list[str]) -> dict:
    command = [sys.executable, "-m", "rnnkit.cli", "train", "imdb", "--out", str(out), "--quiet", *extra]
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"rnnkit train failed ({result.returncode}):\n{result.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", result.stderr).group(1)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    seconds = sum(float(part) * 60**i for i, part in enumerate(reversed(wall.split(":"))))
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "date": datetime.date.today().isoformat(),
        "args": extra,
        "test_accuracy": metrics["test"]["accuracy"],
        "validation_accuracy": metrics["validation"]["accuracy"],
        "epochs": metrics["epochs"],
        "best_epoch": metrics.get("best_epoch"),
        "wall_seconds": round(seconds, 1),
        "peak_rss_gib": round(rss_kb / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models/bench-imdb"), help="bundle directory to write")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="options passed to rnnkit train (after --)")
    args = parser.parse_args()
    extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra
    print(json.dumps(measure(args.out, extra), indent=2))


if __name__ == "__main__":
    main()
