"""Tests for rnnkit.data.conll: the CoNLL, CoNLL-U and JSONL readers of tagged sentences, every error
they report, the real CoNLL-2003 and UD English-LinES files, and a fuzz test of all three formats."""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data.conll import (
    TAGGED_FORMATS,
    TaggedSentences,
    read_conll,
    read_conllu,
    read_tagged,
    read_tagged_jsonl,
    tagged_format,
)
from rnnkit.errors import ConfigError, DataError, DataFileNotFoundError

DATA = Path("/work/shared/data")
CONLL2003 = DATA / "conll2003" / "train.conll.gz"
UD_LINES = DATA / "ud-english-lines"
WORD_HINT = "tokens and tags must be single words without spaces"


def write(path: Path, text: str | bytes) -> Path:
    """Write ``text`` exactly (line ends untouched) as UTF-8, gzip-compressed for a ``.gz`` name."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def raises(kind: type[Exception], message: str):
    """``pytest.raises`` matching the whole message, not a part of it."""
    return pytest.raises(kind, match=f"^{re.escape(message)}$")


@pytest.fixture(params=["", ".gz"], ids=["plain", "gz"])
def gz(request) -> str:
    return request.param


# -- the container and the suffixes --------------------------------------------------------------


def test_tagged_sentences_is_frozen_and_has_a_length():
    data = TaggedSentences([["a", "b"], ["c"]], [["O", "O"], ["B-X"]])
    assert len(data) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.tokens = []


@pytest.mark.parametrize(
    "name, expected",
    [
        ("train.conll", "conll"),
        ("train.conll.gz", "conll"),
        ("TRAIN.CONLL.GZ", "conll"),
        ("ner.bio", "conll"),
        ("ner.iob.gz", "conll"),
        ("en.conllu", "conllu"),
        ("en.conllu.gz", "conllu"),
        ("x.jsonl", "jsonl"),
        ("x.jsonl.gz", "jsonl"),
        ("train.txt", None),
        ("train.conll.txt", None),
        ("train.csv", None),
        ("train", None),
        ("train.gz", None),
    ],
)
def test_tagged_format_comes_from_the_suffix_looking_past_gz(name, expected):
    assert tagged_format(Path(name)) == expected


# -- CoNLL ---------------------------------------------------------------------------------------

CONLL = "EU\tNNP\tB-ORG\nrejects\tVBZ\tO\n\n\n\nPeter\tNNP\tB-PER\nBlackburn\tNNP\tI-PER\n"


def test_read_conll_takes_the_first_and_last_columns_and_splits_sentences_on_blank_lines(tmp_path, gz):
    data = read_conll(write(tmp_path / f"a.conll{gz}", CONLL))
    assert data.tokens == [["EU", "rejects"], ["Peter", "Blackburn"]]
    assert data.tags == [["B-ORG", "O"], ["B-PER", "I-PER"]]
    assert len(data) == 2


def test_read_conll_splits_lines_without_tabs_on_runs_of_whitespace_and_reads_crlf_and_a_bom(tmp_path):
    text = "\ufeffEU  NNP \x0c B-ORG\r\nrejects VBZ   O  \r\n \t \r\nPeter\tNNP\tB-PER\r\n"
    data = read_conll(write(tmp_path / "a.conll", text))
    assert data.tokens == [["EU", "rejects"], ["Peter"]]
    assert data.tags == [["B-ORG", "O"], ["B-PER"]]


def test_read_conll_strips_spaces_around_tab_separated_fields_and_keeps_empty_inner_ones(tmp_path):
    data = read_conll(write(tmp_path / "a.conll", " EU \t\tB-ORG \nrejects\t\tO\n"))
    assert data.tokens == [["EU", "rejects"]]
    assert data.tags == [["B-ORG", "O"]]


def test_read_conll_keeps_any_non_whitespace_characters_as_they_are(tmp_path):
    words = ["#", '"', "'s", "Ünïcödé", "—", "1996-08-22", "_", "-DOCSTART-", "{}", "\x00"]
    text = "".join(f"x\t{w}\t{w}\n" for w in words)  # -DOCSTART- only counts in the first column
    data = read_conll(write(tmp_path / "a.conll", text), token_column=1)
    assert data.tokens == data.tags == [words]


def test_read_conll_skips_docstart_lines_which_end_a_sentence(tmp_path):
    text = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n-DOCSTART- -X- O\nPeter NNP B-NP B-PER\n"
    data = read_conll(write(tmp_path / "a.conll", text))
    assert data.tokens == [["EU", "rejects"], ["Peter"]]
    assert data.tags == [["B-ORG", "O"], ["B-PER"]]


@pytest.mark.parametrize(
    "token_column, tag_column, tokens, tags",
    [
        (0, -1, ["EU"], ["B-ORG"]),
        (0, 1, ["EU"], ["NNP"]),
        (1, 2, ["NNP"], ["B-ORG"]),
        (-3, -2, ["EU"], ["NNP"]),
        (2, 0, ["B-ORG"], ["EU"]),
    ],
)
def test_read_conll_takes_the_chosen_columns_counting_negative_ones_from_the_end(
    tmp_path, token_column, tag_column, tokens, tags
):
    data = read_conll(write(tmp_path / "a.conll", "EU\tNNP\tB-ORG\n"), token_column, tag_column)
    assert (data.tokens, data.tags) == ([tokens], [tags])


SAME_COLUMNS = "every token line needs the same number of columns"


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("EU\tB-ORG\nrejects\tVBZ\tO\n", 2, f"3 columns where line 1 has 2; {SAME_COLUMNS}"),
        ("\n\nEU B-ORG\n\nPeter\n", 5, f"1 column where line 3 has 2; {SAME_COLUMNS}"),
        ("EU\tB-ORG\nrejects\tO\t\n", 2, f"3 columns where line 1 has 2; {SAME_COLUMNS}"),
        ("EU B-ORG\nrejects O\t\n", 2, f"the token 'rejects O' contains whitespace; {WORD_HINT}"),  # split on tabs
        (
            "EU\n",
            1,
            "--token-column 0 and --tag-column -1 name the same column of 1 column; "
            "a tagged file needs a token column and a tag column",
        ),
        ("EU\tNNP\nx\tNN\t\t \n", 2, f"4 columns where line 1 has 2; {SAME_COLUMNS}"),
        ("EU\tNNP\t \r\n", 1, f"the tag is empty; {WORD_HINT}"),
        ("\tNNP\tB-ORG\n", 1, f"the token is empty; {WORD_HINT}"),
        ("EU\tO\nNew York\tB-LOC\n", 2, f"the token 'New York' contains whitespace; {WORD_HINT}"),
        ("EU\tB ORG\n", 1, f"the tag 'B ORG' contains whitespace; {WORD_HINT}"),
    ],
)
def test_read_conll_refuses_malformed_lines_naming_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path / "a.conll", text)
    with raises(DataError, f"{path}:{line}: {message}"):
        read_conll(path)


@pytest.mark.parametrize(
    "token_column, tag_column, message",
    [
        (
            3,
            -1,
            "--token-column 3 is out of range for lines of 3 columns; use 0 to 2, or -3 to -1 counting from the end",
        ),
        (0, 3, "--tag-column 3 is out of range for lines of 3 columns; use 0 to 2, or -3 to -1 counting from the end"),
        (
            0,
            -4,
            "--tag-column -4 is out of range for lines of 3 columns; use 0 to 2, or -3 to -1 counting from the end",
        ),
        (
            1,
            -2,
            "--token-column 1 and --tag-column -2 name the same column of 3 columns; "
            "a tagged file needs a token column and a tag column",
        ),
    ],
)
def test_read_conll_refuses_column_indices_outside_the_lines(tmp_path, token_column, tag_column, message):
    path = write(tmp_path / "a.conll", "\n-DOCSTART-\nEU\tNNP\tB-ORG\n")
    with raises(DataError, f"{path}:3: {message}"):
        read_conll(path, token_column, tag_column)


@pytest.mark.parametrize("text", ["", "\n\n \t\n", "-DOCSTART- -X- O\n\n-DOCSTART-\n"])
def test_read_conll_refuses_a_file_without_sentences(tmp_path, gz, text):
    path = write(tmp_path / f"a.conll{gz}", text)
    with raises(DataError, f"{path}: no sentences (the file is empty or holds only blank and -DOCSTART- lines)"):
        read_conll(path)


@pytest.mark.skipif(not CONLL2003.exists(), reason="CoNLL-2003 is not in /work/shared/data")
def test_read_conll_reads_conll2003():
    data = read_tagged(CONLL2003)
    assert len(data) == 14_041
    assert sum(map(len, data.tokens)) == 203_621
    assert [len(s) for s in data.tokens] == [len(s) for s in data.tags]
    assert (data.tokens[1], data.tags[1]) == (["Peter", "Blackburn"], ["B-PER", "I-PER"])
    assert {tag for sentence in data.tags for tag in sentence} == {
        "O",
        *(f"{p}-{t}" for p in "BI" for t in ("PER", "ORG", "LOC", "MISC")),
    }


# -- CoNLL-U -------------------------------------------------------------------------------------


def conllu_line(id: str, form: str, upos: str = "NOUN", xpos: str = "_", deprel: str = "dep") -> str:
    return "\t".join([id, form, form.lower(), upos, xpos, "Number=Sing", "0", deprel, "_", "_"]) + "\n"


CONLLU = (
    "# newdoc id = 1\n# sent_id = 1\n# text = I don't know\n"
    + conllu_line("1", "I", "PRON", "PP", "nsubj")
    + conllu_line("2-3", "don't", "_", "_", "_")
    + conllu_line("2", "do", "AUX", "_", "aux")
    + conllu_line("3", "n't", "PART", "NEG", "advmod")
    + conllu_line("4", "know", "VERB", "_", "root")
    + "\n# sent_id = 2\n"
    + conllu_line("1", "Sue", "PROPN", "_", "nsubj")
    + conllu_line("1.1", "likes", "VERB", "_", "_")
    + conllu_line("2", "tea", "NOUN", "SG", "obj")
)


def test_read_conllu_reads_the_forms_of_syntactic_words_and_upos_by_default(tmp_path, gz):
    data = read_conllu(write(tmp_path / f"en.conllu{gz}", CONLLU))
    assert data.tokens == [["I", "do", "n't", "know"], ["Sue", "tea"]]
    assert data.tags == [["PRON", "AUX", "PART", "VERB"], ["PROPN", "NOUN"]]


@pytest.mark.parametrize(
    "column, tags",
    [
        ("XPOS", [["PP", "_", "NEG", "_"], ["_", "SG"]]),
        ("deprel", [["nsubj", "aux", "advmod", "root"], ["nsubj", "obj"]]),
        ("lemma", [["i", "do", "n't", "know"], ["sue", "tea"]]),
        ("feats", [["Number=Sing"] * 4, ["Number=Sing"] * 2]),
        (" Head ", [["0"] * 4, ["0"] * 2]),
    ],
)
def test_read_conllu_takes_the_tag_column_by_name_in_any_case(tmp_path, column, tags):
    assert read_conllu(write(tmp_path / "en.conllu", CONLLU), column).tags == tags


def test_read_conllu_keeps_crlf_files_and_comments_anywhere(tmp_path):
    text = "# a\r\n" + conllu_line("1", "Hi", "INTJ").replace("\n", "\r\n") + "# b\r\n\r\n\r\n"
    data = read_conllu(write(tmp_path / "en.conllu", text))
    assert (data.tokens, data.tags) == ([["Hi"]], [["INTJ"]])


@pytest.mark.parametrize("column", ["id", "form", "pos", ""])
def test_read_conllu_refuses_an_unknown_tag_column_listing_the_choices(tmp_path, column):
    path = write(tmp_path / "en.conllu", CONLLU)
    message = f"unknown CoNLL-U tag column {column!r}; choose one of lemma, upos, xpos, feats, head, deprel, deps, misc"
    with raises(ConfigError, message):
        read_conllu(path, column)


COLUMNS_HINT = "CoNLL-U word lines have 10, separated by tabs (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC)"


@pytest.mark.parametrize(
    "line, message",
    [
        ("1\tI\ti\tPRON\n", f"4 columns; {COLUMNS_HINT}"),
        ("1 I i PRON _ _ 0 root _ _\n", f"1 column; {COLUMNS_HINT}"),
        (conllu_line("1", "I").replace("\n", "\t_\n"), f"11 columns; {COLUMNS_HINT}"),
        (
            conllu_line("a", "I"),
            "the ID 'a' is not a word number (1, 2, ...), a multiword range (3-4) or an empty node (8.1); "
            "is this a CoNLL-U file?",
        ),
        (
            conllu_line("1", "1 000"),
            f"the token '1 000' contains whitespace; {WORD_HINT}",
        ),
        (conllu_line("1", " "), f"the token is empty; {WORD_HINT}"),
        (conllu_line("1", "I", ""), f"the tag is empty; {WORD_HINT}"),
    ],
)
def test_read_conllu_refuses_malformed_word_lines_naming_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "en.conllu", "# sent_id = 1\n" + conllu_line("1", "Hi") + line)
    with raises(DataError, f"{path}:3: {message}"):
        read_conllu(path)


def test_read_conllu_allows_underscore_tags_but_not_a_column_of_nothing_else(tmp_path):
    path = write(tmp_path / "en.conllu", conllu_line("1", "Hi") + "\n" + conllu_line("1", "_", "PUNCT"))
    assert read_conllu(path, "upos").tags == [["NOUN"], ["PUNCT"]]
    assert read_conllu(path, "upos").tokens == [["Hi"], ["_"]]
    with raises(DataError, f"{path}: has no xpos tags (the XPOS column is _ on every word); choose another tag column"):
        read_conllu(path, "xpos")


@pytest.mark.parametrize("text", ["", "# only a comment\n\n", conllu_line("1-2", "don't") + conllu_line("1.1", "x")])
def test_read_conllu_refuses_a_file_without_sentences(tmp_path, text):
    path = write(tmp_path / "en.conllu", text)
    with raises(DataError, f"{path}: no sentences (the file is empty or holds no word lines)"):
        read_conllu(path)


@pytest.mark.parametrize("split, sentences, tokens", [("train", 3_457, 64_684), ("dev", 1_118, 21_637)])
def test_read_conllu_reads_ud_english_lines(split, sentences, tokens):
    path = UD_LINES / f"{split}.conllu.gz"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    data = read_tagged(path)
    assert (len(data), sum(map(len, data.tokens))) == (sentences, tokens)
    assert [len(s) for s in data.tokens] == [len(s) for s in data.tags]
    assert {tag for sentence in data.tags for tag in sentence} <= {
        *"ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
    }


# -- JSONL ---------------------------------------------------------------------------------------


def test_read_tagged_jsonl_reads_one_sentence_per_line_skipping_blank_ones(tmp_path, gz):
    lines = [
        json.dumps({"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"], "id": 7}),
        "  ",
        json.dumps({"tags": ["B-PER"], "tokens": ["Ünïcödé"]}, ensure_ascii=False),
        "",
    ]
    data = read_tagged_jsonl(write(tmp_path / f"a.jsonl{gz}", "\n".join(lines)))
    assert data.tokens == [["EU", "rejects"], ["Ünïcödé"]]
    assert data.tags == [["B-ORG", "O"], ["B-PER"]]


JSON_HINT = 'each line must be one {"tokens": [...], "tags": [...]} object'


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"tokens": ["a"], "tags": ["O"]', f"not valid JSON (Expecting ',' delimiter); {JSON_HINT}"),
        ("tokens a b", f"not valid JSON (Expecting value); {JSON_HINT}"),
        ("[" * 100_000, f"not valid JSON (nested too deeply); {JSON_HINT}"),
        ("9" * 5_000, f"not valid JSON (a number has too many digits); {JSON_HINT}"),
        ('[["a"], ["O"]]', 'expected a JSON object with "tokens" and "tags", got a list'),
        ('"a"', 'expected a JSON object with "tokens" and "tags", got a string'),
        ("null", 'expected a JSON object with "tokens" and "tags", got null'),
        ('{"tags": ["O"]}', 'no "tokens" key; every line needs "tokens" and "tags" lists'),
        ('{"tokens": ["a"], "labels": ["O"]}', 'no "tags" key; every line needs "tokens" and "tags" lists'),
        ('{"tokens": "a b", "tags": ["O"]}', '"tokens" must be a list of strings, not a string'),
        ('{"tokens": ["a"], "tags": {"0": "O"}}', '"tags" must be a list of strings, not an object'),
        ('{"tokens": ["a", 1], "tags": ["O", "O"]}', '"tokens" must be a list of strings; item 2 is a number'),
        ('{"tokens": ["a"], "tags": [null]}', '"tags" must be a list of strings; item 1 is null'),
        ('{"tokens": ["a"], "tags": [true]}', '"tags" must be a list of strings; item 1 is a boolean'),
        ('{"tokens": ["a"], "tags": [["O"]]}', '"tags" must be a list of strings; item 1 is a list'),
        ('{"tokens": [], "tags": []}', '"tokens" is empty; a sentence needs at least one token and its tag'),
        ('{"tokens": ["a"], "tags": []}', '"tags" is empty; a sentence needs at least one token and its tag'),
        ('{"tokens": ["a", "b"], "tags": ["O"]}', "2 tokens but 1 tags; every token needs one tag"),
        ('{"tokens": ["a"], "tags": ["O", "O"]}', "1 tokens but 2 tags; every token needs one tag"),
        ('{"tokens": ["a", "b c"], "tags": ["O", "O"]}', f"token 2 'b c' contains whitespace; {WORD_HINT}"),
        ('{"tokens": ["a"], "tags": [" O"]}', f"tag 1 ' O' contains whitespace; {WORD_HINT}"),
        ('{"tokens": [""], "tags": ["O"]}', f"token 1 is empty; {WORD_HINT}"),
    ],
)
def test_read_tagged_jsonl_refuses_malformed_lines_naming_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "a.jsonl", '{"tokens": ["ok"], "tags": ["O"]}\n\n' + line + "\n")
    with raises(DataError, f"{path}:3: {message}"):
        read_tagged_jsonl(path)


@pytest.mark.parametrize("text", ["", "\n \n\t\n"])
def test_read_tagged_jsonl_refuses_a_file_without_sentences(tmp_path, text):
    path = write(tmp_path / "a.jsonl", text)
    with raises(DataError, f"{path}: no sentences (the file is empty or holds only blank lines)"):
        read_tagged_jsonl(path)


# -- read_tagged: dispatch, options, and errors of any file --------------------------------------

ONE_SENTENCE = {
    "conll": "EU\tNNP\tB-ORG\n",
    "conllu": conllu_line("1", "EU", "PROPN", "NNP"),
    "jsonl": '{"tokens": ["EU"], "tags": ["B-ORG"]}\n',
}


@pytest.mark.parametrize(
    "name, tags", [("a.conll", "B-ORG"), ("a.bio.gz", "B-ORG"), ("a.iob", "B-ORG"), ("a.conllu.gz", "PROPN")]
)
def test_read_tagged_picks_the_format_and_default_tag_column_by_suffix(tmp_path, name, tags):
    text = ONE_SENTENCE["conllu" if ".conllu" in name else "conll"]
    data = read_tagged(write(tmp_path / name, text))
    assert (data.tokens, data.tags) == ([["EU"]], [[tags]])


@pytest.mark.parametrize("format", TAGGED_FORMATS)
def test_read_tagged_reads_each_format_whatever_the_suffix_when_told_which(tmp_path, format):
    path = write(tmp_path / "data.txt", ONE_SENTENCE[format])
    assert read_tagged(path, format.upper()).tokens == [["EU"]]
    assert read_tagged(str(path), format).tokens == [["EU"]]


@pytest.mark.parametrize(
    "format, tag_column, tags",
    [("conll", 1, "NNP"), ("conll", " -2 ", "NNP"), ("conll", "2", "B-ORG"), ("conllu", "XPOS", "NNP")],
)
def test_read_tagged_passes_the_tag_column_on(tmp_path, format, tag_column, tags):
    path = write(tmp_path / f"a.{format}", ONE_SENTENCE[format])
    assert read_tagged(path, tag_column=tag_column).tags == [[tags]]


def test_read_tagged_passes_the_token_column_and_encoding_on(tmp_path):
    path = tmp_path / "a.conll"
    path.write_bytes("x\tcafé\tO\n".encode("cp1252"))
    assert read_tagged(path, token_column=1, encoding="cp1252").tokens == [["café"]]


@pytest.mark.parametrize(
    "format, tag_column, message",
    [
        ("conll", "upos", "--tag-column for CoNLL is a column number (0, 1, ..., -1 for the last), not 'upos'"),
        (
            "conllu",
            3,
            "--tag-column for CoNLL-U is a column name (lemma, upos, xpos, feats, head, deprel, deps, misc), not 3",
        ),
    ],
)
def test_read_tagged_refuses_a_tag_column_of_the_wrong_kind(tmp_path, format, tag_column, message):
    path = write(tmp_path / f"a.{format}", ONE_SENTENCE[format])
    with raises(ConfigError, message):
        read_tagged(path, tag_column=tag_column)


@pytest.mark.parametrize("name", ["data.txt", "data", "data.gz"])
def test_read_tagged_asks_for_a_format_when_the_suffix_names_none(tmp_path, name):
    path = write(tmp_path / name, ONE_SENTENCE["conll"])
    message = (
        f"{path}: cannot tell the format from the file name; give it (--data-format conll, conllu or jsonl), "
        "or name the file .conll, .bio, .iob, .conllu or .jsonl (optionally .gz)"
    )
    with raises(DataError, message):
        read_tagged(path)


def test_read_tagged_refuses_an_unknown_format_or_encoding_before_reading(tmp_path):
    missing = tmp_path / "missing.conll"
    with raises(ConfigError, "unknown tagged-data format 'bio'; choose one of conll, conllu, jsonl"):
        read_tagged(missing, "bio")
    with raises(ConfigError, "unknown text encoding 'utf-9'; try utf-8, cp1252 or latin-1"):
        read_tagged(missing, encoding="utf-9")


@pytest.mark.parametrize("read", [read_tagged, read_conll, read_conllu, read_tagged_jsonl], ids=lambda f: f.__name__)
def test_every_reader_raises_data_file_not_found_for_a_missing_file(tmp_path, read):
    path = tmp_path / "missing.conll"
    with raises(DataFileNotFoundError, f"{path}: no such file"):
        read(path)


@pytest.mark.parametrize("format", TAGGED_FORMATS)
def test_every_reader_refuses_invalid_utf8_naming_the_byte(tmp_path, format):
    path = write(tmp_path / f"a.{format}", ONE_SENTENCE[format].encode() + b"caf\xe9\n")
    message = (
        f"{path}: not valid UTF-8 (invalid continuation byte at byte {len(ONE_SENTENCE[format].encode()) + 3}); "
        "if the file is in another encoding, name it (--encoding, e.g. cp1252)"
    )
    with raises(DataError, message):
        read_tagged(path)


BROKEN_GZIP = [
    (b"not gzip", "cannot read (Not a gzipped file (b'no'))"),
    (
        "truncated",
        "cannot read (Compressed file ended before the end-of-stream marker was reached)",
    ),
    (  # invalid UTF-8 and then cut short: the search for the bad byte must not fail on the cut
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00\x13h\x00\x00",
        "cannot read (Compressed file ended before the end-of-stream marker was reached)",
    ),
    (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 8,
        "cannot read (corrupt gzip data: Error -3 while decompressing data: invalid block type)",
    ),
]


@pytest.mark.parametrize("format", TAGGED_FORMATS)
@pytest.mark.parametrize("data, message", BROKEN_GZIP, ids=["not-gzip", "truncated", "bad-utf8-truncated", "corrupt"])
def test_every_reader_refuses_broken_gzip_files(tmp_path, format, data, message):
    path = tmp_path / f"a.{format}.gz"
    path.write_bytes(gzip.compress(ONE_SENTENCE[format].encode() * 30)[:-12] if data == "truncated" else data)
    with raises(DataError, f"{path}: {message}"):
        read_tagged(path)


# -- fuzz: any bytes end in tagged sentences or a DataError ----------------------------------------

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID = {
    ".conll": b"-DOCSTART- O\n\nEU\tB-ORG\nrejects\tO\n\nPeter  B-PER\r\n",
    ".conllu": b"# text = I don't\n1\tI\ti\tPRON\t_\t_\t0\troot\t_\t_\n2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
    b"2\tdo\tdo\tAUX\t_\t_\t1\taux\t_\t_\n8.1\tx\tx\tX\t_\t_\t_\t_\t_\t_\n\n",
    ".jsonl": b'{"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}\n\n{"tokens": ["Peter"], "tags": ["B-PER"]}\n',
}

# pieces of all three formats, so that random text often comes close to a valid file
PIECES = [
    *'\t \n_#-.:,[]{}"0129aé\x00\x85\u2028\ufeff',
    "\r\n",
    "\n\n",
    "-DOCSTART-",
    "B-PER",
    "2-3",
    "4.1",
    '"tokens"',
    '"tags"',
    '"a b"',
    "null",
    "\t_" * 8,
    '{"tokens": ["a"], "tags": ["O"]}',
]


@st.composite
def mutated(draw, valid: bytes) -> bytes:
    """``valid`` with a few random edits: bytes replaced, inserted or deleted, or the end cut off."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and data:
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


