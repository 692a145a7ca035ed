"""Sliding windows over a series: ``lookback`` steps of history, the next ``horizon`` steps to forecast.

A window is named by its *origin* ``t``, the index of its first forecast step: history
``values[t - lookback : t]``, future ``values[t : t + horizon]``. Windows are never copied out of the
series (the stride-1 windows of an hourly year would hold ``lookback`` copies of every value); a
batch gathers its rows by index arithmetic.

Chronological splits cut by origin: the training windows forecast only training rows; a validation
or test window's future lies after the cut while its history may reach back before it, as it would
in use. That is the standard protocol of the long-horizon benchmarks (Informer's loaders).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def origins(start: int, stop: int, lookback: int, horizon: int) -> np.ndarray:
    """Every origin ``t`` with ``start <= t`` and ``t + horizon <= stop`` whose history exists
    (``t >= lookback``): ``(n,)`` int64, ascending."""
    return np.arange(max(start, lookback), stop - horizon + 1, dtype=np.int64)


@dataclass(frozen=True)
class Windows:
    """Windows of ``values (time, channels)`` (standardised, float32) at ``origins (n,)``; the first
    ``targets`` channels are forecast, every channel is history."""

    values: np.ndarray
    origins: np.ndarray
    lookback: int
    horizon: int
    targets: int

    def __len__(self) -> int:
        return len(self.origins)

    def history(self, idx: np.ndarray | slice = slice(None)) -> np.ndarray:
        """``(batch, lookback, channels)`` before the origins ``idx``."""
        rows = self.origins[idx][:, None] + np.arange(-self.lookback, 0)
        return self.values[rows]

    def future(self, idx: np.ndarray | slice = slice(None)) -> np.ndarray:
        """``(batch, horizon, targets)`` from the origins ``idx`` on."""
        rows = self.origins[idx][:, None] + np.arange(self.horizon)
        return self.values[rows, : self.targets]

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(history, future) of the windows ``idx`` as tensors."""
        return torch.from_numpy(self.history(idx)), torch.from_numpy(self.future(idx))
