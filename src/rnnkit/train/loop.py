"""The fit loop (Adam, clipping, early stopping, checkpoints, Ctrl-C) and batched inference.

Plain code, no callback framework: one function trains, one function predicts.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm import tqdm

from rnnkit.errors import CheckpointError, TrainingDiverged, TrainingInterrupted
from rnnkit.text.batches import bucket_batches
from rnnkit.train import checkpoint, distributed
from rnnkit.train.checkpoint import Checkpoints, Progress
from rnnkit.train.distributed import Replicas

# What "a better epoch" means for early stopping and for the weights kept at the end: the loss, or
# a score the task's ``evaluate`` reports (higher is better; ties go to the lower loss). Accuracy,
# the figure users read, keeps rising for an epoch or two after the validation loss turns (the
# model grows overconfident on the examples it gets wrong).
MONITORS = ("accuracy", "loss", "f1", "bleu")  # "f1": entity F1, for taggers; "bleu": translators


class Examples(Protocol):
    """One split of a task's data as the loop sees it; the task decides batches' contents and loss."""

    @property
    def lengths(self) -> np.ndarray:
        """``(n,)`` item lengths, for batches of similar lengths."""

    def loss(self, model: nn.Module, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """(summed loss, summed weight, correct, counted) over the items ``idx``: the batch loss is
        the first over the second; accuracy is correct over counted (items or tokens)."""

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Scores over the whole split: ``"loss"`` (as training computes it) and the monitored ones."""

    # Optional: ``batches(batch_size, rng) -> list of index arrays``, one epoch's batches in the order to
    # train on them, for data that must be read in order; without it, shuffled buckets of similar lengths.
    # Optional: ``shard(rank, size) -> Examples``, this rank's part of every batch in a distributed run,
    # for data that deals itself out; without it, each batch's items are dealt out across the ranks.


@dataclass(frozen=True)
class TrainSettings:
    batch_size: int = 64
    epochs: int = 10
    lr: float = 2e-3
    lr_decay: float = 1.0
    ema: float = 0.0
    clip_norm: float | None = 1.0
    patience: int = 2
    monitor: str = "accuracy"
    seed: int = 0
    verbose: bool = True

    @classmethod
    def of(cls, params: dict, epochs: int, patience: int, monitor: str) -> TrainSettings:
        """The settings of an estimator's parameters, with the schedule and monitor resolved."""
        names = ("batch_size", "lr", "lr_decay", "ema", "clip_norm", "seed", "verbose")
        return cls(epochs=epochs, patience=patience, monitor=monitor, **{k: params[k] for k in names})


# Small data needs more epochs: 2,253 DNA sequences make 32 batches an epoch, so ten epochs are 320
# updates, too few to leave the majority class (65% held-out accuracy; 91% after 1,300 updates). With
# ``epochs=None`` a run gets at least this many updates (up to ``MAX_AUTO_EPOCHS`` epochs), and
# ``patience=None`` waits a fifth of them.
MIN_UPDATES = 3000
DEFAULT_EPOCHS, DEFAULT_PATIENCE, MAX_AUTO_EPOCHS = 10, 2, 100


def schedule(
    train_items: int,
    batch_size: int,
    epochs: int | None,
    patience: int | None,
    min_updates: int = MIN_UPDATES,
    max_epochs: int = MAX_AUTO_EPOCHS,
) -> tuple[int, int]:
    """(epochs, patience) with ``None`` resolved: at least ``DEFAULT_EPOCHS`` epochs and ``min_updates``
    updates (up to ``max_epochs``); patience a fifth of the epochs, at least ``DEFAULT_PATIENCE``
    (IMDB: 352 batches, 10 and 2)."""
    if epochs is None:
        batches = max(math.ceil(train_items / batch_size), 1)
        epochs = min(max(DEFAULT_EPOCHS, math.ceil(min_updates / batches)), max_epochs)
    if patience is None:
        patience = max(DEFAULT_PATIENCE, epochs // 5)
    return epochs, patience


def validation_score(record: dict, monitor: str) -> tuple[float, ...]:
    """Higher is better: (score, -loss) or (-loss,)."""
    if monitor == "loss":
        return (-record["val_loss"],)
    return record[f"val_{monitor}"], -record["val_loss"]


def moving_average(decay: float) -> Callable:
    """An exponential moving average of the weights for ``AveragedModel``, whose decay after ``n``
    averaged steps is ``min(decay, (1 + n) / (10 + n))``: early on, while few steps exist, it is
    near their plain mean instead of the random initial weights (as in TensorFlow's
    ``ExponentialMovingAverage(num_updates=...)``), so short runs get an average worth keeping."""

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], steps: torch.Tensor) -> None:
        n = int(steps)
        torch._foreach_lerp_(averaged, current, 1 - min(decay, (1 + n) / (10 + n)))

    return update


