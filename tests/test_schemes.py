"""Tag schemes: conversions through BIOES, repairs, detection, and the CRF constraints.

Sentences are generated as chunk segmentations and written in each scheme by the small writer
below, independently of the code under test, so conversions are checked against the definitions.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks.tagging.schemes import (
    SCHEMES,
    bioes_constraints,
    check_scheme,
    chunks,
    detect_scheme,
    from_bioes,
    to_bioes,
)

CHUNK_SCHEMES = ("iob1", "iob2", "bioes")
# A segment is (type, length), type None for a run of O tags.
segment = st.tuples(st.sampled_from([None, "PER", "LOC", "MISC-X"]), st.integers(1, 3))
sentence = st.lists(segment, max_size=6)


def write(segments: list[tuple[str | None, int]], scheme: str) -> list[str]:
    """The tags of a chunk segmentation in ``scheme``, straight from the scheme's definition."""
    tags: list[str] = []
    previous = None
    for kind, length in segments:
        if kind is None:
            tags += ["O"] * length
        elif scheme == "bioes":
            tags += [f"S-{kind}"] if length == 1 else [f"B-{kind}"] + [f"I-{kind}"] * (length - 2) + [f"E-{kind}"]
        elif scheme == "iob2":
            tags += [f"B-{kind}"] + [f"I-{kind}"] * (length - 1)
        else:  # iob1: B- only right after a chunk of the same type
            tags += [f"B-{kind}" if previous == kind else f"I-{kind}"] + [f"I-{kind}"] * (length - 1)
        previous = kind
    return tags


def test_check_scheme_normalises_and_rejects() -> None:
    assert [check_scheme(s) for s in SCHEMES] == list(SCHEMES)
    assert check_scheme("iobes") == "bioes"
    assert check_scheme("IOB2") == "iob2"
    with pytest.raises(ConfigError) as error:
        check_scheme("bilou")
    assert str(error.value) == "tag scheme must be one of iob1, iob2, bioes, plain (or iobes); got 'bilou'"


def test_iob1_conll_example() -> None:
    # Two adjacent PER chunks (the second marked B- because it follows a PER chunk), then LOC.
    iob1 = "I-PER I-PER B-PER O I-LOC".split()
    bioes = "B-PER E-PER S-PER O S-LOC".split()
    assert to_bioes(iob1, "iob1") == (bioes, 0)
    assert from_bioes(bioes, "iob1") == iob1
    assert from_bioes(bioes, "iob2") == "B-PER I-PER B-PER O B-LOC".split()
    assert chunks(bioes) == [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5)]


def test_iob2_i_starts_are_repaired_as_new_chunks() -> None:
    tags = "I-PER I-PER O B-LOC I-LOC I-MISC".split()
    assert to_bioes(tags, "iob2") == ("B-PER E-PER O B-LOC E-LOC S-MISC".split(), 2)
    # The same tags are legal IOB1: no repairs, same chunks.
    assert to_bioes(tags, "iob1") == ("B-PER E-PER O B-LOC E-LOC S-MISC".split(), 0)
    assert to_bioes(["B-PER", "I-LOC"], "iob2") == (["S-PER", "S-LOC"], 1)


@pytest.mark.parametrize(
    ("tags", "expected", "repairs"),
    [
        ("B-X I-X E-X S-Y O", "B-X I-X E-X S-Y O", 0),
        ("B-X O", "S-X O", 1),  # B- not followed by I-/E-
        ("B-X", "S-X", 1),
        ("B-X I-X O", "B-X E-X O", 1),  # chunk without an end: one repair, not one per tag
        ("I-X E-X", "B-X E-X", 1),  # I- starting a chunk
        ("E-X", "S-X", 1),
        ("B-X S-X", "S-X S-X", 1),
        ("B-X E-Y", "S-X S-Y", 2),  # two ill-formed chunks
        ("S-X I-X E-X", "S-X B-X E-X", 1),
    ],
)
def test_bioes_repairs(tags: str, expected: str, repairs: int) -> None:
    assert to_bioes(tags.split(), "bioes") == (expected.split(), repairs)
    assert to_bioes(tags.split(), "iobes") == (expected.split(), repairs)


def test_plain_tags_pass_through() -> None:
    tags = ["NOUN", "O", "VERB"]
    assert to_bioes(tags, "plain") == (tags, 0)
    assert from_bioes(tags, "plain") == tags


