"""Reader of time series tables: a time column and numeric value columns, one row per time step.

``.csv``/``.tsv``/``.jsonl`` (optionally ``.gz``) as the other tables. The time column is the one
named by ``time_column``, else the first column named ``date``, ``time``, ``timestamp``, ``datetime``,
``month``, ``ds`` or ``period`` (any case), else none (rows are steps 0, 1, 2, ...). Times are ISO 8601
(``2016-07-01 00:00:00``, ``1949-01``), in increasing order.

Every other column is a value column: the ``targets`` (default: all of them) are forecast, the rest
are inputs the model reads. Values must be numbers; a missing value (an empty cell, ``NA``, ``NaN``,
``null``, ``?``) is filled by linear interpolation between its neighbours in time (the nearest value
at the ends) and reported, or refused with ``missing="refuse"``. Irregular steps (a step differing from
the most common one) are reported, never silently resampled. Reports go to ``warnings``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.tables import check_exists, iter_records
from rnnkit.errors import ConfigError, DataError

TIME_COLUMNS = ("date", "time", "timestamp", "datetime", "month", "ds", "period")
MISSING_VALUES = ("", "na", "nan", "null", "none", "?")
MISSING_RULES = ("interpolate", "refuse")


@dataclass(frozen=True)
class TimeSeries:
    """``values (time, channels)`` float64, the ``targets`` first then the inputs; ``times (time,)``
    datetime64 or None; ``columns`` the channels' names."""

    values: np.ndarray
    columns: list[str]
    targets: int
    times: np.ndarray | None = None
    time_column: str | None = None

    def __len__(self) -> int:
        return len(self.values)

    @property
    def step(self) -> np.timedelta64 | None:
        """The most common time step (None without times or with fewer than two rows)."""
        if self.times is None or len(self.times) < 2:
            return None
        steps, counts = np.unique(np.diff(self.times), return_counts=True)
        return steps[np.argmax(counts)]


def read_series(
    path: str | Path,
    time_column: str | None = None,
    targets: list[str] | None = None,
    missing: str = "interpolate",
    encoding: str = "utf-8",
) -> TimeSeries:
    """Read a time series table (see the module docstring)."""
    if missing not in MISSING_RULES:
        raise ConfigError(f"missing must be one of {', '.join(MISSING_RULES)}; got {missing!r}")
    path = Path(path)
    check_exists(path)
    rows = list(iter_records(path, encoding))
    if not rows:
        raise DataError(f"{path}: no rows")
    header = list(rows[0][1])
    time_column = _time_column(header, time_column, path)
    value_columns = [c for c in header if c != time_column]
    targets = _targets(value_columns, targets, path)
    columns = targets + [c for c in value_columns if c not in targets]
    if not columns:
        raise DataError(f"{path}: no value columns besides the time column {time_column!r}")
    values = np.empty((len(rows), len(columns)))
    for i, (number, row) in enumerate(rows):
        for j, column in enumerate(columns):
            values[i, j] = _number(row.get(column), path, number, column)
    times = None
    if time_column is not None:
        times = _times([(number, row.get(time_column)) for number, row in rows], path, time_column)
        _report_irregular(times, [number for number, _ in rows], path)
    values = _fill_missing(values, columns, [number for number, _ in rows], missing, path)
    return TimeSeries(values, columns, len(targets), times, time_column)


def _time_column(header: list[str], given: str | None, path: Path) -> str | None:
    if given is not None:
        if given not in header:
            raise DataError(f"{path}: no time column {given!r}; the columns are {', '.join(header)}")
        return given
    return next((c for c in header if c.strip().lower() in TIME_COLUMNS), None)


def _targets(value_columns: list[str], targets: list[str] | None, path: Path) -> list[str]:
    if not targets:
        return list(value_columns)
    unknown = [t for t in targets if t not in value_columns]
    if unknown:
        raise DataError(f"{path}: no value column {unknown[0]!r}; the value columns are {', '.join(value_columns)}")
    if len(set(targets)) != len(targets):
        raise ConfigError(f"a target column is named twice: {', '.join(targets)}")
    return list(targets)


def _number(cell: object, path: Path, line: int, column: str) -> float:
    """A cell as a float; NaN for a missing value."""
    if cell is None or (isinstance(cell, str) and cell.strip().lower() in MISSING_VALUES):
        return math.nan
    if isinstance(cell, bool):
        raise DataError(f'{path}, line {line}, "{column}": {cell!r} is not a number')
    try:
        value = float(cell)
    except (TypeError, ValueError):
        raise DataError(f'{path}, line {line}, "{column}": {cell!r} is not a number') from None
    if math.isinf(value):
        raise DataError(f'{path}, line {line}, "{column}": {cell!r} is not a finite number')
    return value