class StopOnInterrupt:
    """While active, the first Ctrl-C (SIGINT) or SIGTERM (sent by ``kill``, ``timeout`` and batch
    schedulers) only sets ``requested``: the loop finishes its batch, saves a checkpoint and stops
    cleanly. A second signal acts at once, as usual.

    Only the main thread can handle signals; elsewhere (or with ``enabled=False``) nothing changes,
    and a signal the process was told to ignore (``nohup``, a background job) stays ignored.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, enabled: bool):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested = False
        self.previous: dict[int, object] = {}

    def __enter__(self) -> StopOnInterrupt:
        if self.enabled:
            for number in self.SIGNALS:
                if signal.getsignal(number) is not signal.SIG_IGN:
                    self.previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True
        self._restore()

    def _restore(self) -> None:
        for number, handler in self.previous.items():
            # None: the handler was not set from Python; for SIGINT, Python's own raises KeyboardInterrupt.
            default = signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL
            signal.signal(number, default if handler is None else handler)

    def __exit__(self, *exc: object) -> None:
        self._restore()


class _NotFinite(Exception):
    """A training step met a NaN or infinite loss or gradient (raised before the weights change)."""


def train(
    model: nn.Module,
    train_data: Examples,
    val_data: Examples | None,
    settings: TrainSettings,
    log: Callable[[str], None] = print,
    checkpoints: Checkpoints | None = None,
    resume: bool = False,
) -> list[dict]:
    """Train in place and return the per-epoch history.

    With validation data, training stops after ``patience`` epochs without a better validation score
    (``settings.monitor``) and the weights of the best epoch are restored. The learning rate is
    multiplied by ``settings.lr_decay`` after every epoch.

    With ``settings.ema`` > 0, an exponential moving average of the weights (that decay per step) is
    what gets validated, kept and returned: the average of the last few hundred steps generalizes
    better than the weights of any single step of noisy mini-batch training.

    With ``checkpoints``, the state is saved there every ``checkpoints.every_seconds`` and when
    Ctrl-C or SIGTERM stops the run (:class:`TrainingInterrupted`, after the current batch);
    ``resume`` continues from the checkpoint found there. A NaN or infinite loss or gradient norm
    raises :class:`TrainingDiverged` before the step reaches the weights; the last checkpoint stays.

    In a distributed run (an initialised process group of several ranks, :mod:`rnnkit.train.distributed`)
    every rank calls this with the same data and settings; ``batch_size`` is the batch of all ranks
    together, and every rank returns the same history and weights.
    """
    rng = np.random.default_rng(settings.seed)
    # fused: one pass over each parameter per step instead of a dozen (the embedding alone is millions).
    groups = model.parameter_groups(settings.lr) if hasattr(model, "parameter_groups") else model.parameters()
    optimizer = torch.optim.Adam(groups, lr=settings.lr, fused=True)
    average = AveragedModel(model, multi_avg_fn=moving_average(settings.ema)) if settings.ema else None
    scored = average.module if average else model  # the weights that are validated and kept
    progress, best_state = Progress(), None
    if resume:
        progress, best_state = checkpoint.resume(checkpoints, model, optimizer, average)
        _check_resumed(progress, settings, val_data is not None, checkpoints.directory)
    world = distributed.world()
    replicas = Replicas(model, train_data, world, None if resume else settings.seed) if world.size > 1 else None
    verbose = settings.verbose and world.main
    if replicas and verbose:
        log(replicas.describe(settings.batch_size, settings.lr))

    def write_checkpoint(random_states: list[torch.Tensor] | None = None) -> None:
        checkpoint.save(checkpoints, progress, model, optimizer, average, best_state, random_states)

    def save_checkpoint() -> None:
        if replicas:  # every rank's generator state, written by rank 0
            replicas.save(write_checkpoint)
        else:
            write_checkpoint()

    def flags() -> tuple[bool, bool]:
        """(a stop requested, a periodic checkpoint due), asked once a step's loss is known."""
        every = None if checkpoints is None else checkpoints.every_seconds
        return stop.requested, every is not None and time.monotonic() - last_save >= every

    show_bar = verbose and sys.stdout.isatty()
    last_save = time.monotonic()
    with StopOnInterrupt(enabled=checkpoints is not None) as stop:
        while progress.epoch <= settings.epochs:
            start = time.perf_counter()
            model.train()
            if progress.epoch_rng is None:
                progress.epoch_rng = rng.bit_generator.state
            rng.bit_generator.state = progress.epoch_rng  # a resumed epoch replays the same batches
            if hasattr(train_data, "batches"):  # data read in its own order (a language model's windows)
                batches = train_data.batches(settings.batch_size, rng)
            else:
                batches = bucket_batches(train_data.lengths, settings.batch_size, rng)
            if progress.batch > len(batches):  # only a resumed epoch starts past batch 0
                raise CheckpointError(f"{checkpoints.directory}: its batch is past the end of the epoch (altered?)")
            sums = progress.sums
            bar = tqdm(total=len(batches), initial=progress.batch, disable=not show_bar, leave=False)
            bar.set_description(f"epoch {progress.epoch}/{settings.epochs}")
            with bar:
                while progress.batch < len(batches):
                    idx = batches[progress.batch]
                    try:
                        step, (stop_now, save_now) = _train_step(
                            model, optimizer, train_data, idx, settings, replicas, flags
                        )
                    except _NotFinite as problem:
                        where = f"epoch {progress.epoch}, batch {progress.batch + 1} of {len(batches)}"
                        raise TrainingDiverged(_divergence(where, str(problem), settings, checkpoints)) from None
                    if average:
                        average.update_parameters(model)
                    progress.batch += 1
                    for i, value in enumerate(step):
                        sums[i] += value
                    bar.update()
                    bar.set_postfix(loss=f"{sums[0] / sums[1]:.4f}", refresh=False)
                    if stop_now:
                        save_checkpoint()
                        raise TrainingInterrupted(
                            f"training interrupted at epoch {progress.epoch}, batch {progress.batch} of "
                            f"{len(batches)}; its state is saved in {checkpoints.directory}",
                            str(checkpoints.directory),
                        )
                    if save_now:
                        save_checkpoint()
                        last_save = time.monotonic()
            # Weighted mean over the epoch, computed exactly like the validation loss.
            record = {"epoch": progress.epoch, "loss": sums[0] / sums[1]}
            if sums[3]:  # tasks without an accuracy (forecasts) count nothing
                record["accuracy"] = sums[2] / sums[3]
            if val_data is not None:
                validate = lambda: val_data.evaluate(scored)  # noqa: E731 - on rank 0 alone when distributed
                scores = replicas.from_main(validate) if replicas else validate()
                record |= {f"val_{name}": value for name, value in scores.items()}
            record["seconds"] = time.perf_counter() - start
            progress.history.append(record)
            for group in optimizer.param_groups:
                group["lr"] *= settings.lr_decay
            if verbose:
                log(_format_epoch(record, settings.epochs))
            progress.epoch, progress.batch, progress.epoch_rng, progress.sums = progress.epoch + 1, 0, None, [0.0] * 4
            if val_data is None:
                continue
            score = list(validation_score(record, settings.monitor))
            if progress.best_score is None or score > progress.best_score:
                progress.best_score, progress.stale = score, 0
                best_state = {k: v.detach().clone() for k, v in scored.state_dict().items()}
            else:
                progress.stale += 1
                if progress.stale >= settings.patience:
                    if verbose:
                        log(f"early stop: no better validation {settings.monitor} for {progress.stale} epochs")
                    break
    if best_state is None and average:
        best_state = scored.state_dict()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return progress.history


