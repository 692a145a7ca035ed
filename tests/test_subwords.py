"""Subword tokens (SentencePiece): exact round trips, rnnkit's special ids, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.text.pipeline import EOS_ID, PAD_ID, SOS_ID, UNK_ID
from rnnkit.text.subwords import SubwordTokenizer

MULTI30K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "multi30k"
SUBJECTS = ["Ein Mann", "Eine Frau", "Zwei Hunde", "Drei Kinder", "Ein Junge", "Eine Gruppe Menschen"]
ACTIONS = ["fährt Fahrrad", "spielt Fußball", "liest ein Buch", "läuft schnell", "wartet geduldig", "singt laut"]
PLACES = ["im Park", "auf der Straße", "am Strand", "im Schnee", "vor einem Gebäude", "neben dem Fluss"]
TEXTS = [f"{s} {a} {p}." for s in SUBJECTS for a in ACTIONS for p in PLACES]


@pytest.fixture(scope="module", params=["bpe", "unigram"])
def tokenizer(request) -> SubwordTokenizer:
    return SubwordTokenizer.train(TEXTS, 320, model_type=request.param)


def test_special_ids_are_rnnkits_and_characters_merge_into_subwords(tokenizer):
    assert len(tokenizer) == 320  # 4 specials and 256 bytes included
    assert len(tokenizer.pieces("Zwei Hunde spielen")) < len("Zwei Hunde spielen")  # some characters merged
    ids = tokenizer.encode(["Ein Mann"])[0]
    assert min(ids) > EOS_ID and (PAD_ID, UNK_ID, SOS_ID, EOS_ID) == (0, 1, 2, 3)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=40))
def test_decoding_gives_back_exactly_the_encoded_text(tokenizer, text):
    """Spaces as they are, unseen characters through their bytes: nothing is normalised away."""
    assert tokenizer.decode(tokenizer.encode([text])) == [text]


def test_decoding_drops_special_ids(tokenizer):
    ids = tokenizer.encode(["Ein Mann"])[0]
    assert tokenizer.decode([[SOS_ID, *ids, EOS_ID, PAD_ID, PAD_ID]]) == ["Ein Mann"]


def test_the_same_texts_give_the_same_subwords_and_bytes_round_trip(tokenizer):
    again = SubwordTokenizer.from_bytes(tokenizer.to_bytes())
    assert again.encode(TEXTS[:4]) == tokenizer.encode(TEXTS[:4])
    retrained = SubwordTokenizer.train(TEXTS, 300)
    assert retrained.to_bytes() == SubwordTokenizer.train(TEXTS, 300).to_bytes()


def test_too_many_subwords_for_the_text_is_a_clear_error():
    with pytest.raises(ValueError, match=r"^Vocabulary size too high \(5000\)\. Please set it to a value <= \d+\.$"):
        SubwordTokenizer.train(TEXTS, 5000)
    with pytest.raises(ValueError, match=r"^model_type must be one of bpe, unigram, got 'word'$"):
        SubwordTokenizer.train(TEXTS, 300, model_type="word")


@pytest.mark.parametrize("cut", [0, 7, -10])
def test_bytes_that_are_not_a_model_are_refused(tokenizer, cut):
    data = b"garbage" if cut == 7 else tokenizer.to_bytes()[:cut]
    with pytest.raises(ValueError, match=r"^not a SentencePiece model \("):
        SubwordTokenizer.from_bytes(data)


@pytest.mark.skipif(not MULTI30K.is_dir(), reason="needs ../shared/data/multi30k")
def test_multi30k_validation_round_trips_exactly():
    from rnnkit.data.parallel import read_aligned

    pairs = read_aligned(MULTI30K / "val.de.gz", MULTI30K / "val.en.gz")
    tokenizer = SubwordTokenizer.train(pairs.sources, 1000)
    ids = tokenizer.encode(pairs.sources)
    assert tokenizer.decode(ids) == pairs.sources
    tokens_per_sentence = sum(map(len, ids)) / len(ids)
    words_per_sentence = sum(len(s.split()) for s in pairs.sources) / len(ids)
    assert words_per_sentence < tokens_per_sentence < 2.5 * words_per_sentence
