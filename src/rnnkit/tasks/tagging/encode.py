"""Token lists to the tagger's arrays, and padded batches from them.

A sentence is stored ragged (:class:`~rnnkit.text.batches.Ragged`) three ways over the same
offsets: word ids (normalised: lower case, digits as 0, so "1996" and "1997" share a vector), form
ids (the token exactly as written) and tag ids. Each distinct form is spelled once (its character
ids and its casing kind), so a batch runs the character encoder over its distinct words only: in
CoNLL-2003 a batch of 32 sentences has about 450 tokens but 250 distinct forms.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnkit.text.batches import Ragged
from rnnkit.text.pipeline import PAD_ID, Vocab

# The kind of casing a token has: what the lower-cased word vector no longer says. Index 0 is padding.
CASINGS = ("pad", "lower", "upper", "title", "mixed", "digits", "has_digit", "other")
_DIGIT = re.compile(r"\d")


def casing(token: str) -> int:
    """The index in ``CASINGS`` of ``token``'s kind ("Paris" title, "NATO" upper, "1996" digits)."""
    if token.isdigit():
        return CASINGS.index("digits")
    if _DIGIT.search(token):
        return CASINGS.index("has_digit")
    if token.islower():
        return CASINGS.index("lower")
    if token.isupper():
        return CASINGS.index("upper")
    if token[:1].isupper() and token[1:].islower():
        return CASINGS.index("title")
    if any(c.isalpha() for c in token):
        return CASINGS.index("mixed")
    return CASINGS.index("other")


def normalize(token: str, lowercase: bool) -> str:
    """The word-vocabulary key of a token: digits become 0, and lower case when ``lowercase``."""
    token = _DIGIT.sub("0", token)
    return token.lower() if lowercase else token


@dataclass(frozen=True)
class Sentences:
    """Encoded sentences: ``words``, ``forms`` and ``tags`` (or None) share offsets; ``chars`` and
    ``casing`` are per distinct form."""

    words: Ragged
    forms: Ragged
    chars: Ragged
    casing: np.ndarray  # (forms,) int64 indices into CASINGS
    tags: Ragged | None

    def __len__(self) -> int:
        return len(self.words)

    @property
    def lengths(self) -> np.ndarray:
        return self.words.lengths


def encode(
    token_lists: Sequence[Sequence[str]],
    vocab: Vocab,
    char_vocab: Vocab,
    lowercase: bool,
    tag_index: dict[str, int] | None = None,
    tag_lists: Sequence[Sequence[str]] | None = None,
) -> Sentences:
    """Encode sentences (and their tags, already in the tagger's scheme, when given)."""
    form_ids: dict[str, int] = {}
    forms = [[form_ids.setdefault(t, len(form_ids)) for t in tokens] for tokens in token_lists]
    spelled = list(form_ids)
    words = [vocab.encode(normalize(t, lowercase) for t in tokens) for tokens in token_lists]
    tags = None
    if tag_lists is not None:
        tags = Ragged.from_sequences([tag_index[t] for t in tag_list] for tag_list in tag_lists)
    return Sentences(
        words=Ragged.from_sequences(words),
        forms=Ragged.from_sequences(forms),
        chars=Ragged.from_sequences(char_vocab.encode(form) for form in spelled),
        casing=np.array([casing(form) for form in spelled], dtype=np.int64),
        tags=tags,
    )


@dataclass(frozen=True)
class Batch:
    """Padded, time-major tensors for one batch of sentences."""

    words: torch.Tensor  # (time, batch) word ids, PAD after each sentence
    lengths: torch.Tensor  # (batch,) tokens per sentence
    chars: torch.Tensor  # (forms, longest) character ids of the batch's distinct forms
    char_lengths: torch.Tensor  # (forms,)
    form_index: torch.Tensor  # (time, batch) row of ``chars`` for each token (0 at padding)
    casing: torch.Tensor  # (time, batch) indices into CASINGS (0 at padding)
    tags: torch.Tensor | None  # (time, batch) tag ids (0 at padding)


def collate(sentences: Sentences, idx: np.ndarray) -> Batch:
    """Pad the sentences ``idx`` to the longest of them."""

    def padded(ragged: Ragged, fill: int = PAD_ID) -> torch.Tensor:
        return torch.from_numpy(ragged.padded(idx, fill)).t()

    forms = padded(sentences.forms, -1)
    real = forms >= 0
    distinct, inverse = torch.unique(forms[real], return_inverse=True)
    form_index = torch.zeros_like(forms)
    form_index[real] = inverse
    casing = torch.zeros_like(forms)
    casing[real] = torch.from_numpy(sentences.casing)[forms[real]]
    return Batch(
        words=padded(sentences.words),
        lengths=torch.from_numpy(sentences.lengths[idx]),
        chars=torch.from_numpy(sentences.chars.padded(distinct.numpy())),
        char_lengths=torch.from_numpy(sentences.chars.lengths[distinct.numpy()]),
        form_index=form_index,
        casing=casing,
        tags=None if sentences.tags is None else padded(sentences.tags),
    )
