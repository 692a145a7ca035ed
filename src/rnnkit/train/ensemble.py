"""Ensembles: several networks trained one after another, each a whole run of its own (its own seed,
so its own initial weights, batches and dropout masks), under one checkpoint.

Members of one architecture trained apart make different mistakes where each is unsure; the task
decides how they predict together (the tagger averages their scores). Members may also train on
different splits (the series classifier's cross-fitting: member ``k`` validates on fold ``k``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
from torch import nn

from rnnkit.train import checkpoint
from rnnkit.train.checkpoint import Checkpoints, Finished
from rnnkit.train.loop import Examples, TrainSettings, train


def train_members(
    count: int,
    build: Callable[[], nn.Module],
    data: Callable[[int], tuple[Examples, Examples | None]],
    settings: TrainSettings,
    log: Callable[[str], None] = print,
    checkpoints: Checkpoints | None = None,
    resume: bool = False,
) -> list[tuple[nn.Module, list[dict]]]:
    """``count`` networks made by ``build()``, member ``k`` (from 0) trained on the training and
    validation data ``data(k)`` with seed ``settings.seed + k`` (``torch.manual_seed`` is set to it
    before ``build``): ``[(model, history), ...]``.

    The checkpoint (see :func:`rnnkit.train.loop.train`) is that of the member under way and holds
    the members trained before it, so ``resume`` continues the ensemble where it stopped.
    """
    first = checkpoint.members_done(checkpoints, count) if resume else 0
    trained: list[tuple[nn.Module, list[dict]]] = []
    for k in range(first, count):
        seed = settings.seed + k
        torch.manual_seed(seed)
        model = build()
        if checkpoints is not None:
            checkpoints.finished = [Finished(member.state_dict(), history) for member, history in trained]
        say = log if count == 1 else (lambda line, k=k: log(f"member {k + 1}/{count}  {line}"))
        resumed = resume and k == first
        history = train(model, *data(k), replace(settings, seed=seed), say, checkpoints, resumed)
        if resumed:  # the members trained before this one come from the checkpoint
            for done in checkpoints.finished:
                member = build()
                member.load_state_dict(done.state)
                trained.append((member.eval(), done.history))
        trained.append((model, history))
    return trained
