"""Per-channel standardisation, fitted on the training rows only.

Fitting the scaler on the whole series lets the test period's level and spread leak into training,
a common flaw of forecasting code; here :meth:`Standardizer.fit` sees only the rows it is given (the
training part), and the same numbers scale validation, test and new data. The standardised scale is
also the one the literature reports MSE and MAE on.

A constant channel has no spread: it is centred and left at unit scale (with a warning), never
divided by zero.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Standardizer:
    """``(x - mean) / scale`` per channel; ``mean`` and ``scale`` are ``(channels,)``."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, names: list[str] | None = None) -> Standardizer:
        """From ``values (time, channels)``; ``names`` only label the constant-channel warning."""
        mean = values.mean(axis=0)
        std = values.std(axis=0)
        constant = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
        if constant.any():
            which = [names[i] if names else str(i) for i in np.flatnonzero(constant)]
            warnings.warn(
                f"constant channel(s) {', '.join(which)} in the training rows: centred, not scaled",
                stacklevel=2,
            )
        return cls(mean, np.where(constant, 1.0, std))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """``values (..., channels)`` on the standardised scale, float32."""
        return ((values - self.mean) / self.scale).astype(np.float32)

    def inverse(self, values: np.ndarray, channels: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Back to the original scale; ``channels`` picks the columns ``values``' last axis holds."""
        return values * self.scale[channels] + self.mean[channels]
