"""``export_onnx``: a classifier or tagger as ``model.onnx``, with what tokenization needs beside it,
checked in onnxruntime against rnnkit on held-out inputs of mixed lengths.

Beside the model go ``vocab.json`` (and ``chars.json`` for a tagger), ``labels.json`` (``tags.json``)
and ``preprocessing.json``: the tokenizer settings and the meaning of every input, so that a service
in another language can prepare the inputs; in Python, :mod:`rnnkit.export.inputs` does it with
rnnkit's own pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rnnkit import __version__
from rnnkit.errors import RnnkitError
from rnnkit.export.check import check
from rnnkit.export.classifier import classifier_graph
from rnnkit.export.tagger import tagger_graph
from rnnkit.store.atomic import write_bytes
from rnnkit.store.bundle import json_bytes
from rnnkit.tasks.classification.estimator import TextClassifier
from rnnkit.tasks.tagging.encode import CASINGS
from rnnkit.tasks.tagging.estimator import SequenceTagger
from rnnkit.text.batches import CHARS_PER_KEPT_TOKEN
from rnnkit.text.pipeline import PAD_ID, UNK_ID


def export_onnx(model: TextClassifier | SequenceTagger, out: Path) -> dict:
    """Write ``out`` (the ONNX model) and its side files into ``out``'s directory; return what was
    written and the onnxruntime check (:func:`rnnkit.export.check.check`)."""
    if isinstance(model, TextClassifier):
        graph, (preprocessing, side) = classifier_graph(model), _classifier_files(model)
    elif isinstance(model, SequenceTagger):
        graph, (preprocessing, side) = tagger_graph(model), _tagger_files(model)
    else:
        raise RnnkitError(f"ONNX export is for text classifiers and sequence taggers; this is a {type(model).__name__}")
    side["preprocessing.json"] = json_bytes(preprocessing)
    metadata = {"rnnkit_version": __version__, "preprocessing": json.dumps(preprocessing)}
    onnx_model = graph.model(type(model).__name__, preprocessing["summary"], metadata)
    data = onnx_model.SerializeToString()
    write_bytes(out, data)
    for name, content in side.items():
        write_bytes(out.parent / name, content)
    return {"path": str(out), "bytes": len(data), "files": sorted(side), "check": check(model, out)}


def _classifier_files(clf: TextClassifier) -> tuple[dict, dict[str, bytes]]:
    """(what preprocessing.json says, the other side files)."""
    params = clf.params_
    inputs = {
        "ids": "(batch, time) int64: vocab.json ids of the tokens, post-padded with pad_id; unknown "
        f"tokens {UNK_ID}; at most max_length tokens ({params['max_length']}), cut as 'truncating' says; "
        f"a text without tokens is one unknown token",
        "lengths": "(batch,) int64: tokens of each text in ids, at least 1",
    }
    if clf.linear_ is not None:
        inputs |= {
            "hashes": "(batch, tokens) int64: murmurhash3_32(token, seed=0) as unsigned of every token of the "
            "text (before cutting to max_length; words outside the vocabulary too), post-padded with 0",
            "hash_lengths": "(batch,) int64: tokens of each text in hashes (0 for an empty text)",
        }
    preprocessing = {
        "task": "classification",
        "summary": "text classifier: class probabilities (batch, classes) in the order of labels.json",
        "tokenizer": params["tokenizer"],
        "lowercase": params["lowercase"],
        "stopwords": params["stopwords"],
        "markup_stripped": True,
        "max_length": params["max_length"],
        "truncating": params["truncating"],
        "characters_kept": None if params["max_length"] is None else params["max_length"] * CHARS_PER_KEPT_TOKEN,
        "pad_id": PAD_ID,
        "unknown_id": UNK_ID,
        "inputs": inputs,
        "outputs": {"probabilities": "(batch, classes) float32, columns in the order of labels.json"},
        "python": "rnnkit.export.inputs.classifier_inputs(rnnkit.load_model(BUNDLE), texts)",
    }
    return preprocessing, {
        "vocab.json": json_bytes(clf.vocab_.to_json()),
        "labels.json": json_bytes([c.item() if isinstance(c, np.generic) else c for c in clf.classes_]),
    }


def _tagger_files(tagger: SequenceTagger) -> tuple[dict, dict[str, bytes]]:
    """(what preprocessing.json says, the other side files)."""
    crf = tagger.model_.crf is not None
    outputs = {"emissions": "(batch, time, tags) float32: each token's score of each tag in tags.json"}
    if crf:
        outputs |= {
            name: f"{shape} float32: the CRF's {what}, disallowed ones at -10000"
            for name, shape, what in (
                ("start", "(tags,)", "start scores"),
                ("transitions", "(tags, tags)", "transition scores [from, to]"),
                ("end", "(tags,)", "end scores"),
            )
        }
    else:
        outputs["probabilities"] = "(batch, time, tags) float32: each token's tag probabilities"
    preprocessing = {
        "task": "tagging",
        "summary": "sequence tagger: "
        + ("emissions and CRF scores; tags by Viterbi" if crf else "emissions and tag probabilities; tags by argmax"),
        "scheme": tagger.scheme_,
        "tags_scheme": "BIOES" if tagger.scheme_ != "plain" else "plain",
        "decoding": "rnnkit.export.inputs.viterbi(emissions, lengths, start, transitions, end)"
        if crf
        else "argmax of probabilities",
        "word_key": "the token, every digit replaced by 0" + (", lower-cased" if tagger.params_["lowercase"] else ""),
        "casing": {"kinds": list(CASINGS), "rules": "digits / has_digit / lower / upper / title / mixed / other"},
        "pad_id": PAD_ID,
        "unknown_id": UNK_ID,
        "inputs": {
            "words": "(batch, time) int64: vocab.json ids of the word keys, post-padded with pad_id",
            "lengths": "(batch,) int64: tokens of each sentence, at least 1",
            "chars": "(batch, time, letters) int64: chars.json ids of each token's characters as written, "
            "post-padded with pad_id",
            "char_lengths": "(batch, time) int64: characters of each token, 0 at padding",
            "casing": "(batch, time) int64: index of each token's kind in casing.kinds, 0 at padding",
        },
        "outputs": outputs,
        "python": "rnnkit.export.inputs.tagger_inputs(rnnkit.load_model(BUNDLE), token_lists)",
    }
    return preprocessing, {
        "vocab.json": json_bytes(tagger.vocab_.to_json()),
        "chars.json": json_bytes(tagger.char_vocab_.to_json()),
        "tags.json": json_bytes(list(tagger.tag_names_)),
    }
