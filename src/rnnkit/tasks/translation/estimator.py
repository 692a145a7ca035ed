"""``Translator``: sentences of one language in, their translations out, scikit-learn style.

Each side gets its own subword vocabulary (:mod:`rnnkit.text.subwords`), learned from the training
sentences, so any output detokenizes exactly. The network is :class:`~rnnkit.tasks.translation.model.Seq2Seq`;
early stopping watches the BLEU of greedy translations of the validation sentences, and ``translate``
uses beam search. Parameters are stored untouched by ``__init__``; everything learned ends in ``_``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks.params import validate_params
from rnnkit.tasks.translation import bundle
from rnnkit.tasks.translation.decode import beam_search, greedy
from rnnkit.tasks.translation.examples import Pairs, TranslationExamples
from rnnkit.tasks.translation.metrics import translation_scores
from rnnkit.tasks.translation.model import Seq2Seq
from rnnkit.text.batches import bucket_batches
from rnnkit.text.subwords import SubwordTokenizer
from rnnkit.train.checkpoint import Checkpoints, fingerprint
from rnnkit.train.loop import TrainSettings, schedule, train

# Auto epochs give at least this many updates: 16 epochs of Multi30k's 29,000 pairs in batches of 64,
# where greedy validation BLEU was 28.0 at epoch 4, 33.6 at 9, 34.0 at 13 and 35.1 at 15 (about 60 s
# an epoch on 2 cores), still rising slowly.
TRANSLATION_MIN_UPDATES = 7200
TRANSLATE_BATCH_SIZE = 64


class Translator(BaseEstimator):
    """Recurrent encoder-decoder with attention; see the module docstring."""

    monitors = ("bleu", "loss", None)  # None: bleu

    def __init__(
        self,
        *,
        cell: str = "gru",
        num_layers: int = 1,
        hidden_size: int = 256,
        embedding_dim: int = 256,
        attention: str = "general",
        dropout: float = 0.3,
        tie_weights: bool = False,
        input_feeding: bool = False,
        vocab_size: int = 4000,
        subword_model: str = "bpe",
        shared_vocab: bool = False,
        label_smoothing: float = 0.1,
        batch_size: int = 64,
        epochs: int | None = None,
        lr: float = 1e-3,
        lr_decay: float = 1.0,
        ema: float = 0.0,
        clip_norm: float | None = 1.0,
        patience: int | None = None,
        monitor: str | None = None,
        beam: int = 5,
        length_penalty: float = 0.6,
        val_fraction: float = 0.05,
        seed: int = 0,
        verbose: bool = False,
    ):
        self.cell = cell
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.embedding_dim = embedding_dim
        self.attention = attention
        self.dropout = dropout
        self.tie_weights = tie_weights
        self.input_feeding = input_feeding
        self.vocab_size = vocab_size
        self.subword_model = subword_model
        self.shared_vocab = shared_vocab
        self.label_smoothing = label_smoothing
        self.batch_size = batch_size
        self.epochs = epochs
        self.lr = lr
        self.lr_decay = lr_decay
        self.ema = ema
        self.clip_norm = clip_norm
        self.patience = patience
        self.monitor = monitor
        self.beam = beam
        self.length_penalty = length_penalty
        self.val_fraction = val_fraction
        self.seed = seed
        self.verbose = verbose

    def fit(
        self,
        X: Sequence[str],
        y: Sequence[str],
        validation_data: tuple | None = None,
        *,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: float | None = None,
        resume: bool = False,
    ) -> Translator:
        """Learn to translate the sentences ``X`` into ``y``; early stopping watches
        ``validation_data=(sources, targets)`` when given, else the last ``val_fraction`` of the pairs."""
        params = dict(self.get_params())
        validate_params(params, self.monitors)
        if resume and checkpoint_dir is None:
            raise ConfigError("resume=True needs the checkpoint_dir to resume from")
        started = time.perf_counter()
        sources, targets = check_pairs(X, y, "training")
        if validation_data is not None:
            val_sources, val_targets = check_pairs(*validation_data, "validation")
        else:
            cut = len(sources) - round(len(sources) * params["val_fraction"])
            sources, targets, val_sources, val_targets = sources[:cut], targets[:cut], sources[cut:], targets[cut:]
            if not val_sources:
                raise DataError("no pairs held out to validate on: give validation data (--val-source/--val-target)")
        source_tokens, target_tokens = learn_subwords(sources, targets, params)
        train_pairs = Pairs.of(source_tokens.encode(sources), target_tokens.encode(targets))
        val_pairs = Pairs.of(source_tokens.encode(val_sources), target_tokens.encode(val_targets))

        def bleu(outputs: list[list[int]]) -> dict[str, float]:
            return {"bleu": translation_scores(target_tokens.decode(outputs), val_targets)["bleu"]}

        torch.manual_seed(params["seed"])
        model = make_seq2seq(params, len(source_tokens), len(target_tokens))
        epochs, patience = schedule(
            len(train_pairs), params["batch_size"], params["epochs"], params["patience"], TRANSLATION_MIN_UPDATES
        )
        settings = TrainSettings.of(params, epochs, patience, params["monitor"] or "bleu")
        data = fingerprint(sources, targets, val_sources, val_targets)
        checkpoints = Checkpoints.of_run(checkpoint_dir, checkpoint_every, params, data=data)
        history = train(
            model,
            TranslationExamples(train_pairs, params["label_smoothing"]),
            TranslationExamples(val_pairs, params["label_smoothing"], bleu),
            settings,
            checkpoints=checkpoints,
            resume=resume,
        )
        self.params_, self.source_tokenizer_, self.target_tokenizer_ = params, source_tokens, target_tokens
        self.model_, self.history_ = model, history
        self.train_seconds_ = time.perf_counter() - started
        return self

    def translate(self, sentences: Sequence[str], beam: int | None = None) -> list[str]:
        """The translation of each sentence: beam search ``beam`` wide (default: the ``beam``
        parameter; 1 is greedy), with the ``length_penalty``."""
        check_is_fitted(self, "model_")
        if isinstance(sentences, str):
            raise DataError("expected a list of sentences, got a single string; wrap it in a list")
        beam = self.params_["beam"] if beam is None else beam
        if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
            raise ConfigError(f"beam must be an integer >= 1; got {beam!r}")
        ids = self.source_tokenizer_.encode([str(s) for s in sentences])
        out: list[list[int]] = [[] for _ in ids]
        keep = [i for i, s in enumerate(ids) if s]  # an empty sentence translates to nothing
        pairs = Pairs.of([ids[i] for i in keep], [[] for _ in keep])
        for idx in bucket_batches(pairs.sources.lengths, TRANSLATE_BATCH_SIZE):
            source, lengths, _ = pairs.batch(idx)
            if beam == 1:
                found = greedy(self.model_, source, lengths)
            else:
                found = beam_search(self.model_, source, lengths, beam, self.params_["length_penalty"])
            for i, output in zip(idx, found, strict=True):
                out[keep[i]] = output
        return self.target_tokenizer_.decode(out)

    def report(self, X: Sequence[str], y: Sequence[str], beam: int | None = None) -> dict:
        """``{"bleu", "chrf", "bleu_lowercase", "n", "signatures"}`` (sacreBLEU) of the translations of ``X``
        against the references ``y``, and the ``"hypotheses"``."""
        sources, references = check_pairs(X, y, "evaluation")
        hypotheses = self.translate(sources, beam)
        return {**translation_scores(hypotheses, references), "hypotheses": hypotheses}

    def score(self, X: Sequence[str], y: Sequence[str]) -> float:
        """sacreBLEU (detokenized, cased) of the translations of ``X`` against ``y``."""
        return self.report(X, y)["bleu"]

    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write the model bundle directory (atomically); ``metrics`` adds ``metrics.json``."""
        check_is_fitted(self, "model_")
        return bundle.save(self, Path(path), metrics)


