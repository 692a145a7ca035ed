"""Readers of translation pairs and language-model corpora: the shapes, the real Multi30k files and
every malformed input with the exact one-line error."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from rnnkit.data.parallel import read_aligned, read_corpus, read_pairs
from rnnkit.errors import DataError, DataFileNotFoundError

MULTI30K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "multi30k"


def write(path: Path, text: str | bytes) -> Path:
    data = text.encode("utf-8") if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def raises(message: str, kind: type[Exception] = DataError):
    return pytest.raises(kind, match=f"^{re.escape(message)}$")


@pytest.fixture(params=["", ".gz"], ids=["plain", "gz"])
def gz(request) -> str:
    return request.param


def test_aligned_files_pair_line_by_line_keeping_inner_spaces(tmp_path, gz):
    src = write(tmp_path / f"a.de{gz}", "Ein  Mann fährt.\r\n\nZwei Hunde.\n")
    tgt = write(tmp_path / f"a.en{gz}", " A  man rides. \r\n\nTwo dogs.")
    pairs = read_aligned(src, tgt)
    assert (pairs.sources, pairs.targets) == (["Ein  Mann fährt.", "Zwei Hunde."], ["A  man rides.", "Two dogs."])
    assert len(pairs) == 2


def test_a_form_feed_or_unicode_line_separator_does_not_put_the_files_out_of_step(tmp_path):
    src = write(tmp_path / "a.de", "eins\x0czwei\ndrei\u2028vier\n")
    tgt = write(tmp_path / "a.en", "one two\nthree four\n")
    assert read_aligned(src, tgt).sources == ["eins\x0czwei", "drei\u2028vier"]


def test_aligned_files_of_different_lengths_are_refused_naming_both_counts(tmp_path):
    src, tgt = write(tmp_path / "a.de", "a\nb\nc\n"), write(tmp_path / "a.en", "x\n")
    with raises(f"{src} has 3 lines but {tgt} has 1 line; line i of the target must translate line i of the source"):
        read_aligned(src, tgt)


@pytest.mark.parametrize(
    "source, target, side",
    [("a\n\nc\n", "x\ny\nz\n", "source"), ("a\nb\nc\n", "x\n  \nz\n", "target")],
)
def test_a_pair_blank_on_one_side_is_refused_naming_the_line(tmp_path, source, target, side):
    src, tgt = write(tmp_path / "a.de", source), write(tmp_path / "a.en", target)
    where = src if side == "source" else tgt
    other = "target" if side == "source" else "source"
    with raises(f"{where}, line 2: the {side} is blank but its {other} is not"):
        read_aligned(src, tgt)


def test_empty_aligned_files_and_missing_ones(tmp_path):
    src, tgt = write(tmp_path / "a.de", "\n\n"), write(tmp_path / "a.en", "\n \n")
    with raises(f"{src} and {tgt}: no sentence pairs (the files are empty or hold only blank lines)"):
        read_aligned(src, tgt)
    with raises(f"{tmp_path / 'nope.en'}: no such file", DataFileNotFoundError):
        read_aligned(src, tmp_path / "nope.en")


def test_aligned_files_that_are_not_utf8_name_the_byte(tmp_path):
    src, tgt = write(tmp_path / "a.de", b"gr\xfcn\n"), write(tmp_path / "a.en", "green\n")
    with pytest.raises(DataError, match=re.escape(f"{src}: not valid UTF-8 (invalid start byte at byte 2)")):
        read_aligned(src, tgt)
    assert read_aligned(src, tgt, encoding="latin-1").sources == ["grün"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_pair_tables_in_every_format(tmp_path, suffix, gz):
    rows = [("Ein Mann, der läuft.", "A man, running."), ("", ""), ("Zwei", "Two")]
    if suffix == ".jsonl":
        text = "\n".join(json.dumps({"source": s, "target": t, "id": i}) for i, (s, t) in enumerate(rows)) + "\n"
    else:
        sep = "," if suffix == ".csv" else "\t"
        quote = (lambda v: f'"{v}"') if suffix == ".csv" else (lambda v: v)
        lines = [f"{i}{sep}{quote(s)}{sep}{quote(t)}\n" for i, (s, t) in enumerate(rows)]
        text = f"id{sep}source{sep}target\n" + "".join(lines)
    pairs = read_pairs(write(tmp_path / f"p{suffix}{gz}", text))
    assert (pairs.sources, pairs.targets) == (["Ein Mann, der läuft.", "Zwei"], ["A man, running.", "Two"])


def test_pair_tables_with_other_column_names(tmp_path):
    path = write(tmp_path / "p.tsv", "de\ten\nHund\tdog\n")
    assert read_pairs(path, source_column="de", target_column="en").targets == ["dog"]


def test_pair_table_errors_name_the_line(tmp_path):
    path = write(tmp_path / "p.tsv", "source\ttranslation\nHund\tdog\n")
    message = (
        f'{path}, line 2: no "target" column; the pairs need "source" and "target" '
        "(choose others with --source-column/--target-column)"
    )
    with raises(message):
        read_pairs(path)
    path = write(tmp_path / "p.jsonl", '{"source": "a", "target": "b"}\n{"source": "a", "target": 3}\n')
    with raises(f'{path}, line 2: "target" must be a string, not int'):
        read_pairs(path)
    path = write(tmp_path / "q.jsonl", '{"source": "a", "target": ""}\n')
    with raises(f'{path}, line 1, "target": the target is blank but its source is not'):
        read_pairs(path)
    path = write(tmp_path / "r.jsonl", "\n")
    with raises(f"{path}: no sentence pairs (the files are empty or hold only blank lines)"):
        read_pairs(path)


def test_corpus_reads_the_whole_text_with_unix_line_ends(tmp_path, gz):
    path = write(tmp_path / f"c.txt{gz}", "ROMEO:\r\nBut soft!\n\nJULIET:\nAy me.\n")
    assert read_corpus(path) == "ROMEO:\nBut soft!\n\nJULIET:\nAy me.\n"
    empty = write(tmp_path / f"e.txt{gz}", " \n\n")
    with raises(f"{empty}: the corpus is empty (no text to learn from)"):
        read_corpus(empty)


@pytest.mark.skipif(not MULTI30K.is_dir(), reason="needs ../shared/data/multi30k")
def test_real_multi30k_counts():
    train = read_aligned(MULTI30K / "train.de.gz", MULTI30K / "train.en.gz")
    val = read_aligned(MULTI30K / "val.de.gz", MULTI30K / "val.en.gz")
    assert (len(train), len(val)) == (29000, 1014)
    assert all(s and t for s, t in zip(val.sources, val.targets, strict=True))
