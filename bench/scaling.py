"""How time and memory grow with the corpus: 5k, 25k and 100k IMDB documents.

Each size runs in a fresh process (so peak RSS is that size's own): tokenize and encode the texts,
then train the default model for one epoch without validation. The corpus is IMDB's 50,000 train
and test reviews, repeated as needed (100k = every review twice). Printed per size: real tokens,
seconds and microseconds per token for each phase, training tokens/s and peak RSS. Linear growth
shows as flat per-token figures.

    .venv/bin/python bench/scaling.py [--sizes 5000 25000 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def run_one(size: int) -> dict:
    """One size, in this process."""
    import torch

    from rnnkit.data.tables import load_imdb
    from rnnkit.tasks.classification.estimator import TextClassifier, make_model
    from rnnkit.text.batches import encode_indexed, index_texts
    from rnnkit.text.pipeline import TextPipeline, Vocab
    from rnnkit.train.loop import TrainSettings, train

    train_split, test_split = load_imdb("train"), load_imdb("test")
    pool_texts, pool_labels = train_split.texts + test_split.texts, train_split.labels + test_split.labels
    pick = np.arange(size) % len(pool_texts)
    texts = [pool_texts[i] for i in pick]
    targets = np.array([pool_labels[i] == "pos" for i in pick], dtype=np.int64)

    started = time.perf_counter()
    types, flat, lengths = index_texts(texts, TextPipeline())
    vocab = Vocab.from_counts(types, np.bincount(flat, minlength=len(types)), num_words=30000, min_freq=2)
    data = encode_indexed(types, flat, lengths, vocab, max_length=400)
    encode_seconds = time.perf_counter() - started
    del types, flat

    torch.manual_seed(0)
    model = make_model(TextClassifier().get_params(), len(vocab), 2)  # the default model
    started = time.perf_counter()
    train(model, data, targets, None, None, TrainSettings(epochs=1, verbose=False), torch.ones(2))
    train_seconds = time.perf_counter() - started
    tokens = int(data.lengths.sum())
    return {
        "documents": size,
        "real_tokens": tokens,
        "encode_seconds": round(encode_seconds, 2),
        "encode_us_per_token": round(encode_seconds / int(lengths.sum()) * 1e6, 3),
        "train_epoch_seconds": round(train_seconds, 1),
        "train_us_per_token": round(train_seconds / tokens * 1e6, 2),
        "train_tokens_per_second": round(tokens / train_seconds),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 25000, 100000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run a single size here
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    rows = []
    for size in args.sizes:
        child = subprocess.run([sys.executable, __file__, "--one", str(size)], capture_output=True, text=True)
        if child.returncode != 0:
            sys.exit(f"size {size} failed:\n{child.stderr[-2000:]}")
        rows.append(json.loads(child.stdout))
        print(json.dumps(rows[-1]), flush=True)
    header = ("documents", "real_tokens", "encode_seconds", "encode_us_per_token", "train_epoch_seconds")
    header += ("train_us_per_token", "train_tokens_per_second", "peak_rss_gib")
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(f"{row[k]:,}" if isinstance(row[k], int) else str(row[k]) for k in header) + " |")


if __name__ == "__main__":
    main()
