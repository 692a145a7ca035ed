"""Reader of labelled time series in the sktime ``.ts`` format (the UCR/UEA classification archive).

A ``.ts`` file (optionally ``.gz``) holds, in this order: ``#`` comment lines; a header of
``@tag value`` lines (tags in any case: ``@problemName``, ``@timeStamps``, ``@missing``,
``@univariate``, ``@dimensions``, ``@equalLength``, ``@seriesLength``, ``@classLabel true A B``)
ended by ``@data``; then one case per line::

    1.0,2.0,?,4.0:0.5,0.6,0.7,0.8:A

The channels (dimensions) of a case are separated by ``:``, the values of a channel by ``,``, ``?``
is a missing value (NaN) and the last field is the class label. Cases may differ in length, but
the channels of one case have one length, and every case has the same channels.

Each case comes back as a float64 array ``(time, channels)``, kept ragged (never padded): batching
pads per batch and passes the true lengths. Timestamped files (``@timeStamps true``, values written
``(time,value)``) and files without class labels (``@classLabel false``, regression's
``@targetLabel``) are refused; so is anything that breaks the format or contradicts the header, with
a one-line :class:`~rnnkit.errors.DataError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data.tables import check_exists, open_text, reading
from rnnkit.errors import DataError

MISSING = "?"
_BOOLEAN_TAGS = {
    "timestamps": "@timeStamps",
    "missing": "@missing",
    "univariate": "@univariate",
    "equallength": "@equalLength",
}
_INTEGER_TAGS = {"dimensions": "@dimensions", "dimension": "@dimension", "serieslength": "@seriesLength"}


@dataclass(frozen=True)
class LabeledSeries:
    """Time series with one class label each, and what the file's header says about them.

    ``series[i]`` is a float64 array ``(time_i, channels)`` with NaN for missing values;
    ``labels[i]`` is one of ``class_labels`` (the header's order). ``univariate`` and
    ``equal_length`` are the header's values, or what the data shows when the header omits them.
    """

    series: list[np.ndarray]
    labels: list[str]
    channels: int
    problem_name: str | None
    class_labels: list[str]
    univariate: bool
    equal_length: bool

    def __len__(self) -> int:
        return len(self.series)


@dataclass
class _Header:
    """The tags read before ``@data``, by lower-case name."""

    problem_name: str | None = None
    booleans: dict[str, bool] = field(default_factory=dict)
    integers: dict[str, int] = field(default_factory=dict)
    class_labels: list[str] = field(default_factory=list)
    data_line: int = 0  # the line of @data


def read_ts(path: str | Path) -> LabeledSeries:
    """Read a ``.ts`` classification file (or ``.ts.gz``) into :class:`LabeledSeries`."""
    path = Path(path)
    check_exists(path)
    with open_text(path) as f, reading(path):
        lines = enumerate(f, 1)
        header = _read_header(path, lines)
        series: list[np.ndarray] = []
        labels: list[str] = []
        first = 0  # the line of the first case, which sets the channels (and the length if equal)
        channels = header.integers.get("dimensions", header.integers.get("dimension"))
        univariate = header.booleans.get("univariate")
        equal_length = header.booleans.get("equallength")
        series_length = header.integers.get("serieslength") if equal_length else None
        known = set(header.class_labels)
        for number, line in lines:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            fields = text.split(":")
            if len(fields) < 2:
                raise DataError(f"{path}:{number}: no class label; a case ends with ':<label>' after its values")
            label = fields.pop().strip()
            if label not in known:
                raise DataError(
                    f"{path}:{number}: class label {label!r} is not one of the @classLabel classes "
                    f"({' '.join(header.class_labels)})"
                )
            if not first:
                _check_header_channels(path, number, len(fields), channels, univariate)
                first, channels = number, len(fields)
            elif len(fields) != channels:
                raise DataError(
                    f"{path}:{number}: {_count(len(fields), 'channel')} where line {first} has {channels}; "
                    "every case needs the same channels"
                )
            values = _case(path, number, fields)
            length = len(values[0])
            if equal_length and series_length is None:
                series_length = length  # @equalLength true without @seriesLength: the first case sets it
            elif series_length is not None and length != series_length:
                said = (
                    f"the header says @seriesLength {series_length}"
                    if "serieslength" in header.integers
                    else f"line {first} has {series_length} and the header says @equalLength true"
                )
                raise DataError(f"{path}:{number}: {_count(length, 'time step')} but {said}")
            series.append(np.array(values, dtype=np.float64).T.copy())
            labels.append(label)
    if not series:
        raise DataError(f"{path}:{header.data_line}: no cases after @data; a .ts file holds one case per line")
    assert channels is not None
    lengths = {len(s) for s in series}
    return LabeledSeries(
        series=series,
        labels=labels,
        channels=channels,
        problem_name=header.problem_name,
        class_labels=header.class_labels,
        univariate=channels == 1 if univariate is None else univariate,
        equal_length=len(lengths) == 1 if equal_length is None else equal_length,
    )


def _read_header(path: Path, lines: Iterator[tuple[int, str]]) -> _Header:
    """Read up to and including ``@data``, checking each tag's value."""
    header = _Header()
    seen_any = False
    for number, line in lines:
        text = line.strip()
        if not text:
            continue
        seen_any = True
        if text.startswith("#"):
            continue
        if not text.startswith("@"):
            raise DataError(
                f"{path}:{number}: a case before @data; the header must end with a line '@data' before the cases"
            )
        tag, _, value = text.partition(" ")
        tag, value = tag[1:].lower(), value.strip()
        if tag == "data":
            if not header.class_labels:
                raise DataError(
                    f"{path}:{number}: no @classLabel line before @data; a classification file names its classes "
                    "('@classLabel true A B C')"
                )
            header.data_line = number
            return header
        if tag == "problemname":
            header.problem_name = value or None
        elif tag in _BOOLEAN_TAGS:
            header.booleans[tag] = _boolean(path, number, _BOOLEAN_TAGS[tag], value)
            if tag == "timestamps" and header.booleans[tag]:
                raise DataError(
                    f"{path}:{number}: @timeStamps true: timestamped values '(time,value)' are not supported; "
                    "write the values alone, in time order"
                )
        elif tag in _INTEGER_TAGS:
            header.integers[tag] = _positive(path, number, _INTEGER_TAGS[tag], value)
        elif tag == "classlabel":
            header.class_labels = _class_labels(path, number, value)
        elif tag == "targetlabel" and value.lower() != "false":
            raise DataError(
                f"{path}:{number}: @targetLabel: this is a regression file (a number per case), but read_ts reads "
                "classification files (@classLabel true ...)"
            )
        # other tags (e.g. a future one) are metadata we do not need
    if not seen_any:
        raise DataError(f"{path}: the file is empty")
    raise DataError(f"{path}: no @data line; a .ts file has its @ header, then '@data', then one case per line")


def _boolean(path: Path, number: int, name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise DataError(f"{path}:{number}: {name} must be true or false, got {value!r}")
    return value.lower() == "true"


def _positive(path: Path, number: int, name: str, value: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) == 0:
        raise DataError(f"{path}:{number}: {name} must be a whole number above 0, got {value!r}")
    return int(value)


def _class_labels(path: Path, number: int, value: str) -> list[str]:
    flag, *labels = value.split() or [""]
    if flag.lower() not in ("true", "false"):
        raise DataError(f"{path}:{number}: @classLabel must be 'true' and the classes, got {value!r}")
    if flag.lower() == "false":
        raise DataError(
            f"{path}:{number}: @classLabel false: the cases have no class labels, but read_ts reads labelled "
            "classification files ('@classLabel true A B C')"
        )
    if not labels:
        raise DataError(f"{path}:{number}: @classLabel true names no classes; list them: '@classLabel true A B C'")
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise DataError(f"{path}:{number}: @classLabel names class {label!r} twice")
    return labels


def _check_header_channels(path: Path, number: int, found: int, channels: int | None, univariate: bool | None) -> None:
    """The first case's channels against ``@dimensions`` and ``@univariate``."""
    if channels is not None and found != channels:
        raise DataError(
            f"{path}:{number}: {_count(found, 'channel')} but the header says @dimensions {channels}; "
            "channels are separated by ':' and the label comes last"
        )
    if univariate and found != 1:
        raise DataError(
            f"{path}:{number}: {_count(found, 'channel')} but the header says @univariate true; "
            "channels are separated by ':' and the label comes last"
        )


def _case(path: Path, number: int, fields: list[str]) -> list[list[float]]:
    """The values of each channel of one case (NaN for ``?``), all of one length."""
    values: list[list[float]] = []
    for channel, text in enumerate(fields, 1):
        if not text.strip():
            raise DataError(f"{path}:{number}: channel {channel} is empty; write ? for a missing value")
        row = [_number(path, number, channel, i, value.strip()) for i, value in enumerate(text.split(","), 1)]
        if values and len(row) != len(values[0]):
            raise DataError(
                f"{path}:{number}: channel {channel} has {_count(len(row), 'value')} where channel 1 has "
                f"{len(values[0])}; the channels of one case must have the same length"
            )
        values.append(row)
    return values


def _number(path: Path, number: int, channel: int, position: int, text: str) -> float:
    """One value: a number, or ``?`` for a missing one (NaN)."""
    if text == MISSING:
        return float("nan")
    try:
        return float(text)
    except ValueError:
        pass
    where = f"{path}:{number}: channel {channel}, value {position}"
    if not text:
        raise DataError(f"{where} is empty; write ? for a missing value") from None
    if text.startswith("("):
        raise DataError(f"{where} is timestamped ({text!r}); timestamped values are not supported") from None
    raise DataError(f"{where} is not a number: {text!r}") from None


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
