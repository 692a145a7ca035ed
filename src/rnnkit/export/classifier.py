"""A :class:`~rnnkit.TextClassifier` as one ONNX graph: ids and lengths (and, with the linear models,
token hashes) in, class probabilities out.

The graph computes what ``predict_proba`` computes after tokenization, all of it:

* the recurrent model: embedding (or one-hot) -> exact-length encoder -> pooling -> linear head,
  plus the in-network n-gram bag (``ngram_buckets``) when the model has one;
* the linear models (``linear=True``, the default): the words, pairs and triples of each text hashed
  into buckets exactly as :mod:`rnnkit.tasks.classification.linear` hashes them (the arithmetic done
  modulo ``2**22`` at every step, which gives the same buckets as its wrapping 64-bit products),
  TF-IDF (sublinear counts, idf, unit rows) and NB (binary) scores, by ``Unique`` over
  ``(text, feature)`` keys and ``ScatterND`` sums per text;
* the positional model, when the blend has one (texts of one length: what stands where);
* the blend of the parts' log probabilities with the fitted weights, and its softmax.

Tokenization stays in Python (:func:`rnnkit.export.inputs.classifier_inputs`): the hashes are
``murmurhash3_32(token, seed=0)`` (unsigned) of every token of the text, so words outside the
vocabulary still count, as they do in rnnkit.

Inputs: ``ids (batch, time)`` int64 post-padded with ``PAD_ID`` (0), ``lengths (batch,)`` int64 >= 1;
``hashes (batch, tokens)`` int64 post-padded, ``hash_lengths (batch,)`` int64 >= 0.
Output: ``probabilities (batch, classes)`` float32, columns in the order of ``labels.json``.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from rnnkit.export.graph import FLOAT, INT64, Graph
from rnnkit.export.layers import embedding, linear, pooling, positions, recurrent_encoder, row_mask
from rnnkit.tasks.classification.estimator import TextClassifier
from rnnkit.tasks.classification.linear import BUCKETS, NB_ORDERS, TFIDF_ORDERS, LinearModels, column_lookup
from rnnkit.tasks.classification.model import NgramBag, RNNClassifier
from rnnkit.tasks.classification.positional import PositionalModel

PRIME = 1_000_003  # the hash's multiplier, as in rnnkit.tasks.classification.linear and NgramBag
TINY = float(np.finfo(np.float32).tiny)


def classifier_graph(clf: TextClassifier) -> Graph:
    """The ONNX graph of a fitted classifier (see the module docstring)."""
    g = Graph()
    ids = g.input("ids", INT64, ["batch", "time"])
    lengths = g.input("lengths", INT64, ["batch"])
    proba = _rnn_probabilities(g, clf.model_, ids, lengths)
    if clf.linear_ is not None:
        hashes = g.input("hashes", INT64, ["batch", "tokens"])
        hash_lengths = g.input("hash_lengths", INT64, ["batch"])
        parts = [*_linear_log_probabilities(g, clf.linear_, hashes, hash_lengths)]
        if clf.positional_ is not None:
            parts.append(_positional_log_probabilities(g, clf.positional_, ids, lengths))
        parts.append(g.op("Log", g.op("Max", proba, g.scalar(TINY))))
        weighted = [g.op("Mul", part, g.scalar(float(w))) for part, w in zip(parts, clf.blend_weights_, strict=True)]
        proba = g.op("Softmax", g.op("Sum", *weighted), axis=1)
    g.output(proba, "probabilities", FLOAT, ["batch", len(clf.classes_)])
    return g


def _rnn_probabilities(g: Graph, model: RNNClassifier, ids: str, lengths: str) -> str:
    """``RNNClassifier`` in eval mode, then :func:`~rnnkit.tasks.classification.model.probabilities`."""
    time_major = g.op("Transpose", ids, perm=[1, 0])
    if model.embedding is not None:
        x = embedding(g, model.embedding, time_major)
    else:
        x = g.op("OneHot", time_major, g.scalar(model.vocab_size), g.const([0.0, 1.0]), axis=-1)
    h = recurrent_encoder(g, model.encoder, x, lengths)
    logits = linear(g, model.head, pooling(g, model.pooling, h, lengths))
    if model.ngrams is not None:
        logits = g.op("Add", logits, _ngram_bag(g, model.ngrams, ids, lengths))
    if model.head.out_features > 1:
        return g.op("Softmax", logits, axis=1)
    p = g.op("Sigmoid", logits)
    return g.op("Concat", g.op("Sub", g.scalar(1.0), p), p, axis=1)


def _ngram_bag(g: Graph, bag: NgramBag, ids: str, lengths: str) -> str:
    """:class:`NgramBag`: the mean weight row of each text's words and hashed bigrams ``(batch, outputs)``."""
    pair = g.op("Add", g.op("Mul", g.slice(ids, 0, -1, axis=1), g.scalar(PRIME)), g.slice(ids, 1, axis=1))
    bigrams = g.op("Add", g.op("Mod", pair, g.scalar(bag.buckets)), g.scalar(bag.vocab_size))
    real = row_mask(g, ids, lengths)
    features, mask = g.op("Concat", ids, bigrams, axis=1), g.op("Concat", real, g.slice(real, 1, axis=1), axis=1)
    rows = g.op("Gather", g.const(bag.weights.weight.detach().numpy(), hint="bag"), features, axis=0)
    total = g.op("ReduceSum", g.op("Where", g.unsqueeze(mask, 2), rows, g.scalar(0.0)), g.ints(1), keepdims=0)
    count = g.op("ReduceSum", g.op("Cast", mask, to=TensorProto.FLOAT), g.ints(1), keepdims=1)
    return g.op("Div", total, count)


