"""The network: exact length handling, checked against hand-written references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from rnnkit.nn.encoder import POOLINGS, RecurrentEncoder, left_align
from rnnkit.nn.steps import reversal_index
from rnnkit.tasks.classification.model import RNNClassifier, loss_per_item, probabilities


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def gru_reference(layer, direction: int, xs: np.ndarray) -> np.ndarray:
    """One direction of a GRU layer over one unpadded sequence ``(time, input)``, from the equations."""
    w_ih, w_hh, b_ih, b_hh = (
        p[direction].detach().numpy().astype(np.float64)
        for p in (layer.weight_ih, layer.weight_hh, layer.bias_ih, layer.bias_hh)
    )
    size = layer.hidden_size
    h = np.zeros(size, dtype=np.float64)
    out = []
    for x in xs:
        gi, gh = w_ih @ x + b_ih, w_hh @ h + b_hh
        r = sigmoid(gi[:size] + gh[:size])
        z = sigmoid(gi[size : 2 * size] + gh[size : 2 * size])
        n = np.tanh(gi[2 * size :] + r * gh[2 * size :])
        h = (1 - z) * n + z * h
        out.append(h)
    return np.array(out)


def test_gru_step_matches_the_equations():
    torch.manual_seed(0)
    encoder = RecurrentEncoder("gru", input_size=3, hidden_size=4, bidirectional=False)
    x = torch.randn(1, 1, 3)  # (time, batch, input)
    got = encoder(x, torch.tensor([1]))[0, 0].detach().numpy()
    want = gru_reference(encoder.layers[0], 0, x[:, 0].numpy().astype(np.float64))[0]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_bidirectional_gru_equals_two_hand_computed_passes_over_the_true_length():
    """Padded batch in, per sequence: forward over x[:n], backward over reversed x[:n]."""
    torch.manual_seed(1)
    encoder = RecurrentEncoder("gru", input_size=3, hidden_size=4, bidirectional=True)
    lengths = torch.tensor([5, 2, 3])
    x = torch.randn(5, 3, 3)  # (time, batch, input)
    out = encoder(x, lengths).detach().numpy()
    layer = encoder.layers[0]
    for b, n in enumerate(lengths.tolist()):
        xs = x[:n, b].numpy().astype(np.float64)
        np.testing.assert_allclose(out[:n, b, :4], gru_reference(layer, 0, xs), atol=1e-6)
        np.testing.assert_allclose(out[:n, b, 4:], gru_reference(layer, 1, xs[::-1])[::-1], atol=1e-6)


def test_reversal_index_reverses_within_length_and_is_its_own_inverse():
    index = reversal_index(torch.tensor([3, 1, 4]), 4).t()  # shown batch-major for reading
    assert index.tolist() == [[2, 1, 0, 3], [0, 1, 2, 3], [3, 2, 1, 0]]
    assert index.gather(1, index).tolist() == [[0, 1, 2, 3]] * 3


def test_left_align_moves_pre_padding_behind_the_tokens():
    ids = torch.tensor([[0, 0, 5, 6], [7, 8, 9, 4], [0, 0, 0, 3]])
    assert left_align(ids, torch.tensor([2, 4, 1])).tolist() == [[5, 6, 0, 0], [7, 8, 9, 4], [3, 0, 0, 0]]


CONFIGS = [
    {"cell": cell, "pooling": pooling, "bidirectional": bidirectional, "num_layers": layers, "padding": padding}
    for cell, pooling, bidirectional in itertools.product(("rnn", "lstm", "gru"), POOLINGS, (False, True))
    for layers, padding in ((1, "post"), (2, "pre"))
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_padding_never_changes_a_prediction(config, rnn_kernel):
    """Each sequence alone (no padding) and inside a longer padded batch gives the same logits."""
    torch.manual_seed(2)
    model = RNNClassifier(vocab_size=20, num_classes=3, hidden_size=6, embedding_dim=5, dropout=0.2, **config).eval()
    seqs = [[4, 5, 6], [7, 8, 9, 10, 11, 12, 13], [14]]
    alone = torch.cat([model(torch.tensor([s]), torch.tensor([len(s)])) for s in seqs])
    width = 12  # more padding than any sequence needs
    batch = torch.zeros(len(seqs), width, dtype=torch.long)
    for row, s in zip(batch, seqs, strict=True):
        if config["padding"] == "post":
            row[: len(s)] = torch.tensor(s)
        else:
            row[width - len(s) :] = torch.tensor(s)
    padded = model(batch, torch.tensor([len(s) for s in seqs]))
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("padding", ["post", "pre"])
def test_garbage_in_padding_positions_is_never_read(pooling, padding):
    """Padding is ignored by position, not by its id: any id there leaves the output unchanged."""
    torch.manual_seed(3)
    model = RNNClassifier(vocab_size=20, num_classes=2, hidden_size=6, embedding_dim=5, pooling=pooling)
    model.padding = padding
    model.eval()
    lengths = torch.tensor([3, 5])
    ids = torch.tensor([[4, 5, 6, 0, 0], [7, 8, 9, 10, 11]])
    if padding == "pre":
        ids[0] = torch.tensor([0, 0, 4, 5, 6])
    noisy = ids.clone()
    noisy[0, slice(3, 5) if padding == "post" else slice(0, 2)] = torch.tensor([17, 18])
    torch.testing.assert_close(model(noisy, lengths), model(ids, lengths))


def test_onehot_encoding_has_no_embedding_and_feeds_vocab_sized_vectors():
    model = RNNClassifier(vocab_size=8, num_classes=2, encoding="onehot", hidden_size=4)
    assert model.embedding is None
    assert model.encoder.layers[0].input_size == 8
    assert model(torch.tensor([[4, 5, 6]]), torch.tensor([3])).shape == (1, 1)


def test_binary_head_has_one_output_and_multiclass_one_per_class():
    assert RNNClassifier(10, 2).head.out_features == 1
    assert RNNClassifier(10, 4).head.out_features == 4


def test_probabilities_and_losses_match_their_definitions():
    logits = torch.tensor([[0.0], [2.0]])
    torch.testing.assert_close(probabilities(logits), torch.tensor([[0.5, 0.5], [0.1192029, 0.8807971]]))
    loss = loss_per_item(logits, torch.tensor([1, 0]))
    torch.testing.assert_close(loss, torch.tensor([np.log(2), 2 + np.log1p(np.exp(-2))], dtype=torch.float32))
    multi = torch.tensor([[1.0, 2.0, 3.0]])
    expected = -torch.log_softmax(multi, 1)[0, 0]
    torch.testing.assert_close(loss_per_item(multi, torch.tensor([0])), expected[None])


def test_spatial_dropout_drops_whole_channels_for_every_step_and_keeps_the_mean():
    from rnnkit.nn.encoder import SpatialDropout

    torch.manual_seed(4)
    dropout = SpatialDropout(0.5).train()
    out = dropout(torch.ones(7, 3, 1000))
    assert torch.equal(out, out[:1].expand_as(out))  # the same channels at every step
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert abs(out.mean().item() - 1) < 0.05
    assert torch.equal(dropout.eval()(torch.ones(2, 2, 2)), torch.ones(2, 2, 2))


def test_ngram_bag_averages_the_weights_of_words_and_hashed_word_pairs_of_real_steps_only():
    from rnnkit.tasks.classification.model import NgramBag

    bag = NgramBag(vocab_size=10, buckets=7, outputs=2)
    with torch.no_grad():
        bag.weights.weight.copy_(torch.arange(34, dtype=torch.float32).view(17, 2))
    ids = torch.tensor([[4, 5, 6, 0], [7, 0, 0, 0]])
    got = bag(ids, torch.tensor([3, 1]))
    pairs = [10 + (4 * 1_000_003 + 5) % 7, 10 + (5 * 1_000_003 + 6) % 7]
    weights = bag.weights.weight.detach()
    torch.testing.assert_close(got[0], weights[[4, 5, 6, *pairs]].mean(dim=0))
    torch.testing.assert_close(got[1], weights[7])  # one word, no pair


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_padding_never_changes_a_prediction_with_the_ngram_bag(padding):
    torch.manual_seed(6)
    model = RNNClassifier(20, 2, hidden_size=6, embedding_dim=5, padding=padding, ngram_buckets=50)
    torch.nn.init.normal_(model.ngrams.weights.weight)
    model.eval()
    seqs = [[4, 5, 6], [7, 8, 9, 10, 11], [14]]
    alone = torch.cat([model(torch.tensor([s]), torch.tensor([len(s)])) for s in seqs])
    batch = torch.zeros(3, 9, dtype=torch.long)
    for row, s in zip(batch, seqs, strict=True):
        if padding == "post":
            row[: len(s)] = torch.tensor(s)
        else:
            row[9 - len(s) :] = torch.tensor(s)
    torch.testing.assert_close(model(batch, torch.tensor([len(s) for s in seqs])), alone, atol=1e-5, rtol=1e-5)
