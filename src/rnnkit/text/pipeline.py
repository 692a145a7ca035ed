"""Text pipeline: cleaning, tokenizing, the vocabulary, padding and one-hot encoding.

Each step is a plain function or a small class usable on its own; :class:`TextPipeline` chains
them with the settings stored in a model bundle, so prediction tokenizes exactly like training.
"""

from __future__ import annotations

import html
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from rnnkit.errors import BundleError, ConfigError, DataError

PAD, UNK, SOS, EOS = "<pad>", "<unk>", "<sos>", "<eos>"
SPECIALS = (PAD, UNK, SOS, EOS)
PAD_ID, UNK_ID, SOS_ID, EOS_ID = range(4)

_TAG = re.compile(r"</?[A-Za-z][^<>]*>")  # a tag starts with a letter: "5 < 6 > 3" is kept
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
    return " ".join(strip_markup(text).split())  # split() uses the same whitespace as the regex \s


def strip_markup(text: str) -> str:
    """:func:`clean_text` without the whitespace step, which word tokenizing makes unnecessary."""
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:  # unescape is slow; most texts have no entities
        text = html.unescape(text)
    return text.replace("\u2019", "'")  # typographic apostrophe, so "It’s" stays one word


def word_tokenize(text: str) -> list[str]:
    """Split into words and punctuation marks: ``"It's great!"`` -> ``["It's", "great", "!"]``.

    The same as ``_WORD.findall(text)``, faster: most whitespace-separated chunks are plain words
    (``str.isalnum``, a subset of the regex's ``\\w``), and only the others need the regex.
    """
    tokens: list[str] = []
    for chunk in text.split():
        if chunk.isalnum():
            tokens.append(chunk)
        else:
            tokens += _WORD.findall(chunk)
    return tokens


# Tokens as annotated corpora split them (CoNLL, Penn Treebank): abbreviations keep their dots
# ("U.S."), numbers their separators ("1,000.5"), hyphenated words stay whole, clitics and every other
# mark stand alone ("Germany" "'s", "do" "n't").
_ANNOTATED = re.compile(r"(?:[^\W\d_]\.){2,}|\d+(?:[.,:/]\d+)*|\w+(?=n't)|n't|\w+(?:-\w+)*|'\w+|[^\w\s]")


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """Split raw text as annotated corpora are tokenized, keeping where each token is:
    ``"Tom's in Paris."`` -> ``[("Tom", 0, 3), ("'s", 3, 5), ("in", 6, 8), ("Paris", 9, 14), (".", 14, 15)]``.
    """
    return [(m.group(), m.start(), m.end()) for m in _ANNOTATED.finditer(text)]


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
            # Words never contain whitespace, so only characters need it collapsed.
            text = clean_text(text) if self.tokenizer == "char" else strip_markup(text)
        if self.lowercase:
            text = text.lower()
        tokens = word_tokenize(text) if self.tokenizer == "word" else char_tokenize(text)
        return remove_stopwords(tokens) if self.stopwords else tokens


def index_tokens(token_lists: Sequence[Sequence[str]]) -> tuple[list[str], np.ndarray]:
    """Number the distinct tokens by first appearance: ``(types, flat)``, where ``flat`` (int32) holds
    the number of every token of every list, in order.

    One dictionary pass over the corpus, run entirely in C: a ``defaultdict`` whose factory is its
    own ``__len__`` gives each new token the next number.
    """
    index: defaultdict[str, int] = defaultdict()
    index.default_factory = index.__len__
    total = sum(map(len, token_lists))
    flat = np.fromiter(map(index.__getitem__, chain.from_iterable(token_lists)), dtype=np.int32, count=total)
    return list(index), flat


class _UnknownAsUnk(dict):
    """A token -> id dict that answers ``<unk>``'s id for missing tokens, so lookups can run in C."""

    def __missing__(self, token: str) -> int:
        return UNK_ID


