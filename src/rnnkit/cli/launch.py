"""``rnnkit train --workers N``: the run ``torchrun --standalone --nproc-per-node N -m rnnkit train ...``
makes, launched from this process by PyTorch's own elastic launcher (``torch.distributed.run``).

The launcher builds the compiled GRU/LSTM loops before the processes start, gives each its share of
the cores, and stays in the foreground: Ctrl-C reaches it and it passes the signal on to every
process, which stop after the same batch with a checkpoint (:mod:`rnnkit.train.distributed`). The
processes say themselves why they failed; the launcher returns the first failure's exit code.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

from rnnkit.errors import ConfigError
from rnnkit.train import distributed


def wanted(workers: int | None) -> bool:
    """Whether ``--workers`` asks for processes to be launched (not already launched by torchrun)."""
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be a number of processes >= 1; got {workers}")
    return workers is not None and workers > 1 and not distributed.launched()


def run(workers: int, argv: list[str]) -> int:
    """Train with ``workers`` processes on this machine, each running ``rnnkit`` with ``argv``."""
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    from rnnkit.nn.native import rnn_ops

    cores = len(os.sched_getaffinity(0))
    if workers > cores:
        warnings.warn(
            f"--workers {workers} is more than the {cores} cores available: they will share cores", stacklevel=2
        )
    os.environ.setdefault("OMP_NUM_THREADS", str(distributed.threads_per_process(workers)))
    rnn_ops()  # built once here, before any process needs it
    for name, logger in logging.root.manager.loggerDict.items():  # each elastic module sets its own level
        if name.startswith("torch.distributed") and isinstance(logger, logging.Logger):
            logger.setLevel(logging.CRITICAL)  # failures are reported below, and by the processes themselves
    options = torchrun.parse_args(["--standalone", f"--nproc-per-node={workers}", "--module", "rnnkit", *argv])
    try:
        torchrun.run(options)
    except SignalException:
        return 130  # Ctrl-C or SIGTERM: the processes have saved a checkpoint and said how to resume
    except ChildFailedError as failed:
        rank, failure = failed.get_first_failure()
        if failure.exitcode > 0:
            return failure.exitcode
        print(f"rnnkit: error: training process {rank} died ({failure.signal_name()})", file=sys.stderr)
        return 1
    return 0