def _linear_log_probabilities(g: Graph, models: LinearModels, hashes: str, hash_lengths: str) -> list[str]:
    """[TF-IDF, NB] log class probabilities ``(batch, classes)``, as ``LinearModels.log_probas``."""
    features = len(models.columns)
    lookup = g.const(column_lookup(models.columns), hint="bucket_columns")  # (BUCKETS,) int32, -1: unseen
    batch = g.dim(hashes, 0)
    text = g.unsqueeze(positions(g, hashes, 0), 1)  # (batch, 1)
    keys = {}
    for order in NB_ORDERS:
        buckets, valid = _ngram_buckets(g, hashes, hash_lengths, order)
        columns = g.op("Cast", g.op("Gather", lookup, buckets, axis=0), to=TensorProto.INT64)
        valid = g.op("And", valid, g.op("GreaterOrEqual", columns, g.scalar(0)))
        key = g.op("Add", g.op("Mul", text, g.scalar(features)), columns)
        keys[order] = g.op("Compress", g.op("Reshape", key, g.ints(-1)), g.op("Reshape", valid, g.ints(-1)))
    # A key past every text's rows (text = batch) keeps Unique off empty inputs; its row is dropped.
    sentinel = g.op("Mul", batch, g.const(np.array([features])))
    rows = g.op("Add", batch, g.ints(1))
    outputs = models.tfidf_coef.shape[1]

    def distinct(orders: tuple[int, ...]) -> tuple[str, str, str]:
        """(text ``(U, 1)``, column ``(U,)``, count ``(U,)`` float) of each distinct (text, feature)."""
        unique, _, _, counts = g.op("Unique", *[g.op("Concat", *[keys[n] for n in orders], sentinel, axis=0)],
                                    outputs=4, sorted=1)  # fmt: skip
        size = g.scalar(features)
        return (
            g.unsqueeze(g.op("Div", unique, size), 1),
            g.op("Mod", unique, size),
            g.op("Cast", counts, to=TensorProto.FLOAT),
        )

    def per_text(index: str, values: str, width: int | None) -> str:
        """Sums of ``values`` (U,) or (U, width) by text: ``(batch,)`` or ``(batch, width)``."""
        shape = rows if width is None else g.op("Concat", rows, g.ints(width), axis=0)
        zeros = g.op("ConstantOfShape", shape, value=helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0]))
        total = g.op("ScatterND", zeros, index, values, reduction="add")
        return g.slice(total, 0, batch)

    def coefficients(array: np.ndarray, column: str) -> str:
        return g.op("Gather", g.const(array, hint="coef"), column, axis=0)

    text_of, column, count = distinct(TFIDF_ORDERS)
    weight = g.op("Mul", g.op("Add", g.scalar(1.0), g.op("Log", count)), coefficients(models.idf, column))
    norm = g.op("Sqrt", per_text(text_of, g.op("Mul", weight, weight), None))
    dot = per_text(text_of, g.op("Mul", g.unsqueeze(weight, 1), coefficients(models.tfidf_coef, column)), outputs)
    unit = g.op("Div", dot, g.unsqueeze(g.op("Max", norm, g.scalar(TINY)), 1))
    tfidf = g.op("Add", unit, g.const(models.tfidf_bias))
    text_of, column, _ = distinct(NB_ORDERS)
    nb = g.op("Add", per_text(text_of, coefficients(models.nb_coef, column), outputs), g.const(models.nb_bias))
    return [_log_probabilities(g, scores, outputs) for scores in (tfidf, nb)]


