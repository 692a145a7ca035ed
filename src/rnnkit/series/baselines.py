"""The baselines every model must beat, computed on the same data in the same run.

Forecasts:

* last value: the last observed value, held for the whole horizon;
* seasonal naive: the value one season earlier (``y[t + h] = y[t + h - k * season]``, the latest such
  step before the origin);
* linear: one ridge regression from the ``lookback`` history values (plus a constant) to the
  ``horizon`` future values, shared by all channels and fitted on the training windows in closed form,
  its penalty chosen on the validation windows. Zeng et al. (2023) showed such a linear map beats most
  deep long-horizon forecasters; a recurrent model should at least match it.

Histories ``(n, lookback, channels)`` -> forecasts ``(n, horizon, channels)``, standardised scale.

Series classification: 1-nearest-neighbour under the Euclidean distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from rnnkit.series.windows import Windows

RIDGE_PENALTIES = (1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
MAX_ROWS = 200_000  # rows (window x channel) the ridge is fitted on; a random subset beyond


def last_value(history: np.ndarray, horizon: int) -> np.ndarray:
    return np.repeat(history[:, -1:], horizon, axis=1)


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Needs ``season <= lookback``."""
    lookback = history.shape[1]
    steps = lookback - season + np.arange(horizon) % season
    return history[:, steps]


def _rows(history: np.ndarray) -> np.ndarray:
    """``(n * channels, lookback + 1)``: each channel's history and a constant, one row each."""
    flat = np.moveaxis(history, 2, 1).reshape(-1, history.shape[1]).astype(np.float64)
    return np.hstack([flat, np.ones((len(flat), 1))])


def _targets(future: np.ndarray) -> np.ndarray:
    return np.moveaxis(future, 2, 1).reshape(-1, future.shape[1]).astype(np.float64)


@dataclass(frozen=True)
class LinearBaseline:
    """``weights (lookback + 1, horizon)``, the last row the constant's."""

    weights: np.ndarray
    penalty: float

    @classmethod
    def fit(cls, train: Windows, val: Windows, seed: int = 0) -> LinearBaseline:
        """Ridge on the training windows' target channels, the penalty with the lowest validation MSE."""
        idx = np.arange(len(train))
        rows_per_window = train.targets
        if len(idx) * rows_per_window > MAX_ROWS:
            idx = np.sort(np.random.default_rng(seed).choice(idx, MAX_ROWS // rows_per_window, replace=False))
        x = _rows(train.history(idx)[..., : train.targets])
        y = _targets(train.future(idx))
        gram, cross = x.T @ x, x.T @ y
        val_x, val_y = _rows(val.history()[..., : val.targets]), _targets(val.future())
        best = None
        for penalty in RIDGE_PENALTIES:
            ridge = np.eye(len(gram)) * penalty
            ridge[-1, -1] = 0.0  # the constant is not penalised
            weights = np.linalg.solve(gram + ridge, cross)
            error = float(np.mean((val_x @ weights - val_y) ** 2))
            if best is None or error < best[0]:
                best = (error, cls(weights, penalty))
        return best[1]

    def predict(self, history: np.ndarray) -> np.ndarray:
        """``history (n, lookback, channels)`` -> ``(n, horizon, channels)``."""
        n, _, channels = history.shape
        out = _rows(history) @ self.weights  # (n * channels, horizon)
        return np.moveaxis(out.reshape(n, channels, -1), 1, 2).astype(np.float32)


def resample(series: list[np.ndarray], length: int) -> np.ndarray:
    """Series ``(time, channels)`` of any lengths linearly interpolated to ``length`` steps each:
    ``(n, length * channels)``, the common ground a Euclidean distance needs."""
    out = []
    for s in series:
        where = np.linspace(0, len(s) - 1, length)
        out.append(np.column_stack([np.interp(where, np.arange(len(s)), s[:, c]) for c in range(s.shape[1])]).ravel())
    return np.array(out)


def nearest_neighbour_accuracy(
    train: list[np.ndarray], train_labels: np.ndarray, test: list[np.ndarray], test_labels: np.ndarray
) -> float:
    """Accuracy of 1-nearest-neighbour classification under the Euclidean distance (the UCR archive's
    reference baseline), series resampled to the longest training length when lengths differ."""
    length = max(len(s) for s in train)
    neighbours = KNeighborsClassifier(n_neighbors=1).fit(resample(train, length), train_labels)
    return float(np.mean(neighbours.predict(resample(test, length)) == test_labels))
