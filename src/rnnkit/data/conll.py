"""Readers of token-tagged sentences, the training data of a sequence tagger (NER, POS).

Text classification reads one label per text (:mod:`rnnkit.data.tables`); a tagger needs one tag per
token. The usual files for that, each optionally ``.gz``:

* CoNLL (``.conll``, ``.bio``, ``.iob``): one token per line, in columns split on tabs (or, in a
  line without a tab, on runs of whitespace); a blank line ends a sentence; ``-DOCSTART-`` lines
  are skipped. The token and tag columns are chosen by index (default: the first and the last).
* CoNLL-U (``.conllu``, Universal Dependencies): ten tab-separated columns
  ``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC``; the tokens are the FORMs of the
  syntactic words and the tags one other column, chosen by name (default UPOS). ``#`` comments,
  multiword-token ranges (``3-4``) and empty nodes (``8.1``) are skipped.
* JSONL (``.jsonl``): one sentence per line, ``{"tokens": [...], "tags": [...]}``.

Every token and tag comes back as a non-empty string without whitespace, as in the file (CoNLL fields
are stripped of spaces around them).
Anything else is refused with a one-line :class:`~rnnkit.errors.DataError` naming the file and line.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rnnkit.data.tables import check_encoding, check_exists, open_text, reading
from rnnkit.errors import ConfigError, DataError

TAGGED_FORMATS = ("conll", "conllu", "jsonl")
SUFFIX_FORMATS = {".conll": "conll", ".bio": "conll", ".iob": "conll", ".conllu": "conllu", ".jsonl": "jsonl"}
CONLLU_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
CONLLU_TAG_COLUMNS = CONLLU_COLUMNS[2:]
DOCSTART = "-DOCSTART-"
_CONLLU_ID = re.compile(r"[0-9]+|(?P<skip>[0-9]+-[0-9]+|[0-9]+\.[0-9]+)")


@dataclass(frozen=True)
class TaggedSentences:
    """Sentences as lists of tokens, with one tag per token."""

    tokens: list[list[str]]
    tags: list[list[str]]

    def __len__(self) -> int:
        return len(self.tokens)


def tagged_format(path: Path) -> str | None:
    """The format named by the suffix of ``path`` (looking past ``.gz``), or None if it names none."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return SUFFIX_FORMATS.get(suffixes[-1]) if suffixes else None


def read_tagged(
    path: str | Path,
    format: str | None = None,
    token_column: int = 0,
    tag_column: int | str | None = None,
    encoding: str = "utf-8",
) -> TaggedSentences:
    """Read tagged sentences in ``format`` (one of :data:`TAGGED_FORMATS`; default: from the suffix).

    ``token_column`` only matters for CoNLL; ``tag_column`` is a column index for CoNLL (default -1,
    the last; a string of digits is accepted too) and a column name for CoNLL-U (default ``upos``).
    """
    check_encoding(encoding)
    if format is not None and format.lower() not in TAGGED_FORMATS:
        raise ConfigError(f"unknown tagged-data format {format!r}; choose one of {', '.join(TAGGED_FORMATS)}")
    path = Path(path)
    check_exists(path)
    format = format.lower() if format is not None else tagged_format(path)
    if format is None:
        raise DataError(
            f"{path}: cannot tell the format from the file name; give it (--data-format conll, conllu or jsonl), "
            "or name the file .conll, .bio, .iob, .conllu or .jsonl (optionally .gz)"
        )
    if format == "conll":
        if tag_column is None:
            tag_column = -1
        elif isinstance(tag_column, str):
            if not re.fullmatch(r"-?[0-9]+", tag_column.strip()):
                raise ConfigError(
                    f"--tag-column for CoNLL is a column number (0, 1, ..., -1 for the last), not {tag_column!r}"
                )
            tag_column = int(tag_column)
        return read_conll(path, token_column, tag_column, encoding)
    if format == "conllu":
        if tag_column is None:
            tag_column = "upos"
        elif not isinstance(tag_column, str):
            choices = ", ".join(CONLLU_TAG_COLUMNS)
            raise ConfigError(f"--tag-column for CoNLL-U is a column name ({choices}), not {tag_column!r}")
        return read_conllu(path, tag_column, encoding)
    return read_tagged_jsonl(path, encoding)