def _times(cells: list[tuple[int, object]], path: Path, column: str) -> np.ndarray:
    parsed = []
    for number, cell in cells:
        text = str(cell if cell is not None else "").strip()
        try:
            parsed.append(np.datetime64(text.replace(" ", "T", 1)))
        except ValueError:
            raise DataError(f'{path}, line {number}, "{column}": {text!r} is not an ISO 8601 time') from None
        if np.isnat(parsed[-1]):
            raise DataError(f'{path}, line {number}, "{column}": a time is missing')
    times = np.array(parsed)  # one unit, the finest the cells use
    backwards = np.flatnonzero(np.diff(times) <= np.timedelta64(0))
    if len(backwards):
        line = cells[backwards[0] + 1][0]
        raise DataError(f'{path}, line {line}, "{column}": times must increase; {parsed[backwards[0] + 1]} does not')
    return times


def _report_irregular(times: np.ndarray, lines: list[int], path: Path) -> None:
    if len(times) < 3:
        return
    steps = np.diff(times)
    values, counts = np.unique(steps, return_counts=True)
    usual = values[np.argmax(counts)]
    odd = np.flatnonzero(steps != usual)
    if len(odd):
        warnings.warn(
            f"{path}: {len(odd)} irregular time step(s) (the usual step is {usual}; first at line {lines[odd[0] + 1]}, "
            f"after {steps[odd[0]]}); the rows are used as consecutive steps",
            stacklevel=3,
        )


def _fill_missing(values: np.ndarray, columns: list[str], lines: list[int], rule: str, path: Path) -> np.ndarray:
    gaps = np.isnan(values)
    if not gaps.any():
        return values
    column = int(np.flatnonzero(gaps.any(axis=0))[0])
    first = lines[int(np.flatnonzero(gaps[:, column])[0])]
    if rule == "refuse":
        where = f'{path}, line {first}, "{columns[column]}"'
        raise DataError(f"{where}: a value is missing (fill it in, or let rnnkit interpolate: --missing interpolate)")
    filled = values.copy()
    steps = np.arange(len(values))
    counts = []
    for j, name in enumerate(columns):
        known = ~gaps[:, j]
        if not known.any():
            raise DataError(f'{path}: column "{name}" has no values')
        if not known.all():
            filled[:, j] = np.interp(steps, steps[known], values[known, j])
            counts.append(f"{name} {int((~known).sum())}")
    warnings.warn(
        f"{path}: missing values filled by linear interpolation in time ({', '.join(counts)}; first at line {first})",
        stacklevel=3,
    )
    return filled


def from_frame(frame: object, targets: list[str] | None = None) -> TimeSeries:
    """A table with ``columns`` and ``to_numpy()`` (a pandas DataFrame; pandas itself is not needed)
    as a :class:`TimeSeries`: the ``targets`` (default: every column) first, the other columns as
    inputs, and the index as the times when it holds dates. Values must be numbers, none missing
    (``frame.interpolate()`` fills gaps the way :func:`read_series` does)."""
    names = {str(c): c for c in frame.columns}
    chosen = list(names) if targets is None else [str(t) for t in targets]
    unknown = [t for t in chosen if t not in names]
    if unknown or not chosen:
        raise DataError(
            f"no column {unknown[0]!r} in the frame; its columns are {', '.join(names)}" if unknown else "no targets"
        )
    columns = chosen + [c for c in names if c not in chosen]
    values = np.empty((len(frame), len(columns)))
    for i, column in enumerate(columns):
        try:
            values[:, i] = np.asarray(frame[names[column]].to_numpy(), dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"column {column!r} of the frame is not numbers") from None
        missing = ~np.isfinite(values[:, i])
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise DataError(
                f"column {column!r} of the frame has a missing or infinite value at row {row}; fill it first"
            )
    index = np.asarray(getattr(frame, "index", np.arange(len(frame))))
    times = index.astype("datetime64[s]") if np.issubdtype(index.dtype, np.datetime64) else None
    if times is not None and len(times) > 1 and not (np.diff(times) > np.timedelta64(0)).all():
        raise DataError("the frame's times must increase from row to row")
    return TimeSeries(values, columns, len(chosen), times)