class Vocab:
    """Token <-> id mapping with the reserved ids ``<pad>``=0, ``<unk>``=1, ``<sos>``=2, ``<eos>``=3.

    Built tokens follow the specials by descending training frequency, ties broken by first
    appearance, so the same corpus always gives the same ids.
    """

    def __init__(self, tokens: Sequence[str]):
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with the specials {list(SPECIALS)}")
        self.itos: list[str] = list(tokens)
        self.stoi: dict[str, int] = _UnknownAsUnk((t, i) for i, t in enumerate(self.itos))
        if len(self.stoi) != len(self.itos):
            raise ValueError("a vocabulary must not contain a token twice")

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], num_words: int | None = None, min_freq: int = 1) -> Vocab:
        """Count tokens and keep those seen ``min_freq`` times or more, at most ``num_words`` ids
        in total (the four specials included)."""
        token_lists = token_lists if isinstance(token_lists, Sequence) else list(token_lists)
        types, flat = index_tokens(token_lists)
        return cls.from_counts(types, np.bincount(flat, minlength=len(types)), num_words, min_freq)

    @classmethod
    def from_counts(cls, types: Sequence[str], counts: np.ndarray, num_words: int | None, min_freq: int) -> Vocab:
        """Like :meth:`build`, from distinct ``types`` in first-appearance order and their ``counts``."""
        if num_words is not None and num_words <= len(SPECIALS):
            raise ConfigError(f"num_words must be greater than {len(SPECIALS)} (the reserved ids), got {num_words}")
        if min_freq < 1:
            raise ConfigError(f"min_freq must be at least 1, got {min_freq}")
        order = np.argsort(-counts, kind="stable")  # stable: ties keep first-appearance order
        order = order[counts[order] >= min_freq]
        ranked = [types[i] for i in order.tolist() if types[i] not in SPECIALS]
        if num_words is not None:
            ranked = ranked[: num_words - len(SPECIALS)]
        return cls([*SPECIALS, *ranked])

    def __len__(self) -> int:
        return len(self.itos)

    def __getitem__(self, token: str) -> int:
        return self.stoi[token]

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Iterable[str], wrap: bool = False) -> list[int]:
        """Token ids, unknown tokens as ``<unk>``; ``wrap`` adds ``<sos>`` ... ``<eos>``."""
        ids = list(map(self.stoi.__getitem__, tokens))
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
    seqs: Sequence[Sequence[Any] | np.ndarray],
    maxlen: int | None = None,
    dtype: DTypeLike = "int64",
    padding: str = "pre",
    truncating: str = "pre",
    value: float | str = 0,
) -> np.ndarray:
    """Pad (and truncate) sequences into one ``(n, maxlen, *features)`` array, as Keras does.

    Models read fixed-size arrays, so ragged sequences are cut or filled to ``maxlen`` steps
    (``None``: the longest). A sequence is a list or array of ``len`` items; an item is a scalar
    (token ids: the output is ``(n, maxlen)``) or an array of one shape ``features`` shared by
    every sequence (feature vectors: ``(n, maxlen, *features)``). ``truncating="pre"`` drops steps
    from the start (keeping the end), ``padding="pre"`` puts the padding before the steps.

    The arguments and their order are those of ``keras.utils.pad_sequences``, except that the
    default ``dtype`` is ``"int64"`` (what ``torch`` embeddings index with) instead of ``"int32"``.
    Strings need ``dtype=object`` or a string dtype (``str``, ``"<U5"``) and a string ``value``;
    a plain ``str`` dtype is sized to the longest string, a fixed width such as ``"<U3"`` cuts
    longer items as numpy does. A ``value`` the dtype cannot hold exactly (a string or ``1.5`` for
    an integer dtype, ``-1`` for ``uint8``) is refused rather than silently changed.
    """
    for name, side in (("padding", padding), ("truncating", truncating)):
        if side not in ("pre", "post"):
            raise ConfigError(f"{name} must be 'pre' or 'post', got {side!r}")
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, int | np.integer) or maxlen < 0):
        raise ConfigError(f"maxlen must be None or an integer >= 0, got {maxlen!r}")
    lengths, item_shape, first = _sequence_shapes(seqs)
    if maxlen is None:
        maxlen = max(lengths, default=0)
    dtype = _pad_dtype(dtype, value, seqs)
    out = np.full((len(seqs), maxlen, *item_shape), value, dtype=dtype)
    if maxlen == 0:
        return out
    for i, (row, seq) in enumerate(zip(out, seqs, strict=True)):
        if not lengths[i]:
            continue
        seq = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        try:
            seq = np.asarray(seq, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"sequence {i} cannot be stored as {dtype.name} ({exc}); choose a dtype that holds its items"
            ) from None
        if seq.shape[1:] != item_shape:
            raise DataError(
                f"sequence {i} has items of shape {seq.shape[1:]}, which is different from the expected shape "
                f"{item_shape} of sequence {first}; every item of every sequence must have one shape"
            )
        if padding == "pre":
            row[-len(seq) :] = seq
        else:
            row[: len(seq)] = seq
    return out


