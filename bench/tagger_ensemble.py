"""Would two taggers together beat each alone? Averages two trained taggers' emissions and CRF scores
(a product of experts) and decodes with Viterbi, on the validation part that ``rnnkit train`` held out
(the last ``--val-fraction`` of the training file's sentences).

    rnnkit train ../shared/data/conll2003/train.conll.gz --out a
    rnnkit train ../shared/data/conll2003/train.conll.gz --seed 1 --out b
    .venv/bin/python bench/tagger_ensemble.py a b
"""

from __future__ import annotations

import argparse
import copy

import numpy as np
import torch

from rnnkit import load_model
from rnnkit.data.conll import read_conll
from rnnkit.tasks.tagging.encode import collate
from rnnkit.tasks.tagging.metrics import entity_scores
from rnnkit.tasks.tagging.schemes import detect_scheme, to_bioes
from rnnkit.text.batches import bucket_batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs=2)
    parser.add_argument("--data", default="../shared/data/conll2003/train.conll.gz")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    args = parser.parse_args()
    data = read_conll(args.data)
    cut = len(data.tokens) - round(len(data.tokens) * args.val_fraction)
    tokens, tags = data.tokens[cut:], data.tags[cut:]
    taggers = [load_model(path) for path in args.models]
    if taggers[0].tag_names_ != taggers[1].tag_names_:
        raise SystemExit("the two models have different tag sets")
    encoded = [tagger._encode(tokens) for tagger in taggers]  # each model's own vocabulary
    models = [tagger.model_.eval() for tagger in taggers]
    crf = copy.deepcopy(models[0].crf)
    with torch.no_grad():
        for name in ("transitions", "start", "end"):
            getattr(crf, name).copy_(sum(getattr(m.crf, name) for m in models) / 2)
    names = np.asarray(taggers[0].tag_names_)
    predicted: dict[str, list] = {path: [None] * len(tokens) for path in [*args.models, "together"]}
    with torch.no_grad():
        for idx in bucket_batches(encoded[0].lengths, 64):
            batches = [collate(sentences, idx) for sentences in encoded]
            emissions = [model(batch) for model, batch in zip(models, batches, strict=True)]
            lengths = batches[0].lengths
            decoded = [m.crf.decode(e, lengths)[0] for m, e in zip(models, emissions, strict=True)]
            decoded.append(crf.decode(sum(emissions) / 2, lengths)[0])
            for path, best in zip(predicted, decoded, strict=True):
                best = best.t().numpy()
                for row, i in enumerate(idx):
                    predicted[path][i] = list(names[best[row, : len(tokens[i])]])
    scheme = detect_scheme(tags)
    gold = [to_bioes(sentence, scheme)[0] for sentence in tags]
    for path, sentences in predicted.items():
        print(f"{path}: entity F1 {entity_scores(gold, sentences)['f1']:.4f} on {len(tokens)} sentences")


if __name__ == "__main__":
    main()
