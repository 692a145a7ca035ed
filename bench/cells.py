"""Training time of one recurrent layer per cell, on the three kinds of sequences rnnkit meets.

The same bidirectional layer (exact lengths, the same batches) with the compiled GRU loop, the
compiled LSTM loop and PyTorch's ``nn.LSTM`` per direction (rnnkit's LSTM before the compiled loop,
and what it falls back to without a C++ compiler), forward and backward over a whole epoch of
real length distributions:

* IMDB reviews (the classifier: batches of 64, inputs 128, hidden 128, reviews cut at 400 tokens);
* CoNLL-2003 sentences (the tagger: batches of 32, inputs 230, hidden 200);
* the characters of the words of those sentence batches (the tagger's character encoder when it is
  recurrent: every distinct word of a batch, inputs 30, hidden 50).

Then an end-to-end classifier epoch on IMDB reviews, ``--cell gru`` against ``--cell lstm``. Runs
alternate, figures are medians.

    .venv/bin/python bench/cells.py [--reviews 2000] [--sentences 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from rnnkit import TextClassifier
from rnnkit.data.conll import read_conll
from rnnkit.data.tables import load_imdb
from rnnkit.nn.gru import FusedGRU
from rnnkit.nn.lstm import FusedLSTM, SeparateDirections
from rnnkit.nn.steps import reading_order
from rnnkit.text.batches import bucket_batches
from rnnkit.text.pipeline import TextPipeline

CONLL = "../shared/data/conll2003/train.conll.gz"


def epoch_seconds(layer: torch.nn.Module, batches: list[np.ndarray], input_size: int) -> float:
    """Forward and backward of ``layer`` over every batch (lengths), inputs drawn at random."""
    generator = torch.Generator().manual_seed(0)
    inputs = []
    for lengths in batches:
        time_steps = int(lengths.max())
        x = torch.randn(time_steps, len(lengths), input_size, generator=generator)
        inputs.append((x, reading_order(torch.from_numpy(lengths), time_steps, 2)))
    started = time.perf_counter()
    for x, order in inputs:
        layer(x.requires_grad_(), order).sum().backward()
    return time.perf_counter() - started


def length_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    return [lengths[idx] for idx in bucket_batches(lengths, batch_size, np.random.default_rng(0))]


def workloads(reviews: int, sentences: int) -> dict[str, tuple[list[np.ndarray], int, int]]:
    """name -> (batches of lengths, input size, hidden size)."""
    imdb = load_imdb("train")
    pipeline = TextPipeline()
    pick = np.random.default_rng(0).permutation(len(imdb.texts))[:reviews]
    review_lengths = np.array([min(len(pipeline(imdb.texts[i])), 400) for i in pick])
    tokens = read_conll(CONLL).tokens[:sentences]
    sentence_lengths = np.array([len(s) for s in tokens])
    word_batches = []
    for idx in bucket_batches(sentence_lengths, 32, np.random.default_rng(0)):
        words = {w for i in idx for w in tokens[i]}  # the tagger encodes each distinct word once per batch
        word_batches.append(np.array([len(w) for w in words]))
    return {
        "IMDB reviews": (length_batches(review_lengths, 64), 128, 128),
        "sentences": (length_batches(sentence_lengths, 32), 230, 200),
        "characters": (word_batches, 30, 50),
    }


def classifier_epoch_seconds(cell: str, texts: list[str], labels: list[str]) -> float:
    model = TextClassifier(cell=cell, epochs=1, val_fraction=0.0, linear=False)
    model.fit(texts, labels)
    return model.history_[0]["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=2000)
    parser.add_argument("--sentences", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)

    layers: dict[str, Callable[[int, int], torch.nn.Module]] = {
        "GRU, compiled": lambda i, h: FusedGRU(i, h, 2),
        "LSTM, compiled": lambda i, h: FusedLSTM(i, h, 2),
        "LSTM, nn.LSTM": lambda i, h: SeparateDirections("lstm", i, h, 2),
    }
    machine = platform.processor() or platform.machine()
    print(f"{machine}, {torch.get_num_threads()} threads, torch {torch.__version__}; medians of {args.rounds}")
    print(f"{'sequences':<14}{'batches':>8}{'mean len':>9}" + "".join(f"{name:>16}" for name in layers))
    for name, (batches, input_size, hidden) in workloads(args.reviews, args.sentences).items():
        seconds: dict[str, list[float]] = {layer: [] for layer in layers}
        for _ in range(args.rounds):
            for layer, build in layers.items():
                seconds[layer].append(epoch_seconds(build(input_size, hidden), batches, input_size))
        mean = np.concatenate(batches).mean()
        cells = "".join(f"{statistics.median(seconds[layer]):>15.2f}s" for layer in layers)
        print(f"{name:<14}{len(batches):>8}{mean:>9.1f}{cells}")

    imdb = load_imdb("train")
    pick = np.random.default_rng(1).permutation(len(imdb.texts))[: args.reviews]
    texts, labels = [imdb.texts[i] for i in pick], [imdb.labels[i] for i in pick]
    epochs: dict[str, list[float]] = {"gru": [], "lstm": []}
    for _ in range(args.rounds):
        for cell in epochs:
            epochs[cell].append(classifier_epoch_seconds(cell, texts, labels))
    gru, lstm = (statistics.median(epochs[cell]) for cell in ("gru", "lstm"))
    print(
        f"classifier epoch on {args.reviews} IMDB reviews: --cell gru {gru:.2f}s, --cell lstm {lstm:.2f}s "
        f"(lstm/gru {lstm / gru:.2f})"
    )


if __name__ == "__main__":
    main()