def read_conll(
    path: str | Path, token_column: int = 0, tag_column: int = -1, encoding: str = "utf-8"
) -> TaggedSentences:
    """Read a CoNLL file: tokens and tags from the given columns (negative indices count from the end)."""
    path = Path(path)
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    sentence: list[str] = []
    sentence_tags: list[str] = []
    first_line, columns = 0, 0
    with _opened(path, encoding) as f:
        for number, line in enumerate(f, 1):
            tabbed = "\t" in line
            fields = [field.strip() for field in line.split("\t")] if tabbed else line.split()
            if not line.strip() or fields[0] == DOCSTART:
                if sentence:
                    tokens.append(sentence)
                    tags.append(sentence_tags)
                    sentence, sentence_tags = [], []
                continue
            if not first_line:
                first_line, columns = number, len(fields)
                token_index = _column_index(path, number, "--token-column", token_column, columns)
                tag_index = _column_index(path, number, "--tag-column", tag_column, columns)
                if token_index == tag_index:
                    raise DataError(
                        f"{path}:{number}: --token-column {token_column} and --tag-column {tag_column} name the same "
                        f"column of {_columns(columns)}; a tagged file needs a token column and a tag column"
                    )
            elif len(fields) != columns:
                raise DataError(
                    f"{path}:{number}: {_columns(len(fields))} where line {first_line} has {columns}; "
                    "every token line needs the same number of columns"
                )
            token, tag = fields[token_index], fields[tag_index]
            if tabbed:
                _check_word(path, number, "the token", token)
                _check_word(path, number, "the tag", tag)
            sentence.append(token)
            sentence_tags.append(tag)
    if sentence:
        tokens.append(sentence)
        tags.append(sentence_tags)
    if not tokens:
        raise DataError(f"{path}: no sentences (the file is empty or holds only blank and {DOCSTART} lines)")
    return TaggedSentences(tokens, tags)


def read_conllu(path: str | Path, tag_column: str = "upos", encoding: str = "utf-8") -> TaggedSentences:
    """Read a CoNLL-U file: the FORM of each syntactic word, tagged with the column named ``tag_column``."""
    path = Path(path)
    name = tag_column.strip().lower()
    if name not in CONLLU_TAG_COLUMNS:
        raise ConfigError(f"unknown CoNLL-U tag column {tag_column!r}; choose one of {', '.join(CONLLU_TAG_COLUMNS)}")
    tag_index = CONLLU_COLUMNS.index(name)
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    sentence: list[str] = []
    sentence_tags: list[str] = []
    tagged = False  # whether any word has a tag other than "_"
    with _opened(path, encoding) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                if sentence:
                    tokens.append(sentence)
                    tags.append(sentence_tags)
                    sentence, sentence_tags = [], []
                continue
            if line.startswith("#"):
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != len(CONLLU_COLUMNS):
                raise DataError(
                    f"{path}:{number}: {_columns(len(fields))}; CoNLL-U word lines have 10, separated by tabs "
                    f"({' '.join(CONLLU_COLUMNS).upper()})"
                )
            word_id = _CONLLU_ID.fullmatch(fields[0].strip())
            if not word_id:
                raise DataError(
                    f"{path}:{number}: the ID {fields[0]!r} is not a word number (1, 2, ...), "
                    "a multiword range (3-4) or an empty node (8.1); is this a CoNLL-U file?"
                )
            if word_id["skip"]:
                continue
            token, tag = fields[1].strip(), fields[tag_index].strip()
            _check_word(path, number, "the token", token)
            _check_word(path, number, "the tag", tag)
            tagged = tagged or tag != "_"
            sentence.append(token)
            sentence_tags.append(tag)
    if sentence:
        tokens.append(sentence)
        tags.append(sentence_tags)
    if not tokens:
        raise DataError(f"{path}: no sentences (the file is empty or holds no word lines)")
    if not tagged:
        raise DataError(
            f"{path}: has no {name} tags (the {name.upper()} column is _ on every word); choose another tag column"
        )
    return TaggedSentences(tokens, tags)


