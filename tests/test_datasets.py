"""Tests for rnnkit.data.tables: table and folder readers, the split, and the named dataset imdb (offline)."""

import csv
import functools
import gzip
import hashlib
import io
import json
import re
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import rnnkit.data.tables as datasets
from rnnkit.data.tables import (
    LabeledTexts,
    cache_dir,
    data_roots,
    download_imdb,
    find_imdb,
    load,
    load_imdb,
    read_folder,
    read_table,
    read_texts,
    stratified_split,
)
from rnnkit.errors import DataError, DataFileNotFoundError, RnnkitError

SAMPLE = Path("/work/shared/data/imdb/aclImdb-sample/train")
UNREACHABLE = "http://127.0.0.1:1/x"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test may touch the network, the user's cache or a real data folder.

    The cwd is a fresh sub-folder of tmp_path, so ``../shared/data`` is ``tmp_path/shared/data``
    (absent); the cache is ``tmp_path/cache``; the download URL is an unreachable local port.
    """
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("RNNKIT_DATA", raising=False)
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "IMDB_URL", UNREACHABLE)
    return work


# -- helpers ---------------------------------------------------------------------------------------

ROWS = [
    {"id": "1", "review": "Loved it, truly", "sentiment": "pos"},
    {"id": "2", "review": 'He said "meh"\tthen left', "sentiment": "neg"},
    {"id": "3", "review": "Ünïcödé — fine ✓", "sentiment": "pos"},
]


def _open_w(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "wt", encoding="utf-8", newline="")
    return open(path, "w", encoding="utf-8", newline="")


def write_table(path: Path, rows: list[dict]) -> Path:
    """Write rows as CSV/TSV (header from the first row's keys) or JSONL, gzipped for ``.gz``."""
    suffix = [s for s in path.suffixes if s != ".gz"][-1]
    with _open_w(path) as f:
        if suffix == ".jsonl":
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="," if suffix == ".csv" else "\t")
            writer.writeheader()
            writer.writerows(rows)
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


ALL_SUFFIXES = [".csv", ".tsv", ".jsonl", ".csv.gz", ".tsv.gz", ".jsonl.gz"]


# -- tables ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ALL_SUFFIXES)
def test_read_table_formats(tmp_path, suffix):
    path = write_table(tmp_path / f"data{suffix}", ROWS)
    data = read_table(path, text_column="review", label_column="sentiment")
    assert isinstance(data, LabeledTexts)
    assert data.texts == [r["review"] for r in ROWS]
    assert data.labels == ["pos", "neg", "pos"]
    assert data.source == str(path)
    assert data.skipped == 0


@pytest.mark.parametrize("suffix", ALL_SUFFIXES)
def test_read_table_other_columns(tmp_path, suffix):
    # Any column can be the text or the label: here the id is the "label".
    path = write_table(tmp_path / f"data{suffix}", ROWS)
    data = read_table(path, text_column="sentiment", label_column="id")
    assert data.texts == ["pos", "neg", "pos"]
    assert data.labels == ["1", "2", "3"]


def test_read_table_default_columns(tmp_path):
    path = write_table(tmp_path / "d.csv", [{"label": "b", "text": "hello"}, {"label": "a", "text": "bye"}])
    data = read_table(path)
    assert (data.texts, data.labels) == (["hello", "bye"], ["b", "a"])


def test_read_table_uppercase_suffixes(tmp_path):
    path = tmp_path / "DATA.CSV.GZ"
    path.write_bytes(gzip.compress(b"text,label\nx,1\n"))
    assert read_table(path).texts == ["x"]


