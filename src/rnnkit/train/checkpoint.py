"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint is a directory of two files, written atomically like a model bundle (after a crash it
holds the previous complete checkpoint or the new one, never a mix):

* ``checkpoint.json``: what the run is (its settings and a fingerprint of its data, which a resumed
  run must match) and where it is (epoch, batch, per-epoch history, early-stopping state, the
  state of the random generator that shuffles batches, each optimizer group's learning rate);
* ``state.safetensors``: the weights, Adam's moments, the best epoch's weights, the weight average
  and PyTorch's random generator state (dropout; in a distributed run, every rank's), as raw tensors.
  Never pickle.

An ensemble trains its members one after another; its checkpoint is that of the member under way,
plus the kept weights and history of each member already trained (``finished``).

Resuming with the same data and settings replays the same batches with the same dropout masks, so
an interrupted run ends with the same model as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from rnnkit import __version__
from rnnkit.errors import CheckpointError
from rnnkit.store.atomic import write_directory
from rnnkit.store.tensorfile import read_tensors
from rnnkit.train import distributed

FORMAT = "rnnkit-training-checkpoint"
FORMAT_VERSION = 1
META_FILE, STATE_FILE = "checkpoint.json", "state.safetensors"


@dataclass
class Progress:
    """Where the training loop is: the epoch under way and how many of its batches are done."""

    epoch: int = 1
    batch: int = 0
    epoch_rng: dict | None = None  # numpy's generator state when this epoch's batches were drawn
    sums: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])  # loss, weight, correct, seen
    history: list[dict] = field(default_factory=list)
    best_score: list[float] | None = None
    stale: int = 0


@dataclass
class Finished:
    """A member of an ensemble that has been trained: the weights it keeps and its per-epoch history."""

    state: dict[str, torch.Tensor]
    history: list[dict]


@dataclass
class Checkpoints:
    """Where the training loop saves its state and how often; ``identity`` is what a resume must match.

    ``finished``: the ensemble members trained before the one under way, saved with it (and filled
    in by :func:`resume`)."""

    directory: Path
    every_seconds: float | None = None  # None: only when interrupted
    identity: dict = field(default_factory=dict)
    finished: list[Finished] = field(default_factory=list)

    @classmethod
    def of_run(cls, directory, every_seconds: float | None, params: dict, **identity: object) -> Checkpoints | None:
        """The checkpoints of a run (None without a ``directory``): a resume must match the parameters as
        given (``verbose`` aside), the ``identity`` items (the labels, a fingerprint of the data) and the
        number of processes of a distributed run."""
        if directory is None:
            return None
        kept = {k: v for k, v in params.items() if k != "verbose"}
        return cls(Path(directory), every_seconds, {"params": kept, **identity, **distributed.identity()})


def fingerprint(*columns: Sequence) -> str:
    """SHA-256 of the items of ``columns`` (texts, labels): a resumed run must see the same data."""
    digest = hashlib.sha256()
    for column in columns:
        for item in column:
            digest.update(str(item).encode("utf-8", "surrogatepass") + b"\0")
        digest.update(b"\1")
    return digest.hexdigest()


def save(
    where: Checkpoints,
    progress: Progress,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    average: torch.nn.Module | None,
    best_state: dict[str, torch.Tensor] | None,
    random_states: list[torch.Tensor] | None = None,
) -> None:
    """Write the checkpoint directory, replacing the previous checkpoint whole. ``random_states``: every
    rank's PyTorch generator state in a distributed run (default: this process's)."""
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    optimizer_state = optimizer.state_dict()["state"]
    for index, state in optimizer_state.items():
        tensors.update({f"optimizer/{index}/{k}": torch.as_tensor(v) for k, v in state.items()})
    if average is not None:
        tensors.update({f"average/{k}": v for k, v in average.state_dict().items()})
    if best_state is not None:
        tensors.update({f"best/{k}": v for k, v in best_state.items()})
    for i, member in enumerate(where.finished):
        tensors.update({f"finished/{i}/{k}": v for k, v in member.state.items()})
    states = random_states or [torch.get_rng_state()]
    tensors |= {_random_state_name(rank): state for rank, state in enumerate(states)}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": __version__,
        "identity": where.identity,
        "progress": asdict(progress),
        "optimizer": {"states": sorted(optimizer_state), "lr": [g["lr"] for g in optimizer.param_groups]},
        "has_best": best_state is not None,
        "finished": [member.history for member in where.finished],
    }
    contiguous = {k: v.detach().contiguous() for k, v in tensors.items()}
    files = {META_FILE: (json.dumps(meta, indent=1) + "\n").encode(), STATE_FILE: safetensors.torch.save(contiguous)}
    write_directory(where.directory, files)