def _positional_log_probabilities(g: Graph, model: PositionalModel, ids: str, lengths: str) -> str:
    """:class:`PositionalModel`'s log class probabilities ``(batch, classes)``: its weight rows of the
    symbol at each position before ``min(length, model.length)`` and of the pair starting there."""
    size, outputs = model.vocab_size, model.coef.shape[1]
    coef = g.const(model.coef, hint="positional_coef")
    kept = g.op("Min", lengths, g.scalar(model.length))

    def summed(columns: str, valid: str) -> str:  # rows of coef at columns (batch, width), where valid
        rows = g.op("Gather", coef, g.op("Where", valid, columns, g.scalar(0)), axis=0)
        return g.op("ReduceSum", g.op("Where", g.unsqueeze(valid, 2), rows, g.scalar(0.0)), g.ints(1), keepdims=0)

    step = g.unsqueeze(positions(g, ids, 1), 0)  # (1, time)
    single = g.op("Add", g.op("Mul", step, g.scalar(size)), ids)
    first, second = g.slice(ids, 0, -1, axis=1), g.slice(ids, 1, axis=1)
    pair_step = g.slice(step, 0, -1, axis=1)
    pair = g.op("Add", g.op("Mul", pair_step, g.scalar(size * size)), g.op("Add", g.op("Mul", first, g.scalar(size)),
                                                                            second))  # fmt: skip
    pair = g.op("Add", pair, g.scalar(model.length * size))
    scores = g.op(
        "Sum",
        summed(single, row_mask(g, ids, kept)),
        summed(pair, row_mask(g, first, g.op("Sub", kept, g.scalar(1)))),
        g.const(model.bias, hint="positional_bias"),
    )
    return _log_probabilities(g, scores, outputs)


def _ngram_buckets(g: Graph, hashes: str, hash_lengths: str, order: int) -> tuple[str, str]:
    """(bucket ``(batch, tokens - order + 1)`` of the n-gram of ``order`` tokens starting at each
    position, True where it lies inside its text): ``linear.ngram_buckets`` batched."""
    combined = g.scalar(order)  # the salt: words, pairs and triples apart
    for k in range(order):
        token = g.slice(hashes, k, k - (order - 1) if k < order - 1 else None, axis=1)
        combined = g.op("Mod", g.op("Add", g.op("Mul", combined, g.scalar(PRIME)), token), g.scalar(BUCKETS))
    inside = g.op("Sub", hash_lengths, g.scalar(order - 1))
    return combined, row_mask(g, combined, inside)


def _log_probabilities(g: Graph, scores: str, outputs: int) -> str:
    """``linear.log_probabilities``: a binary logit ``(batch, 1)`` or scores ``(batch, classes)``."""
    if outputs > 1:
        return g.op("LogSoftmax", scores, axis=1)
    negative = g.op("Neg", g.op("Softplus", scores))  # log sigmoid(-s)
    positive = g.op("Neg", g.op("Softplus", g.op("Neg", scores)))  # log sigmoid(s)
    return g.op("Concat", negative, positive, axis=1)
