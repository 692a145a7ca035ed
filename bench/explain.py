"""What an explanation costs on IMDB reviews, and how complete it is, in one run.

For ``--reviews`` seeded reviews of ``../shared/data/imdb/train.csv.gz``: seconds per review of
``rnnkit.explain.text.explain`` (integrated gradients with the linear parts' exact shares, 64
points) and of occlusion, beside one prediction; and the completeness gap relative to the logit
difference (the bar: within 1%, or reported).

    .venv/bin/python bench/explain.py MODEL [--reviews 50]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch

from rnnkit import load_model
from rnnkit.explain.text import explain, occlusion

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb" / "train.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--reviews", type=int, default=50)
    args = parser.parse_args()
    model = load_model(args.model)
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as f:
        texts = random.Random(1).sample([row["text"] for row in csv.DictReader(f)], args.reviews)
    model.predict_proba(texts[:2])  # build what is compiled lazily
    timings: dict[str, list[float]] = {"predict": [], "integrated gradients": [], "occlusion": []}
    relative_gaps = []
    for text in texts:
        for name, run in (
            ("predict", lambda t: model.predict_proba([t])),
            ("integrated gradients", lambda t: explain(model, t)),
            ("occlusion", lambda t: occlusion(model, t)),
        ):
            started = time.perf_counter()
            result = run(text)
            timings[name].append(time.perf_counter() - started)
            if name == "integrated gradients":
                relative_gaps.append(abs(result["completeness_gap"]) / max(abs(result["logit_difference"]), 1e-9))
    words = np.median([len(t.split()) for t in texts])
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{len(texts)} IMDB reviews (median {words:.0f} words)")
    for name, seconds in timings.items():
        print(f"{name:<22} median {np.median(seconds):.3f} s  p90 {np.percentile(seconds, 90):.3f} s  per review")
    gaps = np.array(relative_gaps)
    print(
        f"completeness gap / logit difference: median {np.median(gaps):.2%}, max {gaps.max():.2%}; "
        f"within 1%: {np.mean(gaps <= 0.01):.0%} of reviews"
    )


if __name__ == "__main__":
    main()
