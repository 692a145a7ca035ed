"""Readers of parallel text (translation pairs) and of plain text corpora (language models).

Parallel text comes in the three shapes translation data is shipped in, each file optionally ``.gz``:

* two line-aligned files (``--source FILE --target FILE``): line *i* of one translates line *i* of the
  other (Multi30k, WMT, OPUS). Files of different line counts are refused, naming both counts: they
  are almost always a wrong pair of files, and any pairing of such files would train on garbage;
* a table (``.csv``/``.tsv``) with a ``source`` and a ``target`` column (other names selectable);
* JSONL, one ``{"source": "...", "target": "..."}`` object per line.

A pair blank on both sides (an empty line in both files) is skipped; a pair with one side blank is
refused, naming the file and line, because it means the files are out of step. Texts keep their
inner whitespace; line ends and surrounding whitespace are stripped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rnnkit.data.tables import check_exists, iter_records, open_text, reading
from rnnkit.errors import DataError


@dataclass(frozen=True)
class ParallelTexts:
    """Source sentences and their translations, in file order."""

    sources: list[str]
    targets: list[str]

    def __len__(self) -> int:
        return len(self.sources)


def read_aligned(source: str | Path, target: str | Path, encoding: str = "utf-8") -> ParallelTexts:
    """Read two line-aligned files: line *i* of ``target`` translates line *i* of ``source``."""
    source, target = Path(source), Path(target)
    source_lines, target_lines = _lines(source, encoding), _lines(target, encoding)
    if len(source_lines) != len(target_lines):
        raise DataError(
            f"{source} has {_count(len(source_lines))} but {target} has {_count(len(target_lines))}; "
            "line i of the target must translate line i of the source"
        )
    pairs = ParallelTexts([], [])
    for number, (src, tgt) in enumerate(zip(source_lines, target_lines, strict=True), 1):
        _add(pairs, src, tgt, (f"{source}, line {number}", f"{target}, line {number}"))
    return _nonempty(pairs, f"{source} and {target}")


def read_pairs(
    path: str | Path, source_column: str = "source", target_column: str = "target", encoding: str = "utf-8"
) -> ParallelTexts:
    """Read a CSV/TSV/JSONL table of translation pairs, one pair per row."""
    path = Path(path)
    check_exists(path)
    pairs = ParallelTexts([], [])
    for number, row in iter_records(path, encoding):
        texts = []
        for column in (source_column, target_column):
            if column not in row:
                raise DataError(
                    f'{path}, line {number}: no "{column}" column; the pairs need "{source_column}" and '
                    f'"{target_column}" (choose others with --source-column/--target-column)'
                )
            value = row[column]
            if value is not None and not isinstance(value, str):
                raise DataError(f'{path}, line {number}: "{column}" must be a string, not {type(value).__name__}')
            texts.append(value or "")
        _add(pairs, *texts, tuple(f'{path}, line {number}, "{column}"' for column in (source_column, target_column)))
    return _nonempty(pairs, str(path))


def read_corpus(path: str | Path, encoding: str = "utf-8") -> str:
    """The whole text of a plain text file (a language model's corpus), line ends as ``\\n``."""
    path = Path(path)
    check_exists(path)
    with open_text(path, encoding) as f, reading(path, encoding):
        text = f.read().replace("\r\n", "\n")
    if not text.strip():
        raise DataError(f"{path}: the corpus is empty (no text to learn from)")
    return text


def _lines(path: Path, encoding: str) -> list[str]:
    check_exists(path)
    with open_text(path, encoding) as f, reading(path, encoding):
        # Split on line ends only: str.splitlines would also split on form feeds and Unicode separators,
        # putting the two files out of step.
        text = f.read()
    lines = text.replace("\r\n", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _add(pairs: ParallelTexts, source: str, target: str, where: tuple[str, ...]) -> None:
    """Append a pair (stripped); skip it when both sides are blank, refuse it when one side is, naming
    that side by ``where`` (source's place, target's place)."""
    source, target = source.strip(), target.strip()
    if not source and not target:
        return
    if not source or not target:
        blank, other = ("source", "target") if not source else ("target", "source")
        raise DataError(f"{where[blank == 'target']}: the {blank} is blank but its {other} is not")
    pairs.sources.append(source)
    pairs.targets.append(target)


def _nonempty(pairs: ParallelTexts, what: str) -> ParallelTexts:
    if not pairs:
        raise DataError(f"{what}: no sentence pairs (the files are empty or hold only blank lines)")
    return pairs


def _count(lines: int) -> str:
    return f"{lines} line" if lines == 1 else f"{lines} lines"
