"""The sktime ``.ts`` reader: small hand-written files, every refusal's exact message, and the real
UCR/UEA files (GunPoint, JapaneseVowels) when they are present."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.ucr import LabeledSeries, read_ts
from rnnkit.errors import DataError, DataFileNotFoundError

from .conftest import write_text

UCR = Path(__file__).resolve().parents[2] / "shared" / "data" / "ucr"

UNIVARIATE = """\
#A small univariate problem.
#Two classes.
@problemName Tiny
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 4
@classLabel true up down
@data
1,2,3,4:up
4.5,3,2e-1,-1:down
"""

MULTIVARIATE = """\
@problemName Multi
@timeStamps false
@missing true
@univariate false
@dimensions 3
@equalLength false
@classLabel true a b c
@data
1,2,3:10,20,30:100,200,300:b
4:40:?:c
# a comment among the cases

5,?,7,8:50,60,70,80:?,?,?,?:a
"""


def write(tmp_path: Path, text: str, name: str = "x.ts") -> Path:
    return write_text(tmp_path / name, text)


def test_univariate(tmp_path):
    data = read_ts(write(tmp_path, UNIVARIATE))
    assert isinstance(data, LabeledSeries)
    assert len(data) == 2
    assert data.labels == ["up", "down"]
    assert data.class_labels == ["up", "down"]
    assert (data.problem_name, data.channels, data.univariate, data.equal_length) == ("Tiny", 1, True, True)
    assert [s.shape for s in data.series] == [(4, 1), (4, 1)]
    assert all(s.dtype == np.float64 for s in data.series)
    np.testing.assert_array_equal(data.series[0][:, 0], [1, 2, 3, 4])
    np.testing.assert_array_equal(data.series[1][:, 0], [4.5, 3, 0.2, -1])


def test_multivariate_variable_length_missing_values_and_comments(tmp_path):
    data = read_ts(write(tmp_path, MULTIVARIATE))
    assert (data.problem_name, data.channels, data.univariate, data.equal_length) == ("Multi", 3, False, False)
    assert data.labels == ["b", "c", "a"]
    assert data.class_labels == ["a", "b", "c"]
    assert [s.shape for s in data.series] == [(3, 3), (1, 3), (4, 3)]
    np.testing.assert_array_equal(data.series[0], [[1, 10, 100], [2, 20, 200], [3, 30, 300]])
    np.testing.assert_array_equal(data.series[1], [[4, 40, np.nan]])
    np.testing.assert_array_equal(
        data.series[2], [[5, 50, np.nan], [np.nan, 60, np.nan], [7, 70, np.nan], [8, 80, np.nan]]
    )
    assert all(s.flags["C_CONTIGUOUS"] for s in data.series)


def test_gzip_and_a_string_path(tmp_path):
    path = write(tmp_path, MULTIVARIATE, "x.ts.gz")
    data = read_ts(str(path))
    plain = read_ts(write(tmp_path, MULTIVARIATE))
    assert data.labels == plain.labels
    for a, b in zip(data.series, plain.series, strict=True):
        np.testing.assert_array_equal(a, b)


def test_tags_in_any_case_spaces_crlf_and_header_omissions(tmp_path):
    text = (
        "@PROBLEMNAME loose\r\n@TimeStamps FALSE\r\n@classlabel true 0 1\r\n@DATA\r\n"
        " 1 , 2 : 3,4 : 1 \r\n\r\n5,6:7,8:0\r\n"
    )
    data = read_ts(write(tmp_path, text))
    assert data.problem_name == "loose"
    assert data.labels == ["1", "0"]
    assert data.channels == 2
    assert (data.univariate, data.equal_length) == (False, True)  # no header tags: what the data shows
    np.testing.assert_array_equal(data.series[0], [[1, 3], [2, 4]])


def test_equal_length_without_series_length_and_no_problem_name(tmp_path):
    data = read_ts(write(tmp_path, "@equalLength true\n@classLabel true x\n@data\n1,2:x\n3,4:x\n"))
    assert data.problem_name is None
    assert data.equal_length is True
    assert data.univariate is True


def test_unknown_tags_are_ignored_and_missing_false_still_reads_question_marks(tmp_path):
    data = read_ts(
        write(tmp_path, "@missing false\n@somethingNew 3\n@targetLabel false\n@classLabel true x\n@data\n?,1:x\n")
    )
    assert np.isnan(data.series[0][0, 0])
    assert data.series[0][1, 0] == 1


BAD = [
    ("", "{path}: the file is empty"),
    ("\n  \n", "{path}: the file is empty"),
    (
        "#only comments\n@classLabel true a\n",
        "{path}: no @data line; a .ts file has its @ header, then '@data', then one case per line",
    ),
    (
        "@classLabel true a\n1,2:a\n",
        "{path}:2: a case before @data; the header must end with a line '@data' before the cases",
    ),
    (
        "@problemName p\n@data\n1,2:a\n",
        "{path}:2: no @classLabel line before @data; a classification file names its classes "
        "('@classLabel true A B C')",
    ),
    ("@classLabel true a\n@data\n\n# nothing\n", "{path}:2: no cases after @data; a .ts file holds one case per line"),
    (
        "@classLabel true a b\n@data\n1,2:a\n1,2:c\n",
        "{path}:4: class label 'c' is not one of the @classLabel classes (a b)",
    ),
    (
        "@classLabel true a b\n@data\n1,2:A\n",
        "{path}:3: class label 'A' is not one of the @classLabel classes (a b)",
    ),
    (
        "@classLabel true a\n@data\n1,2,3\n",
        "{path}:3: no class label; a case ends with ':<label>' after its values",
    ),
    (
        "@classLabel true a\n@data\n1,2:3,4:a\n1,2:a\n",
        "{path}:4: 1 channel where line 3 has 2; every case needs the same channels",
    ),
    (
        "@classLabel true a\n@data\n1:a\n1,2:3,4:5,6:a\n",
        "{path}:4: 3 channels where line 3 has 1; every case needs the same channels",
    ),
    (
        "@univariate true\n@classLabel true a\n@data\n1,2:3,4:a\n",
        "{path}:4: 2 channels but the header says @univariate true; "
        "channels are separated by ':' and the label comes last",
    ),
    (
        "@dimensions 3\n@classLabel true a\n@data\n1,2:3,4:a\n",
        "{path}:4: 2 channels but the header says @dimensions 3; "
        "channels are separated by ':' and the label comes last",
    ),
    (
        "@classLabel true a\n@data\n1,2,3:4,5:a\n",
        "{path}:3: channel 2 has 2 values where channel 1 has 3; the channels of one case must have the same length",
    ),
    (
        "@classLabel true a\n@data\n1,2:4,5:6:a\n",
        "{path}:3: channel 3 has 1 value where channel 1 has 2; the channels of one case must have the same length",
    ),
    ("@classLabel true a\n@data\n1,x2,3:a\n", "{path}:3: channel 1, value 2 is not a number: 'x2'"),
    ("@classLabel true a\n@data\n1,2:3,NA:a\n", "{path}:3: channel 2, value 2 is not a number: 'NA'"),
    ("@classLabel true a\n@data\n1,,3:a\n", "{path}:3: channel 1, value 2 is empty; write ? for a missing value"),
    ("@classLabel true a\n@data\n1,2,:a\n", "{path}:3: channel 1, value 3 is empty; write ? for a missing value"),
    ("@classLabel true a\n@data\n1,2::a\n", "{path}:3: channel 2 is empty; write ? for a missing value"),
    (
        "@classLabel true a\n@data\n(2004-08-10 18:00:00,1130.0):a\n",
        "{path}:3: channel 1, value 1 is timestamped ('(2004-08-10 18'); timestamped values are not supported",
    ),
    (
        "@timeStamps true\n@classLabel true a\n@data\n",
        "{path}:1: @timeStamps true: timestamped values '(time,value)' are not supported; "
        "write the values alone, in time order",
    ),
    ("@univariate yes\n@classLabel true a\n@data\n", "{path}:1: @univariate must be true or false, got 'yes'"),
    ("@equalLength\n@classLabel true a\n@data\n", "{path}:1: @equalLength must be true or false, got ''"),
    ("@dimensions 0\n@classLabel true a\n@data\n", "{path}:1: @dimensions must be a whole number above 0, got '0'"),
    ("@seriesLength -3\n", "{path}:1: @seriesLength must be a whole number above 0, got '-3'"),
    ("@classLabel\n@data\n", "{path}:1: @classLabel must be 'true' and the classes, got ''"),
    ("@classLabel a b\n@data\n", "{path}:1: @classLabel must be 'true' and the classes, got 'a b'"),
    (
        "@classLabel true\n@data\n",
        "{path}:1: @classLabel true names no classes; list them: '@classLabel true A B C'",
    ),
    ("@classLabel true a b a\n@data\n", "{path}:1: @classLabel names class 'a' twice"),
    (
        "@classLabel false\n@data\n1,2\n",
        "{path}:1: @classLabel false: the cases have no class labels, but read_ts reads labelled classification "
        "files ('@classLabel true A B C')",
    ),
    (
        "@targetLabel true\n@data\n1,2:0.5\n",
        "{path}:1: @targetLabel: this is a regression file (a number per case), but read_ts reads classification "
        "files (@classLabel true ...)",
    ),
    (
        "@equalLength true\n@seriesLength 3\n@classLabel true a\n@data\n1,2,3:a\n1,2:a\n",
        "{path}:6: 2 time steps but the header says @seriesLength 3",
    ),
    (
        "@equalLength true\n@classLabel true a\n@data\n1,2,3:a\n# c\n1,2:a\n",
        "{path}:6: 2 time steps but line 4 has 3 and the header says @equalLength true",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_input(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=f"^{re.escape(message.format(path=path))}$"):
        read_ts(path)


def test_bad_gzip_and_missing_file(tmp_path):
    path = tmp_path / "x.ts.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: cannot read \(.*\)$"):
        read_ts(path)
    with pytest.raises(DataFileNotFoundError, match=rf"^{re.escape(str(tmp_path / 'no.ts'))}: no such file$"):
        read_ts(tmp_path / "no.ts")
    gz = write(tmp_path, "@classLabel true a\n@data\n1,b:a\n", "y.ts.gz")
    with pytest.raises(DataError, match=rf"^{re.escape(str(gz))}:3: channel 1, value 2 is not a number: 'b'$"):
        read_ts(gz)


def test_bad_utf8(tmp_path):
    path = tmp_path / "x.ts"
    path.write_bytes(b"@classLabel true \xff\n@data\n1:a\n")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: not valid UTF-8 "):
        read_ts(path)


@pytest.mark.skipif(not UCR.is_dir(), reason="the UCR/UEA files are not in shared/data/ucr")
@pytest.mark.parametrize(
    ("name", "cases", "channels", "lengths", "first"),
    [
        ("GunPoint_TRAIN", 50, 1, (150, 150), -0.6478854),
        ("GunPoint_TEST", 150, 1, (150, 150), -1.1250133),
        ("JapaneseVowels_TRAIN", 270, 12, (7, 26), 1.860936),
        ("JapaneseVowels_TEST", 370, 12, (7, 29), 1.635533),
    ],
)
def test_real_ucr_files(name, cases, channels, lengths, first):
    data = read_ts(UCR / f"{name}.ts.gz")
    problem = name.split("_")[0]
    assert data.problem_name == problem
    assert len(data.series) == len(data.labels) == cases
    assert data.channels == channels
    assert all(s.ndim == 2 and s.shape[1] == channels and s.dtype == np.float64 for s in data.series)
    assert (min(len(s) for s in data.series), max(len(s) for s in data.series)) == lengths
    assert not any(np.isnan(s).any() for s in data.series)
    assert data.series[0][0, 0] == first
    assert set(data.labels) == set(data.class_labels)
    if problem == "GunPoint":
        assert data.class_labels == ["1", "2"]
        assert (data.univariate, data.equal_length) == (True, True)
    else:
        assert data.class_labels == [str(i) for i in range(1, 10)]
        assert (data.univariate, data.equal_length) == (False, False)
    if name == "JapaneseVowels_TRAIN":
        assert all(data.labels.count(c) == 30 for c in data.class_labels)  # 30 utterances per speaker
