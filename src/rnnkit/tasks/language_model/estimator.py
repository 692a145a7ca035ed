"""``LanguageModel``: the next character (or word) of a text, scikit-learn style.

``fit(text)`` learns from one continuous text (a string, or lines joined by line breaks), holding
out its last ``val_fraction`` for early stopping; ``generate(prompt, length, temperature, top_k,
seed)`` continues a prompt; ``report(text)`` gives the held-out loss in nats per token, the
perplexity and, for characters, bits per character. Parameters are stored untouched by ``__init__``;
everything learned ends in ``_``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from pathlib import Path

import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks.language_model import bundle
from rnnkit.tasks.language_model.model import RNNLanguageModel, TextStream
from rnnkit.tasks.language_model.tokens import NEWLINE, encode, join, split
from rnnkit.tasks.params import validate_params
from rnnkit.text.pipeline import EOS_ID, PAD_ID, SOS_ID, SPECIALS, UNK_ID, Vocab
from rnnkit.train.checkpoint import Checkpoints, fingerprint
from rnnkit.train.loop import TrainSettings, schedule, train

# Auto epochs give at least this many updates (windows), at least 10 epochs: 14 epochs on
# tiny-shakespeare (110 windows of 64 x 128 characters each), where the held-out loss levelled off at
# 1.445 nats per character by epoch 12 (1.535 at epoch 4, 1.468 at 7) while the training loss kept falling.
LM_MIN_UPDATES = 1500


class LanguageModel(BaseEstimator):
    """Recurrent language model over characters or words; see the module docstring."""

    monitors = ("loss",)  # early stopping watches the validation loss

    def __init__(
        self,
        *,
        tokenizer: str = "char",
        num_words: int | None = None,
        min_freq: int = 1,
        cell: str = "lstm",
        num_layers: int = 1,
        hidden_size: int = 512,
        embedding_dim: int = 128,
        dropout: float = 0.1,
        tie_weights: bool = False,
        batch_size: int = 64,
        steps: int = 128,
        epochs: int | None = None,
        lr: float = 2e-3,
        lr_decay: float = 1.0,
        ema: float = 0.0,
        clip_norm: float | None = 1.0,
        patience: int | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        verbose: bool = False,
    ):
        self.tokenizer = tokenizer
        self.num_words = num_words
        self.min_freq = min_freq
        self.cell = cell
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.tie_weights = tie_weights
        self.batch_size = batch_size
        self.steps = steps
        self.epochs = epochs
        self.lr = lr
        self.lr_decay = lr_decay
        self.ema = ema
        self.clip_norm = clip_norm
        self.patience = patience
        self.val_fraction = val_fraction
        self.seed = seed
        self.verbose = verbose

    def fit(
        self,
        X: str | Iterable[str],
        y: None = None,
        validation_data: str | None = None,
        *,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: float | None = None,
        resume: bool = False,
    ) -> LanguageModel:
        """Learn from the text ``X`` (a string, or lines); early stopping watches ``validation_data``
        (a text) when given, else the last ``val_fraction`` of ``X`` (the text's end, not a sample:
        nearby lines share names and phrases), cut where a line starts. Checkpoints and ``resume`` work
        as in :meth:`rnnkit.TextClassifier.fit`, except that the state carried from window to window is
        not saved: an epoch resumed mid-way carries a zero state into the window it resumes at, so its
        model differs slightly from an uninterrupted run's (an epoch resumed at its start does not)."""
        params = dict(self.get_params())
        validate_params(params, self.monitors)
        if resume and checkpoint_dir is None:
            raise ConfigError("resume=True needs the checkpoint_dir to resume from")
        started = time.perf_counter()
        text = check_text(X, "training")
        if validation_data is not None:
            val_text = check_text(validation_data, "validation")
        else:
            text, val_text = held_out(text, params["val_fraction"])
        vocab = Vocab.build(
            [split(text, params["tokenizer"])], num_words=params["num_words"], min_freq=params["min_freq"]
        )
        streams = []
        for part, what in ((text, "training"), (val_text, "validation")):
            ids = encode(part, vocab, params["tokenizer"])
            rows = min(params["batch_size"], len(ids) // 2)
            if rows < 1 and what == "validation" and validation_data is None:
                raise DataError("no held-out text to validate on: give --val, or a larger val_fraction")
            if rows < 1:
                raise DataError(f"the {what} text has {len(ids)} tokens; a language model needs at least 2")
            streams.append(TextStream(ids, rows, params["steps"]))
        torch.manual_seed(params["seed"])
        model = make_language_model(params, len(vocab))
        epochs, patience = schedule(len(streams[0].windows), 1, params["epochs"], params["patience"], LM_MIN_UPDATES)
        settings = TrainSettings.of(params, epochs, patience, "loss")
        checkpoints = Checkpoints.of_run(checkpoint_dir, checkpoint_every, params, data=fingerprint([text, val_text]))
        history = train(model, streams[0], streams[1], settings, checkpoints=checkpoints, resume=resume)
        self.params_, self.vocab_, self.model_, self.history_ = params, vocab, model, history
        self.train_seconds_ = time.perf_counter() - started
        return self

    def report(self, X: str | Iterable[str]) -> dict:
        """``{"loss"}`` (nats per token), ``"perplexity"``, ``"n"`` (tokens) and, for characters,
        ``"bits_per_char"``, over the text read as one stream (a single row, state carried)."""
        check_is_fitted(self, "model_")
        ids = encode(check_text(X, "evaluation"), self.vocab_, self.params_["tokenizer"])
        if len(ids) < 2:
            raise DataError(f"the text has {len(ids)} tokens; at least 2 are needed to score a prediction")
        scores = TextStream(ids, 1, self.params_["steps"] * 8).evaluate(self.model_)
        report = {"loss": scores["loss"], "perplexity": scores["perplexity"], "n": len(ids) - 1}
        if self.params_["tokenizer"] == "char":
            report["bits_per_char"] = scores["loss"] / math.log(2)
        return report

    def perplexity(self, X: str | Iterable[str]) -> float:
        return self.report(X)["perplexity"]

    def score(self, X: str | Iterable[str], y: None = None) -> float:
        """Minus the loss in nats per token (higher is better, as scikit-learn's searches expect)."""
        return -self.report(X)["loss"]

    @torch.no_grad()
    def generate(
        self,
        prompt: str = "",
        length: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
    ) -> str:
        """The prompt and ``length`` tokens sampled after it, each from the model's distribution
        sharpened by ``temperature`` (lower: safer; 0: always the most likely token) among the
        ``top_k`` most likely (None: all). The same seed gives the same text. An empty prompt starts
        at a line break."""
        check_is_fitted(self, "model_")
        check_sampling(length, temperature, top_k)
        # An empty prompt starts a new line (or, in a text without line breaks, at its commonest token).
        start = NEWLINE if NEWLINE in self.vocab_ else self.vocab_.itos[len(SPECIALS)]
        ids = self.vocab_.encode(split(prompt, self.params_["tokenizer"]) or [start])
        if all(i == UNK_ID for i in ids):
            raise DataError(f"the prompt {prompt!r} has no token the model knows")
        generator = torch.Generator()
        if seed is None:
            generator.seed()  # fresh randomness
        else:
            generator.manual_seed(seed)
        self.model_.eval()
        logits, state = self.model_(torch.tensor(ids)[:, None])
        never = torch.tensor([PAD_ID, UNK_ID, SOS_ID, EOS_ID])  # the reserved ids are not text
        out: list[int] = []
        for _ in range(length):
            scores = logits[-1, 0].clone()
            scores[never] = -math.inf
            chosen = sample(scores, temperature, top_k, generator)
            out.append(chosen)
            logits, state = self.model_(torch.tensor([[chosen]]), state)
        continuation = join(self.vocab_.decode(out), self.params_["tokenizer"])
        words = self.params_["tokenizer"] == "word"
        if words and prompt and continuation and not prompt[-1].isspace() and not continuation.startswith(NEWLINE):
            return f"{prompt} {continuation}"
        return prompt + continuation

    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write the model bundle directory (atomically); ``metrics`` adds ``metrics.json``."""
        check_is_fitted(self, "model_")
        return bundle.save(self, Path(path), metrics)


def make_language_model(params: dict, vocab_size: int) -> RNNLanguageModel:
    """The untrained network of a parameter set."""
    names = ("cell", "embedding_dim", "hidden_size", "num_layers", "dropout", "tie_weights")
    return RNNLanguageModel(vocab_size, **{k: params[k] for k in names})


def sample(scores: torch.Tensor, temperature: float, top_k: int | None, generator: torch.Generator) -> int:
    """One token id drawn from the softmax of ``scores (vocab,) / temperature`` over the ``top_k`` best."""
    if temperature == 0:
        return int(scores.argmax())
    if top_k is not None and top_k < scores.numel():
        threshold = scores.topk(top_k).values[-1]
        scores = scores.masked_fill(scores < threshold, -math.inf)
    probabilities = torch.softmax((scores - scores.max()) / temperature, dim=0)  # no overflow at tiny temperatures
    return int(torch.multinomial(probabilities, 1, generator=generator))


def check_sampling(length: int, temperature: float, top_k: int | None) -> None:
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ConfigError(f"length must be an integer >= 0; got {length!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature < math.inf:
        raise ConfigError(f"temperature must be a number >= 0; got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ConfigError(f"top_k must be an integer >= 1 or None; got {top_k!r}")


def held_out(text: str, fraction: float) -> tuple[str, str]:
    """(training part, held-out end) of a text: about the last ``fraction`` of its characters, from the
    start of the next line (else the last line before, else a word), so no word is cut in two."""
    cut = len(text) - round(len(text) * fraction)
    if cut >= len(text):
        return text, ""
    for mark in (NEWLINE, " "):
        found = text.find(mark, cut)
        found = found if found != -1 else text.rfind(mark, 0, cut)
        if found != -1 and found + 1 < len(text):
            return text[: found + 1], text[found + 1 :]
    return text[:cut], text[cut:]


def check_text(X: str | Iterable[str], what: str) -> str:
    """One text: a string as it is, or lines (strings) joined by line breaks. Only training refuses a
    text of blanks alone (nothing to learn); anything else is a stream of tokens to read."""
    if isinstance(X, str):
        text = X
    else:
        lines = list(X)
        if not all(isinstance(line, str) for line in lines):
            raise DataError(f"the {what} text must be a string or a list of strings")
        text = NEWLINE.join(line.rstrip("\n") for line in lines)
    if not text or (what == "training" and not text.strip()):
        raise DataError(f"the {what} text is empty")
    return text
