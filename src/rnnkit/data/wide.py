"""Reader of labelled univariate series in a wide table: one series per row.

The UCR archive's own ``.tsv`` files (and many exports) hold one series per line: the class label,
then the values, with no header::

    1	-0.64	-0.64	-0.65	...

:func:`read_wide` reads that layout from ``.csv`` (commas) or ``.tsv`` (tabs), optionally ``.gz``.
A first row that names a column ``label``, ``class`` or ``target``, or has no number after its first
field, is a header; the label column is then the one so named (else the first), without a header
the first. Empty, ``?``
and ``NaN`` fields are missing values: trailing ones end a shorter series (the archive pads
variable-length series that way), inner ones stay NaN (the classifier fills them, with a
warning). A non-numeric value is refused with its file, line and column.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from rnnkit.data.tables import check_exists, open_text, reading
from rnnkit.data.ucr import LabeledSeries
from rnnkit.errors import DataError

WIDE_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
LABEL_NAMES = ("label", "class", "target")
MISSING = frozenset(("", "?", "nan"))


def read_wide(path: str | Path) -> LabeledSeries:
    """Read a wide table of labelled series (see the module docstring) into :class:`LabeledSeries`."""
    path = Path(path)
    check_exists(path)
    series: list[np.ndarray] = []
    labels: list[str] = []
    with open_text(path) as f, reading(path):
        rows = csv.reader(f, delimiter=_delimiter(path))
        label_column = 0
        for number, row in enumerate(rows, 1):
            if not any(field.strip() for field in row):
                continue
            if number == 1 and _is_header(row):
                label_column = _label_column(row)
                continue
            if len(row) < 2:
                raise DataError(f"{path}:{number}: a row needs a label and at least one value")
            label = row[label_column].strip()
            if not label:
                raise DataError(f"{path}:{number}: the label (column {label_column + 1}) is empty")
            values = [_value(path, number, i + 1, field) for i, field in enumerate(row) if i != label_column]
            end = len(values)
            while end and math.isnan(values[end - 1]):
                end -= 1  # trailing gaps: a shorter series
            if not end:
                raise DataError(f"{path}:{number}: the row has no values")
            series.append(np.array(values[:end], dtype=np.float64)[:, None])
            labels.append(label)
    if not series:
        raise DataError(f"{path}: no series; a wide table holds one labelled series per row")
    classes = sorted(set(labels))
    return LabeledSeries(
        series=series,
        labels=labels,
        channels=1,
        problem_name=None,
        class_labels=classes,
        univariate=True,
        equal_length=len({len(s) for s in series}) == 1,
    )


def is_wide_table(path: str | Path) -> bool:
    """Whether ``path`` is a ``.csv``/``.tsv`` (``.gz``) whose first data row is a label and numbers."""
    path = Path(path)
    if not str(path).lower().endswith(WIDE_SUFFIXES) or not path.is_file():
        return False
    try:
        with open_text(path) as f:
            rows = csv.reader(f, delimiter=_delimiter(path))
            first = next(rows, [])
            if not _is_header(first):
                return len(first) > 2 and _numeric(first[1:])
            label_column, second = _label_column(first), next(rows, [])
            return len(second) > 2 and _numeric([v for i, v in enumerate(second) if i != label_column])
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, DataError):
        return False  # the reader of the file's other kind says what is wrong


def _is_header(row: list[str]) -> bool:
    """A first row that names a label column, or has no number after its first field."""
    names = {field.strip().lower() for field in row}
    return bool(names & set(LABEL_NAMES)) or not any(_numeric([field]) for field in row[1:])


def _label_column(header: list[str]) -> int:
    names = [name.strip().lower() for name in header]
    return next((names.index(n) for n in LABEL_NAMES if n in names), 0)


def _delimiter(path: Path) -> str:
    return "\t" if ".tsv" in path.name.lower() else ","


def _numeric(fields: list[str]) -> bool:
    try:
        for field in fields:
            if field.strip().lower() not in MISSING:
                float(field)
    except ValueError:
        return False
    return bool(fields)


def _value(path: Path, number: int, column: int, field: str) -> float:
    text = field.strip()
    if text.lower() in MISSING:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}:{number}: column {column}: {text[:40]!r} is not a number") from None
    if math.isinf(value):
        raise DataError(f"{path}:{number}: column {column}: an infinite value")
    return value
