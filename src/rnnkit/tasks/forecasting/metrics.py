"""Forecast errors as the literature reports them, and the baselines' errors on the same windows.

MSE and MAE on the standardised scale (the long-horizon benchmarks' convention: every channel weighs
the same) and on the original scale (``_raw``: what the numbers mean); MAPE and sMAPE in percent only
where every true value of the target is positive (a percentage of zero means nothing).
"""

from __future__ import annotations

import numpy as np

from rnnkit.series.scaling import Standardizer


def forecast_errors(forecast: np.ndarray, truth: np.ndarray, scaler: Standardizer, targets: int) -> dict:
    """``forecast`` and ``truth`` ``(windows, horizon, targets)`` on the standardised scale."""
    difference = forecast - truth
    raw_forecast = scaler.inverse(forecast, slice(0, targets))
    raw_truth = scaler.inverse(truth, slice(0, targets))
    raw = raw_forecast - raw_truth
    scores = {
        "mse": float(np.mean(difference**2)),
        "mae": float(np.mean(np.abs(difference))),
        "mse_raw": float(np.mean(raw**2)),
        "mae_raw": float(np.mean(np.abs(raw))),
    }
    if len(raw_truth) and bool((raw_truth > 0).all()):
        scores["mape"] = float(100 * np.mean(np.abs(raw) / raw_truth))
        scores["smape"] = float(200 * np.mean(np.abs(raw) / (np.abs(raw_forecast) + raw_truth)))
    return {**scores, "n": len(truth)}
