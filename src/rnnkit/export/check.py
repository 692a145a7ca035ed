"""The exported model checked in onnxruntime against rnnkit on held-out inputs of mixed lengths.

Inputs are made up from the model's own vocabulary (and words it never saw), at lengths 1, short,
odd, and longer than the model cuts texts to, all in one batch, so padding, exact lengths and
truncation are all exercised. rnnkit's side is computed in float32 throughout
(:func:`rnnkit.nn.native.float32_only`), as it is by default: with ``RNNKIT_BF16=1`` rnnkit's own
prediction rounds the recurrent layers' input projections to bfloat16 for speed, which moves
probabilities by up to 1e-3; the ONNX graph computes the model's float32 function.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import torch

from rnnkit.export.inputs import classifier_inputs, tag_ids, tagger_inputs
from rnnkit.nn.native import float32_only
from rnnkit.tasks.classification.estimator import TextClassifier
from rnnkit.tasks.tagging.encode import collate
from rnnkit.tasks.tagging.estimator import SequenceTagger
from rnnkit.text.pipeline import SPECIALS

LENGTHS = (1, 2, 3, 7, 16, 31, 64, 127)  # tokens; one more input is longer than any the model keeps
UNSEEN = 0.1  # the share of made-up words


def held_out_tokens(words: list[str], count: int, rng: np.random.Generator) -> list[str]:
    """``count`` tokens: the model's words, some capitalised or upper-cased, and made-up words with digits."""
    out = []
    for _ in range(count):
        if rng.random() < UNSEEN or not words:
            out.append("".join(rng.choice(list(string.ascii_letters + string.digits), size=rng.integers(1, 12))))
            continue
        word = words[rng.integers(len(words))]
        kind = rng.random()
        out.append(word.title() if kind < 0.3 else word.upper() if kind < 0.4 else word)
    return out


def check(model: TextClassifier | SequenceTagger, path: Path, seed: int = 0) -> dict:
    """Run ``path`` in onnxruntime on held-out inputs; compare with rnnkit (see the module docstring)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    words = model.vocab_.itos[len(SPECIALS) :]
    longest = (model.params_.get("max_length") or 400) + 37 if isinstance(model, TextClassifier) else 257
    token_lists = [held_out_tokens(words, n, rng) for n in (*LENGTHS, longest)]
    lengths = [len(tokens) for tokens in token_lists]
    report = {"onnxruntime": onnxruntime.__version__, "inputs": len(token_lists), "lengths": lengths}
    if isinstance(model, TextClassifier):
        texts = [" ".join(tokens) for tokens in token_lists]
        (got,) = session.run(None, classifier_inputs(model, texts))
        with float32_only():
            expected = model.predict_proba(texts)
        return report | {"max_abs_difference": float(np.abs(got - expected).max())}
    inputs = tagger_inputs(model, token_lists)
    outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs), strict=True))
    with float32_only():
        expected_tags = model.predict_bioes(token_lists)
    difference, wrong, tokens = tagger_agreement(model, token_lists, inputs, outputs, expected_tags)
    return report | {"max_abs_difference": difference, "tags_differing": wrong, "tokens": tokens}


def emissions(tagger: SequenceTagger, token_lists: list[list[str]]) -> np.ndarray:
    """rnnkit's emissions ``(batch, time, tags)`` of sentences, in float32 throughout."""
    with float32_only(), torch.no_grad():
        tagger.model_.eval()
        batch = collate(tagger._encode(token_lists), np.arange(len(token_lists)))
        return tagger.model_(batch).transpose(0, 1).numpy()


def tagger_agreement(
    tagger: SequenceTagger, token_lists: list[list[str]], inputs: dict, outputs: dict, expected_tags: list[list[str]]
) -> tuple[float, int, int]:
    """(largest emission difference over the real tokens, tags differing from ``expected_tags``, tokens)
    of an exported tagger's ``outputs`` for ``inputs``, the ONNX inputs of ``token_lists``."""
    real = np.arange(inputs["words"].shape[1])[None, :] < inputs["lengths"][:, None]
    difference = float(np.abs(outputs["emissions"] - emissions(tagger, token_lists))[real].max())
    tags = [[tagger.tag_names_[i] for i in path] for path in tag_ids(outputs, inputs["lengths"])]
    wrong = sum(a != b for got, want in zip(tags, expected_tags, strict=True) for a, b in zip(got, want, strict=True))
    return difference, int(wrong), int(real.sum())
