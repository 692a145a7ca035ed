"""A tagger ensemble: members that are exactly the runs of their own seeds, tagging by the mean of
their scores, saved and loaded as one bundle, resumed mid-ensemble, and older bundles still loading."""

from __future__ import annotations

import json

import pytest
import torch

from rnnkit import SequenceTagger, load_model
from rnnkit.errors import CheckpointError, ConfigError, TrainingInterrupted
from rnnkit.nn.crf import CRF
from rnnkit.tasks.tagging.encode import collate
from rnnkit.tasks.tagging.model import TaggerEnsemble
from rnnkit.text.batches import bucket_batches

from .conftest import interrupt_training_at
from .tagging_corpus import SMALL_TAGGER, make_tagged

PARAMS = {**SMALL_TAGGER, "epochs": 2, "seed": 3}


@pytest.fixture(scope="module")
def corpus():
    return make_tagged(300), make_tagged(60, seed=1)


@pytest.fixture(scope="module")
def runs(corpus):
    """An ensemble of two, and the two single taggers of its members' seeds."""
    (tokens, tags), _ = corpus
    ensemble = SequenceTagger(**{**PARAMS, "ensemble": 2}).fit(tokens, tags)
    singles = [SequenceTagger(**{**PARAMS, "seed": seed}).fit(tokens, tags) for seed in (3, 4)]
    return ensemble, singles


def test_each_member_is_the_run_of_its_own_seed(runs):
    ensemble, singles = runs
    assert isinstance(ensemble.model_, TaggerEnsemble)
    for member, single in zip(ensemble.model_.members, singles, strict=True):
        expected = single.model_.state_dict()
        assert member.state_dict().keys() == expected.keys()
        assert all(torch.equal(v, expected[k]) for k, v in member.state_dict().items())
    a, b = (m.state_dict()["head.weight"] for m in ensemble.model_.members)
    assert not torch.equal(a, b)  # two seeds, two different networks
    assert [r["member"] for r in ensemble.history_] == [1, 1, 2, 2]
    assert [r["epoch"] for r in ensemble.history_] == [1, 2, 1, 2]
    strip = [{k: v for k, v in r.items() if k not in ("seconds", "member")} for r in ensemble.history_]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for s in singles for r in s.history_]


def test_the_ensemble_tags_by_the_mean_of_its_members_scores(runs, corpus):
    """Reference: the two single taggers' emissions and CRF parameters averaged by hand, decoded by
    brute force over every allowed path (short sentences) and by the CRF's Viterbi (all)."""
    ensemble, singles = runs
    _, (tokens, _) = corpus
    sentences = ensemble._encode(tokens)
    names = ensemble.tag_names_
    crfs = [s.model_.crf for s in singles]
    mean = CRF(len(names))
    with torch.no_grad():
        for name in ("start", "transitions", "end"):
            getattr(mean, name).copy_((getattr(crfs[0], name) + getattr(crfs[1], name)) / 2)
    mean.constrain(crfs[0].allowed_start, crfs[0].allowed_transitions, crfs[0].allowed_end)
    expected: list[list[str]] = [[] for _ in tokens]
    with torch.no_grad():
        for idx in bucket_batches(sentences.lengths, 16):
            batch = collate(sentences, idx)
            emissions = (singles[0].model_(batch) + singles[1].model_(batch)) / 2
            best = mean.decode(emissions, batch.lengths)[0].t()
            for row, i in enumerate(idx):
                expected[i] = [names[t] for t in best[row, : len(tokens[i])]]
    got = ensemble.predict_bioes(tokens)
    assert got == expected
    alone = [s.predict_bioes(tokens) for s in singles]
    assert got != alone[0] and got != alone[1]  # together is not simply one of them