def any_bytes(valid: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, random text made of format pieces, well-formed JSON records of any strings (which
    only the JSONL reader can accept), or a valid file slightly broken."""
    pieces = st.lists(st.sampled_from(PIECES), max_size=60).map(lambda p: "".join(p).encode())
    words = st.lists(st.text(max_size=4), min_size=0, max_size=3)
    record = st.fixed_dictionaries({"tokens": words, "tags": words}).map(json.dumps)
    records = st.lists(record, min_size=1, max_size=3).map(lambda lines: "\n".join(lines).encode())
    return st.one_of(st.binary(max_size=300), st.text(max_size=100).map(str.encode), pieces, records, mutated(valid))


@pytest.fixture(scope="module")
def scratch():
    path = Path(tempfile.mkdtemp(prefix="rnnkit-fuzz-conll-"))
    yield path
    shutil.rmtree(path)


@pytest.mark.parametrize("suffix", list(VALID))
@pytest.mark.parametrize("compression", ["plain", "gz", "gz-mutated"])
def test_every_reader_returns_clean_sentences_or_raises_a_data_error_for_any_bytes(scratch, suffix, compression):
    """Compressed files are fuzzed twice: valid gzip of any content, and a valid file's gzip mutated."""
    path = scratch / f"data{suffix}{'' if compression == 'plain' else '.gz'}"
    valid = gzip.compress(VALID[suffix], mtime=0) if compression == "gz-mutated" else VALID[suffix]

    @FUZZ
    @given(data=any_bytes(valid))
    def check(data: bytes) -> None:
        path.write_bytes(gzip.compress(data) if compression == "gz" else data)
        try:
            sentences = read_tagged(path)
        except DataError:
            return
        assert len(sentences) == len(sentences.tags) > 0
        for tokens, tags in zip(sentences.tokens, sentences.tags, strict=True):
            assert len(tokens) == len(tags) > 0
            assert all(word.split() == [word] for word in tokens + tags)

    check()