def make_seq2seq(params: dict, source_vocab: int, target_vocab: int) -> Seq2Seq:
    """The untrained network of a parameter set."""
    names = (
        "cell",
        "embedding_dim",
        "hidden_size",
        "num_layers",
        "attention",
        "dropout",
        "tie_weights",
        "input_feeding",
    )
    return Seq2Seq(source_vocab, target_vocab, **{k: params[k] for k in names})


def learn_subwords(sources: list[str], targets: list[str], params: dict) -> tuple[SubwordTokenizer, SubwordTokenizer]:
    """The source and target tokenizers: one per language, or with ``shared_vocab`` one learned from both
    sides (for related languages, whose names and numbers are spelled alike)."""
    size, kind = params["vocab_size"], params["subword_model"]
    sides = [("source", sources), ("target", targets)]
    if params["shared_vocab"]:
        sides = [("source and target", sources + targets)]
    tokenizers = []
    for side, texts in sides:
        try:
            tokenizers.append(SubwordTokenizer.train(texts, size, kind))
        except ValueError as exc:
            raise ConfigError(f"the {side} sentences cannot give {size} subwords: {exc}") from None
    return tokenizers[0], tokenizers[-1]


def check_pairs(X: Sequence[str], y: Sequence[str], what: str) -> tuple[list[str], list[str]]:
    """Sentences and their translations: two lists of strings, one translation each, no empty source."""
    if isinstance(X, str) or isinstance(y, str):
        raise DataError(f"the {what} sentences and translations must be lists of strings, not one string")
    sources, targets = list(X), list(y)
    if len(sources) != len(targets):
        raise DataError(f"{len(sources)} {what} sentences but {len(targets)} translations; one each is needed")
    if not sources:
        raise DataError(f"no {what} sentences")
    for i, (source, target) in enumerate(zip(sources, targets, strict=True)):
        if not isinstance(source, str) or not isinstance(target, str):
            raise DataError(f"{what} pair {i}: sentences must be strings")
        if not source.strip():
            raise DataError(f"{what} pair {i}: the sentence to translate is empty")
    return sources, targets
