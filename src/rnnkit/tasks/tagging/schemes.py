"""Chunk tag schemes (IOB1, IOB2, BIOES) and plain tags, converted through BIOES.

A tagger trains and decodes in BIOES whatever scheme its data came in: BIOES marks both ends of a
chunk, so a CRF can forbid every ill-formed sequence with start/transition/end constraints
(:func:`bioes_constraints`), and the predictions are written back in the data's own scheme
(:func:`from_bioes`). Plain tags (POS: ``NOUN``, ``VERB``) have no chunks and pass through unchanged.

A tag is ``O`` or ``P-TYPE`` with the prefix ``P`` one of ``B``, ``I``, ``E``, ``S``; the type is
everything after the first hyphen, so ``B-MISC-X`` has type ``MISC-X``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.errors import ConfigError, DataError

SCHEMES = ("iob1", "iob2", "bioes", "plain")
ALIASES = {"iobes": "bioes"}
PREFIXES = ("B", "I", "E", "S")

Chunk = tuple[str, int, int]


def check_scheme(name: str) -> str:
    """The scheme called ``name`` (case-insensitive, ``iobes`` for ``bioes``); ConfigError if unknown."""
    scheme = ALIASES.get(str(name).lower(), str(name).lower())
    if scheme not in SCHEMES:
        raise ConfigError(f"tag scheme must be one of {', '.join(SCHEMES)} (or iobes); got {name!r}")
    return scheme


def _split(tag: str) -> tuple[str, str]:
    """(prefix, type): ``("O", "")`` for O, ``("", tag)`` for a tag without a chunk prefix."""
    if tag == "O":
        return "O", ""
    prefix, hyphen, kind = tag.partition("-")
    if hyphen and kind and prefix in PREFIXES:
        return prefix, kind
    return "", tag


def detect_scheme(tag_lists: Sequence[Sequence[str]]) -> str:
    """The scheme the sentences' tags are written in.

    - ``plain`` if any tag other than ``O`` lacks a ``B-``/``I-``/``E-``/``S-`` prefix;
    - ``bioes`` if any ``E-`` or ``S-`` tag occurs;
    - otherwise IOB1 or IOB2, told apart by how chunks start. IOB1 starts a chunk with ``I-`` and
      uses ``B-`` only for a chunk right after a chunk of the same type; IOB2 starts every chunk with
      ``B-``. So count the *I- starts* (an ``I-X`` at the sentence start, after ``O`` or after a tag
      of another type) and the *fresh B- starts* (a ``B-X`` not right after a tag of type X; a ``B-X``
      right after one is legal in both schemes and says nothing). ``iob1`` if the I- starts
      outnumber the fresh B- starts, else ``iob2``: IOB2 data with a few ill-formed I- starts (which
      :func:`to_bioes` repairs) still detects as IOB2, and so do ties, including data with no
      chunks at all, because IOB2 is by far the more common scheme today.
    """
    i_starts = fresh_b_starts = 0
    has_bioes_tag = False
    for tags in tag_lists:
        previous = ""
        for tag in tags:
            prefix, kind = _split(tag)
            if prefix == "":
                return "plain"
            if prefix in ("E", "S"):
                has_bioes_tag = True
            elif prefix == "I" and kind != previous:
                i_starts += 1
            elif prefix == "B" and kind != previous:
                fresh_b_starts += 1
            previous = kind
    if has_bioes_tag:
        return "bioes"
    return "iob1" if i_starts > fresh_b_starts else "iob2"


def _read(tags: Sequence[str], scheme: str) -> tuple[list[Chunk], int]:
    """The chunks of one sentence in a chunk scheme, and how many of them were ill-formed.

    Read the conlleval way: ``B-X`` and ``S-X`` always start a chunk; ``I-X`` and ``E-X`` continue a
    chunk of type X that is still open and otherwise start one; ``E-X`` and ``S-X`` close the chunk.
    A chunk is ill-formed (one repair, however many of its tags were wrong) if it starts with ``I-``
    in IOB2 or BIOES, starts with ``E-``, or, in BIOES, ends without ``E-``/``S-``. IOB1 chunks may
    start with ``I-``; a ``B-`` start after ``O`` is not proper IOB1 either but reads the same
    either way, so it is not counted.
    """
    spans: list[Chunk] = []
    repairs = 0
    open_kind, open_start, open_ill = "", 0, False  # open_kind "" = no chunk open

    def close(end: int, ended_properly: bool) -> None:
        nonlocal repairs
        spans.append((open_kind, open_start, end))
        if open_ill or (scheme == "bioes" and not ended_properly):
            repairs += 1

    for i, tag in enumerate(tags):
        prefix, kind = _split(tag)
        if prefix == "":
            raise DataError(f"tag {tag!r} at position {i} has no B-/I-/E-/S- prefix, so it is not in scheme {scheme}")
        if prefix in ("E", "S") and scheme != "bioes":
            raise DataError(f"tag {tag!r} at position {i} is not in scheme {scheme} (E-/S- tags are bioes)")
        if not (prefix in ("I", "E") and kind == open_kind):
            if open_kind:
                close(i, ended_properly=False)
            open_kind = kind if prefix != "O" else ""
            open_start = i
            open_ill = prefix == "E" or (prefix == "I" and scheme != "iob1")
        if prefix in ("E", "S"):
            close(i + 1, ended_properly=True)
            open_kind = ""
    if open_kind:
        close(len(tags), ended_properly=False)
    return spans, repairs


def to_bioes(tags: Sequence[str], scheme: str) -> tuple[list[str], int]:
    """One sentence's tags in BIOES, and the number of ill-formed chunks repaired on the way.

    An IOB2 (or BIOES) chunk starting with ``I-X`` is read as conlleval reads it, as the start of a
    new chunk; a BIOES chunk without a proper end is closed where the next chunk or ``O`` begins
    (``B-X O`` -> ``S-X O``, ``B-X I-X O`` -> ``B-X E-X O``). Each repaired chunk counts once, so a
    caller can report how much of the data was not in the scheme it claims. Plain tags come back
    unchanged with no repairs. DataError for a tag that is not in the scheme.
    """
    scheme = check_scheme(scheme)
    if scheme == "plain":
        return list(tags), 0
    spans, repairs = _read(tags, scheme)
    bioes = ["O"] * len(tags)
    for kind, start, end in spans:
        if end - start == 1:
            bioes[start] = f"S-{kind}"
        else:
            bioes[start] = f"B-{kind}"
            bioes[start + 1 : end - 1] = [f"I-{kind}"] * (end - start - 2)
            bioes[end - 1] = f"E-{kind}"
    return bioes, repairs


def from_bioes(tags: Sequence[str], scheme: str) -> list[str]:
    """One sentence's BIOES tags written in ``scheme``, the inverse of :func:`to_bioes`.

    IOB1 writes ``B-`` only for a chunk right after a chunk of the same type, ``I-`` for every
    other tag in a chunk; IOB2 writes ``B-`` for the first tag of every chunk.
    """
    scheme = check_scheme(scheme)
    if scheme in ("bioes", "plain"):
        return list(tags)
    out = ["O"] * len(tags)
    previous_end, previous_kind = -1, ""
    for kind, start, end in chunks(tags):
        out[start:end] = [f"I-{kind}"] * (end - start)
        if scheme == "iob2" or (start == previous_end and kind == previous_kind):
            out[start] = f"B-{kind}"
        previous_end, previous_kind = end, kind
    return out


def chunks(tags_bioes: Sequence[str]) -> list[tuple[str, int, int]]:
    """The (type, start, end exclusive) spans of a BIOES sentence, in order.

    Ill-formed sequences (a tagger without a CRF can predict them) are read the way
    :func:`to_bioes` repairs them rather than rejected.
    """
    return _read(tags_bioes, "bioes")[0]


def bioes_constraints(tag_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean masks of the allowed first tags (K,), transitions [from, to] (K, K) and last tags (K,).

    For a CRF over BIOES tags: a sentence starts with O, B or S; after O, E or S comes O, B or S of
    any type; after B-X or I-X comes I-X or E-X of the same type only; a sentence ends with O, E or
    S. These masks allow exactly the well-formed sequences. If any name is not O or a prefixed tag
    (a plain tag set such as POS) everything is allowed. DataError for a prefixed tag set that is
    not BIOES (a type with B-/I- but no E-, or I-/E- but no B-, as in unconverted IOB tags): the
    masks would then forbid gold sequences, and the CRF would be trained against its own constraints.
    """
    parts = [_split(name) for name in tag_names]
    k = len(parts)
    if any(prefix == "" for prefix, _ in parts):
        return np.ones(k, dtype=bool), np.ones((k, k), dtype=bool), np.ones(k, dtype=bool)
    by_type: dict[str, set[str]] = {}
    for prefix, kind in parts:
        if prefix != "O":
            by_type.setdefault(kind, set()).add(prefix)
    for kind, seen in sorted(by_type.items()):
        if (seen & {"B", "I"} and "E" not in seen) or (seen & {"I", "E"} and "B" not in seen):
            raise DataError(f"the {kind} tags ({'/'.join(sorted(seen))}) are not a BIOES set; convert with to_bioes")
    prefixes = np.array([prefix for prefix, _ in parts])
    kinds = np.array([kind for _, kind in parts])
    outside = np.isin(prefixes, ["O", "E", "S"])  # no chunk open after this tag
    opening = np.isin(prefixes, ["O", "B", "S"])  # needs no open chunk before it
    same_type = kinds[:, None] == kinds[None, :]
    inside_after = np.isin(prefixes, ["B", "I"])[:, None] & np.isin(prefixes, ["I", "E"])[None, :] & same_type
    transitions = (outside[:, None] & opening[None, :]) | inside_after
    return opening, transitions, outside