def _check_resumed(progress: Progress, settings: TrainSettings, validated: bool, where) -> None:
    """Refuse a checkpoint whose position cannot belong to this run (it was altered); the batch is
    checked against the epoch's batches once they are drawn."""
    scores = 1 if settings.monitor == "loss" else 2  # the length of validation_score()
    ok = (
        progress.epoch <= settings.epochs
        and (progress.batch == 0 or progress.sums[1] > 0)
        and progress.stale < settings.patience
        and all(("val_loss" in r) == validated for r in progress.history)
        and (progress.best_score is None) == (not validated or not progress.history)
        and (progress.best_score is None or len(progress.best_score) == scores)
    )
    if not ok:
        raise CheckpointError(f"{where}/{checkpoint.META_FILE}: its progress does not fit this run (altered?)")


def _train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Examples,
    idx: np.ndarray,
    settings: TrainSettings,
    replicas: Replicas | None,
    flags: Callable[[], tuple[bool, bool]],
) -> tuple[tuple[float, float, int, int], tuple[bool, bool]]:
    """One optimizer step on the batch ``idx``: ((summed loss, summed weight, correct, counted), (stop
    requested, checkpoint due)) as ``flags()`` tells after the step.

    With ``replicas`` this rank computes its share of the batch, and the sums and flags are those agreed
    by all ranks, the flags asked once this rank's loss is computed.
    Raises :class:`_NotFinite` when the loss or the gradient norm is NaN or infinite, before the
    optimizer touches the weights (on every rank: both are the same on all of them).
    """
    if replicas is None:
        batch_loss, batch_weight, correct, counted = data.loss(model, idx)
        loss = float(batch_loss.detach())
    else:
        batch_loss, (loss, weight, correct, counted), agreed = replicas.forward(idx, flags)
        batch_weight = batch_loss.new_tensor(weight)
    if not math.isfinite(loss):
        raise _NotFinite(f"the loss is {loss}")
    optimizer.zero_grad(set_to_none=True)
    (batch_loss / batch_weight).backward()
    # Without clipping, an infinite bound measures the norm and leaves the gradients as they are.
    norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip_norm or math.inf))
    if not math.isfinite(norm):
        raise _NotFinite(f"the gradient norm is {norm}")
    optimizer.step()
    return (loss, float(batch_weight), correct, counted), agreed if replicas else flags()


def _divergence(where: str, problem: str, settings: TrainSettings, checkpoints: Checkpoints | None) -> str:
    fix = f"lower lr (now {settings.lr:g})" + (
        f" or clip_norm (now {settings.clip_norm:g})" if settings.clip_norm else " or set clip_norm"
    )
    kept = ""
    if checkpoints is not None and (checkpoints.directory / checkpoint.META_FILE).is_file():
        kept = f"; the last good state is in {checkpoints.directory}: resume from it with a lower lr"
    return f"training diverged at {where} ({problem}): {fix}{kept}"


def _format_epoch(record: dict, epochs: int) -> str:
    text = f"epoch {record['epoch']}/{epochs}  loss {record['loss']:.4f}"
    if "accuracy" in record:
        text += f"  acc {record['accuracy']:.4f}"
    for name, value in record.items():
        if name.startswith("val_") and isinstance(value, float):
            text += f"  {name.replace('accuracy', 'acc')} {value:.4f}"
    return text + f"  ({record['seconds']:.0f}s)"