def test_read_csv_quoted_newlines_and_crlf(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b'text,label\r\n"first line\nsecond, line",pos\r\nplain,neg\r\n')
    data = read_table(path)
    assert data.texts == ["first line\nsecond, line", "plain"]
    assert data.labels == ["pos", "neg"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv.gz", ".jsonl"])
def test_missing_column_lists_found_columns(tmp_path, suffix):
    path = write_table(tmp_path / f"d{suffix}", ROWS)
    msg = f"{path}: no column 'text' (row 1); columns found: id, review, sentiment"
    with pytest.raises(DataError, match=re.escape(msg)):
        read_table(path)
    msg = f"{path}: no column 'stars' (row 1); columns found: id, review, sentiment"
    with pytest.raises(DataError, match=re.escape(msg)):
        read_table(path, text_column="review", label_column="stars")


def test_missing_column_in_a_later_jsonl_row(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"body": "b", "label": "y"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(f"{path}: no column 'text' (row 2); columns found: body, label")):
        read_table(path)


def test_missing_column_in_empty_json_object(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("{}\n", encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(f"{path}: no column 'text' (row 1); columns found: (none)")):
        read_table(path)


def test_json_numbers_and_bools_become_strings(tmp_path):
    rows = [
        {"text": "a", "label": 1},
        {"text": "b", "label": True},
        {"text": "c", "label": 2.5},
        {"text": "d", "label": False},
        {"text": 7, "label": 0},
    ]
    data = read_table(write_table(tmp_path / "d.jsonl", rows))
    assert data.labels == ["1", "true", "2.5", "false", "0"]
    assert data.texts == ["a", "b", "c", "d", "7"]
    assert all(isinstance(v, str) for v in data.labels + data.texts)


def test_rows_with_empty_text_or_label_are_skipped(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("text,label\ngood one,pos\n,neg\n   ,neg\nno label,\nblank label,  \nbad one, neg \nshort\n")
    data = read_table(path)
    assert data.texts == ["good one", "bad one"]
    assert data.labels == ["pos", "neg"]  # labels are stripped
    assert data.skipped == 5  # empty text, blank text, empty label, blank label, missing field
    assert f"warning: {path}: skipped 5 rows with an empty text or label" in capsys.readouterr().err


def test_json_null_values_are_skipped(tmp_path):
    rows = [{"text": "ok", "label": "a"}, {"text": None, "label": "a"}, {"text": "x", "label": None}]
    data = read_table(write_table(tmp_path / "d.jsonl.gz", rows))
    assert (data.texts, data.labels, data.skipped) == (["ok"], ["a"], 2)


def test_no_skip_warning_when_nothing_skipped(tmp_path, capsys):
    read_table(write_table(tmp_path / "d.csv", ROWS), "review", "sentiment")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"text,label\n,pos\nsomething,\n", "no rows with a text and a label (2 rows, each missing one)"),
        (b"text,label\n", "no data rows (the file is empty or has only a header line)"),
        (b"", "no data rows (the file is empty or has only a header line)"),
    ],
    ids=["all-empty", "header-only", "empty-file"],
)
def test_no_usable_rows(tmp_path, content, message):
    path = write_bytes(tmp_path / "d.csv", content)
    with pytest.raises(DataError, match=re.escape(f"{path}: {message}")):
        read_table(path)


def test_no_usable_rows_jsonl_blank_lines(tmp_path):
    path = write_bytes(tmp_path / "d.jsonl", b"\n  \n\n")
    with pytest.raises(DataError, match=re.escape(f"{path}: no data rows (the file is empty or has only a header")):
        read_table(path)


def test_jsonl_blank_lines_are_ignored(tmp_path):
    path = write_bytes(tmp_path / "d.jsonl", b'\n{"text": "a", "label": "x"}\r\n\n{"text": "b", "label": "y"}')
    data = read_table(path)
    assert (data.texts, data.labels, data.skipped) == (["a", "b"], ["x", "y"], 0)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("data.txt", "'.txt'"),
        ("data.json", "'.json'"),
        ("data", "'(none)'"),
        ("data.gz", "'(none)'"),
        ("a.xlsx", "'.xlsx'"),
    ],
)
def test_unknown_suffix(tmp_path, name, shown):
    path = write_bytes(tmp_path / name, b"text,label\na,b\n")
    msg = f"{path}: unknown file type {shown}; use .csv, .tsv or .jsonl (optionally .gz)"
    with pytest.raises(DataError, match=re.escape(msg)):
        read_table(path)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".tsv.gz"])
def test_invalid_utf8(tmp_path, suffix):
    sep = b"\t" if ".tsv" in suffix else b","
    if suffix == ".jsonl":
        body = b'{"text": "caf\xe9", "label": "x"}\n'
    else:
        body = b"text" + sep + b"label\ncaf\xe9" + sep + b"x\n"
    path = write_bytes(tmp_path / f"d{suffix}", body)
    offset = body.index(b"\xe9")
    where = f"at byte {offset}" + (" of the uncompressed data" if suffix.endswith(".gz") else "")
    with pytest.raises(DataError, match=re.escape(f"{path}: not valid UTF-8 (invalid continuation byte {where})")):
        read_table(path)


