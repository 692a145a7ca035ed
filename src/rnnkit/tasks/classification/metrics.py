"""Classification reports built on scikit-learn's metrics, as JSON-ready dicts and text tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


def classification_report(y_true: Sequence, y_pred: Sequence, labels: Sequence) -> dict:
    """Accuracy, macro and per-class precision/recall/F1, and the confusion matrix.

    ``labels`` fixes the order of the classes (rows and columns of the matrix: true x predicted).
    """
    labels = list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_precision": float(np.mean(precision)),
        "macro_recall": float(np.mean(recall)),
        "macro_f1": float(np.mean(f1)),
        "per_class": {
            str(label): {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "labels": [str(label) for label in labels],
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def format_report(name: str, report: dict) -> str:
    """A readable table: one row per class, then the macro average and accuracy."""
    width = max(12, *(len(label) for label in report["labels"]))
    lines = [
        f"{name} (n={report['n']})",
        f"{'':<{width}}  precision  recall     f1  support",
    ]
    for label, row in report["per_class"].items():
        lines.append(
            f"{label:<{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:5.4f}  {row['support']:7d}"
        )
    lines.append(
        f"{'macro avg':<{width}}  {report['macro_precision']:9.4f}  {report['macro_recall']:6.4f}"
        f"  {report['macro_f1']:5.4f}  {report['n']:7d}"
    )
    lines.append(f"{'accuracy':<{width}}  {report['accuracy']:.4f}")
    return "\n".join(lines)