def test_an_ensemble_bundle_loads_and_tags_the_same(runs, corpus, tmp_path):
    ensemble, _ = runs
    _, (tokens, _) = corpus
    bundle = ensemble.save(tmp_path / "model")
    config = json.loads((bundle / "config.json").read_text())
    assert config["params"]["ensemble"] == 2 and config["format_version"] == 2
    loaded = load_model(bundle)
    assert isinstance(loaded.model_, TaggerEnsemble) and len(loaded.model_.members) == 2
    assert loaded.predict(tokens) == ensemble.predict(tokens)
    texts = ["Yesterday Tom met Eliza in Paris ."]
    assert loaded.predict_entities(texts) == ensemble.predict_entities(texts)
    assert (bundle / "learning_curves.png").stat().st_size > 0


def test_a_tagger_bundle_of_format_1_loads_as_one_tagger(runs, corpus, tmp_path):
    _, singles = runs
    _, (tokens, _) = corpus
    bundle = singles[0].save(tmp_path / "model")
    config = json.loads((bundle / "config.json").read_text())
    del config["params"]["ensemble"]
    (bundle / "config.json").write_text(json.dumps({**config, "format_version": 1}))
    loaded = load_model(bundle)
    assert loaded.params_["ensemble"] == 1
    assert loaded.predict(tokens) == singles[0].predict(tokens)


def test_ensemble_must_be_a_positive_integer(corpus):
    (tokens, tags), _ = corpus
    with pytest.raises(ConfigError, match=r"^ensemble must be an integer >= 1; got 0$"):
        SequenceTagger(ensemble=0).fit(tokens, tags)


@pytest.mark.parametrize("step", [5, 40])  # 17 batches an epoch, two epochs a member: 40 is in the second
def test_an_interrupted_ensemble_resumes_to_the_same_model(runs, corpus, tmp_path, monkeypatch, step):
    ensemble, _ = runs
    (tokens, tags), (test_tokens, _) = corpus
    params = {**PARAMS, "ensemble": 2}
    interrupt_training_at(monkeypatch, step)
    with pytest.raises(TrainingInterrupted):
        SequenceTagger(**params).fit(tokens, tags, checkpoint_dir=tmp_path / "ck")
    monkeypatch.undo()
    meta = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())
    assert len(meta["finished"]) == (step > 34)
    resumed = SequenceTagger(**params).fit(tokens, tags, checkpoint_dir=tmp_path / "ck", resume=True)
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in m.history_] for m in (resumed, ensemble)]
    assert strip[0] == strip[1]
    for a, b in zip(resumed.model_.members, ensemble.model_.members, strict=True):
        assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    assert resumed.predict(test_tokens) == ensemble.predict(test_tokens)


def test_a_checkpoint_claiming_every_member_finished_is_refused(corpus, tmp_path, monkeypatch):
    (tokens, tags), _ = corpus
    params = {**PARAMS, "ensemble": 2}
    interrupt_training_at(monkeypatch, 40)
    with pytest.raises(TrainingInterrupted):
        SequenceTagger(**params).fit(tokens, tags, checkpoint_dir=tmp_path / "ck")
    monkeypatch.undo()
    path = tmp_path / "ck" / "checkpoint.json"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "finished": meta["finished"] * 2}))
    with pytest.raises(CheckpointError, match=r"holds 2 trained members of 2 \(altered\?\)$"):
        SequenceTagger(**params).fit(tokens, tags, checkpoint_dir=tmp_path / "ck", resume=True)
    path.write_text(json.dumps({**meta, "finished": [{"epoch": 1}]}))
    with pytest.raises(CheckpointError, match=r"its finished members are incomplete or altered$"):
        SequenceTagger(**params).fit(tokens, tags, checkpoint_dir=tmp_path / "ck", resume=True)


def test_members_predict_sentences_alone_as_in_any_batch(runs, corpus):
    ensemble, _ = runs
    _, (tokens, _) = corpus
    together = ensemble.predict(tokens)
    assert [ensemble.predict([t])[0] for t in tokens[:20]] == together[:20]