def test_malformed_json_line_names_the_line(tmp_path):
    path = write_bytes(tmp_path / "d.jsonl", b'{"text": "a", "label": "x"}\n\n{"text": "b", label: y}\n')
    with pytest.raises(DataError, match=re.escape(f"{path}, line 3: not valid JSON (Expecting property name")):
        read_table(path)


def test_json_line_that_is_not_an_object(tmp_path):
    path = write_bytes(tmp_path / "d.jsonl.gz", b'{"text": "a", "label": "x"}\n["b", "y"]\n')
    with pytest.raises(DataError, match=re.escape(f"{path}, line 2: expected a JSON object, got list")):
        read_table(path)


def test_csv_row_with_more_fields_than_header(tmp_path):
    path = write_bytes(tmp_path / "d.csv", b"text,label\na,pos\nb,neg,extra\n")
    with pytest.raises(DataError, match=re.escape(f"{path}, line 3: more fields than the header has")):
        read_table(path)


def test_csv_extra_fields_line_counts_physical_lines(tmp_path):
    # The quoted text spans lines 2-3, so the bad row is on line 4.
    path = write_bytes(tmp_path / "d.tsv", b'text\tlabel\n"two\nlines"\tpos\nb\tneg\textra\n')
    with pytest.raises(DataError, match=re.escape(f"{path}, line 4: more fields than the header has")):
        read_table(path)


def test_unbalanced_quote_is_an_error_not_a_silent_loss(tmp_path):
    path = write_bytes(tmp_path / "d.csv", b'text,label\nfirst,pos\n"stray quote,neg\nthird,pos\nfourth,neg\n')
    with pytest.raises(
        DataError,
        match=re.escape(
            f"{path}, line 5: malformed CSV (unexpected end of data; a quote opened earlier is never closed)"
        ),
    ):
        read_table(path)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_utf8_byte_order_mark(tmp_path, suffix):
    body = b'{"text": "a", "label": "x"}\n' if suffix == ".jsonl" else b"text,label\na,x\n"
    path = write_bytes(tmp_path / f"d{suffix}", b"\xef\xbb\xbf" + body)
    data = read_table(path)
    assert (data.texts, data.labels) == (["a"], ["x"])


def test_not_gzip_and_truncated_gzip(tmp_path):
    plain = tmp_path / "plain.csv.gz"
    plain.write_bytes(b"text,label\na,b\n")
    with pytest.raises(DataError, match=re.escape(f"{plain}: cannot read (")):
        read_table(plain)
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(gzip.compress(b"text,label\n" + b"abc,def\n" * 1000)[:-30])
    with pytest.raises(DataError, match=re.escape(f"{truncated}: cannot read (")):
        read_table(truncated)


def test_read_table_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=re.escape(f"{path}: cannot read (No such file or directory)")):
        read_table(path)


def test_errors_are_value_errors():
    assert issubclass(DataError, ValueError)
    assert issubclass(DataError, RnnkitError)
    assert issubclass(DataFileNotFoundError, FileNotFoundError)
    assert issubclass(DataFileNotFoundError, DataError)


# -- folders ---------------------------------------------------------------------------------------


def test_read_folder_real_sample():
    if not SAMPLE.is_dir():
        pytest.skip(f"{SAMPLE} is not available")
    counts = {d.name: len(list(d.glob("*.txt"))) for d in SAMPLE.iterdir() if d.is_dir()}
    assert counts == {"neg": 20, "pos": 20}
    data = read_folder(SAMPLE)
    assert len(data.texts) == 40
    assert data.labels == ["neg"] * 20 + ["pos"] * 20
    assert data.source == str(SAMPLE)
    assert data.skipped == 0
    first_neg = sorted((SAMPLE / "neg").glob("*.txt"))[0]
    last_pos = sorted((SAMPLE / "pos").glob("*.txt"))[-1]
    assert data.texts[0] == first_neg.read_text(encoding="utf-8")
    assert data.texts[-1] == last_pos.read_text(encoding="utf-8")
    assert all(t.strip() for t in data.texts)
    only_pos = read_folder(SAMPLE, classes=("pos",))
    assert only_pos.labels == ["pos"] * 20
    assert only_pos.texts == data.texts[20:]


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "corpus"
    files = {
        "pos/b.txt": "Second positive.",
        "pos/a.txt": "First positive.\nTwo lines.",
        "neg/c.txt": "A negative one.",
        "neg/notes.md": "not a text file",
        "unsup/d.txt": "No label.",
        "empty/.keep": "",
    }
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body, encoding="utf-8")
    (root / "README.txt").write_text("top-level files are not texts", encoding="utf-8")
    return root


