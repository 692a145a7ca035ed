"""Subword tokens learned from the training text, with SentencePiece (BPE or unigram).

Why subwords for generation: a word vocabulary cannot spell a name it never saw, and a character
model makes sequences five times longer. Subwords keep frequent words whole and spell the rest from
pieces, so every output can be written. Why SentencePiece: it treats the text as a stream of
characters, spaces included, so decoding gives back exactly the text that was encoded: no
detokenizer guessing where spaces went (``"Hello , world"``). Here it is trained

* on the raw text, with no normalization (``identity``) and spaces kept as they are, so
  ``decode(encode(text)) == text`` for every text;
* with byte fallback, so a character absent from training is spelled as its UTF-8 bytes instead of
  becoming ``<unk>``;
* with rnnkit's special ids (``<pad>`` 0, ``<unk>`` 1, ``<sos>`` 2, ``<eos>`` 3), so batches, losses
  and decoders treat subword ids like any other.

The trained model is a protobuf message: data, stored as bytes in a bundle and checked on load.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import sentencepiece as spm

from rnnkit.text.pipeline import EOS_ID, PAD_ID, SOS_ID, UNK_ID

SUBWORD_MODELS = ("bpe", "unigram")


class SubwordTokenizer:
    """Text <-> subword ids; ``SubwordTokenizer.train(texts, size)`` or ``from_bytes(model)``."""

    def __init__(self, processor: spm.SentencePieceProcessor, model: bytes):
        self._processor, self._model = processor, model

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, model_type: str = "bpe") -> SubwordTokenizer:
        """Learn ``vocab_size`` subwords (specials and the 256 byte pieces included) from ``texts``.

        Raises ValueError when the texts cannot support that many subwords (SentencePiece's message).
        """
        if model_type not in SUBWORD_MODELS:
            raise ValueError(f"model_type must be one of {', '.join(SUBWORD_MODELS)}, got {model_type!r}")
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=(text for text in texts if text.strip()),
                model_writer=model,
                vocab_size=vocab_size,
                model_type=model_type,
                normalization_rule_name="identity",
                remove_extra_whitespaces=False,
                byte_fallback=True,
                character_coverage=1.0,
                pad_id=PAD_ID,
                unk_id=UNK_ID,
                bos_id=SOS_ID,
                eos_id=EOS_ID,
                num_threads=1,  # the same data and seed give the same subwords
                minloglevel=2,
                max_sentence_length=1 << 16,
            )
        except RuntimeError as exc:
            raise ValueError(_reason(exc)) from None
        return cls.from_bytes(model.getvalue())

    @classmethod
    def from_bytes(cls, model: bytes) -> SubwordTokenizer:
        """A tokenizer from a serialized model; ValueError if the bytes are not one rnnkit could have made."""
        processor = spm.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(model)
        except (RuntimeError, OSError, TypeError) as exc:
            raise ValueError(f"not a SentencePiece model ({_reason(exc)})") from None
        specials = (processor.pad_id(), processor.unk_id(), processor.bos_id(), processor.eos_id())
        if specials != (PAD_ID, UNK_ID, SOS_ID, EOS_ID):
            raise ValueError(f"a SentencePiece model with special ids {specials}, not rnnkit's (0, 1, 2, 3)")
        return cls(processor, model)

    def to_bytes(self) -> bytes:
        return self._model

    def __len__(self) -> int:
        return self._processor.get_piece_size()

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Each text as subword ids (no ``<sos>``/``<eos>``: the task adds what it needs)."""
        return self._processor.encode(texts, out_type=int)

    def pieces(self, text: str) -> list[str]:
        """The subwords of ``text`` as strings (``▁`` marks a space), for display."""
        return self._processor.encode(text, out_type=str)

    def decode(self, ids: list[list[int]]) -> list[str]:
        """Texts from subword ids; special ids are dropped."""
        return self._processor.decode([[i for i in row if i > EOS_ID] for row in ids])


def _reason(exc: Exception) -> str:
    """SentencePiece's message without its source location: "INTERNAL: src/x.cc(744) [check] Vocabulary
    size too high (8000). ..." -> "Vocabulary size too high (8000). ..."."""
    text = " ".join(str(exc).split()).split(": ", 1)[-1]
    if text.startswith("src/"):  # a failed internal check: what follows the check, if anything, explains
        text = text.rsplit("]", 1)[-1].strip() or "corrupt or cut short"
    return text or type(exc).__name__
