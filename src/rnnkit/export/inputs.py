"""The Python side of an exported model: texts to the ONNX inputs, and the tagger's Viterbi post-step.

Tokenization stays in Python (or is re-implemented from ``preprocessing.json`` beside the model):
these functions run rnnkit's own pipeline, so an exported model reads exactly what rnnkit reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.tasks.classification.estimator import TextClassifier, make_pipeline
from rnnkit.tasks.classification.linear import token_hashes
from rnnkit.tasks.tagging.encode import encode
from rnnkit.tasks.tagging.estimator import SequenceTagger
from rnnkit.text.batches import Ragged, clip_characters, encode_indexed, index_texts


def padded(ragged: Ragged) -> np.ndarray:
    """``(items, longest)`` int64, post-padded with 0 (at least one column)."""
    rows = np.arange(len(ragged))
    out = np.zeros((len(ragged), max(1, int(ragged.lengths.max(initial=0)))), dtype=np.int64)
    filled = ragged.padded(rows, 0)
    out[:, : filled.shape[1]] = filled
    return out


def classifier_inputs(clf: TextClassifier, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """The ONNX inputs of ``texts`` for an exported classifier: ``ids``, ``lengths`` and, with the
    linear models, ``hashes`` and ``hash_lengths`` (see :mod:`rnnkit.export.classifier`)."""
    cut = (clf.params_["max_length"], clf.params_["truncating"])
    types, flat, lengths = index_texts(clip_characters(list(texts), *cut), make_pipeline(clf.params_))
    ids = encode_indexed(types, flat, lengths, clf.vocab_, *cut)
    inputs = {"ids": padded(ids), "lengths": ids.lengths.astype(np.int64)}
    if clf.linear_ is not None:
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        hashed = Ragged(token_hashes(types)[flat].astype(np.int64), offsets)
        inputs |= {"hashes": padded(hashed), "hash_lengths": lengths.astype(np.int64)}
    return inputs


def tagger_inputs(tagger: SequenceTagger, token_lists: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    """The ONNX inputs of tokenized sentences (each at least one token) for an exported tagger:
    ``words``, ``lengths``, ``chars``, ``char_lengths`` and ``casing`` (see :mod:`rnnkit.export.tagger`)."""
    sentences = encode(token_lists, tagger.vocab_, tagger.char_vocab_, tagger.params_["lowercase"])
    forms = padded(sentences.forms)  # (batch, time): each token's distinct form
    real = np.arange(forms.shape[1])[None, :] < sentences.lengths[:, None]
    spelled = padded(sentences.chars)  # (forms, letters)
    return {
        "words": padded(sentences.words),
        "lengths": sentences.lengths.astype(np.int64),
        "chars": np.where(real[:, :, None], spelled[forms], 0),
        "char_lengths": np.where(real, sentences.chars.lengths[forms], 0).astype(np.int64),
        "casing": np.where(real, sentences.casing[forms], 0).astype(np.int64),
    }


def viterbi(
    emissions: np.ndarray, lengths: np.ndarray, start: np.ndarray, transitions: np.ndarray, end: np.ndarray
) -> list[np.ndarray]:
    """The best tag path of each sentence under a linear-chain CRF, from an exported tagger's outputs.

    ``emissions (batch, time, tags)``, ``lengths (batch,)``, ``start (tags,)``, ``transitions (tags, tags)``
    ``[from, to]``, ``end (tags,)`` -> one int64 array of ``lengths[b]`` tag ids per sentence. Ties go to
    the lowest tag id, as in rnnkit.
    """
    paths = []
    for row, length in zip(emissions, lengths, strict=True):
        best = start + row[0]
        back = np.zeros((length, len(start)), dtype=np.int64)
        for t in range(1, length):
            scores = best[:, None] + transitions
            back[t] = scores.argmax(axis=0)
            best = scores.max(axis=0) + row[t]
        path = [int((best + end).argmax())]
        for t in range(length - 1, 0, -1):
            path.append(int(back[t, path[-1]]))
        paths.append(np.array(path[::-1], dtype=np.int64))
    return paths


def tag_ids(outputs: dict[str, np.ndarray], lengths: np.ndarray) -> list[np.ndarray]:
    """Each sentence's tag ids from an exported tagger's outputs: Viterbi under its CRF, else each
    token's most probable tag."""
    if "transitions" in outputs:
        return viterbi(outputs["emissions"], lengths, outputs["start"], outputs["transitions"], outputs["end"])
    return [row[:n] for row, n in zip(outputs["probabilities"].argmax(axis=2), lengths, strict=True)]
