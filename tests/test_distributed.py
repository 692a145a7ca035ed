"""Data-parallel training: two processes (gloo, a file rendezvous) against one process on whole batches.

One spawn of two ranks runs every scenario in turn (starting processes costs more than the tiny
trainings); the tests below read what each rank reported. The references are computed here, in one
process, by the same loop without a process group.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.cli import main, resume_command
from rnnkit.errors import ConfigError, DataError, TrainingInterrupted
from rnnkit.tasks.classification.model import ClassificationExamples, RNNClassifier
from rnnkit.tasks.language_model.model import TextStream
from rnnkit.text.batches import Ragged
from rnnkit.train import distributed, loop
from rnnkit.train.checkpoint import Checkpoints
from rnnkit.train.distributed import Replicas
from rnnkit.train.loop import TrainSettings, train

from .conftest import make_corpus, write_csv

SIZE = 2
# 21 items in batches of 5: every epoch ends on a batch of one item, so one rank's share is empty.
SETTINGS = TrainSettings(batch_size=5, epochs=3, lr=0.01, patience=5, seed=0, verbose=False)
CLASS_WEIGHTS = torch.tensor([1.0, 3.0])  # uneven weights: the batch loss is a ratio of weighted sums
STEP_BATCHES = [np.array([0, 5, 7, 9, 11]), np.array([3])]  # shares of 3 and 2 items; of 1 and none


def _examples(n: int, seed: int) -> ClassificationExamples:
    rng = np.random.default_rng(seed)
    texts = [rng.integers(4, 50, size=rng.integers(3, 20)) for _ in range(n)]
    return ClassificationExamples(Ragged.from_sequences(texts), rng.integers(0, 2, size=n), CLASS_WEIGHTS)


def _model(dropout: float) -> RNNClassifier:
    torch.manual_seed(0)
    return RNNClassifier(50, 2, hidden_size=8, embedding_dim=8, dropout=dropout)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _history(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


def _steps(replicas_of) -> list[tuple]:
    """Plain SGD at lr 1 (the update is minus the gradient) on ``STEP_BATCHES``: (sums, flags, weights)."""
    model, data = _model(0.0), _examples(21, 1)
    replicas = replicas_of(model, data)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    settings, out = TrainSettings(clip_norm=None), []
    flags = (distributed.world().rank == 1,) * 2  # rank 1 asks to stop and says a save is due
    for idx in STEP_BATCHES:
        sums, agreed = loop._train_step(model, optimizer, data, idx, settings, replicas, lambda: flags)
        out.append((sums, agreed, _weights(model)))
    if replicas:  # every gradient crosses once per step
        out.append((replicas.reduced_bytes, len(STEP_BATCHES) * replicas.gradient_bytes))
    return out


def _fit(dropout: float, data=None, **checkpointing) -> tuple[list[dict], dict[str, torch.Tensor]]:
    model = _model(dropout)
    history = train(model, data or _examples(21, 1), _examples(10, 2), SETTINGS, **checkpointing)
    return _history(history), _weights(model)


@dataclass
class _SignalAt:
    """Training data that sends this process SIGINT (as Ctrl-C would) while computing its ``at``-th loss."""

    inner: ClassificationExamples
    at: int | None
    calls: int = 0

    @property
    def lengths(self) -> np.ndarray:
        return self.inner.lengths

    def loss(self, model, idx):
        self.calls += 1
        if self.calls == self.at:
            signal.raise_signal(signal.SIGINT)
        return self.inner.loss(model, idx)

    def evaluate(self, model):
        return self.inner.evaluate(model)


def _rank(rank: int, init: str, out: Path) -> None:
    report: dict = {}
    with distributed.session("gloo", init, rank, SIZE) as world:
        report["world"], report["threads"] = world, torch.get_num_threads()
        report["steps"] = _steps(lambda model, data: Replicas(model, data, world, seed=0))
        report["plain"] = _fit(0.0)
        report["dropout"] = _fit(0.3)
        where = Checkpoints.of_run(out / "checkpoint", None, {"lr": SETTINGS.lr})
        try:
            _fit(0.3, _SignalAt(_examples(21, 1), at=8 if rank == 1 else None), checkpoints=where)
        except TrainingInterrupted as stopped:
            report["interrupted"] = str(stopped)
        report["resumed"] = _fit(0.3, checkpoints=where, resume=True)
        try:  # rank 1 reads one item fewer
            _fit(0.0, _examples(21 - rank, 1))
        except DataError as refused:
            report["refused"] = str(refused)
    torch.save(report, out / f"rank{rank}.pt")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("ranks")
    init = f"file://{out / 'rendezvous'}"
    torch.multiprocessing.start_processes(_rank, args=(init, out), nprocs=SIZE, start_method="spawn")
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(SIZE)]


def _assert_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6, msg=name)


def test_each_process_gets_its_share_of_the_cores(ranks):
    assert [r["world"] for r in ranks] == [distributed.World(0, 2), distributed.World(1, 2)]
    assert [r["threads"] for r in ranks] == [max(1, len(os.sched_getaffinity(0)) // SIZE)] * SIZE


def test_two_ranks_on_shares_of_a_batch_make_the_update_of_one_process_on_the_whole_batch(ranks):
    reference = _steps(lambda model, data: None)
    for report in ranks:
        reduced, expected = report["steps"].pop()
        assert reduced == expected == len(STEP_BATCHES) * 4 * sum(p.numel() for p in _model(0.0).parameters())
        for (sums, flags, weights), (one_sums, _, one_weights) in zip(report["steps"], reference, strict=True):
            assert sums[2:] == one_sums[2:] and sums[0] == pytest.approx(one_sums[0], rel=1e-6)
            assert sums[1] == one_sums[1]  # the whole batch's weight, not a share's
            assert flags == (True, False)  # a stop asked on any rank; a save only when rank 0 says it is due
            _assert_close(weights, one_weights)


def test_training_on_two_ranks_matches_one_process_and_leaves_the_same_weights_on_both(ranks):
    history, weights = _fit(0.0)  # one process: the reference
    for report in ranks:
        assert len(report["plain"][0]) == len(history)
        for record, one in zip(report["plain"][0], history, strict=True):
            assert record == pytest.approx(one, rel=1e-4)
        _assert_close(report["plain"][1], weights)
    for name in ("plain", "dropout"):  # with dropout, each rank draws its own masks, yet all agree
        assert ranks[0][name][0] == ranks[1][name][0]
        for key, value in ranks[0][name][1].items():
            assert torch.equal(value, ranks[1][name][1][key]), key


def test_a_signal_on_one_rank_stops_both_after_the_same_batch_and_the_resumed_run_matches(ranks, tmp_path):
    # Rank 1 was signalled during its 8th step: epoch 2, batch 3 of 5.
    messages = [r["interrupted"] for r in ranks]
    assert messages[0] == messages[1] and "training interrupted at epoch 2, batch 3 of 5" in messages[0]
    for report in ranks:
        assert report["resumed"][0] == report["dropout"][0]
        for key, value in report["dropout"][1].items():
            assert torch.equal(report["resumed"][1][key], value), key


def test_ranks_reading_different_data_are_refused_instead_of_waiting_for_each_other(ranks):
    for report in ranks:
        assert report["refused"].startswith("the processes read different training data (rank 0: (21, ")


def test_a_language_model_stream_deals_its_rows_out_and_every_rank_reads_every_window():
    stream = TextStream(np.arange(1000), batch_size=6, steps=7)
    parts = [stream.shard(rank, 4) for rank in range(4)]  # 6 rows over 4 ranks: 2, 2, 1, 1
    assert [len(part.windows) for part in parts] == [len(stream.windows)] * 4
    for k, (inputs, targets) in enumerate(stream.windows):  # (time, rows)
        for rank, part in enumerate(parts):
            assert torch.equal(part.windows[k][0], inputs[:, rank::4])
            assert torch.equal(part.windows[k][1], targets[:, rank::4])
    with pytest.raises(ConfigError, match="batch_size 6 gives fewer rows than the 8 training processes"):
        stream.shard(0, 8)


def test_single_process_runs_have_no_process_group():
    assert distributed.world() == distributed.World(0, 1) and distributed.identity() == {}


# -- the command line: torchrun and --workers --------------------------------------------------------------

OPTIONS = ["--epochs", "3", "--hidden-size", "8", "--embedding-dim", "8", "--batch-size", "16", "--no-linear"]


def _command(*args: str) -> list[str]:
    return [sys.executable, *args]


def _environment() -> dict[str, str]:
    source = str(Path(__import__("rnnkit").__file__).parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}


def test_torchrun_trains_with_two_processes_and_rank_0_alone_writes_one_bundle(tmp_path):
    texts, labels = make_corpus(200)
    data = write_csv(tmp_path / "train.csv", texts, labels)
    torchrun = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "rnnkit", "train"]
    run = subprocess.run(
        _command(*torchrun, str(data), "--out", str(tmp_path / "model"), *OPTIONS),
        capture_output=True,
        text=True,
        env=_environment(),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("model saved to") == 1 and run.stdout.count("epoch 1/3") == 1
    assert "distributed: 2 processes (gloo" in run.stdout and "batch_size 16 items of all processes" in run.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "train.csv"]  # no checkpoint, no strays
    setup = json.loads((tmp_path / "model" / "metrics.json").read_text())["distributed"]
    assert setup == {"processes": 2, "backend": "gloo", "batch_size": 16, "batch_size_per_process": 8.0, "lr": 0.002}
    assert "Distributed over 2 processes (gloo)" in (tmp_path / "model" / "MODEL_CARD.md").read_text()


def test_workers_shortcut_stops_every_process_on_ctrl_c_with_a_resumable_checkpoint(tmp_path):
    texts, labels = make_corpus(200)
    data = write_csv(tmp_path / "train.csv", texts, labels)
    out = tmp_path / "model"
    command = ["-m", "rnnkit", "train", str(data), "--out", str(out), "--workers", "2", *OPTIONS]
    command[command.index("--epochs") + 1] = "1000"  # far longer than the test waits
    launcher = subprocess.Popen(
        _command(*command, "--patience", "1000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    for line in launcher.stdout:
        if line.startswith("epoch 1/1000"):
            break
    launcher.send_signal(signal.SIGINT)
    _, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode == 130, stderr
    lines = stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("rnnkit: training interrupted at epoch"), stderr
    assert lines[1].startswith("resume with: rnnkit train") and "--workers 2" in lines[1]
    assert lines[1].endswith(f"--patience 1000 --resume {out}.checkpoint")
    assert sorted(p.name for p in Path(f"{out}.checkpoint").iterdir()) == ["checkpoint.json", "state.safetensors"]
    assert not out.exists()


def test_workers_must_be_at_least_one_and_backends_are_named(train_csv, tmp_path, capsys):
    assert main(["train", str(train_csv), "--out", str(tmp_path / "m"), "--workers", "0"]) == 2
    assert capsys.readouterr().err == "rnnkit: error: --workers must be a number of processes >= 1; got 0\n"
    with pytest.raises(SystemExit) as usage:
        main(["train", str(train_csv), "--dist-backend", "mpi"])
    err = capsys.readouterr().err
    assert usage.value.code == 2 and "argument --dist-backend: invalid choice: 'mpi'" in err and err.count("\n") == 1


def test_under_torchrun_the_resume_command_keeps_torchrun(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    again = resume_command(["train", "x.csv"], "ck")
    assert again == "torchrun [the same torchrun options] -m rnnkit train x.csv --resume ck"
    assert resume_command(["train", "x.csv", "--workers", "2"], "ck") == "rnnkit train x.csv --workers 2 --resume ck"


def test_the_backend_is_gloo_on_a_cpu_and_nccl_needs_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert distributed.backend("auto") == distributed.backend("gloo") == "gloo"
    with pytest.raises(Exception, match="the nccl backend needs a CUDA GPU"):
        distributed.backend("nccl")
