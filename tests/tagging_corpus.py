"""A small synthetic NER corpus a tiny tagger learns in a few epochs, written in any tag scheme."""

from __future__ import annotations

import random
from pathlib import Path

FIRST = ["Tom", "Eliza", "Maria", "Jan", "Kofi", "Ahmed", "Lena", "Oskar", "Yuki", "Pablo"]
LAST = ["Berg", "Okafor", "Novak", "Silva", "Tanaka", "Weber", "Hughes"]
PLACES = ["Paris", "Lagos", "Oslo", "Lima", "Kyoto", "Dakar", "Quito", "Perth"]
ORGS = [["Acme", "Corp"], ["Globex"], ["United", "Nations"], ["Initech"], ["Red", "Cross"]]
FILLER = ["yesterday", "met", "visited", "the", "in", "said", "that", "and", "with", "from", "today", "saw"]


def make_tagged(n: int, seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences of filler words with people (1-2 tokens), places and organisations (1-2 tokens)
    at random positions, tagged in IOB2; two entities of one type may stand side by side."""
    rng = random.Random(seed)
    sentences, tag_lists = [], []
    for _ in range(n):
        tokens, tags = [], []
        for _ in range(rng.randint(2, 6)):
            tokens += rng.choices(FILLER, k=rng.randint(0, 3))
            tags += ["O"] * (len(tokens) - len(tags))
            kind = rng.choice(["PER", "LOC", "ORG"])
            if kind == "PER":
                words = [rng.choice(FIRST)] + ([rng.choice(LAST)] if rng.random() < 0.5 else [])
            elif kind == "LOC":
                words = [rng.choice(PLACES)]
            else:
                words = list(rng.choice(ORGS))
            tokens += words
            tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
        tokens.append(".")
        tags.append("O")
        sentences.append(tokens)
        tag_lists.append(tags)
    return sentences, tag_lists


def to_iob1(tags: list[str]) -> list[str]:
    """IOB2 -> IOB1: chunks start with I-, B- only right after a chunk of the same type."""
    out = []
    for i, tag in enumerate(tags):
        if tag.startswith("B-") and not (i and tags[i - 1] != "O" and tags[i - 1][2:] == tag[2:]):
            tag = "I-" + tag[2:]
        out.append(tag)
    return out


def write_conll(path: Path, sentences: list[list[str]], tag_lists: list[list[str]], docstart: bool = False) -> Path:
    pairs = [zip(s, tags, strict=True) for s, tags in zip(sentences, tag_lists, strict=True)]
    blocks = ["".join(f"{t}\t{g}\n" for t, g in sentence) for sentence in pairs]
    head = "-DOCSTART-\tO\n\n" if docstart else ""
    path.write_text(head + "\n".join(blocks), encoding="utf-8")
    return path


# A small, fast tagger: enough to learn the synthetic names, quick on two cores.
SMALL_TAGGER = {
    "hidden_size": 24,
    "embedding_dim": 16,
    "char_dim": 8,
    "char_size": 16,
    "epochs": 8,
    "batch_size": 16,
    "lr": 0.01,
    "dropout": 0.2,
    "patience": 8,
    "ensemble": 1,  # one network; the ensemble's own tests ask for two
}
