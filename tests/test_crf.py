"""The linear-chain CRF against brute-force enumeration of every tag path, against pytorch-crf, and
against numerical gradients; padding must change nothing and constraints must hold."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torchcrf

from rnnkit.nn.crf import CRF, DISALLOWED, mean_crf


def random_crf(num_tags: int, seed: int = 0) -> CRF:
    """A float64 CRF with parameters far enough from zero that every term matters."""
    torch.manual_seed(seed)
    crf = CRF(num_tags).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def padded_batch(lengths: list[int], num_tags: int, garbage: float = 1.0, dtype=torch.float64):
    """Random emissions ``(time, batch, K)`` and tags, with ``garbage``-sized values past each sequence's end."""
    time, batch = max(lengths), len(lengths)
    emissions = torch.randn(time, batch, num_tags, dtype=dtype)
    tags = torch.randint(num_tags, (time, batch))
    for b, n in enumerate(lengths):
        emissions[n:, b] = garbage * torch.randn(time - n, num_tags, dtype=dtype)
    return emissions, tags, torch.tensor(lengths)


def bio_constraints() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tags O, B-PER, I-PER, B-ORG, I-ORG: I-X only after B-X or I-X and never first; (artificially) no
    sentence may end in B-ORG, so that the end constraint is exercised too."""
    start = torch.tensor([True, True, False, True, False])
    transitions = torch.ones(5, 5, dtype=torch.bool)
    transitions[:, 2] = False
    transitions[:, 4] = False
    transitions[1, 2] = transitions[2, 2] = True
    transitions[3, 4] = transitions[4, 4] = True
    end = torch.tensor([True, True, True, False, True])
    return start, transitions, end


def path_allowed(path, start, transitions, end) -> bool:
    return bool(start[path[0]] and end[path[-1]] and all(transitions[a, b] for a, b in itertools.pairwise(path)))


def path_score(crf: CRF, emissions: torch.Tensor, path) -> float:
    """Score of one tag path over ``emissions (length, K)``, from the raw parameters, term by term."""
    s = crf.start[path[0]].item() + crf.end[path[-1]].item()
    s += sum(emissions[t, tag].item() for t, tag in enumerate(path))
    s += sum(crf.transitions[a, b].item() for a, b in itertools.pairwise(path))
    return s


@pytest.mark.parametrize("constrained", [False, True])
def test_log_partition_and_viterbi_match_brute_force(constrained):
    """Every tag path enumerated (disallowed ones skipped): log-sum-exp of their scores, and the best one."""
    crf = random_crf(3)
    allowed = (torch.ones(3, dtype=torch.bool), torch.ones(3, 3, dtype=torch.bool), torch.ones(3, dtype=torch.bool))
    if constrained:  # 0 -> 0 stays allowed, so every length has an allowed path
        allowed = (torch.tensor([True, False, True]), torch.tensor([[1, 1, 0], [1, 0, 1], [0, 1, 1]]).bool())
        allowed += (torch.tensor([True, True, False]),)
        crf.constrain(*allowed)
    lengths = [1, 4, 2, 3, 4, 1, 3]
    emissions, _, lengths_t = padded_batch(lengths, 3, garbage=100.0)

    log_z = crf.log_partition(emissions, lengths_t)
    with torch.inference_mode():
        paths, scores = crf.decode(emissions, lengths_t)
    for b, n in enumerate(lengths):
        candidates = [p for p in itertools.product(range(3), repeat=n) if path_allowed(p, *allowed)]
        brute = {p: path_score(crf, emissions[:n, b], p) for p in candidates}
        assert log_z[b].item() == pytest.approx(math.log(sum(math.exp(s) for s in brute.values())), abs=1e-10)
        best = max(brute, key=brute.get)
        assert tuple(paths[:n, b].tolist()) == best
        assert scores[b].item() == pytest.approx(brute[best], abs=1e-10)
        assert (paths[n:, b] == 0).all()
    assert paths.dtype == torch.int64 and paths.shape == emissions.shape[:2]


def test_nll_and_gradients_match_pytorch_crf():
    crf = random_crf(5)
    reference = torchcrf.CRF(5).double()
    with torch.no_grad():
        reference.start_transitions.copy_(crf.start)
        reference.end_transitions.copy_(crf.end)
        reference.transitions.copy_(crf.transitions)
    emissions, tags, lengths = padded_batch([7, 1, 4, 7, 2, 5], 5)
    mask = torch.arange(7).unsqueeze(1) < lengths
    weights = torch.rand(6, dtype=torch.float64)  # a different weight per sentence checks each one's gradient

    ours_emissions = emissions.clone().requires_grad_()
    nll = crf.nll(ours_emissions, tags, lengths)
    (nll * weights).sum().backward()
    ref_emissions = emissions.clone().requires_grad_()
    ref_nll = -reference(ref_emissions, tags, mask, reduction="none")
    (ref_nll * weights).sum().backward()

    torch.testing.assert_close(nll, ref_nll, rtol=0, atol=1e-9)
    torch.testing.assert_close(ours_emissions.grad, ref_emissions.grad, rtol=0, atol=1e-9)
    torch.testing.assert_close(crf.start.grad, reference.start_transitions.grad, rtol=0, atol=1e-9)
    torch.testing.assert_close(crf.end.grad, reference.end_transitions.grad, rtol=0, atol=1e-9)
    torch.testing.assert_close(crf.transitions.grad, reference.transitions.grad, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("dtype", "garbage"), [(torch.float64, 1e6), (torch.float32, 1e30)])
def test_padding_changes_nothing(dtype, garbage):
    """A sequence alone equals the same sequence in a batch with longer ones, whose padding is huge noise."""
    crf = random_crf(4).to(dtype)
    crf.constrain(torch.tensor([1, 1, 0, 1]).bool(), torch.rand(4, 4) > 0.3, torch.tensor([1, 0, 1, 1]).bool())
    emissions, tags, lengths = padded_batch([3, 8, 5, 3, 1], 4, garbage=garbage, dtype=dtype)

    def run(emissions, tags, lengths):
        emissions = emissions.clone().requires_grad_()
        crf.zero_grad()
        nll = crf.nll(emissions, tags, lengths)
        nll.sum().backward()
        with torch.inference_mode():
            paths, scores = crf.decode(emissions, lengths)
        grads = [p.grad.clone() for p in crf.parameters()]
        return nll.detach(), emissions.grad, grads, paths, scores

    batched = run(emissions, tags, lengths)
    assert torch.isfinite(batched[0]).all()
    for b, n in enumerate(lengths.tolist()):
        nll, emission_grad, _, paths, scores = run(emissions[:n, b : b + 1], tags[:n, b : b + 1], lengths[b : b + 1])
        torch.testing.assert_close(batched[0][b : b + 1], nll)
        torch.testing.assert_close(batched[1][:n, b : b + 1], emission_grad)
        assert (batched[1][n:, b] == 0).all()  # exactly no gradient into the padding
        assert torch.equal(batched[3][:n, b : b + 1], paths)
        torch.testing.assert_close(batched[4][b : b + 1], scores)

    # Parameter gradients of the batch are the sums of the sentences' own.
    alone = [run(emissions[:n, b : b + 1], tags[:n, b : b + 1], lengths[b : b + 1])[2] for b, n in enumerate([3, 8])]
    _, _, pair_grads, _, _ = run(emissions[:, :2], tags[:, :2], lengths[:2])
    for pair, first, second in zip(pair_grads, *alone, strict=True):
        torch.testing.assert_close(pair, first + second)


def test_gradcheck():
    crf = random_crf(3)
    crf.constrain(
        torch.tensor([1, 1, 0]).bool(), torch.tensor([[1, 0, 1], [1, 1, 1], [0, 1, 1]]).bool(), torch.ones(3).bool()
    )
    emissions, tags, lengths = padded_batch([3, 1, 2], 3)
    tags = torch.tensor([[0, 1, 0], [2, 0, 0], [2, 2, 1]])  # allowed gold paths (garbage past each end)
    crf.forward = crf.nll  # functional_call calls forward

    def nll(emissions, transitions, start, end):
        params = {"transitions": transitions, "start": start, "end": end}
        return torch.func.functional_call(crf, params, (emissions, tags, lengths))

    inputs = [emissions, crf.transitions.detach(), crf.start.detach(), crf.end.detach()]
    assert torch.autograd.gradcheck(nll, [x.clone().requires_grad_() for x in inputs])


@pytest.mark.parametrize("constrained", [False, True])
def test_nll_is_nonnegative_and_decoded_score_is_the_path_score(constrained):
    crf = random_crf(5, seed=1)
    if constrained:
        crf.constrain(*bio_constraints())
    for scale in [0.1, 1.0, 30.0]:
        emissions, tags, lengths = padded_batch([6, 1, 3, 6, 4], 5)
        emissions *= scale
        with torch.inference_mode():
            paths, scores = crf.decode(emissions, lengths)
        paths = paths.clone()  # a normal tensor, to take part in autograd below
        assert (crf.nll(emissions, tags, lengths) >= 0).all()
        best_nll = crf.nll(emissions, paths, lengths)
        assert (best_nll >= 0).all()
        torch.testing.assert_close(crf.score(emissions, paths, lengths), scores, rtol=0, atol=1e-10)
        torch.testing.assert_close(crf.log_partition(emissions, lengths) - scores, best_nll, rtol=0, atol=1e-10)
    if constrained:  # a disallowed gold path costs at least the penalty
        tags[0, 0] = 2
        assert crf.nll(emissions, tags, lengths)[0] > -DISALLOWED / 2


def test_nll_of_a_near_certain_path_is_small_but_not_negative():
    crf = random_crf(5, seed=4)
    emissions, tags, lengths = padded_batch([6, 1, 3, 6, 4], 5)
    emissions += 60.0 * torch.nn.functional.one_hot(tags, 5)
    nll = crf.nll(emissions, tags, lengths)
    assert (nll.abs() < 1e-12).all()  # >= 0 up to rounding: the gold score and log Z are summed in different orders
    with torch.inference_mode():
        assert torch.equal(crf.decode(emissions, lengths)[0], torch.where(torch.arange(6)[:, None] < lengths, tags, 0))


def test_decoding_obeys_constraints_against_strong_emissions():
    crf = random_crf(5, seed=2)
    start, transitions, end = bio_constraints()
    crf.constrain(start, transitions, end)
    torch.manual_seed(3)
    emissions, _, lengths = padded_batch([8, 3, 1, 5, 8, 2, 6, 7] * 8, 5)
    emissions *= 20.0  # strong random preferences, often for a disallowed path
    emissions[0, ::2, 2] = 100.0  # start in I-PER
    emissions[2, 1::2, 3] = 100.0  # B-ORG ...
    emissions[3, 1::2, 2] = 100.0  # ... then I-PER
    for b, n in enumerate(lengths.tolist()):  # end in B-ORG
        emissions[n - 1, b, 3] += 100.0 * (b % 3 == 0)
    with torch.inference_mode():
        paths, _ = crf.decode(emissions, lengths)
    for b, n in enumerate(lengths.tolist()):
        assert path_allowed(paths[:n, b].tolist(), start, transitions, end)
    unconstrained = CRF(5)
    unconstrained.load_state_dict(crf.state_dict())
    with torch.inference_mode():
        free_paths, _ = unconstrained.double().decode(emissions, lengths)
    assert not all(path_allowed(free_paths[:n, b].tolist(), start, transitions, end) for b, n in enumerate(lengths))


def test_constraints_stay_out_of_the_state_dict():
    crf = CRF(5)
    crf.constrain(*bio_constraints())
    assert set(crf.state_dict()) == {"transitions", "start", "end"}
    assert not crf.allowed_transitions.all()
    copy = CRF(5)
    copy.load_state_dict(crf.state_dict())  # strict: nothing missing, nothing unexpected
    assert copy.allowed_transitions.all()
    with pytest.raises(ValueError, match="shape"):
        crf.constrain(torch.ones(5).bool(), torch.ones(4, 4).bool(), torch.ones(5).bool())


def test_the_mean_of_crfs_scores_each_path_by_their_mean_score():
    """An ensemble's CRF: with the members' mean emissions, every allowed path scores the mean of its
    scores under the members, so Viterbi finds the path best on average (brute force over all paths)."""
    allowed = bio_constraints()
    crfs = [random_crf(5, seed) for seed in (1, 2)]
    for crf in crfs:
        crf.constrain(*allowed)
    mean = mean_crf(crfs)
    assert torch.equal(mean.allowed_transitions, allowed[1])
    emissions = [padded_batch([4, 2], 5)[0] for _ in crfs]
    together = (emissions[0] + emissions[1]) / 2
    best, scores = mean.decode(together, torch.tensor([4, 2]))
    for b, n in enumerate([4, 2]):
        candidates = [p for p in itertools.product(range(5), repeat=n) if path_allowed(p, *allowed)]
        brute = {
            p: (path_score(crfs[0], emissions[0][:n, b], p) + path_score(crfs[1], emissions[1][:n, b], p)) / 2
            for p in candidates
        }
        winner = max(brute, key=brute.get)
        assert tuple(best[:n, b].tolist()) == winner
        assert scores[b].item() == pytest.approx(brute[winner], abs=1e-10)
