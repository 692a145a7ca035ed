"""Where each token of a text is: character offsets into the text as the user gave it.

The pipeline changes the text before it splits it (tags removed, entities unescaped, typographic
apostrophes straightened, lowercased), so tokens are found again in the original, in order: each
token is looked for from where the previous one ended, in a copy normalised the same way character
by character (which keeps every offset). A token the copy does not hold as such (``"&"`` of
``&amp;`` is found; ``'"'`` of ``&quot;`` is not) gets an empty span where the search stands, so
offsets always increase and always lie inside the text.
"""

from __future__ import annotations

from collections.abc import Sequence


def normalised(text: str, lowercase: bool) -> str:
    """``text`` with each character replaced as the pipeline would, one character for one."""
    out = text.replace("\u2019", "'")
    if lowercase:
        out = "".join(c.lower() if len(c.lower()) == 1 else c for c in out)
    return out


def token_offsets(text: str, tokens: Sequence[str], lowercase: bool, start: int = 0) -> list[tuple[int, int]]:
    """``(start, end)`` of every token in ``text``, searched in order from offset ``start``."""
    haystack = normalised(text, lowercase)
    cursor, out = start, []
    for token in tokens:
        found = haystack.find(token, cursor)
        if found < 0:
            out.append((cursor, cursor))
            continue
        out.append((found, found + len(token)))
        cursor = found + len(token)
    return out
