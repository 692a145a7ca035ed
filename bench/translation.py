"""Translation speed of rnnkit against a plain PyTorch encoder-decoder, same batches, same process.

The reference is what people write by hand after the PyTorch tutorials: batch-first embeddings,
``pack_padded_sequence`` into a bidirectional ``nn.GRU``, a tanh bridge from the two final states to
the decoder's first state, an ``nn.GRU`` decoder with Luong's general attention masked over padding
(with input feeding, one ``nn.GRU`` call per step, when rnnkit's defaults feed; else one call over the
teacher-forced target), ``tanh(W [h; context])``, a linear output layer over every padded position and
``F.cross_entropy(ignore_index=PAD, label_smoothing=...)``, Adam, clipping. Decoding: greedy over the
batch, step by step; beam search one sentence at a time, as hand-written beam searches do. Both get
rnnkit's default sizes, the same subword vocabularies (learned on the first ``--pairs`` pairs) and the
same batches of Multi30k German-English.

Training: target tokens per second over ``--batches`` batches of 64, each model its own weights.
Decoding: sentences per second over ``--sentences`` validation sentences, greedy and beam 5 (rnnkit's
beam search runs batched, the reference's one sentence at a time and stops once 5 hypotheses have
ended; rnnkit's goes on while any hypothesis of a sentence is open). Both decode with the same
weights, copied into the reference: those rnnkit trained here, or with ``--model DIR`` those of a
trained translator (with its vocabularies), which decodes like a real one (an barely trained network
runs to the length limit). The count of equal outputs is printed (bfloat16 inference, on CPUs that
have it, may flip a near tie). Runs alternate so drift on a shared machine hits both; figures are
medians over the rounds.

    .venv/bin/python bench/translation.py [--model DIR] [--batches 40] [--sentences 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit import Translator, load_model
from rnnkit.data.parallel import read_aligned
from rnnkit.nn.steps import valid_steps
from rnnkit.tasks.translation.decode import beam_search, greedy
from rnnkit.tasks.translation.estimator import make_seq2seq
from rnnkit.tasks.translation.examples import Pairs, TranslationExamples
from rnnkit.text.batches import bucket_batches
from rnnkit.text.pipeline import EOS_ID, PAD_ID, SOS_ID
from rnnkit.text.subwords import SubwordTokenizer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "multi30k"


class PlainSeq2Seq(nn.Module):
    """The hand-written reference (batch-first, packed encoder, Luong attention)."""

    def __init__(self, source_vocab: int, target_vocab: int, params: dict):
        super().__init__()
        embedding, hidden = params["embedding_dim"], params["hidden_size"]
        self.feeding = params["input_feeding"]
        self.source_embedding = nn.Embedding(source_vocab, embedding, padding_idx=PAD_ID)
        self.target_embedding = nn.Embedding(target_vocab, embedding, padding_idx=PAD_ID)
        self.encoder = nn.GRU(embedding, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)
        self.decoder = nn.GRU(embedding + (hidden if self.feeding else 0), hidden, batch_first=True)
        self.keys = nn.Linear(2 * hidden, hidden, bias=False)
        self.combine = nn.Linear(3 * hidden, hidden)
        self.head = nn.Linear(hidden, target_vocab)
        self.dropout = nn.Dropout(params["dropout"])
        self.hidden = hidden

    def encode(self, source, lengths):
        packed = pack_padded_sequence(
            self.dropout(self.source_embedding(source)), lengths, batch_first=True, enforce_sorted=False
        )
        out, last = self.encoder(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True)
        state = torch.tanh(self.bridge(torch.cat([last[0], last[1]], dim=1)))[None]
        mask = valid_steps(lengths, memory.size(1)).t()  # (batch, source)
        return memory, self.keys(memory), mask, state

    def attend(self, h, memory, keys, mask):
        """``h (batch, steps, hidden)`` -> attentional vectors ``(batch, steps, hidden)``."""
        scores = torch.bmm(h, keys.transpose(1, 2)).masked_fill(~mask[:, None], float("-inf"))
        context = torch.bmm(torch.softmax(scores, dim=2), memory)
        return torch.tanh(self.combine(torch.cat([h, context], dim=2)))

    def step(self, tokens, feed, state, memory, keys, mask):
        x = self.dropout(self.target_embedding(tokens))[:, None]
        if self.feeding:
            x = torch.cat([x, feed[:, None]], dim=2)
        h, state = self.decoder(x, state)
        feed = self.attend(h, memory, keys, mask)[:, 0]
        return self.head(self.dropout(feed)), feed, state

    def forward(self, source, lengths, target):
        """Teacher forcing: scores ``(batch, target - 1, vocab)``, padding included."""
        memory, keys, mask, state = self.encode(source, lengths)
        if not self.feeding:
            h, _ = self.decoder(self.dropout(self.target_embedding(target[:, :-1])), state)
            return self.head(self.dropout(self.attend(h, memory, keys, mask)))
        feed, steps = memory.new_zeros(source.size(0), self.hidden), []
        for t in range(target.size(1) - 1):
            scores, feed, state = self.step(target[:, t], feed, state, memory, keys, mask)
            steps.append(scores)
        return torch.stack(steps, dim=1)


@torch.no_grad()
def copy_weights(plain: PlainSeq2Seq, ours: nn.Module) -> None:
    """Give the reference rnnkit's weights (the same network under other names), so both decode the
    same outputs in the same number of steps."""
    state = ours.state_dict()
    names = {"keys.weight": "attention.memory.weight"}
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        names[f"decoder.{name}_l0"] = f"decoder.rnn.{name}_l0"
    for name, tensor in plain.state_dict().items():
        if name.startswith("encoder."):
            base, reverse = name.removeprefix("encoder.").removesuffix("_reverse"), name.endswith("_reverse")
            tensor.copy_(state[f"encoder.layers.0.{base.removesuffix('_l0')}"][int(reverse)])
        else:
            tensor.copy_(state[names.get(name, name)])


def limit(length: int) -> int:
    return 2 * length + 10  # rnnkit's default limit: twice the source, plus 10


@torch.no_grad()
def plain_greedy(model: PlainSeq2Seq, source, lengths) -> list[list[int]]:
    memory, keys, mask, state = model.encode(source, lengths)
    batch = source.size(0)
    tokens, feed = torch.full((batch,), SOS_ID), memory.new_zeros(batch, model.hidden)
    out, done = [[] for _ in range(batch)], torch.zeros(batch, dtype=torch.bool)
    for _ in range(limit(int(lengths.max()))):
        scores, feed, state = model.step(tokens, feed, state, memory, keys, mask)
        tokens = scores.argmax(dim=1)
        for b in (~done).nonzero()[:, 0].tolist():
            if tokens[b] == EOS_ID:
                done[b] = True
            else:
                out[b].append(int(tokens[b]))
        if done.all():
            break
    return out


@torch.no_grad()
def plain_beam(model: PlainSeq2Seq, source, length: int, beam: int = 5, alpha: float = 0.6) -> list[int]:
    """One sentence ``source (1, length)``: ``beam`` open hypotheses; ended ones are set aside until
    ``beam`` have ended; the best by the same length penalty as rnnkit's."""
    memory, keys, mask, states = model.encode(source, torch.tensor([length]))
    hypotheses, ended = [(0.0, [SOS_ID])], []
    feeds = memory.new_zeros(1, model.hidden)
    for _ in range(limit(length)):
        n = len(hypotheses)
        tokens = torch.tensor([h[1][-1] for h in hypotheses])
        scores, feeds, states = model.step(
            tokens, feeds, states, memory.expand(n, -1, -1), keys.expand(n, -1, -1), mask.expand(n, -1)
        )
        logp = torch.log_softmax(scores, dim=1) + torch.tensor([h[0] for h in hypotheses])[:, None]
        best, index = logp.view(-1).topk(beam)
        rows, words = (index // logp.size(1)).tolist(), (index % logp.size(1)).tolist()
        grown = [(score, hypotheses[r][1] + [w]) for score, r, w in zip(best.tolist(), rows, words, strict=True)]
        ended += [h for h in grown if h[1][-1] == EOS_ID]
        keep = [i for i, h in enumerate(grown) if h[1][-1] != EOS_ID]
        if len(ended) >= beam or not keep:
            break
        hypotheses = [grown[i] for i in keep]
        chosen = torch.tensor([rows[i] for i in keep])
        feeds, states = feeds[chosen], states[:, chosen]
    best = max(ended or hypotheses, key=lambda h: h[0] / ((5 + len(h[1]) - 1) / 6) ** alpha)
    return [t for t in best[1][1:] if t != EOS_ID]


def train_plain(model: PlainSeq2Seq, optimizer, pairs: Pairs, batches, smoothing: float, clip: float) -> float:
    model.train()
    started = time.perf_counter()
    for idx in batches:
        source, lengths, target = pairs.batch(idx)
        source, target = source.t(), target.t()
        scores = model(source, lengths, target)
        loss = F.cross_entropy(
            scores.flatten(0, 1), target[:, 1:].flatten(), ignore_index=PAD_ID, label_smoothing=smoothing
        )
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
    return time.perf_counter() - started


def train_rnnkit(model, optimizer, examples: TranslationExamples, batches, clip: float) -> float:
    model.train()
    started = time.perf_counter()
    for idx in batches:
        loss, weight, _, _ = examples.loss(model, idx)
        optimizer.zero_grad()
        (loss / weight).backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
    return time.perf_counter() - started


def decode_plain(model: PlainSeq2Seq, pairs: Pairs, beam: int) -> tuple[float, list[list[int]]]:
    """(seconds, outputs in item order)."""
    model.eval()
    outputs: list[list[int]] = [[] for _ in range(len(pairs))]
    started = time.perf_counter()
    if beam == 1:
        for idx in bucket_batches(pairs.sources.lengths, 64):
            source, lengths, _ = pairs.batch(idx)
            for i, output in zip(idx, plain_greedy(model, source.t(), lengths), strict=True):
                outputs[i] = output
    else:
        for i in range(len(pairs)):
            source, lengths, _ = pairs.batch(np.array([i]))
            outputs[i] = plain_beam(model, source.t(), int(lengths[0]), beam)
    return time.perf_counter() - started, outputs


def decode_rnnkit(model, pairs: Pairs, beam: int) -> tuple[float, list[list[int]]]:
    outputs: list[list[int]] = [[] for _ in range(len(pairs))]
    started = time.perf_counter()
    for idx in bucket_batches(pairs.sources.lengths, 64):
        source, lengths, _ = pairs.batch(idx)
        found = greedy(model, source, lengths) if beam == 1 else beam_search(model, source, lengths, beam)
        for i, output in zip(idx, found, strict=True):
            outputs[i] = output
    return time.perf_counter() - started, outputs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=10000, help="training pairs the subwords are learned on")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", help="a translator bundle (Multi30k de-en) to decode with")
    args = parser.parse_args()
    params = Translator().get_params()
    trained = load_model(args.model) if args.model else None
    train = read_aligned(DATA / "train.de.gz", DATA / "train.en.gz")
    val = read_aligned(DATA / "val.de.gz", DATA / "val.en.gz")
    sources, targets = list(train.sources[: args.pairs]), list(train.targets[: args.pairs])
    if trained is not None:
        source_tokens, target_tokens = trained.source_tokenizer_, trained.target_tokenizer_
    else:
        source_tokens = SubwordTokenizer.train(sources, params["vocab_size"])
        target_tokens = SubwordTokenizer.train(targets, params["vocab_size"])
    pairs = Pairs.of(source_tokens.encode(sources), target_tokens.encode(targets))
    test = Pairs.of(
        source_tokens.encode(list(val.sources[: args.sentences])),
        target_tokens.encode(list(val.targets[: args.sentences])),
    )
    torch.manual_seed(0)
    models = {
        "plain": PlainSeq2Seq(len(source_tokens), len(target_tokens), params),
        "rnnkit": make_seq2seq(params, len(source_tokens), len(target_tokens)),
    }
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=params["lr"]) for name, m in models.items()}
    batches = bucket_batches(pairs.sources.lengths, params["batch_size"], np.random.default_rng(0))[: args.batches]
    tokens = sum(int(pairs.targets.lengths[idx].sum()) - len(idx) for idx in batches)  # predicted: all but <sos>
    examples = TranslationExamples(pairs, params["label_smoothing"])
    smoothing, clip = params["label_smoothing"], params["clip_norm"]
    kinds = ("train", "greedy", "beam")
    results: dict[str, dict[str, list[float]]] = {name: {kind: [] for kind in kinds} for name in models}
    plain, ours = models["plain"], models["rnnkit"]
    for _ in range(args.rounds):
        seconds = train_plain(plain, optimizers["plain"], pairs, batches, smoothing, clip)
        results["plain"]["train"].append(tokens / seconds)
        results["rnnkit"]["train"].append(tokens / train_rnnkit(ours, optimizers["rnnkit"], examples, batches, clip))
    if trained is not None:
        ours = trained.model_
    copy_weights(plain, ours)  # the same network decodes both ways: the same outputs, the same steps
    agree = {}
    for _ in range(args.rounds):
        for kind, beam in (("greedy", 1), ("beam", params["beam"])):
            seconds, plain_out = decode_plain(plain, test, beam)
            results["plain"][kind].append(len(test) / seconds)
            seconds, our_out = decode_rnnkit(ours, test, beam)
            results["rnnkit"][kind].append(len(test) / seconds)
            agree[kind] = sum(a == b for a, b in zip(plain_out, our_out, strict=True))
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    feeding = "with" if params["input_feeding"] else "without"
    print(
        f"Multi30k de-en, {params['vocab_size']} subwords a side, {args.batches} batches of {params['batch_size']} "
        f"({tokens} target tokens), {len(test)} validation sentences, GRU {params['hidden_size']}, "
        f"{feeding} input feeding, {args.rounds} rounds, medians; decoding with "
        + (f"the weights of {args.model}" if args.model else "the weights trained here")
    )
    median = {name: {kind: statistics.median(v) for kind, v in r.items()} for name, r in results.items()}
    header = "".join(f"{title:>15}{'ratio':>7}" for title in ("train tokens/s", "greedy sent/s", "beam 5 sent/s"))
    print(f"{'':<28}{header}")
    for name, label in (("plain", "plain PyTorch seq2seq"), ("rnnkit", "rnnkit defaults")):
        row = "".join(f"{median[name][k]:>15.0f}{median[name][k] / median['plain'][k]:>7.2f}" for k in kinds)
        print(f"{label:<28}{row}")
    print(
        f"decoding with rnnkit's weights in both: the same output for {agree['greedy']} of {len(test)} sentences "
        f"greedy, {agree['beam']} with beam 5"
    )


if __name__ == "__main__":
    main()