def read_tagged_jsonl(path: str | Path, encoding: str = "utf-8") -> TaggedSentences:
    """Read one ``{"tokens": [...], "tags": [...]}`` object per line (blank lines are skipped)."""
    path = Path(path)
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    with _opened(path, encoding) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = _json_line(path, number, line)
            if not isinstance(record, dict):
                raise DataError(
                    f'{path}:{number}: expected a JSON object with "tokens" and "tags", got {_json_type(record)}'
                )
            sentence = _json_words(path, number, record, "tokens")
            sentence_tags = _json_words(path, number, record, "tags")
            if len(sentence) != len(sentence_tags):
                raise DataError(
                    f"{path}:{number}: {len(sentence)} tokens but {len(sentence_tags)} tags; every token needs one tag"
                )
            tokens.append(sentence)
            tags.append(sentence_tags)
    if not tokens:
        raise DataError(f"{path}: no sentences (the file is empty or holds only blank lines)")
    return TaggedSentences(tokens, tags)


def _json_line(path: Path, number: int, line: str) -> object:
    try:
        return json.loads(line)
    except RecursionError:
        reason = "nested too deeply"
    except json.JSONDecodeError as exc:
        reason = exc.msg
    except ValueError:  # Python's limit on the digits of an integer (4300 by default)
        reason = "a number has too many digits"
    raise DataError(
        f'{path}:{number}: not valid JSON ({reason}); each line must be one {{"tokens": [...], "tags": [...]}} object'
    )


def _json_words(path: Path, number: int, record: dict, key: str) -> list[str]:
    """``record[key]``, checked to be a non-empty list of tokens or tags."""
    if key not in record:
        raise DataError(f'{path}:{number}: no "{key}" key; every line needs "tokens" and "tags" lists')
    words = record[key]
    if not isinstance(words, list):
        raise DataError(f'{path}:{number}: "{key}" must be a list of strings, not {_json_type(words)}')
    if not words:
        raise DataError(f'{path}:{number}: "{key}" is empty; a sentence needs at least one token and its tag')
    for i, word in enumerate(words, 1):
        if not isinstance(word, str):
            raise DataError(f'{path}:{number}: "{key}" must be a list of strings; item {i} is {_json_type(word)}')
        _check_word(path, number, f"{key[:-1]} {i}", word)
    return words


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _check_word(path: Path, number: int, what: str, word: str) -> None:
    """Refuse an empty token or tag, or one with whitespace in it."""
    if word.split() != [word]:
        problem = "is empty" if not word else f"{word!r} contains whitespace"
        raise DataError(f"{path}:{number}: {what} {problem}; tokens and tags must be single words without spaces")


def _column_index(path: Path, number: int, option: str, index: int, columns: int) -> int:
    """``index`` as a position in a line of ``columns`` fields (negative ones count from the end)."""
    if not -columns <= index < columns:
        raise DataError(
            f"{path}:{number}: {option} {index} is out of range for lines of {_columns(columns)}; "
            f"use 0 to {columns - 1}, or -{columns} to -1 counting from the end"
        )
    return index % columns


def _columns(count: int) -> str:
    return f"{count} column" if count == 1 else f"{count} columns"


@contextmanager
def _opened(path: Path, encoding: str) -> Iterator[io.TextIOBase]:
    """The text of a possibly gzipped file, with every reading error turned into a :class:`DataError`."""
    check_exists(path)
    with open_text(path, encoding) as f, reading(path, encoding):
        yield f
