"""A :class:`~rnnkit.SequenceTagger` as one ONNX graph: each token's emissions (one score per tag), and
the CRF's start, transition and end scores for the Viterbi post-step
(:func:`rnnkit.export.inputs.viterbi`), or, without a CRF, each token's tag probabilities.

Every token is spelled out in the input (rnnkit runs the character encoder once per distinct word of
a batch; the function per word is the same). Ensembles export as one graph: the members' mean
emissions and the mean of their CRF scores, as :class:`~rnnkit.tasks.tagging.model.TaggerEnsemble`.

Inputs: ``words (batch, time)`` word ids, ``lengths (batch,)`` >= 1, ``chars (batch, time, letters)``
character ids of each token post-padded, ``char_lengths (batch, time)`` (0 at padding), ``casing
(batch, time)`` indices into ``CASINGS``, all int64. Outputs: ``emissions (batch, time, tags)``; with a
CRF ``start (tags,)``, ``transitions (tags, tags)`` ``[from, to]`` and ``end (tags,)``, the disallowed
moves of the tag scheme already at -10000; without, ``probabilities (batch, time, tags)``.
"""

from __future__ import annotations

import numpy as np

from rnnkit.export.graph import FLOAT, INT64, Graph
from rnnkit.export.layers import embedding, linear, pooling, recurrent_encoder, row_mask
from rnnkit.nn.chars import WIDTH, CharCNN, CharRNN
from rnnkit.tasks.tagging.encode import CASINGS
from rnnkit.tasks.tagging.estimator import SequenceTagger
from rnnkit.tasks.tagging.model import RNNTagger, TaggerEnsemble


def tagger_graph(tagger: SequenceTagger) -> Graph:
    """The ONNX graph of a fitted tagger (see the module docstring)."""
    g = Graph()
    names = ("words", "lengths", "chars", "char_lengths", "casing")
    shapes = (["batch", "time"], ["batch"], ["batch", "time", "letters"], ["batch", "time"], ["batch", "time"])
    inputs = {name: g.input(name, INT64, shape) for name, shape in zip(names, shapes, strict=True)}
    model = tagger.model_
    members = list(model.members) if isinstance(model, TaggerEnsemble) else [model]
    emissions = [_emissions(g, member, inputs) for member in members]
    mean = emissions[0] if len(emissions) == 1 else g.op("Mean", *emissions)
    tags = len(tagger.tag_names_)
    g.output(g.op("Transpose", mean, perm=[1, 0, 2]), "emissions", FLOAT, ["batch", "time", tags])
    crf = model.crf
    if crf is None:
        probabilities = g.op("Softmax", g.op("Transpose", mean, perm=[1, 0, 2]), axis=2)
        g.output(probabilities, "probabilities", FLOAT, ["batch", "time", tags])
        return g
    for name, scores in zip(("start", "transitions", "end"), crf._scores(), strict=True):
        g.output(g.const(scores.detach().numpy(), hint=name), name, FLOAT, list(scores.shape))
    return g


def _emissions(g: Graph, member: RNNTagger, inputs: dict[str, str]) -> str:
    """One :class:`RNNTagger`'s emissions ``(time, batch, tags)`` in eval mode."""
    lengths = inputs["lengths"]
    words = g.op("Transpose", inputs["words"], perm=[1, 0])
    parts = [embedding(g, member.embedding, words)]
    if member.chars is not None:
        parts.append(_spellings(g, member.chars, inputs["chars"], inputs["char_lengths"]))
    if member.casing:
        casing = g.op("Transpose", inputs["casing"], perm=[1, 0])
        parts.append(g.op("OneHot", casing, g.scalar(len(CASINGS)), g.const([0.0, 1.0]), axis=-1))
    h = recurrent_encoder(g, member.encoder, g.op("Concat", *parts, axis=2), lengths)
    return linear(g, member.head, h)


def _spellings(g: Graph, encoder: CharCNN | CharRNN, chars: str, char_lengths: str) -> str:
    """The character encoder over every token: ``(time, batch, size)``, zeros at padding tokens."""
    shape = g.op("Shape", chars)  # (batch, time, letters)
    letters_axis = g.slice(shape, 2, 3)
    flat = g.op("Reshape", g.op("Transpose", chars, perm=[1, 0, 2]), g.op("Concat", g.ints(-1), letters_axis, axis=0))
    lengths = g.op("Reshape", g.op("Transpose", char_lengths, perm=[1, 0]), g.ints(-1))  # (tokens,)
    spelled = g.op("Max", lengths, g.scalar(1))  # padding tokens read one PAD: never used
    letters = embedding(g, encoder.embedding, flat)  # (tokens, letters, dim)
    if isinstance(encoder, CharCNN):
        conv = encoder.conv
        windows = g.op(
            "Conv", g.op("Transpose", letters, perm=[0, 2, 1]), g.const(conv.weight.detach().numpy(), hint="conv"),
            g.const(conv.bias.detach().numpy(), hint="conv_bias"), pads=[WIDTH // 2, WIDTH // 2],
        )  # fmt: skip  (tokens, size, letters)
        real = g.unsqueeze(row_mask(g, flat, spelled), 1)  # (tokens, 1, letters)
        vectors = g.op("ReduceMax", g.op("Where", real, windows, g.const(-np.inf)), g.ints(2), keepdims=0)
    else:
        states = recurrent_encoder(g, encoder.encoder, g.op("Transpose", letters, perm=[1, 0, 2]), spelled)
        vectors = pooling(g, encoder.pooling, states, spelled)
    vectors = g.op("Where", g.unsqueeze(g.op("Greater", lengths, g.scalar(0)), 1), vectors, g.scalar(0.0))
    out_shape = g.op("Concat", g.dim(chars, 1), g.dim(chars, 0), g.ints(-1), axis=0)
    return g.op("Reshape", vectors, out_shape)