def test_read_folder_tmp(folder):
    data = read_folder(folder)
    assert data.labels == ["neg", "pos", "pos", "unsup"]
    assert data.texts == ["A negative one.", "First positive.\nTwo lines.", "Second positive.", "No label."]
    assert data.source == str(folder)


def test_read_folder_classes(folder):
    data = read_folder(folder, classes=("neg", "pos"))
    assert data.labels == ["neg", "pos", "pos"]
    assert "No label." not in data.texts


def test_read_folder_without_texts(tmp_path):
    root = tmp_path / "corpus"
    (root / "pos").mkdir(parents=True)
    (root / "top.txt").write_text("x")
    msg = f"{root}: no .txt files in class sub-folders (expected {root}/<label>/*.txt)"
    with pytest.raises(DataError, match=re.escape(msg)):
        read_folder(root)


def test_read_folder_invalid_utf8(tmp_path):
    bad = tmp_path / "corpus" / "pos" / "x.txt"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"ok \xff")
    with pytest.raises(DataError, match=re.escape(f"{bad}: not valid UTF-8 (invalid start byte at byte 3)")):
        read_folder(tmp_path / "corpus")


# -- read_texts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["in.txt", "in.txt.gz", "IN.TXT"])
def test_read_texts_txt(tmp_path, name):
    path = write_bytes(tmp_path / name, "first\n\n   \n  indented, kept\r\nlast ✓".encode())
    assert read_texts(path) == ["first", "  indented, kept", "last ✓"]


def test_read_texts_empty_txt(tmp_path):
    path = write_bytes(tmp_path / "in.txt", b"\n \n")
    with pytest.raises(DataError, match=re.escape(f"{path}: no texts (the file is empty)")):
        read_texts(path)


def test_read_texts_invalid_utf8(tmp_path):
    path = write_bytes(tmp_path / "in.txt", b"fine\n\xff\n")
    with pytest.raises(DataError, match=re.escape(f"{path}: not valid UTF-8 (invalid start byte at byte 5)")):
        read_texts(path)


def test_read_texts_csv_needs_no_label(tmp_path):
    path = write_table(tmp_path / "in.csv", [{"text": "one"}, {"text": ""}, {"text": "two"}])
    assert read_texts(path) == ["one", "two"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl.gz"])
def test_read_texts_table_column(tmp_path, suffix):
    path = write_table(tmp_path / f"in{suffix}", ROWS)
    assert read_texts(path, text_column="review") == [r["review"] for r in ROWS]
    with pytest.raises(DataError, match=re.escape(f"{path}: no column 'text' (row 1)")):
        read_texts(path)


def test_read_texts_table_without_texts(tmp_path):
    path = write_bytes(tmp_path / "in.csv", b"text\n\n   \n")
    with pytest.raises(DataError, match=re.escape(f"{path}: no rows with a text")):
        read_texts(path)


def test_read_texts_missing(tmp_path):
    with pytest.raises(DataFileNotFoundError, match=re.escape(f"{tmp_path / 'nope.txt'}: no such file")):
        read_texts(tmp_path / "nope.txt")
    with pytest.raises(DataError, match=re.escape(f"{tmp_path}: is a directory; --input needs a file of texts")):
        read_texts(tmp_path)


# -- load() dispatch -------------------------------------------------------------------------------


def test_load_file(tmp_path):
    path = write_table(tmp_path / "d.tsv", ROWS)
    data = load(path, text_column="review", label_column="sentiment")
    assert data.labels == ["pos", "neg", "pos"]
    assert load(str(path), text_column="review", label_column="sentiment").texts == data.texts


def test_load_dir(folder):
    data = load(folder)
    assert data.labels == ["neg", "pos", "pos", "unsup"]
    assert load(str(folder)).texts == data.texts


def test_load_missing_path(tmp_path):
    path = tmp_path / "missing.csv"
    msg = f"{path}: no such file or directory (dataset names: imdb)"
    with pytest.raises(DataFileNotFoundError, match=re.escape(msg)):
        load(path)
    with pytest.raises(FileNotFoundError, match=re.escape("imdb2: no such file or directory (dataset names: imdb)")):
        load("imdb2")


def test_load_prefers_an_existing_file_named_like_a_dataset(isolated):
    # A local file or folder called "imdb" wins over the named dataset.
    (isolated / "imdb" / "pos").mkdir(parents=True)
    (isolated / "imdb" / "pos" / "x.txt").write_text("local")
    data = load("imdb")
    assert (data.texts, data.labels) == (["local"], ["pos"])


# -- stratified_split ------------------------------------------------------------------------------

# 10 "a", 20 "b" (interleaved), 1 "c" at the end.
LABELS = np.array(["a", "b", "b"] * 10 + ["c"])


def test_stratified_split_proportions():
    train, val = stratified_split(LABELS, 0.2, seed=0)
    assert np.count_nonzero(LABELS[val] == "a") == 2
    assert np.count_nonzero(LABELS[val] == "b") == 4
    assert np.count_nonzero(LABELS[val] == "c") == 0
    assert len(val) == 6
    assert len(train) == 25
    assert "c" in LABELS[train]


def test_stratified_split_partition():
    train, val = stratified_split(LABELS, 0.3, seed=7)
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(len(LABELS)))
    assert list(train) == sorted(train)
    assert list(val) == sorted(val)
    assert train.dtype.kind == "i"
    assert val.dtype.kind == "i"


