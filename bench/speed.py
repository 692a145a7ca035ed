"""Training and prediction speed of rnnkit against a plain PyTorch loop, same batches, same process.

The reference is what people write by hand: ``nn.Embedding`` -> ``nn.GRU(bidirectional=True)``
over padded, length-bucketed batches -> max pooling -> linear head, Adam, gradient clipping. (Its
backward direction reads padding first, so it is not exact about lengths; rnnkit is.) Both get the
same architecture (the default recurrent model: BiGRU-128, embeddings 128, dropout 0.3), the same
vocabulary and the same batches. (The default classifier's linear models are fitted once by
scikit-learn's solvers after training, not per batch; their time is in the IMDB run's total.)
Runs alternate (reference, rnnkit, reference, ...) so drift on a shared machine hits both; the
figures are medians over the rounds. Prediction: the reference runs sorted batches of 128 and of 256
and keeps its faster figure; rnnkit runs its own ``predict_proba`` (its default batch size).

    .venv/bin/python bench/speed.py [--reviews 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch
from torch import nn

from rnnkit.data.tables import load_imdb
from rnnkit.tasks.classification.estimator import TextClassifier, make_model
from rnnkit.tasks.classification.model import predict_proba
from rnnkit.text.batches import bucket_batches, collate, encode_texts
from rnnkit.text.pipeline import PAD_ID, TextPipeline, Vocab

FLOP_PER_TOKEN = 1.18e6  # BiGRU-128/emb-128 training step (forward + backward) per real token


def matmul_ceiling(size: int = 2048, repeats: int = 10) -> float:
    """float32 FLOP/s of a large square matmul on all threads: the machine's practical ceiling."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    started = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * size**3 * repeats / (time.perf_counter() - started)


class PlainBiGRU(nn.Module):
    """The hand-written reference: padded batch in, no length handling inside the GRU."""

    def __init__(self, vocab_size: int, dim: int = 128, hidden: int = 128, dropout: float = 0.3):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=PAD_ID)
        self.gru = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, 1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h, _ = self.gru(self.dropout(self.embedding(ids)))
        mask = torch.arange(ids.size(1))[None, :, None] < lengths[:, None, None]
        return self.head(self.dropout(h.masked_fill(~mask, float("-inf")).amax(dim=1)))


def train_seconds(model: nn.Module, data, targets: np.ndarray, batches: list[np.ndarray]) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    started = time.perf_counter()
    for idx in batches:
        ids, lengths = collate(data, idx)
        logits = model(ids, lengths)[:, 0]
        loss = nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(targets[idx]).float())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return time.perf_counter() - started


@torch.inference_mode()
def plain_predict_seconds(model: nn.Module, data) -> float:
    """The reference's best of large sorted batches (128 or 256 texts)."""
    model.eval()
    timings = []
    for batch_size in (128, 256):
        started = time.perf_counter()
        for idx in bucket_batches(data.lengths, batch_size):
            torch.sigmoid(model(*collate(data, idx)))
        timings.append(time.perf_counter() - started)
    return min(timings)


def rnnkit_predict_seconds(model: nn.Module, data) -> float:
    started = time.perf_counter()
    predict_proba(model, data)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=2000, help="IMDB training reviews to use")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per system")
    parser.add_argument("--max-length", type=int, default=400)
    args = parser.parse_args()

    reviews = load_imdb("train")
    pick = np.random.default_rng(0).permutation(len(reviews.texts))[: args.reviews]
    pipeline, texts = TextPipeline(), [reviews.texts[i] for i in pick]
    vocab = Vocab.build(map(pipeline, texts), num_words=30000, min_freq=2)
    data = encode_texts(texts, pipeline, vocab, args.max_length)
    targets = np.array([reviews.labels[i] == "pos" for i in pick], dtype=np.int64)
    real_tokens = int(data.lengths.sum())
    batches = bucket_batches(data.lengths, 64, np.random.default_rng(0))

    systems = {
        "plain PyTorch": (lambda: PlainBiGRU(len(vocab)), plain_predict_seconds),
        "rnnkit": (lambda: make_model(TextClassifier().get_params(), len(vocab), 2), rnnkit_predict_seconds),
    }
    train_rate = {name: [] for name in systems}
    predict_rate = {name: [] for name in systems}
    for _ in range(args.rounds):
        for name, (build, predict_seconds) in systems.items():
            torch.manual_seed(0)
            model = build()
            train_rate[name].append(real_tokens / train_seconds(model, data, targets, batches))
            predict_rate[name].append(len(data) / predict_seconds(model, data))

    machine = platform.processor() or platform.machine()
    print(f"{machine}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{len(data)} IMDB reviews, {real_tokens} real tokens, {len(batches)} batches of 64, ", end="")
    print(f"max length {args.max_length}")
    ceiling = matmul_ceiling()
    print(f"float32 matmul ceiling measured now: {ceiling / 1e9:.0f} GFLOP/s", end="; ")
    print(f"FLOP use = tokens/s x {FLOP_PER_TOKEN:.3g} / ceiling")
    print(f"{'system':<16}{'train tokens/s':>16}{'FLOP use':>10}{'predict reviews/s':>19}")
    for name in systems:
        tok, reviews_per_s = statistics.median(train_rate[name]), statistics.median(predict_rate[name])
        print(f"{name:<16}{tok:>16,.0f}{tok * FLOP_PER_TOKEN / ceiling:>10.1%}{reviews_per_s:>19,.0f}")
    ratio = statistics.median(train_rate["rnnkit"]) / statistics.median(train_rate["plain PyTorch"])
    predict_ratio = statistics.median(predict_rate["rnnkit"]) / statistics.median(predict_rate["plain PyTorch"])
    print(f"ratio rnnkit / plain: training {ratio:.2f}x, prediction {predict_ratio:.2f}x")


if __name__ == "__main__":
    main()