def _sequence_shapes(seqs: Sequence[Sequence[Any] | np.ndarray]) -> tuple[list[int], tuple[int, ...], int]:
    """The length of each sequence, the shape of an item (``()`` for scalars) taken from the first
    non-empty sequence, and that sequence's index."""
    lengths: list[int] = []
    item_shape: tuple[int, ...] = ()
    first = -1
    for i, seq in enumerate(seqs):
        try:
            lengths.append(len(seq))
        except TypeError:
            raise DataError(f"sequence {i} is not a sequence but {seq!r}; pass a list of lists or arrays") from None
        if first < 0 and lengths[-1]:
            item_shape, first = np.asarray(seq).shape[1:], i
    return lengths, item_shape, first


def _pad_dtype(dtype: DTypeLike, value: object, seqs: Sequence[Sequence[Any] | np.ndarray]) -> np.dtype:
    """``dtype`` as a numpy dtype, after checking that it holds ``value`` exactly."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ConfigError(f"dtype {dtype!r} is not a numpy dtype; try 'int64', 'float32' or object") from None
    if dt.kind in "US":
        if dt.itemsize == 0:  # str or bytes without a width: as wide as the longest string
            width = max([len(str(value))] + [len(str(x)) for s in seqs for x in np.ravel(np.asarray(s, dtype=object))])
            dt = np.dtype(f"{dt.kind}{width}")
        width = dt.itemsize // (4 if dt.kind == "U" else 1)
        if isinstance(value, str | bytes) and len(value) > width:
            raise ConfigError(f"`value` {value!r} is longer than the {width} characters of `dtype` {dt.str}")
        return dt
    if dt.kind == "O":
        return dt
    if isinstance(value, str):  # Keras' message, made one line
        raise ConfigError(
            f"`dtype` {dt.name} is not compatible with `value`'s type: {type(value)}; use `dtype=object` "
            "or a string dtype (str, '<U5') for strings"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns when a float cast to an integer overflows
            held = np.array(value, dtype=dt)
        exact = dt.kind not in "biu" or bool(held == value)
    except (TypeError, ValueError, OverflowError, RuntimeWarning):
        exact = False
    if not exact:
        raise ConfigError(f"`value` {value!r} does not fit `dtype` {dt.name}; pick a value it holds or another dtype")
    return dt


def one_hot(ids: np.ndarray | Sequence[int], vocab_size: int) -> np.ndarray:
    """One-hot vectors of shape ``ids.shape + (vocab_size,)`` as float32."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"ids must lie in [0, {vocab_size}), got values from {ids.min()} to {ids.max()}")
    return (ids[..., None] == np.arange(vocab_size)).astype(np.float32)
