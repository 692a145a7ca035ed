"""PNG plots: learning curves, the confusion matrix, forecasts and explanation strips, rendered to
bytes for atomic writing."""

from __future__ import annotations

import io

import matplotlib
import numpy as np

matplotlib.use("Agg")  # no screen needed; must precede pyplot's import
import matplotlib.pyplot as plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def learning_curves(history: list[dict]) -> bytes:
    """Loss and (where there is one) accuracy per epoch, training and validation side by side; an
    ensemble's records (which carry ``"member"``) make one pair of curves per member."""
    runs: dict[int | None, list[dict]] = {}
    for record in history:
        runs.setdefault(record.get("member"), []).append(record)
    keys = ("loss", "accuracy") if history and "accuracy" in history[0] else ("loss",)  # a forecast has no accuracy
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 4), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        for member, records in runs.items():
            epochs = [r["epoch"] for r in records]
            suffix = "" if member is None else f" (member {member})"
            lines = ax.plot(epochs, [r[key] for r in records], marker="o", label=f"train{suffix}")
            if f"val_{key}" in records[0]:
                values = [r[f"val_{key}"] for r in records]
                ax.plot(
                    epochs, values, marker="s", linestyle="--", color=lines[0].get_color(), label=f"validation{suffix}"
                )
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    return _png(fig)


def confusion_matrix(matrix: list[list[int]], labels: list[str], title: str) -> bytes:
    """Counts of true (rows) against predicted (columns) labels."""
    n = len(labels)
    size = min(12, 2 + 0.6 * n)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    peak = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center", color="white" if count > peak / 2 else "black")
    return _png(fig)


MAX_FORECAST_PANELS = 6


def forecast(history: np.ndarray, truth: np.ndarray, predicted: np.ndarray, names: list[str], title: str) -> bytes:
    """One window per target channel (the first ``MAX_FORECAST_PANELS``): its history ``(lookback,
    targets)``, then the true ``(horizon, targets)`` and forecast values, on the original scale."""
    panels = min(len(names), MAX_FORECAST_PANELS)
    fig, axes = plt.subplots(panels, 1, figsize=(10, 2.4 * panels), squeeze=False, sharex=True)
    past = np.arange(-len(history), 0)
    future = np.arange(len(truth))
    for k, ax in enumerate(axes[:, 0]):
        ax.plot(past, history[:, k], color="0.4", label="history")
        ax.plot(future, truth[:, k], color="black", label="truth")
        ax.plot(future, predicted[:, k], color="tab:red", label="forecast")
        ax.axvline(-0.5, color="0.7", linestyle=":")
        ax.set_ylabel(names[k])
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left")
    axes[0, 0].set_title(title)
    axes[-1, 0].set_xlabel("steps from the forecast's start")
    return _png(fig)


def token_strip(tokens: list[str], scores: list[float], title: str, per_line: int = 14) -> bytes:
    """Tokens in reading order, ``per_line`` a row, each on a box shaded by its score (green for the
    label, red against; the strongest full colour)."""
    scale = max((abs(s) for s in scores), default=0.0) or 1.0
    rows = max(1, -(-len(tokens) // per_line))
    fig, ax = plt.subplots(figsize=(12, 0.45 * rows + 0.8))
    ax.set_axis_off()
    ax.set_xlim(0, per_line)
    ax.set_ylim(rows, -0.5)
    for i, (token, score) in enumerate(zip(tokens, scores, strict=True)):
        colour = (0.13, 0.55, 0.13) if score > 0 else (0.86, 0.08, 0.24)
        alpha = 0.8 * min(abs(score) / scale, 1.0)
        shown = token if len(token) <= 12 else token[:11] + "\u2026"
        ax.text(
            i % per_line + 0.5,
            i // per_line,
            shown,
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": (*colour, alpha), "edgecolor": "none"},
            parse_math=False,
        )
    ax.set_title(title, fontsize=10, loc="left")
    return _png(fig)
