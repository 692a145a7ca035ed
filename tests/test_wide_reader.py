"""Wide tables of series (one labelled series per row): the UCR archive's own .tsv layout, headers,
missing values, variable lengths, recognition beside text tables, bad input as one-line errors, and
the CLI training on one."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from rnnkit.data.wide import is_wide_table, read_wide
from rnnkit.errors import DataError

from .conftest import write_text


def test_the_ucr_tsv_layout_label_first_no_header(tmp_path):
    path = write_text(tmp_path / "Toy_TRAIN.tsv", "1\t0.5\t-1\t2e-1\n2\t3\t4\t5\n")
    data = read_wide(path)
    assert data.labels == ["1", "2"] and data.class_labels == ["1", "2"] and data.channels == 1
    np.testing.assert_array_equal(data.series[0], [[0.5], [-1.0], [0.2]])
    assert data.series[1].shape == (3, 1) and data.equal_length and data.univariate


def test_a_header_names_the_label_column_and_trailing_gaps_shorten_a_series(tmp_path):
    text = "t0,t1,t2,t3,class\n1,2,3,4,up\n4,,2,NaN,down\n9,8,,,down\n"
    path = tmp_path / "wide.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    data = read_wide(path)
    assert data.labels == ["up", "down", "down"] and not data.equal_length
    np.testing.assert_array_equal(data.series[1][:, 0], [4, np.nan, 2])  # inner gap kept, trailing dropped
    np.testing.assert_array_equal(data.series[2][:, 0], [9, 8])


def test_wide_tables_are_told_from_text_tables(tmp_path):
    assert is_wide_table(write_text(tmp_path / "a.tsv", "1\t0.5\t-1\t2\n"))
    assert is_wide_table(write_text(tmp_path / "b.csv", "x1,x2,x3,label\n1,2,3,a\n"))
    assert not is_wide_table(write_text(tmp_path / "c.csv", "text,label\ngood film,pos\n"))
    assert not is_wide_table(write_text(tmp_path / "d.csv", "label,text,other\npos,good film,1\n"))
    assert not is_wide_table(write_text(tmp_path / "e.ts", "1,2,3\n"))
    assert not is_wide_table(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,abc,4\n", r"^{p}:1: column 3: 'abc' is not a number$"),
        ("1,2,3\n,4,5\n", r"^{p}:2: the label \(column 1\) is empty$"),
        ("1,2,3\n2,,\n", r"^{p}:2: the row has no values$"),
        ("1,2,3\n2,inf,3\n", r"^{p}:2: column 2: an infinite value$"),
        ("1,2,3\n7\n", r"^{p}:2: a row needs a label and at least one value$"),
        ("\n\n", r"^{p}: no series; a wide table holds one labelled series per row$"),
    ],
)
def test_bad_input(tmp_path, text, message):
    path = write_text(tmp_path / "bad.csv", text)
    with pytest.raises(DataError, match=message.format(p=str(path).replace("\\", "\\\\"))):
        read_wide(path)


def test_the_cli_trains_and_predicts_on_wide_tables(tmp_path, capsys):
    from rnnkit.cli import main

    rng = np.random.default_rng(0)
    rows = []
    for i in range(60):
        label = "up" if i % 2 else "down"
        ramp = np.linspace(-1, 1, 30) * (1 if label == "up" else -1) + 0.3 * rng.normal(size=30)
        rows.append("\t".join([label, *(f"{v:.4f}" for v in ramp)]))
    train = write_text(tmp_path / "ramps_TRAIN.tsv", "\n".join(rows[:40]) + "\n")
    test = write_text(tmp_path / "ramps_TEST.tsv", "\n".join(rows[40:]) + "\n")
    out = tmp_path / "model"
    flags = ["--hidden-size=8", "--epochs=5", "--folds=1", "--quiet"]
    assert main(["train", str(train), "--test", str(test), "--out", str(out), *flags]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["n"] == 20 and metrics["test"]["accuracy"] >= 0.9
    capsys.readouterr()
    assert main(["predict", str(out), str(test)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "label,p_down,p_up"
