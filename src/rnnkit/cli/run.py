"""What every ``rnnkit train`` does around the task's own work: checks before any data is read, and
the bundle and checkpoint directories."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rnnkit.data.tables import check_encoding
from rnnkit.errors import ConfigError
from rnnkit.store.atomic import write_bytes
from rnnkit.store.bundle import check_output_directory
from rnnkit.train import checkpoint, distributed


def prepare(args: argparse.Namespace, params: dict) -> Path:
    """Fail on bad options, output paths and checkpoints now, before hours of work; return the
    checkpoint directory of the run."""
    check_encoding(args.encoding)
    if not args.checkpoint_every >= 0:
        raise ConfigError(f"--checkpoint-every must be a number of minutes >= 0; got {args.checkpoint_every}")
    check_output_directory(Path(args.out))
    checkpoint_dir = Path(args.resume) if args.resume else checkpoint.default_directory(Path(args.out))
    if args.resume:
        checkpoint.check_resumable(checkpoint_dir, params)
    else:
        checkpoint.check_fresh(checkpoint_dir)
    return checkpoint_dir


def data_files(args: argparse.Namespace, **label_counts: dict) -> dict:
    """The files a training run read, for the model card: ``{role: {"path", "bytes"}}`` (a named
    dataset has no size), with the label counts given per role."""
    roles = {"training": "data", "validation": "val", "test": "test", "source": "source", "target": "target"}
    out = {}
    for role, name in roles.items():
        value = getattr(args, name, None)
        if isinstance(value, list):  # --target may be given more than once
            value = value[0] if len(value) == 1 else ", ".join(value)
        if not value:
            continue
        path = Path(value)
        out[role] = {"path": str(value), **({"bytes": path.stat().st_size} if path.is_file() else {})}
        if role in label_counts:
            out[role]["label_counts"] = label_counts[role]
    return out


def label_counts(labels) -> dict:
    """``{label: count}``, most frequent first."""
    values, counts = np.unique(np.asarray(labels).astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return {str(values[i]): int(counts[i]) for i in order}


def fit_options(args: argparse.Namespace, checkpoint_dir: Path) -> dict:
    """The checkpoint arguments of an estimator's ``fit``."""
    return {
        "checkpoint_dir": checkpoint_dir,
        "checkpoint_every": args.checkpoint_every * 60 or None,
        "resume": bool(args.resume),
    }


def reports() -> bool:
    """Whether this process evaluates, prints and saves once training is done: the only process, or
    rank 0 of a distributed run (the others only train)."""
    return distributed.world().main


def write_output(args: argparse.Namespace, payload: str) -> int:
    """``payload`` into ``--output`` (atomically) or onto stdout."""
    if args.output:
        write_bytes(Path(args.output), payload.encode("utf-8"))
    else:
        sys.stdout.write(payload)
    return 0
