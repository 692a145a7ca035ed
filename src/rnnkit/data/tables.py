"""Readers for labelled texts and named datasets.

* tables: ``.csv``, ``.tsv``, ``.jsonl`` (each optionally ``.gz``), with a chosen text and label column;
* folder-per-class: ``ROOT/<label>/*.txt`` (the ``aclImdb/train/pos/*.txt`` layout);
* the named dataset ``imdb``, found locally or downloaded once (with a checksum) into the cache.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import http.client
import io
import json
import os
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.errors import ConfigError, DataError, DataFileNotFoundError

TABLE_FORMATS = {".csv": ",", ".tsv": "\t", ".jsonl": None}
IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
NAMED_DATASETS = ("imdb",)
SPLITS = ("train", "test")

csv.field_size_limit(2**31 - 1)  # reviews and documents can be far longer than csv's 128 KiB default


@dataclass
class LabeledTexts:
    """Texts with one label each, and where they came from (for messages)."""

    texts: list[str]
    labels: list[str]
    source: str
    skipped: int = 0  # rows dropped because their text or label was empty


def load(
    source: str | Path,
    split: str = "train",
    text_column: str = "text",
    label_column: str = "label",
    encoding: str = "utf-8",
    strict: bool = False,
) -> LabeledTexts:
    """Read labelled texts from a table file, a folder-per-class directory, or a dataset name.

    ``split`` only matters for named datasets (``"train"`` or ``"test"``). Rows with an empty text
    or label are skipped and counted, or refused with ``strict=True``.
    """
    check_encoding(encoding)
    path = Path(source)
    if str(source) in NAMED_DATASETS and not path.exists():
        return load_imdb(split)
    if not path.exists():
        raise DataFileNotFoundError(f"{source}: no such file or directory (dataset names: {', '.join(NAMED_DATASETS)})")
    if path.is_dir():
        return read_folder(path, encoding=encoding, strict=strict)
    return read_table(path, text_column, label_column, encoding, strict)


def table_format(path: Path) -> str:
    """The table suffix of ``path`` (``.csv``, ``.tsv`` or ``.jsonl``), looking past ``.gz``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in TABLE_FORMATS:
        raise DataError(f"{path}: unknown file type {suffix or '(none)'!r}; use .csv, .tsv or .jsonl (optionally .gz)")
    return suffix


def check_exists(path: Path) -> None:
    """Refuse a missing file up front, with the error that says so (a FileNotFoundError too)."""
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file")


