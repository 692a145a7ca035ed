"""Data-parallel training over several processes (``torchrun``, ``rnnkit train --workers N``).

Inert unless a process group of more than one rank is initialised: then :func:`rnnkit.train.loop.train`
trains through :class:`Replicas`. Every rank holds the whole model and reads the same data, draws the
same batches in the same order (the same seed) and deals each batch out: item ``i`` of a batch (its
items sorted by length) goes to rank ``i % world``, so the shares have similar lengths and every rank
takes the same number of steps. ``batch_size`` is therefore the global batch, and the update is the one
a single process makes on the whole batch: each rank's summed loss is divided by the whole batch's
weight (all-reduced before the backward pass) and the gradients are *summed* across ranks, not
averaged as DistributedDataParallel does by default (the shares' weights differ).

Rank 0 validates and broadcasts the scores, so early stopping and the kept epoch are decided the same
everywhere; a stop request (Ctrl-C, SIGTERM) on any rank stops every rank after the same batch; rank
0 alone writes checkpoints (holding every rank's dropout generator) and bundles.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from rnnkit.errors import ConfigError, DataError

BACKENDS = ("auto", "gloo", "nccl")


@dataclass(frozen=True)
class World:
    """This process's place among the training processes: ``rank`` of ``size``."""

    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        """Whether this process reports and writes (rank 0, or the only process)."""
        return self.rank == 0


def world() -> World:
    """The initialised process group's rank and size; ``World()`` (rank 0 of 1) when there is none."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size())


def launched() -> bool:
    """Whether a launcher (torchrun) started this process as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def launched_rank() -> int:
    """The rank a launcher gave this process (0 when not launched): known before the group exists."""
    return int(os.environ.get("RANK", "0")) if launched() else 0


def identity() -> dict:
    """What a checkpoint must share with the run resuming it: the number of processes, beyond one
    (each rank's batches and dropout masks depend on it)."""
    size = world().size
    return {"processes": size} if size > 1 else {}


def backend(choice: str) -> str:
    """The ``torch.distributed`` backend of ``--dist-backend``: rnnkit's tensors live on the CPU, so
    gloo carries them; with a CUDA GPU, NCCL is set up beside it (for CUDA tensors)."""
    if choice not in BACKENDS:
        raise ConfigError(f"the distributed backend must be one of {', '.join(BACKENDS)}; got {choice!r}")
    gpu = torch.cuda.is_available()
    if choice == "nccl" and not gpu:
        raise ConfigError("the nccl backend needs a CUDA GPU and this machine has none; use gloo")
    return "cpu:gloo,cuda:nccl" if gpu and choice != "gloo" else "gloo"


