"""Which features the positional model reads, chosen on validation data: 5-fold cross-validation on
the training part of the splice split (``bench/series.py``'s seeded 80%; the held-out 20% is not read),
for (position, symbol) features alone and with (position, symbol pair) features, over C.

    .venv/bin/python bench/splice_features.py
"""

from __future__ import annotations

import csv

import numpy as np
from series import DATA, stratified_split
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from rnnkit.tasks.classification.positional import C_GRID, features
from rnnkit.text.batches import Ragged
from rnnkit.text.pipeline import Vocab

LENGTH = 60


def main() -> None:
    with open(DATA / "splice" / "train.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    labels = np.array([r["label"] for r in rows])
    train, _ = stratified_split(labels, 0.2, 0)
    sequences, y = [list(rows[i]["text"]) for i in train], labels[train]
    vocab = Vocab.build(sequences)
    both = features(Ragged.from_sequences([vocab.encode(s) for s in sequences]), LENGTH, len(vocab))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    classes = np.array(sorted(set(y)))
    print(f"{len(y)} training sequences, 5-fold cross-validation")
    for name, x in (("symbols", both[:, : LENGTH * len(vocab)]), ("symbols + pairs", both)):
        for c in C_GRID:
            p = cross_val_predict(LogisticRegression(C=c, max_iter=3000), x, y, cv=folds, method="predict_proba")
            accuracy = np.mean(classes[p.argmax(1)] == y)
            print(f"{name:<16} C={c:<5} log loss {log_loss(y, p):.4f}  accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