def resume(
    where: Checkpoints,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    average: torch.nn.Module | None,
) -> tuple[Progress, dict[str, torch.Tensor] | None]:
    """Load the checkpoint into ``model``, ``optimizer`` and ``average``; return the progress and best
    weights. The ensemble members it holds as finished (of ``model``'s shapes) go to ``where.finished``.

    Refuses (:class:`CheckpointError`) a checkpoint that is incomplete, corrupt, from a newer
    rnnkit, or made with other settings or data than ``where.identity``. Only the settings in
    ``ADJUSTABLE`` may differ: a run whose loss diverged resumes from its last good state with a
    lower learning rate (each optimizer group's rate is scaled by new lr / old lr).
    """
    path = where.directory
    meta = _read_meta(path)
    if _fixed(meta["identity"]) != _fixed(where.identity):
        raise CheckpointError(f"{path}: {_difference(meta['identity'], where.identity)}")
    progress = _progress(meta["progress"], path)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    states, rates = meta["optimizer"].get("states"), meta["optimizer"].get("lr")
    saved_lr = meta["identity"].get("params", {}).get("lr")
    fits = _index_list(states, len(parameters)) and _number_list(rates, len(optimizer.param_groups))
    if not fits or not _number_list([saved_lr], 1) or not saved_lr > 0:
        raise CheckpointError(f"{path}/{META_FILE}: the optimizer state does not fit this model")
    scale = where.identity["params"]["lr"] / saved_lr
    expected = {f"model/{k}": v for k, v in model.state_dict().items()}
    for index in states:
        shape = parameters[index].shape
        expected.update({f"optimizer/{index}/step": torch.empty(()), f"optimizer/{index}/exp_avg": torch.empty(shape)})
        expected[f"optimizer/{index}/exp_avg_sq"] = torch.empty(shape)
    if average is not None:
        expected.update({f"average/{k}": v for k, v in average.state_dict().items()})
    if meta["has_best"] is True:
        best_source = average.module if average is not None else model
        expected.update({f"best/{k}": v for k, v in best_source.state_dict().items()})
    histories = _finished_histories(meta, path)
    for i in range(len(histories)):
        expected.update({f"finished/{i}/{k}": v for k, v in model.state_dict().items()})
    processes = where.identity.get("processes", 1)
    expected |= {_random_state_name(rank): torch.get_rng_state() for rank in range(processes)}
    tensors = read_tensors(path / STATE_FILE, expected, CheckpointError, "this model and optimizer")

    def part(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

    optimizer_state = {i: {k: part(f"optimizer/{i}/")[k] for k in ("step", "exp_avg", "exp_avg_sq")} for i in states}
    groups = optimizer.state_dict()["param_groups"]
    for group, lr in zip(groups, rates, strict=True):
        group["lr"] = lr * scale
    try:  # names, shapes and dtypes are checked; values (a random generator state) may still be refused
        torch.set_rng_state(tensors[_random_state_name(distributed.world().rank)])
        model.load_state_dict(part("model/"))
        optimizer.load_state_dict({"state": optimizer_state, "param_groups": groups})
        if average is not None:
            average.load_state_dict(part("average/"))
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}/{STATE_FILE}: cannot be restored ({exc})") from None
    where.finished = [Finished(part(f"finished/{i}/"), history) for i, history in enumerate(histories)]
    return progress, part("best/") if meta["has_best"] else None


def _random_state_name(rank: int) -> str:
    """Where a checkpoint keeps a rank's PyTorch generator state (rank 0's, or the only one: ``torch_rng``)."""
    return "torch_rng" if rank == 0 else f"torch_rng/{rank}"


def members_done(where: Checkpoints, members: int) -> int:
    """How many of an ensemble's ``members`` the checkpoint holds as trained (the next one is under way)."""
    meta = _read_meta(where.directory)
    if _fixed(meta["identity"]) != _fixed(where.identity):  # another run's: say why, as resume() would
        raise CheckpointError(f"{where.directory}: {_difference(meta['identity'], where.identity)}")
    done = len(_finished_histories(meta, where.directory))
    if done >= members:
        raise CheckpointError(f"{where.directory}/{META_FILE}: holds {done} trained members of {members} (altered?)")
    return done


def _finished_histories(meta: dict, path: Path) -> list[list[dict]]:
    """The histories of the finished ensemble members a checkpoint's ``meta`` lists (none before ensembles)."""
    histories = meta.get("finished", [])
    if not isinstance(histories, list) or not all(
        isinstance(h, list) and h and _is_history(h, len(h)) for h in histories
    ):
        raise CheckpointError(f"{path}/{META_FILE}: its finished members are incomplete or altered")
    return histories