def open_text(path: Path, encoding: str = "utf-8") -> io.TextIOBase:
    """Open a possibly gzip-compressed text file (UTF-8 by default, with or without a byte order mark)."""
    check_encoding(encoding)
    try:
        raw = _raw(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return io.TextIOWrapper(raw, encoding=_python_encoding(encoding), newline="")


def check_encoding(encoding: str) -> None:
    """Refuse an encoding name Python does not know, before any file is read."""
    try:
        is_text = getattr(codecs.lookup(encoding), "_is_text_encoding", True)  # False: base64, zlib, rot13, ...
    except LookupError:
        is_text = False
    if not is_text:
        raise ConfigError(f"unknown text encoding {encoding!r}; try utf-8, cp1252 or latin-1")


def _python_encoding(encoding: str) -> str:
    """UTF-8 is read as utf-8-sig, so a byte order mark (Excel writes one) is not taken for text."""
    return "utf-8-sig" if _is_utf8(encoding) else encoding


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def _raw(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


UNREADABLE = (OSError, EOFError, zlib.error)  # what reading a broken file or .gz raises


def first_invalid_byte(path: Path, encoding: str = "utf-8") -> int | None:
    """Offset of the first byte that ``encoding`` cannot decode (in the uncompressed data), or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with _raw(path) as f:
        while chunk := f.read(1 << 20):
            pending = len(decoder.getstate()[0])  # bytes of a character split across chunks
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset - pending + exc.start
            offset += len(chunk)
    return None


@contextmanager
def reading(path: Path, encoding: str = "utf-8") -> Iterator[None]:
    """Turn what can go wrong while decoding a file into one :class:`DataError` naming it."""
    try:
        yield
    except UnicodeDecodeError as exc:
        try:
            where = first_invalid_byte(path, encoding)
        except UNREADABLE as broken:  # a .gz cut short or corrupt after the bad byte: the deeper problem
            raise _cannot_read(path, broken) from None
        at = f" at byte {where}" + (" of the uncompressed data" if path.suffix.lower() == ".gz" else "")
        name = "UTF-8" if _is_utf8(encoding) else encoding
        hint = "; if the file is in another encoding, name it (--encoding, e.g. cp1252)" if _is_utf8(encoding) else ""
        raise DataError(f"{path}: not valid {name} ({exc.reason}{at if where is not None else ''}){hint}") from None
    except UNREADABLE as exc:
        raise _cannot_read(path, exc) from None


def _cannot_read(path: Path, exc: Exception) -> DataError:
    """The one-line error for a file or .gz that cannot be read."""
    if isinstance(exc, zlib.error):  # corrupt compressed data, which gzip does not wrap in an OSError
        return DataError(f"{path}: cannot read (corrupt gzip data: {exc})")
    return DataError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})")  # EOFError: a cut .gz


def iter_records(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, dict]]:
    """``(line, row)`` for each row of a table file, ``line`` being where the row starts; values as
    read: strings for CSV/TSV, JSON values for JSONL."""
    suffix = table_format(path)
    with open_text(path, encoding) as f, reading(path, encoding):
        try:
            if suffix == ".jsonl":
                for number, line in enumerate(f, 1):
                    if line.strip():
                        yield number, _json_record(line, path, number)
            else:
                reader = csv.DictReader(f, delimiter=TABLE_FORMATS[suffix], strict=True)
                start = 2  # the header is line 1
                for row in reader:
                    if None in row:
                        raise DataError(f"{path}, line {reader.line_num}: more fields than the header has")
                    yield start, row
                    start = reader.line_num + 1
        except csv.Error as exc:
            hint = "; a quote opened earlier is never closed" if "end of data" in str(exc) else ""
            line = reader.reader.line_num  # DictReader's own counter lags behind on errors
            raise DataError(f"{path}, line {line}: malformed {suffix[1:].upper()} ({exc}{hint})") from None


def _json_record(line: str, path: Path, number: int) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}, line {number}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise DataError(f"{path}, line {number}: expected a JSON object, got {type(record).__name__}")
    return record


def _cell(value: object) -> str:
    """A table cell as text: JSON numbers and booleans become their usual string form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else str(value)


def read_table(
    path: Path,
    text_column: str = "text",
    label_column: str | None = "label",
    encoding: str = "utf-8",
    strict: bool = False,
) -> LabeledTexts:
    """Read a CSV/TSV/JSONL table; with ``label_column=None`` the labels are left empty.

    Rows whose text or label is empty are skipped and counted (a warning on stderr says how many);
    ``strict=True`` refuses them instead, naming the first.
    """
    texts, labels, skipped, first_skipped, rows = [], [], 0, None, 0
    wanted = [c for c in (text_column, label_column) if c is not None]
    for rows, (line, record) in enumerate(iter_records(path, encoding), 1):
        missing = [c for c in wanted if c not in record]
        if missing:
            found = ", ".join(map(str, record)) or "(none)"
            raise DataError(f"{path}: no column {missing[0]!r} (row {rows}); columns found: {found}")
        text = _cell(record[text_column])
        label = _cell(record[label_column]).strip() if label_column is not None else ""
        if not text.strip() or (label_column is not None and not label):
            if strict:
                empty = text_column if not text.strip() else label_column
                raise DataError(f"{path}, line {line}: the {empty!r} column is empty (strict mode refuses such rows)")
            skipped += 1
            first_skipped = first_skipped or line
            continue
        texts.append(text)
        labels.append(label)
    if not rows:
        raise DataError(f"{path}: no data rows (the file is empty or has only a header line)")
    if not texts:
        wanted_text = "a text and a label" if label_column else "a text"
        raise DataError(f"{path}: no rows with {wanted_text} ({rows} rows, each missing one)")
    if skipped:
        print(
            f"warning: {path}: skipped {skipped} rows with an empty text or label (the first on line {first_skipped})",
            file=sys.stderr,
        )
    return LabeledTexts(texts, labels, str(path), skipped)


def read_texts(path: Path, text_column: str = "text", encoding: str = "utf-8") -> list[str]:
    """Unlabelled texts to predict: a table's text column, or one text per line of a ``.txt`` file."""
    if path.is_dir():
        raise DataError(f"{path}: is a directory; --input needs a file of texts")
    if not path.is_file():
        raise DataFileNotFoundError(f"{path}: no such file")
    if [s.lower() for s in path.suffixes if s.lower() != ".gz"][-1:] == [".txt"]:
        with open_text(path, encoding) as f, reading(path, encoding):
            texts = [line.rstrip("\r\n") for line in f if line.strip()]
        if not texts:
            raise DataError(f"{path}: no texts (the file is empty)")
        return texts
    return read_table(path, text_column, None, encoding).texts


def read_folder(
    root: Path, classes: tuple[str, ...] | None = None, encoding: str = "utf-8", strict: bool = False
) -> LabeledTexts:
    """Read ``root/<label>/*.txt``; ``classes`` limits which sub-folders count (default: all).

    Empty files are skipped and counted, or refused with ``strict=True``.
    """
    folders = sorted(d for d in root.iterdir() if d.is_dir() and (classes is None or d.name in classes))
    texts, labels, skipped = [], [], 0
    for folder in folders:
        for file in sorted(folder.glob("*.txt")):
            with reading(file, encoding):
                text = file.read_text(encoding=_python_encoding(encoding))
            if not text.strip():
                if strict:
                    raise DataError(f"{file}: the file is empty (strict mode refuses empty texts)")
                skipped += 1
                continue
            texts.append(text)
            labels.append(folder.name)
    if not texts:
        raise DataError(f"{root}: no .txt files in class sub-folders (expected {root}/<label>/*.txt)")
    if skipped:
        print(f"warning: {root}: skipped {skipped} empty files", file=sys.stderr)
    return LabeledTexts(texts, labels, str(root), skipped)


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices) with about ``fraction`` of every class in validation.

    Every class keeps at least one training example; a class with a single example stays in
    training. Indices come back sorted, so the split does not reorder the data.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    val = [np.empty(0, dtype=np.int64)]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        take = min(round(fraction * len(members)), len(members) - 1)
        val.append(members[:take])
    val_idx = np.sort(np.concatenate(val))
    return np.setdiff1d(np.arange(len(labels)), val_idx), val_idx


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The fold ``(n,)`` (0 to ``folds - 1``) of each example: every class dealt out in turn over the
    folds after a seeded shuffle, so each fold holds about ``1 / folds`` of every class (a class with
    fewer members than folds is missing from some)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    start = 0
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        fold[members] = (start + np.arange(len(members))) % folds
        start += len(members)  # the next class starts where this one stopped: folds stay even
    return fold


# -- named datasets -----------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where downloads go: ``$RNNKIT_CACHE``, else ``$XDG_CACHE_HOME/rnnkit``, else ``~/.cache/rnnkit``."""
    if os.environ.get("RNNKIT_CACHE"):
        return Path(os.environ["RNNKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnkit"


def data_roots() -> list[Path]:
    """Places searched for local copies, in order: ``$RNNKIT_DATA``, ``../shared/data``, the cache."""
    roots = [Path(os.environ["RNNKIT_DATA"])] if os.environ.get("RNNKIT_DATA") else []
    return [*roots, Path("..") / "shared" / "data", cache_dir()]


def find_imdb(split: str) -> Path | None:
    """A local copy of the IMDB split: ``imdb/<split>.csv.gz`` or an extracted ``aclImdb/<split>``."""
    for root in data_roots():
        for candidate in (
            root / "imdb" / f"{split}.csv.gz",
            root / "imdb" / f"{split}.csv",
            root / "imdb" / "aclImdb" / split,
            root / "aclImdb" / split,
        ):
            if candidate.exists():
                return candidate
    return None


def load_imdb(split: str = "train") -> LabeledTexts:
    """The IMDB reviews (25,000 train / 25,000 test, labels ``neg``/``pos``), downloading if needed."""
    if split not in SPLITS:
        raise DataError(f"imdb has the splits {', '.join(SPLITS)}; got {split!r}")
    path = find_imdb(split) or download_imdb() / split
    if path.is_dir():
        return read_folder(path, classes=("neg", "pos"))
    return read_table(path)


def download_imdb(url: str | None = None, sha256: str | None = None) -> Path:
    """Download and unpack ``aclImdb_v1.tar.gz`` into the cache; return the ``aclImdb`` directory.

    The archive is checked against its published SHA-256 before anything is unpacked, and the
    directory only appears once it is complete.
    """
    url, sha256 = url or IMDB_URL, sha256 or IMDB_SHA256
    target = cache_dir() / "imdb"
    final = target / "aclImdb"
    if final.is_dir():
        return final
    target.mkdir(parents=True, exist_ok=True)
    print(f"downloading {url} into {target} (about 84 MB, once)", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=target, prefix=".download-") as tmp:
        archive = Path(tmp) / "aclImdb_v1.tar.gz"
        digest = fetch(url, archive)
        if digest != sha256:
            raise DataError(f"{url}: checksum mismatch (sha256 {digest}, expected {sha256}); download refused")
        unpacked = Path(tmp) / "unpacked"
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(unpacked, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise DataError(f"{url}: cannot unpack the archive ({exc})") from None
        if not (unpacked / "aclImdb").is_dir():
            raise DataError(f"{url}: the archive holds no aclImdb directory")
        os.replace(unpacked / "aclImdb", final)
    return final


def fetch(url: str, dest: Path) -> str:
    """Stream ``url`` into ``dest`` and return the SHA-256 hex digest of what was written."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"cannot download {url} ({reason}); offline, put a copy in $RNNKIT_DATA/imdb/ "
            "(train.csv.gz and test.csv.gz, or the unpacked aclImdb/ folder)"
        ) from None
    return digest.hexdigest()
