"""Forecasting windows as the training loop sees them (:func:`rnnkit.train.loop.train`): shuffled
batches of windows, the loss over every forecast value, and validation MSE and MAE."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rnnkit.series.windows import Windows

LOSSES = ("mse", "mae")
EVAL_BATCH_SIZE = 512


def errors(forecast: torch.Tensor, truth: torch.Tensor, loss: str) -> torch.Tensor:
    """Summed squared (``"mse"``) or absolute (``"mae"``) errors."""
    difference = forecast - truth
    return difference.square().sum() if loss == "mse" else difference.abs().sum()


@torch.no_grad()
def forecast(model: nn.Module, windows: Windows) -> np.ndarray:
    """The model's forecasts ``(windows, horizon, targets)`` on the standardised scale."""
    model.eval()
    out = [
        model(torch.from_numpy(windows.history(np.arange(start, min(start + EVAL_BATCH_SIZE, len(windows))))))
        for start in range(0, len(windows), EVAL_BATCH_SIZE)
    ]
    return torch.cat(out).numpy() if out else np.zeros((0, windows.horizon, windows.targets), np.float32)


@dataclass(frozen=True)
class ForecastExamples:
    """One split; the training loss is the mean squared or absolute error of every forecast value."""

    windows: Windows
    loss_kind: str = "mse"

    @property
    def lengths(self) -> np.ndarray:
        return np.full(len(self.windows), self.windows.lookback)

    def loss(self, model: nn.Module, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """(summed error, values counted, 0, 0): a forecast has no accuracy."""
        history, future = self.windows.batch(idx)
        total = errors(model(history), future, self.loss_kind)
        return total, total.new_tensor(float(future.numel())), 0, 0

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """``{"loss", "mse", "mae"}`` over every window, standardised scale."""
        difference = forecast(model, self.windows) - self.windows.future()
        mse, mae = float(np.mean(difference**2)), float(np.mean(np.abs(difference)))
        return {"loss": mse if self.loss_kind == "mse" else mae, "mse": mse, "mae": mae}
