"""The translation network: a bidirectional encoder, a bridge, and an attentional decoder.

:class:`Seq2Seq`, Luong et al. 2015's design with input feeding:

* encoder: source embedding -> the shared bidirectional encoder (exact lengths) -> memory
  ``(source, batch, 2 * hidden)``;
* bridge: the encoder's summary (each direction's state after reading the whole sentence) through a
  tanh layer -> the decoder's initial state, for every layer;
* decoder, one step at a time: [previous target token's embedding; previous attentional vector] ->
  one-directional RNN -> attention over the memory (padding masked) -> attentional vector
  ``tanh(W [h; context])`` -> scores over the target vocabulary (``tie_weights``: through the target
  embedding matrix). Feeding the attentional vector back in tells the decoder what it attended to.

Ids are time-major and post-padded: ``source (source, batch)`` with ``lengths (batch,)``; targets
``(target, batch)`` start with ``<sos>`` and end with ``<eos>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.nn.attention import Attention
from rnnkit.nn.dropout import Dropout
from rnnkit.nn.encoder import Pooling, RecurrentEncoder
from rnnkit.nn.stateful import StatefulRNN
from rnnkit.text.pipeline import PAD_ID


@dataclass
class Encoded:
    """What the decoder reads of a batch of sources: memory, its attention keys, lengths."""

    memory: torch.Tensor  # (source, batch, 2 * hidden)
    keys: torch.Tensor  # (source, batch, size)
    lengths: torch.Tensor  # (batch,)

    def repeat(self, times: int) -> Encoded:
        """Each sentence ``times`` times in a row (for a beam): batch ``b`` becomes ``b * times .. + times - 1``."""
        return Encoded(
            self.memory.repeat_interleave(times, dim=1),
            self.keys.repeat_interleave(times, dim=1),
            self.lengths.repeat_interleave(times),
        )


@dataclass
class DecoderState:
    """The decoder's recurrent state ``(layers, S, batch, hidden)`` and last attentional vector ``(batch, hidden)``."""

    rnn: torch.Tensor
    feed: torch.Tensor

    def select(self, index: torch.Tensor) -> DecoderState:
        """The states of the rows ``index`` (a beam keeps its best hypotheses)."""
        return DecoderState(self.rnn[:, :, index], self.feed[index])


class Seq2Seq(nn.Module):
    def __init__(
        self,
        source_vocab: int,
        target_vocab: int,
        cell: str = "gru",
        embedding_dim: int = 256,
        hidden_size: int = 256,
        num_layers: int = 1,
        attention: str = "general",
        dropout: float = 0.3,
        tie_weights: bool = False,
    ):
        super().__init__()
        self.source_embedding = nn.Embedding(source_vocab, embedding_dim, padding_idx=PAD_ID)
        self.target_embedding = nn.Embedding(target_vocab, embedding_dim, padding_idx=PAD_ID)
        self.dropout = Dropout(dropout)
        self.encoder = RecurrentEncoder(cell, embedding_dim, hidden_size, num_layers, True, dropout)
        self.summary = Pooling("last", self.encoder.output_size, bidirectional=True)
        self.decoder = StatefulRNN(cell, embedding_dim + hidden_size, hidden_size, num_layers, dropout)
        self.bridge = nn.Linear(self.encoder.output_size, num_layers * self.decoder.planes * hidden_size)
        self.attention = Attention(attention, hidden_size, self.encoder.output_size)
        self.combine = nn.Linear(hidden_size + self.encoder.output_size, hidden_size)
        self.tie_weights = tie_weights
        if tie_weights:
            self.project = nn.Linear(hidden_size, embedding_dim)
            self.output_bias = nn.Parameter(torch.zeros(target_vocab))
        else:
            self.head = nn.Linear(hidden_size, target_vocab)

    def encode(self, source: torch.Tensor, lengths: torch.Tensor) -> tuple[Encoded, DecoderState]:
        """The memory of ``source (source, batch)`` and the decoder's initial state."""
        memory = self.encoder(self.dropout(self.source_embedding(source)), lengths)
        summary = torch.tanh(self.bridge(self.summary(memory, lengths)))  # (batch, layers * S * hidden)
        layers, planes, size = self.decoder.rnn.num_layers, self.decoder.planes, self.decoder.rnn.hidden_size
        rnn = summary.view(-1, layers, planes, size).permute(1, 2, 0, 3).contiguous()
        feed = memory.new_zeros(source.size(1), size)
        return Encoded(memory, self.attention.keys(memory), lengths), DecoderState(rnn, feed)

    def advance(self, tokens: torch.Tensor, encoded: Encoded, state: DecoderState) -> DecoderState:
        """One decoder step from ``tokens (batch,)`` (the previous outputs): the new state, whose ``feed``
        is the attentional vector the scores are computed from."""
        x = torch.cat([self.dropout(self.target_embedding(tokens)), state.feed], dim=1)[None]
        h, rnn = self.decoder(x, state.rnn)
        context, _ = self.attention(h, encoded.memory, encoded.keys, encoded.lengths)
        return DecoderState(rnn, torch.tanh(self.combine(torch.cat([h[0], context[0]], dim=1))))

    def step(self, tokens: torch.Tensor, encoded: Encoded, state: DecoderState) -> tuple[torch.Tensor, DecoderState]:
        """One decoding step: ``tokens (batch,)`` (the previous output) -> scores ``(batch, target_vocab)``."""
        state = self.advance(tokens, encoded, state)
        return self.scores(state.feed), state

    def scores(self, feed: torch.Tensor) -> torch.Tensor:
        """Scores over the target vocabulary of attentional vectors ``(..., hidden)``."""
        feed = self.dropout(feed)
        if not self.tie_weights:
            return self.head(feed)
        return F.linear(self.project(feed), self.target_embedding.weight, self.output_bias)

    def forward(self, source: torch.Tensor, lengths: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: scores ``(target - 1, batch, target_vocab)`` for ``target[1:]`` given ``target[:-1]``.
        The steps run one by one; the output layer, the costliest part, runs once over all of them."""
        encoded, state = self.encode(source, lengths)
        feeds = []
        for t in range(target.size(0) - 1):
            state = self.advance(target[t], encoded, state)
            feeds.append(state.feed)
        return self.scores(torch.stack(feeds))


def translation_loss(scores: torch.Tensor, target: torch.Tensor, smoothing: float = 0.0) -> tuple[torch.Tensor, int]:
    """(summed cross-entropy, counted tokens) of ``scores (target - 1, batch, vocab)`` for ``target[1:]``;
    padding counts nowhere. ``smoothing``: label smoothing (Szegedy et al. 2016)."""
    gold = target[1:]
    total = F.cross_entropy(
        scores.flatten(0, 1), gold.flatten(), ignore_index=PAD_ID, reduction="sum", label_smoothing=smoothing
    )
    return total, int((gold != PAD_ID).sum())