def test_stratified_split_deterministic():
    a = stratified_split(LABELS, 0.3, seed=1)
    b = stratified_split(LABELS, 0.3, seed=1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    others = [stratified_split(LABELS, 0.3, seed=s)[1] for s in range(2, 6)]
    assert any(not np.array_equal(a[1], o) for o in others)


def test_stratified_split_every_class_keeps_a_training_example():
    labels = np.array(["x", "x", "y", "y", "y", "z"])
    train, val = stratified_split(labels, 0.99, seed=0)
    assert sorted(labels[train].tolist()) == ["x", "y", "z"]
    assert sorted(labels[val].tolist()) == ["x", "y", "y"]


def test_stratified_split_zero_fraction():
    train, val = stratified_split(LABELS, 0.0, seed=0)
    assert val.size == 0
    np.testing.assert_array_equal(train, np.arange(len(LABELS)))


def test_stratified_split_integer_labels():
    labels = np.array([0, 1] * 5)
    train, val = stratified_split(labels, 0.4, seed=3)
    assert sorted(labels[val].tolist()) == [0, 0, 1, 1]
    assert len(train) == 6


# -- named dataset imdb: local copies --------------------------------------------------------------


def write_imdb_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


@pytest.fixture
def rnnkit_data(tmp_path, monkeypatch):
    root = tmp_path / "data"
    write_imdb_csv(root / "imdb" / "train.csv.gz", [("A fine film.", "pos"), ("Awful.<br />Avoid.", "neg")])
    monkeypatch.setenv("RNNKIT_DATA", str(root))
    return root


def test_cache_and_data_roots(tmp_path, monkeypatch):
    assert not (Path("..") / "shared" / "data").exists()
    assert cache_dir() == tmp_path / "cache"
    assert data_roots() == [Path("..") / "shared" / "data", tmp_path / "cache"]
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "data"))
    assert data_roots() == [tmp_path / "data", Path("..") / "shared" / "data", tmp_path / "cache"]
    monkeypatch.setenv("RNNKIT_CACHE", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "rnnkit"
    monkeypatch.delenv("RNNKIT_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "rnnkit"


def test_find_and_load_imdb_from_rnnkit_data(rnnkit_data):
    assert find_imdb("train") == rnnkit_data / "imdb" / "train.csv.gz"
    assert find_imdb("test") is None
    data = load_imdb("train")
    assert data.texts == ["A fine film.", "Awful.<br />Avoid."]
    assert data.labels == ["pos", "neg"]
    assert data.source == str(rnnkit_data / "imdb" / "train.csv.gz")
    assert load_imdb().texts == data.texts  # train is the default split
    via_load = load("imdb", split="train")
    assert (via_load.texts, via_load.labels) == (data.texts, data.labels)


def test_load_imdb_test_split_from_unpacked_folder(rnnkit_data):
    test_dir = rnnkit_data / "aclImdb" / "test"
    for label, name, body in [("pos", "0_10.txt", "Superb."), ("neg", "1_2.txt", "Bad."), ("unsup", "2_0.txt", "?")]:
        (test_dir / label).mkdir(parents=True, exist_ok=True)
        (test_dir / label / name).write_text(body, encoding="utf-8")
    assert find_imdb("test") == test_dir
    data = load("imdb", split="test")
    assert (data.texts, data.labels) == (["Bad.", "Superb."], ["neg", "pos"])  # unsup is not a class


def test_find_imdb_search_order(rnnkit_data, tmp_path):
    # A copy in the cache loses to $RNNKIT_DATA; within a root, train.csv.gz comes before train.csv.
    write_imdb_csv(tmp_path / "cache" / "imdb" / "train.csv.gz", [("cached", "pos")])
    (rnnkit_data / "imdb" / "train.csv").write_text("text,label\nplain,neg\n")
    assert find_imdb("train") == rnnkit_data / "imdb" / "train.csv.gz"
    (rnnkit_data / "imdb" / "train.csv.gz").unlink()
    assert find_imdb("train") == rnnkit_data / "imdb" / "train.csv"
    assert load_imdb("train").texts == ["plain"]
    (rnnkit_data / "imdb" / "train.csv").unlink()
    assert find_imdb("train") == tmp_path / "cache" / "imdb" / "train.csv.gz"
    assert load_imdb("train").texts == ["cached"]


def test_find_imdb_in_shared_data_relative_to_cwd(tmp_path):
    write_imdb_csv(tmp_path / "shared" / "data" / "imdb" / "test.csv.gz", [("shared copy", "neg")])
    assert find_imdb("test") == Path("..") / "shared" / "data" / "imdb" / "test.csv.gz"
    assert load_imdb("test").texts == ["shared copy"]


def test_load_imdb_bad_split(rnnkit_data):
    with pytest.raises(DataError, match=re.escape("imdb has the splits train, test; got 'valid'")):
        load_imdb("valid")
    with pytest.raises(DataError, match=re.escape("imdb has the splits train, test; got 'unsup'")):
        load("imdb", split="unsup")


# -- named dataset imdb: the download, served from a local HTTP server ------------------------------

ARCHIVE_FILES = {
    "aclImdb/train/pos/0_9.txt": "A wonderful film.",
    "aclImdb/train/neg/1_1.txt": "Dreadful.<br /><br />Truly.",
    "aclImdb/train/unsup/2_0.txt": "Unlabelled review.",
    "aclImdb/test/pos/3_8.txt": "Lovely.",
    "aclImdb/test/neg/4_2.txt": "Boring.",
    "aclImdb/README": "readme",
}


def make_tar_gz(path: Path, files: dict[str, str]) -> str:
    """Write a .tar.gz holding ``files`` and return its sha256."""
    with tarfile.open(path, "w:gz") as tar:
        for name, body in files.items():
            data = body.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Server:
    """A local HTTP server for a folder, counting the GET requests it answers."""

    def __init__(self, root: Path):
        self.requests: list[str] = []
        requests = self.requests

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    srv = Server(root)
    srv.root = root
    yield srv
    srv.stop()


@pytest.fixture
def imdb_archive(server, monkeypatch):
    """The tiny aclImdb_v1.tar.gz on the local server, with IMDB_URL and IMDB_SHA256 pointing at it."""
    sha = make_tar_gz(server.root / "aclImdb_v1.tar.gz", ARCHIVE_FILES)
    url = f"{server.base}/aclImdb_v1.tar.gz"
    monkeypatch.setattr(datasets, "IMDB_URL", url)
    monkeypatch.setattr(datasets, "IMDB_SHA256", sha)
    return url, sha


def test_download_imdb(imdb_archive, server, tmp_path, capsys):
    url, _ = imdb_archive
    cache = tmp_path / "cache"
    assert find_imdb("train") is None
    data = load_imdb("train")
    assert data.texts == ["Dreadful.<br /><br />Truly.", "A wonderful film."]
    assert data.labels == ["neg", "pos"]
    assert data.source == str(cache / "imdb" / "aclImdb" / "train")
    assert server.requests == ["/aclImdb_v1.tar.gz"]
    assert f"downloading {url} into {cache / 'imdb'}" in capsys.readouterr().err
    # Only the unpacked folder is left: no temporary download directory, no archive.
    assert [p.name for p in (cache / "imdb").iterdir()] == ["aclImdb"]
    assert (cache / "imdb" / "aclImdb" / "train" / "unsup" / "2_0.txt").is_file()

    # A second call, and the other split, use the cache: no new request, nothing printed.
    again = load_imdb("train")
    assert (again.texts, again.labels) == (data.texts, data.labels)
    test = load("imdb", split="test")
    assert (test.texts, test.labels) == (["Boring.", "Lovely."], ["neg", "pos"])
    assert server.requests == ["/aclImdb_v1.tar.gz"]
    assert capsys.readouterr().err == ""


def test_downloaded_copy_works_with_the_server_stopped(imdb_archive, server):
    load_imdb("train")
    server.stop()
    data = load_imdb("train")
    assert data.labels == ["neg", "pos"]
    assert download_imdb().name == "aclImdb"


def test_download_checksum_mismatch(imdb_archive, server, tmp_path, monkeypatch):
    url, sha = imdb_archive
    wrong = "0" * 64
    monkeypatch.setattr(datasets, "IMDB_SHA256", wrong)
    msg = f"{url}: checksum mismatch (sha256 {sha}, expected {wrong}); download refused"
    with pytest.raises(DataError, match=re.escape(msg)) as info:
        load_imdb("train")
    assert "checksum mismatch" in str(info.value)
    imdb_cache = tmp_path / "cache" / "imdb"
    assert not (imdb_cache / "aclImdb").exists()
    assert list(imdb_cache.iterdir()) == []  # the temporary download was removed too
    assert server.requests == ["/aclImdb_v1.tar.gz"]


def test_download_imdb_explicit_arguments(server, tmp_path):
    sha = make_tar_gz(server.root / "other.tar.gz", ARCHIVE_FILES)
    final = download_imdb(f"{server.base}/other.tar.gz", sha)
    assert final == tmp_path / "cache" / "imdb" / "aclImdb"
    assert sorted(p.name for p in (final / "train").iterdir()) == ["neg", "pos", "unsup"]


def test_download_unreachable(tmp_path):
    assert datasets.IMDB_URL == UNREACHABLE
    with pytest.raises(DataError) as info:
        load_imdb("train")
    message = str(info.value)
    assert message.startswith(f"cannot download {UNREACHABLE} (")
    assert "$RNNKIT_DATA/imdb/" in message
    assert not (tmp_path / "cache" / "imdb" / "aclImdb").exists()
    assert list((tmp_path / "cache" / "imdb").iterdir()) == []


def test_download_http_error(server, monkeypatch):
    url = f"{server.base}/missing.tar.gz"
    monkeypatch.setattr(datasets, "IMDB_URL", url)
    with pytest.raises(DataError, match=re.escape(f"cannot download {url} (File not found)")):
        load("imdb")


def test_download_archive_without_aclimdb(server, tmp_path):
    sha = make_tar_gz(server.root / "wrong.tar.gz", {"other/train/pos/0_9.txt": "x"})
    url = f"{server.base}/wrong.tar.gz"
    with pytest.raises(DataError, match=re.escape(f"{url}: the archive holds no aclImdb directory")):
        download_imdb(url, sha)
    assert list((tmp_path / "cache" / "imdb").iterdir()) == []


def test_download_not_an_archive(server, tmp_path):
    body = b"this is not a tar file"
    (server.root / "junk.tar.gz").write_bytes(body)
    url = f"{server.base}/junk.tar.gz"
    with pytest.raises(DataError, match=re.escape(f"{url}: cannot unpack the archive (")):
        download_imdb(url, hashlib.sha256(body).hexdigest())
    assert list((tmp_path / "cache" / "imdb").iterdir()) == []


def test_a_gzip_both_undecodable_and_cut_short_is_one_data_error(tmp_path):
    """The decoding error comes first; locating its byte then meets the cut: that is what is reported."""
    path = tmp_path / "both.csv.gz"
    path.write_bytes(gzip.compress(b"text,label\ncaf\xe9,pos\n" + b"good,neg\n" * 5000)[:-30])
    message = "cannot read (Compressed file ended before the end-of-stream marker was reached)"
    with pytest.raises(DataError, match=f"^{re.escape(f'{path}: {message}')}$"):
        read_table(path)
    corrupt = tmp_path / "corrupt.csv.gz"
    data = bytearray(gzip.compress(b"text,label\ncaf\xe9,pos\n" + bytes(range(256)) * 4000))
    data[-2000:-1000] = b"\xff" * 1000
    corrupt.write_bytes(bytes(data))
    with pytest.raises(DataError, match=f"^{re.escape(f'{corrupt}: cannot read (')}"):
        read_table(corrupt)
