"""Tagging speed of rnnkit against a plain PyTorch BiLSTM + pytorch-crf loop, same batches, same process.

The reference is what people write by hand after the tutorials: word embeddings, a character CNN
over every token of the padded batch, the casing one-hot, ``pack_padded_sequence`` into
``nn.LSTM(bidirectional=True)``, a linear layer and ``torchcrf.CRF`` (loss with a mask, Viterbi
``decode``). All get the sizes of rnnkit's default tagger (words 100, characters 30 -> 100,
recurrent 200 per direction, dropout 0.5), the same vocabularies and the same batches of CoNLL-2003
sentences. rnnkit runs the reference's architecture (``--cell lstm --char-encoder cnn``, on its
compiled LSTM loop), the same with its compiled GRU loop (``--cell gru``), and its defaults (which are
that GRU configuration: the two rows show the run-to-run noise). Each is one network: the default
ensemble of two trains and tags each of its members like this, one after the other. Runs alternate so
drift on a shared machine hits all; figures are medians over the rounds.

    .venv/bin/python bench/tagging.py [--sentences 4000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torchcrf
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.data.conll import read_conll
from rnnkit.nn.steps import valid_steps
from rnnkit.tasks.tagging.encode import CASINGS, collate, encode, normalize
from rnnkit.tasks.tagging.estimator import SequenceTagger, make_tagger, tag_set
from rnnkit.tasks.tagging.model import TaggingExamples, predict_tag_ids
from rnnkit.tasks.tagging.schemes import to_bioes
from rnnkit.text.batches import bucket_batches
from rnnkit.text.pipeline import PAD_ID, Vocab

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003" / "train.conll.gz"


class PlainTagger(nn.Module):
    """The hand-written reference (batch-first, packed sequences, pytorch-crf)."""

    def __init__(self, words: int, chars: int, tags: int, params: dict):
        super().__init__()
        self.embedding = nn.Embedding(words, params["embedding_dim"], padding_idx=PAD_ID)
        self.char_embedding = nn.Embedding(chars, params["char_dim"], padding_idx=PAD_ID)
        self.conv = nn.Conv1d(params["char_dim"], params["char_size"], 3, padding=1)
        size = params["embedding_dim"] + params["char_size"] + len(CASINGS)
        self.lstm = nn.LSTM(size, params["hidden_size"], batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(params["dropout"])
        self.head = nn.Linear(2 * params["hidden_size"], tags)
        self.crf = torchcrf.CRF(tags, batch_first=True)

    def emissions(self, words, chars, char_mask, casing, lengths):
        batch, time_, width = chars.shape
        c = self.conv(self.char_embedding(chars.view(-1, width)).transpose(1, 2))
        c = c.masked_fill(~char_mask.view(-1, 1, width), float("-inf")).amax(dim=2).view(batch, time_, -1)
        c = c.masked_fill(~torch.isfinite(c), 0.0)  # padding tokens have no characters
        x = torch.cat([self.embedding(words), c, nn.functional.one_hot(casing, len(CASINGS)).float()], dim=2)
        packed = pack_padded_sequence(self.dropout(x), lengths, batch_first=True, enforce_sorted=False)
        h, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=words.size(1))
        return self.head(self.dropout(h))


def plain_batch(data, idx):
    """The reference's inputs: batch-first tensors, every token's characters padded."""
    b = collate(data, idx)
    words, casing, tags = b.words.t(), b.casing.t(), b.tags.t()
    spelled = b.chars[b.form_index.t()]  # (batch, time, longest word)
    mask = spelled != PAD_ID
    return words, spelled, mask, casing, b.lengths, tags, valid_steps(b.lengths, words.size(1)).t()


def time_plain(model, data, batches, train: bool, optimizer=None) -> float:
    started = time.perf_counter()
    for idx in batches:
        words, chars, char_mask, casing, lengths, tags, mask = plain_batch(data, idx)
        if train:
            model.train()
            loss = -model.crf(model.emissions(words, chars, char_mask, casing, lengths), tags, mask, reduction="mean")
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
        else:
            model.eval()
            with torch.inference_mode():
                model.crf.decode(model.emissions(words, chars, char_mask, casing, lengths), mask)
    return time.perf_counter() - started


def time_rnnkit(model, examples, batches, train: bool, optimizer=None) -> float:
    started = time.perf_counter()
    if train:
        model.train()
        for idx in batches:
            loss, weight, _, _ = examples.loss(model, idx)
            optimizer.zero_grad()
            (loss / weight).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
    else:
        predict_tag_ids(model, examples.sentences)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    corpus = read_conll(DATA)
    tokens, raw = corpus.tokens[: args.sentences], corpus.tags[: args.sentences]
    tags = [to_bioes(t, "iob2")[0] for t in raw]
    # One network: the default ensemble trains its members one after another, each this network.
    params = {**SequenceTagger().get_params(), "ensemble": 1}
    names = tag_set(tags, "iob2")
    vocab = Vocab.build([[normalize(t, True) for t in s] for s in tokens])
    chars = Vocab.build(list(t) for s in tokens for t in s)
    data = encode(tokens, vocab, chars, True, {t: i for i, t in enumerate(names)}, tags)
    examples = TaggingExamples(data, names, chunked=True)
    batches = bucket_batches(data.lengths, params["batch_size"], np.random.default_rng(0))
    models = {"plain BiLSTM + pytorch-crf": PlainTagger(len(vocab), len(chars), len(names), params)}
    for options in ({"cell": "lstm", "char_encoder": "cnn"}, {"cell": "gru", "char_encoder": "cnn"}, {}):
        name = "rnnkit " + (" ".join(f"--{k.replace('_', '-')} {v}" for k, v in options.items()) or "defaults")
        models[name] = make_tagger({**params, **options}, len(vocab), len(chars), names)
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=1e-3) for name, m in models.items()}
    results = {name: {"train": [], "tag": []} for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            run = time_plain if name.startswith("plain") else time_rnnkit
            target = data if name.startswith("plain") else examples
            results[name]["train"].append(len(data) / run(model, target, batches, True, optimizers[name]))
            predict = bucket_batches(data.lengths, 64)
            results[name]["tag"].append(len(data) / run(model, target, predict, False))
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{len(data)} CoNLL-2003 sentences ({int(data.lengths.sum())} tokens), {args.rounds} rounds, medians")
    reference = {kind: statistics.median(results["plain BiLSTM + pytorch-crf"][kind]) for kind in ("train", "tag")}
    print(f"{'':<40}{'train sent/s':>14}{'ratio':>8}{'tag sent/s':>12}{'ratio':>8}")
    for name, measured in results.items():
        train, tag = (statistics.median(measured[kind]) for kind in ("train", "tag"))
        print(f"{name:<40}{train:>14.0f}{train / reference['train']:>8.2f}{tag:>12.0f}{tag / reference['tag']:>8.2f}")


if __name__ == "__main__":
    main()