def threads_per_process(local_size: int) -> int:
    """PyTorch threads for each of ``local_size`` processes sharing this machine's cores."""
    return max(1, len(os.sched_getaffinity(0)) // local_size)


@contextmanager
def session(choice: str = "auto", init_method: str = "env://", rank: int = -1, size: int = -1) -> Iterator[World]:
    """The process group for the duration of a run (``env://``: as torchrun describes it; tests pass a
    ``file://`` rendezvous with ``rank`` and ``size``; -1: from the environment), with this process's
    threads set to its share of the cores and the compiled GRU/LSTM loops built by one process per
    machine before the others load them (so they never race the build)."""
    from rnnkit.nn.native import rnn_ops

    dist.init_process_group(backend(choice), init_method=init_method, rank=rank, world_size=size)
    try:
        local_size = int(os.environ.get("LOCAL_WORLD_SIZE", dist.get_world_size()))
        local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        torch.set_num_threads(threads_per_process(local_size))
        if local_rank == 0:
            rnn_ops()
        dist.barrier()
        rnn_ops()
        yield world()
    finally:
        dist.destroy_process_group()


class _Loss(nn.Module):
    """The model and a split's loss as one module, so that DistributedDataParallel sees every forward
    pass (a task's loss may call the model in several ways) and the task sees its own model."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, data, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        return data.loss(self.model, idx)


class Replicas:
    """This rank's replica of the model in a distributed run, and the training loop's collectives.

    Data that batches itself in reading order (a language model's stream: its rows are the batch)
    deals itself out (``shard(rank, size)``); other data is dealt batch by batch.
    """

    def __init__(self, model: nn.Module, data, current: World, seed: int | None):
        """``seed``: a fresh run's seed, from which each rank seeds its own dropout generator (None
        when resuming: the checkpoint restores it)."""
        self.world = current
        self.dealt = not hasattr(data, "shard")
        self.data = data if self.dealt else data.shard(current.rank, current.size)
        lengths = np.asarray(data.lengths)
        self.all_agree("training data", (len(lengths), int(lengths.sum())))
        if seed is not None:
            torch.manual_seed(int(np.random.SeedSequence([seed, current.rank]).generate_state(1)[0]))
        # Buffers (none trained) are the same on every rank: no need to send rank 0's before every step.
        self.module = DistributedDataParallel(_Loss(model), forward_sync_buffers=False)
        self.module.register_comm_hook(self, _sum_gradients)
        self.gradient_bytes = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
        self.reduced_bytes = 0  # counted by the communication hook: gradients all-reduced so far

    def all_agree(self, what: str, value: tuple[int, ...]) -> None:
        """Refuse to go on (on every rank) unless every rank has the same ``value`` of ``what``: ranks
        reading different data would take different numbers of steps and wait for each other forever."""
        values = [None] * self.world.size
        dist.all_gather_object(values, value)
        if len(set(values)) > 1:
            seen = ", ".join(f"rank {r}: {v}" for r, v in enumerate(values))
            raise DataError(f"the processes read different {what} ({seen}); give every process the same data")

    def forward(
        self, idx: np.ndarray, flags: Callable[[], tuple[bool, bool]]
    ) -> tuple[torch.Tensor, list[float], tuple[bool, bool]]:
        """This rank's summed loss over its share of the batch ``idx``; the whole batch's (summed loss,
        summed weight, correct, counted); and the ``flags()`` (stop requested, checkpoint due), asked
        once the share's loss is computed, as agreed by all ranks: a stop asked anywhere, a save when
        rank 0's clock says so.

        A rank whose share is empty (a last batch with fewer items than ranks) computes the batch's
        first item at weight zero, so that the gradients' all-reduce still meets every rank.
        """
        share = idx[self.world.rank :: self.world.size] if self.dealt else idx
        loss, weight, correct, counted = self.module(self.data, share if len(share) else idx[:1])
        if not len(share):
            loss, weight, correct, counted = loss * 0.0, 0.0, 0, 0
        stop, due = flags()
        totals = torch.tensor(
            [float(loss.detach()), float(weight), correct, counted, stop, due and self.world.main], dtype=torch.float64
        )
        dist.all_reduce(totals)
        values = totals.tolist()
        return loss, [values[0], values[1], int(values[2]), int(values[3])], (values[4] > 0, values[5] > 0)

    def from_main(self, compute: Callable[[], object]) -> object:
        """``compute()`` on rank 0 (validation), its result sent to every rank."""
        box = [compute() if self.world.main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def save(self, write: Callable[[list[torch.Tensor]], None]) -> None:
        """Rank 0 ``write``s a checkpoint holding every rank's PyTorch generator state (its dropout
        masks), rank by rank; every rank returns once it is written: a rank stopping earlier could get
        the launcher to stop rank 0 mid-write."""
        mine = torch.get_rng_state()
        states = [torch.empty_like(mine) for _ in range(self.world.size)]
        dist.all_gather(states, mine)
        if self.world.main:
            write(states)
        dist.barrier()

    def describe(self, batch_size: int, lr: float) -> str:
        """What each step does, for the log: the global batch, its share per process, the traffic."""
        share = f"about {batch_size / self.world.size:g} each" if self.dealt else "its share of the rows each"
        return (
            f"distributed: {self.world.size} processes ({dist.get_backend()}, {torch.get_num_threads()} "
            f"thread(s) each); each step trains on batch_size {batch_size} items of all processes together "
            f"({share}) at lr {lr:g}; {self.gradient_bytes / 1e6:.2f} MB of gradients summed across processes per step"
        )


def _sum_gradients(replicas: Replicas, bucket):  # unannotated: DDP compares the annotations with its types
    """DistributedDataParallel's communication hook: the sum of the ranks' gradients (each rank's loss
    is already divided by the whole batch's weight), not their mean. ``bucket``: a ``dist.GradBucket``;
    returns a ``torch.futures.Future`` of the summed flat gradients."""
    buffer = bucket.buffer()
    replicas.reduced_bytes += buffer.numel() * buffer.element_size()
    return dist.all_reduce(buffer, async_op=True).get_future().then(lambda done: done.value()[0])
