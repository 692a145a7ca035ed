"""Every bad input of the matrix in ``bad_inputs.py``: exit code 2, exactly the expected line, nothing written.

In-process for speed; ``bench/bad_inputs.py`` runs the same matrix through the real command.
"""

from __future__ import annotations

import csv
import json
import os

import pytest

from rnnkit import load_model
from rnnkit.cli import main

from .bad_inputs import CASES, TRAIN_FLAGS, command, write_inputs


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    write_inputs(d)
    return d


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit:  # argparse's usage errors exit from inside the parser
        return exit.code


@pytest.mark.parametrize(("argv", "line"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_bad_input_gets_one_line_and_exit_code_2(inputs, capsys, argv, line):
    code = run(command(argv, inputs))
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.splitlines() == [line.format(d=inputs)]
    assert not (inputs / "out").exists() and not (inputs / "out.checkpoint").exists()


def test_the_matrix_covers_every_command(inputs):
    commands = {"train", "evaluate", "predict", "baseline", "generate", "explain", "serve", "export"}
    assert {case[1][0] for case in CASES} == commands
    assert len(CASES) >= 45


def test_rows_with_empty_cells_are_skipped_and_counted_without_strict(inputs, capsys, tmp_path):
    assert run(["train", str(inputs / "empty_cells.csv"), *TRAIN_FLAGS, "--out", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    path = inputs / "empty_cells.csv"
    assert f"warning: {path}: skipped 2 rows with an empty text or label (the first on line 42)" in err


def test_another_encoding_is_read_when_named(inputs, tmp_path):
    path = tmp_path / "latin1.csv"
    rows = ["text,label"] + [f"caf\u00e9 cr\u00e8me number {i},{'pos' if i % 2 else 'neg'}" for i in range(30)]
    path.write_bytes("\n".join(rows).encode("latin-1"))
    assert run(["train", str(path), *TRAIN_FLAGS, "--out", str(tmp_path / "m"), "--encoding", "latin-1"]) == 0
    assert "caf\u00e9" in json.loads((tmp_path / "m" / "vocab.json").read_text())["tokens"]


def test_a_text_of_several_megabytes_is_cut_to_the_maximum_length(tmp_path, capsys):
    """One 8 MB review among short ones: trained on and predicted like any other, cut to max_length."""
    huge = " ".join(["a", "very", "long", "good", "review"] * 330_000)  # 8.6 MB, 1.65 million tokens
    path = tmp_path / "huge.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerow([huge, "pos"])
        writer.writerows([f"short {'good' if i % 2 else 'bad'} text {i}", "pos" if i % 2 else "neg"] for i in range(40))
    out = tmp_path / "m"
    assert run(["train", str(path), *TRAIN_FLAGS, "--out", str(out), "--max-length=50"]) == 0
    clf = load_model(out)
    assert clf.predict_proba([huge]).shape == (1, 2)
    capsys.readouterr()
    assert run(["predict", str(out), "--input", str(path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 42  # header and 41 rows


def test_no_output_directory_is_left_behind_by_a_failed_run(inputs, tmp_path):
    out = tmp_path / "never"
    assert run(["train", str(inputs / "one_class.csv"), *TRAIN_FLAGS, "--out", str(out)]) == 2
    assert not out.exists() and not any(tmp_path.iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_unreadable_file_is_named(inputs, tmp_path, capsys):
    path = tmp_path / "secret.csv"
    path.write_text("text,label\na,b\n")
    path.chmod(0)
    assert run(["train", str(path), *TRAIN_FLAGS, "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err == f"rnnkit: error: {path}: cannot read (Permission denied)\n"
