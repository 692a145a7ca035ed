"""How a language model reads and writes text: characters, or words with line breaks kept.

Characters: every character is a token, spaces and line breaks included, so generated text is
written back exactly. Words: words and punctuation marks (:func:`rnnkit.text.pipeline.word_tokenize`)
and each line break as a token of its own (a play's speaker lines keep their shape); written back
with single spaces between tokens.
"""

from __future__ import annotations

import numpy as np

from rnnkit.text.pipeline import Vocab, word_tokenize

NEWLINE = "\n"


def split(text: str, tokenizer: str) -> list[str]:
    """The tokens of ``text`` for ``tokenizer`` ("char" or "word")."""
    if tokenizer == "char":
        return list(text)
    tokens: list[str] = []
    for i, line in enumerate(text.split(NEWLINE)):
        if i:
            tokens.append(NEWLINE)
        tokens += word_tokenize(line)
    return tokens


def join(tokens: list[str], tokenizer: str) -> str:
    """Text of tokens: characters as they are; words with single spaces, none around line breaks."""
    if tokenizer == "char":
        return "".join(tokens)
    out: list[str] = []
    for token in tokens:
        if out and token != NEWLINE and out[-1] != NEWLINE:
            out.append(" ")
        out.append(token)
    return "".join(out)


def encode(text: str, vocab: Vocab, tokenizer: str) -> np.ndarray:
    """Token ids ``(n,)``, unknown tokens as ``<unk>``."""
    return np.asarray(vocab.encode(split(text, tokenizer)), dtype=np.int64)
