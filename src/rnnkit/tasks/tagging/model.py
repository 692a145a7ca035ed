"""The tagger's network and its side of the training loop.

:class:`RNNTagger`: for each token, [word embedding; character encoding; casing one-hot] ->
bidirectional recurrent encoder (exact lengths) -> one score per tag ("emissions"), then either a
linear-chain CRF (the default: it scores whole tag sequences, so I-PER never follows B-ORG) or an
independent softmax per token. Everything inside is time-major: ``(time, batch, ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.nn.chars import char_encoder as make_char_encoder
from rnnkit.nn.crf import CRF, mean_crf
from rnnkit.nn.dropout import Dropout
from rnnkit.nn.encoder import RecurrentEncoder
from rnnkit.nn.steps import valid_steps
from rnnkit.tasks.tagging.encode import CASINGS, Batch, Sentences, collate
from rnnkit.tasks.tagging.metrics import entity_scores
from rnnkit.tasks.tagging.schemes import bioes_constraints
from rnnkit.text.batches import bucket_batches
from rnnkit.text.pipeline import PAD_ID, UNK_ID

PREDICT_BATCH_SIZE = 64


class TagScorer(nn.Module):
    """What a tagging network does with its emissions: the loss, the tag probabilities and the best
    tags, under ``self.crf`` (a :class:`CRF`, or None for an independent softmax per token)."""

    crf: CRF | None

    def loss(self, emissions: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(summed loss, its weight): CRF negative log-likelihood per sentence over sentences, or
        cross-entropy per token over tokens."""
        crf = self.crf  # one access: an ensemble builds its mean CRF on each
        if crf is not None:
            return crf.nll(emissions, batch.tags, batch.lengths).sum(), emissions.new_tensor(len(batch.lengths))
        real = valid_steps(batch.lengths, emissions.size(0))
        return F.cross_entropy(emissions[real], batch.tags[real], reduction="sum"), real.sum().to(emissions.dtype)

    def tag_probabilities(self, emissions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Each token's probability of each tag ``(time, batch, tags)``: under the CRF the marginals
        over all tag sequences (the gradient of the log partition function by the emissions, which
        is the forward-backward algorithm), else the softmax."""
        crf = self.crf
        if crf is None:
            return torch.softmax(emissions, dim=2)
        with torch.enable_grad():
            scores = emissions.detach().requires_grad_()
            (marginals,) = torch.autograd.grad(crf.log_partition(scores, lengths).sum(), scores)
        return marginals

    def decode(self, emissions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Best tag ids ``(time, batch)``: Viterbi under the CRF, else each token's most probable tag."""
        crf = self.crf
        if crf is not None:
            return crf.decode(emissions, lengths)[0]
        return emissions.argmax(dim=2)


class RNNTagger(TagScorer):
    """One network: token features -> bidirectional encoder -> emissions, then CRF or softmax."""

    def __init__(
        self,
        vocab_size: int,
        num_chars: int,
        tag_names: list[str],
        cell: str = "gru",
        hidden_size: int = 200,
        num_layers: int = 1,
        embedding_dim: int = 100,
        char_encoder: str = "cnn",
        char_dim: int = 30,
        char_size: int = 100,
        casing: bool = True,
        dropout: float = 0.5,
        word_dropout: float = 0.5,
        crf: bool = True,
    ):
        super().__init__()
        self.word_dropout = word_dropout
        # Which word ids were seen once in training (set by the trainer; nothing to save): the ones
        # word dropout replaces.
        self.register_buffer("rare", torch.zeros(vocab_size, dtype=torch.bool), persistent=False)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        self.chars = make_char_encoder(char_encoder, num_chars, char_dim, char_size)
        self.casing = casing
        size = embedding_dim + (self.chars.output_size if self.chars is not None else 0) + casing * len(CASINGS)
        self.dropout = Dropout(dropout)
        self.encoder = RecurrentEncoder(cell, size, hidden_size, num_layers, bidirectional=True, dropout=dropout)
        self.head = nn.Linear(self.encoder.output_size, len(tag_names))
        self.crf = CRF(len(tag_names)) if crf else None
        if self.crf is not None:
            self.crf.constrain(*(torch.from_numpy(a) for a in bioes_constraints(tag_names)))

    def forward(self, batch: Batch) -> torch.Tensor:
        """Emissions ``(time, batch, tags)``; steps past a sentence's length hold values nothing reads."""
        words = batch.words
        if self.training and self.word_dropout:
            # Words seen once in training, replaced by <unk> now and then, teach the tagger what unseen
            # words are like (rare words are often names) and to read their spelling, casing and
            # context (Lample et al. 2016).
            dropped = (torch.rand(words.shape) < self.word_dropout) & self.rare[words]
            words = words.masked_fill(dropped, UNK_ID)
        parts = [self.embedding(words)]
        if self.chars is not None:
            parts.append(self.chars(batch.chars, batch.char_lengths)[batch.form_index])
        if self.casing:
            parts.append(F.one_hot(batch.casing, len(CASINGS)).to(parts[0].dtype))
        h = self.encoder(self.dropout(torch.cat(parts, dim=2)), batch.lengths)
        return self.head(self.dropout(h))


class TaggerEnsemble(TagScorer):
    """Taggers trained apart (other seeds) that tag together: the mean of their emissions under the
    mean of their CRF scores, so each path scores the members' mean score (the CRF of the normalised
    geometric mean of their path distributions). Members disagree most where each is unsure, so
    together they tag better than their mean (CoNLL-2003 validation, bench/RESULTS.md: 0.869 and 0.851
    alone, 0.8725 as two; 0.870 and 0.863, 0.879 on another machine). The members share the
    vocabularies; their parameters are ``members.<i>.*``."""

    def __init__(self, members: list[RNNTagger]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, batch: Batch) -> torch.Tensor:
        """The members' mean emissions ``(time, batch, tags)``."""
        return torch.stack([member(batch) for member in self.members]).mean(dim=0)

    @property
    def crf(self) -> CRF | None:
        crfs = [member.crf for member in self.members]
        return None if crfs[0] is None else mean_crf(crfs)


@torch.no_grad()
def predict_tag_ids(
    model: TagScorer,
    sentences: Sentences,
    batch_size: int = PREDICT_BATCH_SIZE,
    losses: list | None = None,
    confidences: list | None = None,
) -> list[np.ndarray]:
    """The best tag ids of every sentence, in input order (batched longest-first: deterministic).

    With ``losses`` (sentences with tags), each batch's (summed loss, weight) is appended to it; with
    ``confidences``, it receives each sentence's probabilities of its chosen tags, in input order.
    """
    model.eval()
    out: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(sentences)
    chosen: list[np.ndarray] = [np.zeros(0, dtype=np.float32)] * len(sentences)
    for idx in bucket_batches(sentences.lengths, batch_size):
        batch = collate(sentences, idx)
        emissions = model(batch)
        if losses is not None:
            losses.append(tuple(map(float, model.loss(emissions, batch))))
        best = model.decode(emissions, batch.lengths)
        if confidences is not None:
            probability = model.tag_probabilities(emissions, batch.lengths).gather(2, best[:, :, None])[:, :, 0]
            for row, i in enumerate(idx):
                chosen[i] = probability[: sentences.lengths[i], row].numpy()
        best = best.t().numpy()
        for row, i in enumerate(idx):
            out[i] = best[row, : sentences.lengths[i]]
    if confidences is not None:
        confidences.extend(chosen)
    return out


@dataclass(frozen=True)
class TaggingExamples:
    """Encoded sentences with their tags, for :func:`rnnkit.train.loop.train`."""

    sentences: Sentences
    tag_names: list[str]  # in the tagger's scheme (BIOES or plain)
    chunked: bool  # entities (BIOES): validation reports entity F1

    @property
    def lengths(self) -> np.ndarray:
        return self.sentences.lengths

    def loss(self, model: RNNTagger, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """(summed loss, weight, tokens whose highest emission is the gold tag, tokens)."""
        batch = collate(self.sentences, idx)
        emissions = model(batch)
        total, weight = model.loss(emissions, batch)
        real = valid_steps(batch.lengths, emissions.size(0))
        correct = int((emissions.detach().argmax(dim=2) == batch.tags)[real].sum())
        return total, weight, correct, int(real.sum())

    @torch.inference_mode()
    def evaluate(self, model: RNNTagger) -> dict[str, float]:
        """``{"loss", "accuracy"}`` (token accuracy of the decoded tags), and ``"f1"`` for entities."""
        losses: list[tuple[float, float]] = []
        predicted = predict_tag_ids(model, self.sentences, losses=losses)
        loss, weight = np.sum(losses, axis=0)
        gold = [self.sentences.tags[i] for i in range(len(self.sentences))]
        flat_gold, flat_pred = np.concatenate(gold), np.concatenate(predicted)
        scores = {"loss": float(loss / weight), "accuracy": float((flat_gold == flat_pred).mean())}
        if self.chunked:
            names = np.asarray(self.tag_names)
            scores["f1"] = entity_scores([names[g] for g in gold], [names[p] for p in predicted])["f1"]
        return scores
