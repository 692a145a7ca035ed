"""Language-model speed of rnnkit against a plain PyTorch character LSTM, same windows, same process.

The reference is what char-rnn tutorials write by hand: ``nn.Embedding`` -> ``nn.LSTM`` (batch first,
its state carried from window to window and detached) -> ``nn.Linear``, cross-entropy, Adam, gradient
clipping; for sampling, one ``nn.LSTM`` call per character. Both get rnnkit's default sizes (characters
128 -> LSTM 512, one layer) and the same windows of tiny-shakespeare (``--batch-size`` rows of
``--steps`` characters). Training: characters per second over ``--windows`` windows; sampling:
characters per second over ``--length`` characters, temperature 1. Runs alternate so drift on a shared
machine hits both; figures are medians over the rounds.

    .venv/bin/python bench/lm.py [--windows 30] [--length 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from rnnkit import LanguageModel
from rnnkit.data.parallel import read_corpus
from rnnkit.tasks.language_model.estimator import make_language_model
from rnnkit.tasks.language_model.model import TextStream
from rnnkit.tasks.language_model.tokens import encode, split
from rnnkit.text.pipeline import Vocab

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "train.txt"


class PlainLM(nn.Module):
    """The hand-written reference."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids, state=None):
        out, state = self.lstm(self.embedding(ids), state)
        return self.head(out), state


def train_plain(model: PlainLM, optimizer, stream: TextStream, windows: int) -> float:
    model.train()
    started, state = time.perf_counter(), None
    for inputs, targets in stream.windows[:windows]:
        logits, state = model(inputs.t(), state)
        state = tuple(s.detach() for s in state)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.t().flatten())
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return time.perf_counter() - started


def train_rnnkit(model, optimizer, stream: TextStream, windows: int) -> float:
    model.train()
    started = time.perf_counter()
    for k in range(windows):
        loss, weight, _, _ = stream.loss(model, [k])
        optimizer.zero_grad()
        (loss / weight).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return time.perf_counter() - started


@torch.no_grad()
def sample_plain(model: PlainLM, start: int, length: int) -> float:
    model.eval()
    started, state, ids = time.perf_counter(), None, torch.tensor([[start]])
    generator = torch.Generator().manual_seed(0)
    for _ in range(length):
        logits, state = model(ids, state)
        ids = torch.multinomial(torch.softmax(logits[0, -1], dim=0), 1, generator=generator)[None]
    return time.perf_counter() - started


def sample_rnnkit(lm: LanguageModel, length: int) -> float:
    started = time.perf_counter()
    lm.generate("\n", length, temperature=1.0, seed=0)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=int, default=30)
    parser.add_argument("--length", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    text = read_corpus(DATA)
    params = LanguageModel().get_params()
    vocab = Vocab.build([split(text, "char")])
    stream = TextStream(encode(text, vocab, "char"), params["batch_size"], params["steps"])
    lm = LanguageModel(**params)
    lm.params_, lm.vocab_, lm.model_ = params, vocab, make_language_model(params, len(vocab))
    plain = PlainLM(len(vocab), params["embedding_dim"], params["hidden_size"])
    optimizers = {"rnnkit": torch.optim.Adam(lm.model_.parameters()), "plain": torch.optim.Adam(plain.parameters())}
    chars = args.windows * params["batch_size"] * params["steps"]
    results: dict[str, dict[str, list[float]]] = {name: {"train": [], "sample": []} for name in optimizers}
    for _ in range(args.rounds):
        results["plain"]["train"].append(chars / train_plain(plain, optimizers["plain"], stream, args.windows))
        results["rnnkit"]["train"].append(chars / train_rnnkit(lm.model_, optimizers["rnnkit"], stream, args.windows))
        results["plain"]["sample"].append(args.length / sample_plain(plain, vocab["\n"], args.length))
        results["rnnkit"]["sample"].append(args.length / sample_rnnkit(lm, args.length))
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    shape = f"{args.windows} windows of {params['batch_size']} x {params['steps']} characters"
    print(f"tiny-shakespeare, {shape}, {args.length} sampled characters, {args.rounds} rounds, medians")
    reference = {kind: statistics.median(results["plain"][kind]) for kind in ("train", "sample")}
    print(f"{'':<36}{'train chars/s':>14}{'ratio':>8}{'sample chars/s':>16}{'ratio':>8}")
    for name, label in (("plain", "plain nn.LSTM loop"), ("rnnkit", "rnnkit defaults")):
        train, sample = (statistics.median(results[name][kind]) for kind in ("train", "sample"))
        ratios = train / reference["train"], sample / reference["sample"]
        print(f"{label:<36}{train:>14.0f}{ratios[0]:>8.2f}{sample:>16.0f}{ratios[1]:>8.2f}")


if __name__ == "__main__":
    main()