def _read_meta(path: Path) -> dict:
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such checkpoint directory")
    try:
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: not a training checkpoint (no {META_FILE})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}/{META_FILE}: not readable JSON ({type(exc).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an rnnkit training checkpoint")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by rnnkit {meta.get('rnnkit_version', '?')}; this rnnkit {__version__} cannot resume it"
        )
    kinds = {"identity": dict, "progress": dict, "optimizer": dict, "has_best": bool}
    if any(not isinstance(meta.get(key), kind) for key, kind in kinds.items()):
        raise CheckpointError(f"{path}/{META_FILE}: incomplete or altered ({', '.join(kinds)} expected)")
    return meta


def _progress(data: dict, path: Path) -> Progress:
    """The saved :class:`Progress`, each field checked for type and range (the run's own bounds are
    checked by the training loop, which knows them)."""
    try:
        progress = Progress(**data)
        np.random.default_rng().bit_generator.state = progress.epoch_rng  # refuses a malformed state
        ok = (
            _is_int(progress.epoch, 1)
            and _is_int(progress.batch, 0)
            and _is_int(progress.stale, 0)
            and _number_list(progress.sums, 4)
            and all(v >= 0 for v in progress.sums)
            and (progress.best_score is None or _number_list(progress.best_score, len(progress.best_score)))
            and _is_history(progress.history, progress.epoch - 1)
        )
    except (TypeError, ValueError, KeyError):
        ok = False
    if not ok:
        raise CheckpointError(f"{path}/{META_FILE}: the training progress is incomplete or altered")
    return progress


def _is_history(history: object, epochs: int) -> bool:
    """Epoch records 1..epochs, each holding numbers only."""
    return (
        isinstance(history, list)
        and len(history) == epochs
        and all(
            isinstance(r, dict)
            and r.get("epoch") == i
            and {"loss", "seconds"} <= set(r)
            and _number_list(list(r.values()), len(r))
            for i, r in enumerate(history, 1)
        )
    )


def _is_int(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _number_list(values: object, length: int) -> bool:
    return (
        isinstance(values, list)
        and len(values) == length
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    )


def _index_list(values: object, bound: int) -> bool:
    if not isinstance(values, list):
        return False
    return all(_is_int(v, 0) and v < bound for v in values) and len(set(values)) == len(values)


# Settings that may change when a run resumes: to continue a diverged run with a lower learning rate.
ADJUSTABLE = ("lr", "clip_norm")


def _fixed(identity: dict) -> dict:
    """What must not change between a checkpoint and the run that resumes it."""
    params = identity.get("params")
    if not isinstance(params, dict):
        return identity
    return {**identity, "params": {k: v for k, v in params.items() if k not in ADJUSTABLE}}


def _difference(saved: dict, current: dict) -> str:
    """Why a checkpoint does not belong to this run, in the user's terms."""
    if saved.get("data") != current.get("data"):
        return "this checkpoint was made with other training or validation data; resume with the same data"
    if saved.get("processes", 1) != current.get("processes", 1):
        return (
            f"this checkpoint was made by {saved.get('processes', 1)} training process(es), this run has "
            f"{current.get('processes', 1)}; resume with as many"
        )
    saved_params, params = _fixed(saved).get("params") or {}, _fixed(current).get("params") or {}
    changed = sorted(k for k in set(saved_params) | set(params) if saved_params.get(k) != params.get(k))
    if changed:
        shown = ", ".join(f"{k} {saved_params.get(k)!r} (now {params.get(k)!r})" for k in changed[:4])
        return f"this checkpoint was made with other settings: {shown}"
    return "this checkpoint belongs to another run (its labels differ)"


def default_directory(out: Path) -> Path:
    """Where the CLI keeps the checkpoint of a run writing the bundle ``out``: beside it."""
    return out.with_name(out.name + ".checkpoint")


def check_resumable(path: Path, params: dict) -> None:
    """Fail early, before any data is read, unless ``path`` holds a checkpoint this rnnkit can resume
    with these estimator ``params`` (the data is checked once it is read)."""
    saved = _read_meta(path)["identity"]
    current = {k: v for k, v in saved.items() if k != "processes"}
    current |= {"params": {k: v for k, v in params.items() if k != "verbose"}, **distributed.identity()}
    if _fixed(saved) != _fixed(current):
        raise CheckpointError(f"{path}: {_difference(saved, current)}")


def check_fresh(path: Path) -> None:
    """Refuse to start a new run over an existing checkpoint (resume it or delete it) or over other files."""
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return
    if (path / META_FILE).is_file():
        raise CheckpointError(
            f"{path} holds the checkpoint of an interrupted run: "
            f"resume it with --resume {path}, or delete it to start over"
        )
    raise CheckpointError(f"{path}: exists and is not a training checkpoint; move it or choose another --out")


def remove(path: Path) -> None:
    """Delete a checkpoint once the run it belongs to has saved its model (only a checkpoint directory)."""
    if (path / META_FILE).is_file():
        shutil.rmtree(path)
