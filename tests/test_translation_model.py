"""The translation network and its decoders: padding counts nowhere, beam search against brute force
over every output, greedy as a beam of one, and the same output in any batch."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.tasks.translation.decode import beam_search, greedy
from rnnkit.tasks.translation.model import Seq2Seq, translation_loss
from rnnkit.text.pipeline import EOS_ID, PAD_ID, SOS_ID


def _model(cell: str = "gru", target_vocab: int = 6, **options) -> Seq2Seq:
    torch.manual_seed(0)
    model = Seq2Seq(9, target_vocab, cell=cell, embedding_dim=8, hidden_size=8, dropout=0.0, **options)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)  # sharper distributions: hypotheses differ clearly
    return model.eval()


def _batch(sentences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in sentences])
    ids = torch.full((int(lengths.max()), len(sentences)), PAD_ID)
    for b, s in enumerate(sentences):
        ids[: len(s), b] = torch.tensor(s)
    return ids, lengths


SOURCES = [[4, 5, 6, 7], [8, 4], [5], [6, 6, 7, 8, 4, 5]]


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("tie_weights", [False, True])
@pytest.mark.parametrize("input_feeding", [False, True])
def test_the_loss_of_a_batch_is_the_sum_over_its_sentences_alone(cell, tie_weights, input_feeding):
    model = _model(cell, tie_weights=tie_weights, input_feeding=input_feeding)
    targets = [[SOS_ID, 4, 5, EOS_ID], [SOS_ID, 5, EOS_ID], [SOS_ID, 4, 4, 5, 4, EOS_ID], [SOS_ID, EOS_ID]]
    source, lengths = _batch(SOURCES)
    target, _ = _batch(targets)
    total, count = translation_loss(model(source, lengths, target), target, smoothing=0.1)
    alone = [
        translation_loss(model(*_batch([s]), _batch([t])[0]), _batch([t])[0], 0.1)
        for s, t in zip(SOURCES, targets, strict=True)
    ]
    assert count == sum(len(t) - 1 for t in targets)
    assert total.item() == pytest.approx(sum(a[0].item() for a in alone), rel=1e-5)


@pytest.mark.parametrize("input_feeding", [False, True])
def test_teacher_forcing_scores_the_steps_the_decoder_takes_one_by_one(input_feeding):
    model = _model(target_vocab=8, input_feeding=input_feeding)
    targets = [[SOS_ID, 4, 5, EOS_ID], [SOS_ID, 5, EOS_ID], [SOS_ID, 4, 4, 5, 6, EOS_ID], [SOS_ID, EOS_ID]]
    source, lengths = _batch(SOURCES)
    target, _ = _batch(targets)
    with torch.no_grad():
        forced = model(source, lengths, target)
        encoded, state = model.encode(source, lengths)
        steps = []
        for t in range(target.size(0) - 1):
            scores, state = model.step(target[t], encoded, state)
            steps.append(scores)
    real = target[1:] != PAD_ID
    torch.testing.assert_close(forced, torch.stack(steps)[real], rtol=1e-5, atol=1e-5)


@torch.no_grad()
def _log_probability(model: Seq2Seq, source: list[int], output: list[int]) -> float:
    target = torch.tensor([SOS_ID, *output, EOS_ID])[:, None]
    scores = model(*_batch([source]), target)
    scores[:, [PAD_ID, 1, SOS_ID]] = float("-inf")  # as the decoders never produce them
    return float(torch.log_softmax(scores.double(), dim=1).gather(1, target[1:]).sum())


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("input_feeding", [False, True])
def test_a_wide_beam_finds_the_best_output_of_all(alpha, input_feeding):
    """Two real target tokens and a limit of 3 steps: every output is enumerable. The brute force scores
    with teacher forcing (all steps in one call without input feeding), the beam step by step."""
    model = _model(input_feeding=input_feeding)
    source = [4, 5]
    outputs = [list(o) for n in range(3) for o in itertools.product([4, 5], repeat=n)]
    brute = {tuple(o): _log_probability(model, source, o) / ((5 + len(o) + 1) / 6) ** alpha for o in outputs}
    found = beam_search(model, *_batch([source]), beam=16, alpha=alpha, max_ratio=0.0, max_extra=3)
    assert tuple(found[0]) == max(brute, key=brute.get)


def test_greedy_is_a_beam_of_one_and_wider_beams_score_no_worse():
    model = _model(target_vocab=8)
    source, lengths = _batch(SOURCES)
    one = beam_search(model, source, lengths, beam=1, alpha=0.0)
    assert greedy(model, source, lengths) == one
    five = beam_search(model, source, lengths, beam=5, alpha=0.0)
    for s, a, b in zip(SOURCES, one, five, strict=True):
        assert _log_probability(model, s, b) >= _log_probability(model, s, a) - 1e-9
    assert all(len(o) <= 2 * len(s) + 10 - 1 for s, o in zip(SOURCES, five, strict=True))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("input_feeding", [False, True])
def test_a_sentence_gets_the_same_output_in_any_batch(cell, input_feeding):
    model = _model(cell, target_vocab=8, input_feeding=input_feeding)
    together = beam_search(model, *_batch(SOURCES), beam=4)
    assert [beam_search(model, *_batch([s]), beam=4)[0] for s in SOURCES] == together
    assert [greedy(model, *_batch([s]))[0] for s in SOURCES] == greedy(model, *_batch(SOURCES))
    assert beam_search(model, *_batch(SOURCES[::-1]), beam=4) == together[::-1]


def test_examples_give_the_loop_token_weighted_losses_and_greedy_scores_in_item_order(monkeypatch):
    from rnnkit.tasks.translation.examples import Pairs, TranslationExamples

    monkeypatch.setattr("rnnkit.nn.fused.fast_bfloat16", lambda: False)  # training and scoring alike in float32
    model = _model(target_vocab=8)
    targets = [[4, 5], [5], [4, 4, 5, 6], []]
    pairs = Pairs.of(SOURCES, targets)
    seen: list = []
    examples = TranslationExamples(pairs, 0.0, score=lambda outputs: seen.append(outputs) or {"bleu": 1.0})
    total, weight, correct, count = examples.loss(model, [0, 1, 2, 3])
    assert 0 <= correct <= count
    assert count == weight.item() == sum(len(t) + 1 for t in targets)  # every token and each <eos>
    scores = examples.evaluate(model)
    assert scores["loss"] == pytest.approx(total.item() / count, rel=1e-5)
    assert scores["bleu"] == 1.0 and 0 <= scores["accuracy"] <= 1
    assert seen == [greedy(model, *_batch(SOURCES))]
