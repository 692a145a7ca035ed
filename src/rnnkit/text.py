"""Text pipeline: cleaning, tokenizing, the vocabulary, padding and one-hot encoding.

Each step is a plain function or a small class usable on its own; :class:`TextPipeline` chains
them with the settings stored in a model bundle, so prediction tokenizes exactly like training.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from rnnkit.errors import BundleError, ConfigError

PAD, UNK, SOS, EOS = "<pad>", "<unk>", "<sos>", "<eos>"
SPECIALS = (PAD, UNK, SOS, EOS)
PAD_ID, UNK_ID, SOS_ID, EOS_ID = range(4)

_TAG = re.compile(r"</?[A-Za-z][^<>]*>")  # a tag starts with a letter: "5 < 6 > 3" is kept
_SPACE = re.compile(r"\s+")
# A word keeps inner apostrophes ("don't", "o'clock"); every other non-space character that is
# not part of a word is a token of its own, so "great!" gives "great", "!".
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]")

# A short English list (function words only). Negations such as "not" and "no" are deliberately
# absent: removing them flips the meaning of sentiment-bearing phrases.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself let me
    more most my myself of off on once only or other our ours ourselves out over own same she should
    so some such than that the their theirs them themselves then there these they this those through
    to too under until up very was we were what when where which while who whom why will with would
    you your yours yourself yourselves""".split()
)

TOKENIZERS = ("word", "char")


def clean_text(text: str) -> str:
    """Strip HTML tags (IMDB's ``<br />``), unescape entities, and collapse runs of whitespace."""
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:  # unescape is slow; most texts have no entities
        text = html.unescape(text)
    text = text.replace("\u2019", "'")  # typographic apostrophe, so "It’s" stays one word
    return _SPACE.sub(" ", text).strip()


def word_tokenize(text: str) -> list[str]:
    """Split into words and punctuation marks: ``"It's great!"`` -> ``["It's", "great", "!"]``."""
    return _WORD.findall(text)


def char_tokenize(text: str) -> list[str]:
    """One token per character, spaces included (for DNA, names, or character-level models)."""
    return list(text)


def remove_stopwords(tokens: Iterable[str], stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    """Drop tokens found in ``stopwords`` (compared case-insensitively)."""
    return [t for t in tokens if t.lower() not in stopwords]


@dataclass(frozen=True)
class TextPipeline:
    """Raw text -> tokens, with the settings that travel inside the model bundle."""

    tokenizer: str = "word"
    lowercase: bool = True
    stopwords: bool = False
    clean: bool = True

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise ConfigError(f"tokenizer must be one of {', '.join(TOKENIZERS)}, got {self.tokenizer!r}")

    def __call__(self, text: str) -> list[str]:
        if self.clean:
            text = clean_text(text)
        if self.lowercase:
            text = text.lower()
        tokens = word_tokenize(text) if self.tokenizer == "word" else char_tokenize(text)
        return remove_stopwords(tokens) if self.stopwords else tokens


class Vocab:
    """Token <-> id mapping with the reserved ids ``<pad>``=0, ``<unk>``=1, ``<sos>``=2, ``<eos>``=3.

    Built tokens follow the specials by descending training frequency, ties broken by first
    appearance, so the same corpus always gives the same ids.
    """

    def __init__(self, tokens: Sequence[str]):
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with the specials {list(SPECIALS)}")
        self.itos: list[str] = list(tokens)
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("a vocabulary must not contain a token twice")

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], num_words: int | None = None, min_freq: int = 1) -> Vocab:
        """Count tokens and keep those seen ``min_freq`` times or more, at most ``num_words`` ids
        in total (the four specials included)."""
        if num_words is not None and num_words <= len(SPECIALS):
            raise ConfigError(f"num_words must be greater than {len(SPECIALS)} (the reserved ids), got {num_words}")
        if min_freq < 1:
            raise ConfigError(f"min_freq must be at least 1, got {min_freq}")
        counts = Counter(chain.from_iterable(token_lists))  # one pass in C
        for special in SPECIALS:
            counts.pop(special, None)
        # sorted() is stable and Counter keeps first-appearance order, which breaks the ties.
        ranked = [t for t, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n >= min_freq]
        if num_words is not None:
            ranked = ranked[: num_words - len(SPECIALS)]
        return cls([*SPECIALS, *ranked])

    def __len__(self) -> int:
        return len(self.itos)

    def __getitem__(self, token: str) -> int:
        return self.stoi.get(token, UNK_ID)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Iterable[str], wrap: bool = False) -> list[int]:
        """Token ids, unknown tokens as ``<unk>``; ``wrap`` adds ``<sos>`` ... ``<eos>``."""
        get = self.stoi.get
        ids = [get(t, UNK_ID) for t in tokens]
        return [SOS_ID, *ids, EOS_ID] if wrap else ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for ids (the inverse of :meth:`encode` for known tokens)."""
        tokens = []
        for i in ids:
            if not 0 <= i < len(self.itos):
                raise ValueError(f"id {i} is outside the vocabulary (0 to {len(self.itos) - 1})")
            tokens.append(self.itos[i])
        return tokens

    def to_json(self) -> dict:
        return {"tokens": self.itos}

    @classmethod
    def from_json(cls, data: object) -> Vocab:
        """Rebuild from :meth:`to_json` output, refusing anything that is not a valid vocabulary."""
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise BundleError("vocab.json must hold an object with a 'tokens' list of strings")
        try:
            return cls(tokens)
        except ValueError as exc:
            raise BundleError(f"vocab.json: {exc}") from None


def pad_sequences(
    seqs: Sequence[Sequence[int]],
    maxlen: int | None = None,
    padding: str = "pre",
    truncating: str = "pre",
    value: int = 0,
) -> np.ndarray:
    """Pad (and truncate) id sequences into an ``(n, maxlen)`` int64 matrix, as Keras does.

    ``truncating="pre"`` drops tokens from the start (keeping the end), ``padding="pre"`` puts the
    padding before the tokens. ``maxlen=None`` uses the longest sequence.
    """
    for name, side in (("padding", padding), ("truncating", truncating)):
        if side not in ("pre", "post"):
            raise ConfigError(f"{name} must be 'pre' or 'post', got {side!r}")
    if maxlen is None:
        maxlen = max((len(s) for s in seqs), default=0)
    out = np.full((len(seqs), maxlen), value, dtype=np.int64)
    if maxlen == 0:
        return out
    for row, seq in zip(out, seqs, strict=True):
        seq = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        if len(seq):
            if padding == "pre":
                row[-len(seq) :] = seq
            else:
                row[: len(seq)] = seq
    return out


def one_hot(ids: np.ndarray | Sequence[int], vocab_size: int) -> np.ndarray:
    """One-hot vectors of shape ``ids.shape + (vocab_size,)`` as float32."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"ids must lie in [0, {vocab_size}), got values from {ids.min()} to {ids.max()}")
    return (ids[..., None] == np.arange(vocab_size)).astype(np.float32)