@pytest.mark.parametrize(
    ("tags", "scheme", "message"),
    [
        (["O", "NOUN"], "iob2", "tag 'NOUN' at position 1 has no B-/I-/E-/S- prefix, so it is not in scheme iob2"),
        (["S-PER"], "iob1", "tag 'S-PER' at position 0 is not in scheme iob1 (E-/S- tags are bioes)"),
    ],
)
def test_tags_outside_the_scheme_are_data_errors(tags: list[str], scheme: str, message: str) -> None:
    with pytest.raises(DataError) as error:
        to_bioes(tags, scheme)
    assert str(error.value) == message


@settings(max_examples=200, deadline=None)
@given(sentence)
def test_conversions_follow_the_definitions_and_round_trip(segments: list[tuple[str | None, int]]) -> None:
    bioes = write(segments, "bioes")
    for scheme in CHUNK_SCHEMES:
        tags = write(segments, scheme)
        assert to_bioes(tags, scheme) == (bioes, 0)
        assert from_bioes(bioes, scheme) == tags
        assert from_bioes(to_bioes(tags, scheme)[0], scheme) == tags
    spans, start = [], 0
    for kind, length in segments:
        if kind is not None:
            spans.append((kind, start, start + length))
        start += length
    assert chunks(bioes) == spans


@settings(max_examples=100, deadline=None)
@given(st.lists(sentence, min_size=1, max_size=5).filter(lambda s: any(k for seg in s for k, _ in seg)))
def test_detect_scheme_on_generated_data(sentences: list[list[tuple[str | None, int]]]) -> None:
    for scheme in CHUNK_SCHEMES:
        assert detect_scheme([write(s, scheme) for s in sentences]) == scheme


@pytest.mark.parametrize(
    ("tag_lists", "expected"),
    [
        ([["DET", "NOUN", "VERB"]], "plain"),
        ([["B-PER", "O"], ["O", "NOUN"]], "plain"),  # one unprefixed tag is enough
        ([["B-PER", "I-PER"], ["S-LOC"]], "bioes"),
        ([["I-PER", "B-PER"]], "iob1"),
        # IOB2 with one ill-formed I- start: 2 fresh B- starts outnumber 1 I- start.
        ([["B-PER", "I-PER", "O", "B-LOC"], ["I-LOC", "O", "B-MISC"]], "iob2"),
        ([["I-PER"], ["B-LOC"]], "iob2"),  # a tie
        ([["B-PER", "B-PER"]], "iob2"),  # one fresh B- start, the second B- is legal in both
        ([["O", "O"]], "iob2"),  # no chunks
        ([], "iob2"),
    ],
)
def test_detect_scheme_cases(tag_lists: list[list[str]], expected: str) -> None:
    assert detect_scheme(tag_lists) == expected


def test_bioes_constraints_allow_exactly_the_well_formed_sequences() -> None:
    names = ["O"] + [f"{p}-{kind}" for kind in ("X", "Y") for p in "BIES"]
    random.Random(0).shuffle(names)  # the masks must not depend on the order of the tags
    index = {name: i for i, name in enumerate(names)}
    starts, transitions, ends = bioes_constraints(names)
    assert starts.shape == ends.shape == (9,) and transitions.shape == (9, 9)
    assert starts.dtype == transitions.dtype == ends.dtype == np.bool_

    well_formed = set()
    for n_segments in range(1, 5):
        for segments in itertools.product([(k, n) for k in (None, "X", "Y") for n in (1, 2, 3, 4)], repeat=n_segments):
            if sum(n for _, n in segments) <= 4:
                well_formed.add(tuple(write(list(segments), "bioes")))

    for length in range(1, 5):
        for tags in itertools.product(names, repeat=length):
            ids = [index[t] for t in tags]
            allowed = starts[ids[0]] and ends[ids[-1]] and all(transitions[a, b] for a, b in itertools.pairwise(ids))
            assert allowed == (tags in well_formed), tags
            assert (to_bioes(tags, "bioes")[1] == 0) == (tags in well_formed), tags


def test_bioes_constraints_for_other_tag_sets() -> None:
    starts, transitions, ends = bioes_constraints(["NOUN", "VERB", "O"])
    assert starts.all() and transitions.all() and ends.all() and transitions.shape == (3, 3)
    starts, transitions, ends = bioes_constraints(["O", "S-X"])  # only single-token chunks seen
    assert starts.all() and transitions.all() and ends.all()
    with pytest.raises(DataError, match="the X tags \\(B/I\\) are not a BIOES set"):
        bioes_constraints(["O", "B-X", "I-X"])  # IOB2 tags not converted
