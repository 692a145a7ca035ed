"""Interrupting and resuming training, periodic checkpoints, diverging losses, and untrusted checkpoints."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import safetensors.torch
import torch

import rnnkit.tasks.classification.model
import rnnkit.train.loop
from rnnkit import TextClassifier, __version__, load_model
from rnnkit.cli import main, resume_command
from rnnkit.errors import CheckpointError, ConfigError, TrainingDiverged, TrainingInterrupted
from rnnkit.train import checkpoint

from .conftest import SMALL, make_corpus

PARAMS = {**SMALL, "epochs": 3, "ngram_buckets": 1024}  # 216 training texts: 14 batches per epoch


def _history(clf: TextClassifier) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "seconds"} for record in clf.history_]


def _interrupt_at_step(monkeypatch, step: int) -> None:
    """Deliver a real SIGINT while the ``step``-th training step runs (as Ctrl-C would)."""
    original, calls = rnnkit.train.loop._train_step, [0]

    def step_then_interrupt(*args, **kwargs):
        calls[0] += 1
        if calls[0] == step:
            signal.raise_signal(signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(rnnkit.train.loop, "_train_step", step_then_interrupt)


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(240)


@pytest.fixture(scope="module")
def uninterrupted(corpus):
    return TextClassifier(**PARAMS).fit(*corpus)


# Mid-epoch, after the last batch of an epoch (before its validation), and the first batch of the next.
@pytest.mark.parametrize("step", [5, 14, 15])
def test_an_interrupted_and_resumed_run_ends_exactly_like_an_uninterrupted_one(
    corpus, uninterrupted, tmp_path, monkeypatch, step
):
    _interrupt_at_step(monkeypatch, step)
    with pytest.raises(TrainingInterrupted) as caught:
        TextClassifier(**PARAMS).fit(*corpus, checkpoint_dir=tmp_path / "ck")
    epoch, batch = (step - 1) // 14 + 1, (step - 1) % 14 + 1
    assert str(caught.value) == (
        f"training interrupted at epoch {epoch}, batch {batch} of 14; its state is saved in {tmp_path / 'ck'}"
    )
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["checkpoint.json", "state.safetensors"]
    monkeypatch.undo()

    resumed = TextClassifier(**PARAMS).fit(*corpus, checkpoint_dir=tmp_path / "ck", resume=True)
    assert _history(resumed) == _history(uninterrupted)
    texts = corpus[0][:50]
    assert np.array_equal(resumed.predict_proba(texts), uninterrupted.predict_proba(texts))


def test_a_second_ctrl_c_interrupts_at_once(corpus, tmp_path, monkeypatch):
    original, calls = rnnkit.train.loop._train_step, [0]

    def impatient(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 3:
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(rnnkit.train.loop, "_train_step", impatient)
    with pytest.raises(KeyboardInterrupt):
        TextClassifier(**PARAMS).fit(*corpus, checkpoint_dir=tmp_path / "ck")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back


def test_without_a_checkpoint_directory_ctrl_c_is_an_ordinary_keyboard_interrupt(corpus, monkeypatch):
    _interrupt_at_step(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        TextClassifier(**PARAMS).fit(*corpus)


def test_periodic_checkpoints_hold_the_latest_state(corpus, tmp_path):
    TextClassifier(**{**PARAMS, "epochs": 1}).fit(*corpus, checkpoint_dir=tmp_path / "ck", checkpoint_every=0.0)
    meta = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())
    assert (meta["progress"]["epoch"], meta["progress"]["batch"]) == (1, 14)  # saved after every batch
    assert meta["identity"]["classes"] == ["neg", "pos"]


def test_resuming_with_other_settings_or_data_is_refused(corpus, tmp_path, monkeypatch):
    _interrupt_at_step(monkeypatch, 2)
    with pytest.raises(TrainingInterrupted):
        TextClassifier(**PARAMS).fit(*corpus, checkpoint_dir=tmp_path / "ck")
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match=re.escape("made with other settings: dropout 0.3 (now 0.5)")):
        TextClassifier(**{**PARAMS, "dropout": 0.5}).fit(*corpus, checkpoint_dir=tmp_path / "ck", resume=True)
    texts, labels = corpus
    with pytest.raises(CheckpointError, match=re.escape("made with other training or validation data")):
        TextClassifier(**PARAMS).fit(texts[:-1], labels[:-1], checkpoint_dir=tmp_path / "ck", resume=True)


def test_a_nan_loss_stops_training_naming_the_batch_and_keeps_the_last_good_checkpoint(corpus, tmp_path, monkeypatch):
    original, calls = rnnkit.tasks.classification.model.weighted_loss, [0]

    def nan_on_the_sixth(logits, targets, weights):
        calls[0] += 1
        loss, weight = original(logits, targets, weights)
        return (loss * float("nan") if calls[0] == 6 else loss), weight

    monkeypatch.setattr(rnnkit.tasks.classification.model, "weighted_loss", nan_on_the_sixth)
    with pytest.raises(TrainingDiverged) as caught:
        TextClassifier(**PARAMS).fit(*corpus, checkpoint_dir=tmp_path / "ck", checkpoint_every=0.0)
    assert str(caught.value) == (
        "training diverged at epoch 1, batch 6 of 14 (the loss is nan): lower lr (now 0.01) or clip_norm (now 1); "
        f"the last good state is in {tmp_path / 'ck'}: resume from it with a lower lr"
    )
    meta = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())
    assert meta["progress"]["batch"] == 5
    state = safetensors.torch.load_file(str(tmp_path / "ck" / "state.safetensors"))
    assert all(torch.isfinite(t).all() for name, t in state.items() if t.is_floating_point())


def test_an_infinite_gradient_stops_training_before_the_weights_change(corpus, monkeypatch):
    original, calls = torch.nn.utils.clip_grad_norm_, [0]

    def infinite_on_the_fourth(parameters, max_norm):
        calls[0] += 1
        norm = original(parameters, max_norm)
        return torch.tensor(float("inf")) if calls[0] == 4 else norm

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", infinite_on_the_fourth)
    clf = TextClassifier(**{**PARAMS, "clip_norm": None})
    with pytest.raises(TrainingDiverged, match=re.escape("at epoch 1, batch 4 of 14 (the gradient norm is inf)")):
        clf.fit(*corpus)


def test_a_diverged_run_resumes_from_its_last_good_state_with_a_lower_lr(corpus, tmp_path, monkeypatch):
    _interrupt_at_step(monkeypatch, 3)
    with pytest.raises(TrainingInterrupted):
        TextClassifier(**PARAMS).fit(*corpus, checkpoint_dir=tmp_path / "ck")
    monkeypatch.undo()
    resumed_rates = []
    original = checkpoint.resume

    def spy(*args):
        result = original(*args)
        resumed_rates.extend(group["lr"] for group in args[2].param_groups)
        return result

    monkeypatch.setattr(checkpoint, "resume", spy)
    TextClassifier(**{**PARAMS, "lr": 0.005}).fit(*corpus, checkpoint_dir=tmp_path / "ck", resume=True)
    assert resumed_rates == [0.005, 0.005 * 50]  # the recurrent model and the n-gram bag, scaled by 0.005 / 0.01


def test_a_signal_the_process_ignores_stays_ignored(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(signal, "getsignal", lambda number: signal.SIG_IGN)
    installed = []
    monkeypatch.setattr(signal, "signal", lambda number, handler: installed.append(number))
    TextClassifier(**{**PARAMS, "epochs": 1}).fit(*corpus, checkpoint_dir=tmp_path / "ck")
    assert installed == []


def test_resume_needs_a_checkpoint_directory(corpus):
    with pytest.raises(ConfigError, match="resume=True needs the checkpoint_dir"):
        TextClassifier(**PARAMS).fit(*corpus, resume=True)


@pytest.fixture
def checkpoint_dir(corpus, tmp_path_factory):
    path = tmp_path_factory.mktemp("ck") / "ck"
    TextClassifier(**{**PARAMS, "epochs": 1}).fit(*corpus, checkpoint_dir=path, checkpoint_every=0.0)
    return path


def _edit_meta(path, change):
    meta = json.loads((path / "checkpoint.json").read_text())
    change(meta)
    (path / "checkpoint.json").write_text(json.dumps(meta))


def _edit_state(path, change):
    state = safetensors.torch.load_file(str(path / "state.safetensors"))
    change(state)
    safetensors.torch.save_file(state, str(path / "state.safetensors"))


_RECORD = {"epoch": 1, "loss": 0.5, "accuracy": 0.5, "seconds": 1.0, "val_loss": 0.5, "val_accuracy": 0.5}


def _history_of(epochs: int) -> list[dict]:
    return [{**_RECORD, "epoch": i} for i in range(1, epochs + 1)]


CORRUPT_CHECKPOINTS = {
    "missing json": (lambda p: (p / "checkpoint.json").unlink(), "not a training checkpoint (no checkpoint.json)"),
    "json garbage": (lambda p: (p / "checkpoint.json").write_bytes(b"\xff{"), "checkpoint.json: not readable JSON"),
    "foreign json": (lambda p: (p / "checkpoint.json").write_text("[]"), "not an rnnkit training checkpoint"),
    "newer format": (
        lambda p: _edit_meta(p, lambda m: m.update(format_version=99, rnnkit_version="9.9")),
        f"written by rnnkit 9.9; this rnnkit {__version__} cannot resume it",
    ),
    "progress altered": (
        lambda p: _edit_meta(p, lambda m: m["progress"].update(batch=-3)),
        "the training progress is incomplete or altered",
    ),
    "progress unknown key": (
        lambda p: _edit_meta(p, lambda m: m["progress"].update(evil=1)),
        "the training progress is incomplete or altered",
    ),
    "optimizer index out of range": (
        lambda p: _edit_meta(p, lambda m: m["optimizer"].update(states=[0, 999])),
        "the optimizer state does not fit this model",
    ),
    "deeply nested json": (
        lambda p: (p / "checkpoint.json").write_text("[" * 100_000),
        "checkpoint.json: not readable JSON (RecursionError)",
    ),
    "generator state altered": (
        lambda p: _edit_meta(p, lambda m: m["progress"].update(epoch_rng={})),
        "the training progress is incomplete or altered",
    ),
    "history altered": (
        lambda p: _edit_meta(p, lambda m: m["progress"].update(epoch=2, batch=0, history=[{"epoch": 1}])),
        "the training progress is incomplete or altered",
    ),
    "batch beyond the epoch": (
        lambda p: _edit_meta(p, lambda m: m["progress"].update(batch=999)),
        "its batch is past the end of the epoch (altered?)",
    ),
    "epoch beyond the run": (
        lambda p: _edit_meta(p, lambda m: m["progress"].update(epoch=99, history=_history_of(98))),
        "its progress does not fit this run (altered?)",
    ),
    "torch generator state zeroed": (
        lambda p: _edit_state(p, lambda s: s.update(torch_rng=torch.zeros_like(s["torch_rng"]))),
        "state.safetensors: cannot be restored",
    ),
    "missing state file": (
        lambda p: (p / "state.safetensors").unlink(),
        "state.safetensors: not a readable safetensors file",
    ),
    "state garbage": (
        lambda p: (p / "state.safetensors").write_bytes(b"\x10" + b"\x00" * 20),
        "state.safetensors: not a readable safetensors file",
    ),
    "extra tensor": (
        lambda p: _edit_state(p, lambda s: s.update(evil=torch.zeros(2))),
        "tensors do not match this model and optimizer; unexpected evil",
    ),
    "wrong shape": (
        lambda p: _edit_state(p, lambda s: s.update({"model/head.bias": torch.zeros(4)})),
        "tensor model/head.bias is (4,) F32, this model and optimizer needs (1,) F32",
    ),
}


@pytest.mark.parametrize("case", CORRUPT_CHECKPOINTS, ids=list(CORRUPT_CHECKPOINTS))
def test_corrupt_checkpoints_are_refused_with_a_clear_message(corpus, checkpoint_dir, case):
    corrupt, message = CORRUPT_CHECKPOINTS[case]
    corrupt(checkpoint_dir)
    with pytest.raises(CheckpointError, match=re.escape(message)):
        TextClassifier(**{**PARAMS, "epochs": 1}).fit(*corpus, checkpoint_dir=checkpoint_dir, resume=True)


# -- the command line ---------------------------------------------------------------------------------

FLAGS = ["--hidden-size=16", "--embedding-dim=16", "--batch-size=16", "--lr=0.01", "--ngram-buckets=1024"]


def test_resume_command_replaces_an_earlier_resume_option():
    argv = ["train", "data file.csv", "--resume", "old", "--lr=0.1", "--resume=older"]
    assert resume_command(argv, "new ck") == "rnnkit train 'data file.csv' --lr=0.1 --resume 'new ck'"


def test_cli_ctrl_c_prints_how_to_resume_and_the_resumed_run_matches(train_csv, tmp_path, monkeypatch, capsys):
    base = ["train", str(train_csv), "--quiet", "--epochs=2", *FLAGS]
    assert main([*base, "--out", str(tmp_path / "reference")]) == 0
    out = tmp_path / "m"
    _interrupt_at_step(monkeypatch, 9)
    assert main([*base, "--out", str(out)]) == 130
    ck = tmp_path / "m.checkpoint"
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"rnnkit: training interrupted at epoch 1, batch 9 of 14; its state is saved in {ck}",
        f"resume with: rnnkit train {train_csv} --quiet --epochs=2 {' '.join(FLAGS)} --out {out} --resume {ck}",
    ]
    assert not out.exists()  # no half-written bundle
    monkeypatch.undo()

    assert main(["train", str(train_csv), "--out", str(out), "--quiet", "--epochs=2", *FLAGS]) == 2
    assert capsys.readouterr().err == (
        f"rnnkit: error: {ck} holds the checkpoint of an interrupted run: "
        f"resume it with --resume {ck}, or delete it to start over\n"
    )
    assert main([*base, "--out", str(out), "--resume", str(ck)]) == 0
    assert not ck.exists()  # consumed once the model is saved
    texts = make_corpus(30, seed=5)[0]
    reference = load_model(tmp_path / "reference").predict_proba(texts)
    np.testing.assert_array_equal(load_model(out).predict_proba(texts), reference)


def test_cli_resume_from_a_directory_that_is_not_a_checkpoint(train_csv, tmp_path, capsys):
    assert main(["train", str(train_csv), "--out", str(tmp_path / "m"), "--resume", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err == f"rnnkit: error: {tmp_path / 'nothing'}: no such checkpoint directory\n"


def test_sigkill_at_any_moment_leaves_the_previous_or_the_next_complete_state(train_csv, tmp_path):
    """Kill training (SIGKILL: no chance to clean up) at random moments while it writes a checkpoint
    after every batch and then the bundle: whatever is on disk must be complete."""
    out, ck = tmp_path / "m", tmp_path / "m.checkpoint"
    command = [sys.executable, "-m", "rnnkit.cli", "train", str(train_csv), "--out", str(out), "--quiet"]
    command += ["--epochs=2", "--checkpoint-every=0.000001", *FLAGS]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    full_run = time.perf_counter() - started
    assert out.is_dir() and not ck.exists()
    for fraction in np.random.default_rng(0).uniform(0.4, 1.0, size=4):
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(ck, ignore_errors=True)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            process.wait(timeout=fraction * full_run)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if out.exists():
            load_model(out)  # complete, or it raises
        if ck.exists():
            assert sorted(p.name for p in ck.iterdir()) == ["checkpoint.json", "state.safetensors"]
            assert json.loads((ck / "checkpoint.json").read_text())["progress"]["batch"] >= 1
            safetensors.torch.load_file(str(ck / "state.safetensors"))


def test_a_run_with_pretrained_vectors_resumes_under_the_options_it_was_given(corpus, tmp_path, monkeypatch):
    """The vector file sets the embedding size; the checkpoint still matches the options as given."""
    vectors = tmp_path / "v.txt"
    vectors.write_text("good 0.1 0.2 0.3\nbad -0.1 -0.2 -0.3\n", encoding="utf-8")
    params = {**PARAMS, "epochs": 1, "embeddings": str(vectors)}
    _interrupt_at_step(monkeypatch, 3)
    with pytest.raises(TrainingInterrupted):
        TextClassifier(**params).fit(*corpus, checkpoint_dir=tmp_path / "ck")
    monkeypatch.undo()
    checkpoint.check_resumable(tmp_path / "ck", TextClassifier(**params).get_params())  # what the CLI checks
    resumed = TextClassifier(**params).fit(*corpus, checkpoint_dir=tmp_path / "ck", resume=True)
    assert resumed.params_["embedding_dim"] == 3
