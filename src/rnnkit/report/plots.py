"""PNG plots: learning curves and the confusion matrix, rendered to bytes for atomic writing."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no screen needed; must precede pyplot's import
import matplotlib.pyplot as plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def learning_curves(history: list[dict]) -> bytes:
    """Loss and accuracy per epoch, training and validation side by side; an ensemble's records
    (which carry ``"member"``) make one pair of curves per member."""
    runs: dict[int | None, list[dict]] = {}
    for record in history:
        runs.setdefault(record.get("member"), []).append(record)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
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
