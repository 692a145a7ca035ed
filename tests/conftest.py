"""Shared fixtures: small synthetic corpora that a tiny model learns in a few epochs."""

from __future__ import annotations

import csv
import gzip
import random
import signal
from pathlib import Path

import pytest

FILLER = [
    "the",
    "a",
    "movie",
    "film",
    "story",
    "plot",
    "actor",
    "scene",
    "music",
    "and",
    "was",
    "is",
    "it",
    "this",
    "that",
]
CUES = {"pos": ["good", "great", "fun"], "neg": ["bad", "awful", "dull"], "meh": ["okay", "average", "fine"]}


def make_corpus(n: int, classes: tuple[str, ...] = ("neg", "pos"), seed: int = 0) -> tuple[list[str], list[str]]:
    """Texts of 5-30 filler words with one class cue word hidden at a random position."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = classes[i % len(classes)]
        words = rng.choices(FILLER, k=rng.randint(5, 30))
        words.insert(rng.randrange(len(words) + 1), rng.choice(CUES[label]))
        texts.append(" ".join(words) + rng.choice([".", "!", ""]))
        labels.append(label)
    return texts, labels


def write_text(path: Path, text: str) -> Path:
    """``text`` into ``path``, gzip-compressed when the name ends in ``.gz``."""
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def write_csv(path: Path, texts: list[str], labels: list[str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels, strict=True))
    return path


# A small, fast model: enough to learn the cue words, quick on two cores.
SMALL = {"hidden_size": 16, "embedding_dim": 16, "epochs": 8, "batch_size": 16, "lr": 0.01, "patience": 3}


@pytest.fixture
def binary_corpus():
    return make_corpus(240)


@pytest.fixture
def small_params():
    return dict(SMALL)


@pytest.fixture
def train_csv(tmp_path):
    texts, labels = make_corpus(240)
    return write_csv(tmp_path / "train.csv", texts, labels)


@pytest.fixture
def test_csv(tmp_path):
    texts, labels = make_corpus(60, seed=1)
    return write_csv(tmp_path / "test.csv", texts, labels)


@pytest.fixture(params=["compiled", "pure"])
def rnn_kernel(request, monkeypatch):
    """Run a test with the compiled GRU/LSTM loops and again with the pure-PyTorch ones."""
    if request.param == "pure":
        monkeypatch.setattr("rnnkit.nn.gru.rnn_ops", lambda: None)
        monkeypatch.setattr("rnnkit.nn.lstm.rnn_ops", lambda: None)
    else:
        from rnnkit.nn.native import rnn_ops

        assert rnn_ops() is not None, "the compiled loops did not build"
    return request.param


def interrupt_training_at(monkeypatch, step: int) -> None:
    """Make the training loop receive Ctrl-C (SIGINT) during its ``step``-th optimizer step (from 1): the
    loop finishes that batch, saves its checkpoint and stops."""
    import rnnkit.train.loop

    original, calls = rnnkit.train.loop._train_step, [0]

    def interrupt(*args, **kwargs):
        calls[0] += 1
        if calls[0] == step:
            signal.raise_signal(signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(rnnkit.train.loop, "_train_step", interrupt)
