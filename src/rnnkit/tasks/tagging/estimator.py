"""``SequenceTagger``: one tag per token (named entities, parts of speech), scikit-learn style.

Tags are read in the scheme of the data (IOB1, IOB2, BIOES, or plain tags such as POS), trained in
BIOES (chunk-aware tags are about one F1 point better than BIO, Ratinov & Roth 2009, Lample et al.
2016) and written back in the data's scheme. Parameters are stored untouched by ``__init__``;
everything learned ends in ``_``.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from rnnkit.data.vectors import pretrained_matrix
from rnnkit.errors import ConfigError, DataError
from rnnkit.nn.encoder import use_pretrained
from rnnkit.tasks.params import validate_params
from rnnkit.tasks.tagging import bundle
from rnnkit.tasks.tagging.encode import Sentences, encode, normalize
from rnnkit.tasks.tagging.metrics import tagging_report
from rnnkit.tasks.tagging.model import RNNTagger, TaggerEnsemble, TaggingExamples, predict_tag_ids
from rnnkit.tasks.tagging.schemes import check_scheme, chunks, detect_scheme, from_bioes, to_bioes
from rnnkit.text.pipeline import Vocab, token_spans
from rnnkit.train.checkpoint import Checkpoints, fingerprint
from rnnkit.train.ensemble import train_members
from rnnkit.train.loop import TrainSettings, schedule

BIOES_PREFIXES = ("B-", "I-", "E-", "S-")
# A tagger learns for longer than a classifier: on CoNLL-2003 (395 batches an epoch) the validation
# entity F1 still rose at epoch 20 (0.831 at 10, 0.854 at 18). Auto epochs give at least this many updates.
TAGGER_MIN_UPDATES = 12_000


class TagRepairWarning(UserWarning):
    """Ill-formed tag sequences (an IOB2 entity starting with I-) were read the CoNLL way."""


class SequenceTagger(BaseEstimator):
    """Recurrent sequence tagger: token lists in, one tag per token out.

    ``fit(token_lists, tag_lists)``, ``predict(token_lists)`` -> tag lists, ``predict_entities(texts)``
    for raw text, ``score`` (entity F1, or token accuracy for plain tags), ``save``.

    ``ensemble`` networks are trained, one after another, each a whole run with its own seed
    (``seed``, ``seed + 1``, ...) and its own early stopping, and they tag together by the mean of
    their scores (:class:`rnnkit.tasks.tagging.model.TaggerEnsemble`). Two are the default: on
    CoNLL-2003 they tag about one entity F1 point above their mean (seeds alone scatter over about a
    point), for twice the training and tagging time; ``ensemble=1`` trains one network.
    """

    monitors = ("f1", "accuracy", "loss", None)  # None: entity F1 for entity tags, else accuracy

    def __init__(
        self,
        *,
        cell: str = "gru",
        num_layers: int = 1,
        hidden_size: int = 200,
        embedding_dim: int = 100,
        embeddings: str | None = None,
        freeze_embeddings: bool = False,
        char_encoder: str = "cnn",
        char_dim: int = 30,
        char_size: int = 100,
        casing: bool = True,
        lowercase: bool = True,
        num_words: int | None = None,
        min_freq: int = 1,
        dropout: float = 0.5,
        word_dropout: float = 0.5,
        crf: bool = True,
        ensemble: int = 2,
        tag_scheme: str | None = None,
        batch_size: int = 32,
        epochs: int | None = None,
        lr: float = 2e-3,
        lr_decay: float = 1.0,
        ema: float = 0.999,
        clip_norm: float | None = 5.0,
        patience: int | None = None,
        monitor: str | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        verbose: bool = False,
    ):
        self.cell = cell
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.embedding_dim = embedding_dim
        self.embeddings = embeddings
        self.freeze_embeddings = freeze_embeddings
        self.char_encoder = char_encoder
        self.char_dim = char_dim
        self.char_size = char_size
        self.casing = casing
        self.lowercase = lowercase
        self.num_words = num_words
        self.min_freq = min_freq
        self.dropout = dropout
        self.word_dropout = word_dropout
        self.crf = crf
        self.ensemble = ensemble
        self.tag_scheme = tag_scheme
        self.batch_size = batch_size
        self.epochs = epochs
        self.lr = lr
        self.lr_decay = lr_decay
        self.ema = ema
        self.clip_norm = clip_norm
        self.patience = patience
        self.monitor = monitor
        self.val_fraction = val_fraction
        self.seed = seed
        self.verbose = verbose

    def fit(
        self,
        X: Sequence[Sequence[str]],
        y: Sequence[Sequence[str]],
        validation_data: tuple | None = None,
        *,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: float | None = None,
        resume: bool = False,
    ) -> SequenceTagger:
        """Train on sentences ``X`` (token lists) with tags ``y`` (one list per sentence).

        Early stopping watches ``validation_data=(token_lists, tag_lists)`` when given, else the last
        ``val_fraction`` of the sentences (not a random sample: sentences of one document share
        names, and a random split would let validation see them). Checkpoints and ``resume`` work as
        in :meth:`rnnkit.TextClassifier.fit`.
        """
        params = dict(self.get_params())
        validate_params(params, self.monitors)
        given = params
        if resume and checkpoint_dir is None:
            raise ConfigError("resume=True needs the checkpoint_dir to resume from")
        started = time.perf_counter()
        tokens, tags = check_tokens(X, "training"), check_tags(y, X, "training")
        if not tokens:
            raise DataError("no training data: the list of sentences is empty")
        if validation_data is not None:
            val_tokens = check_tokens(validation_data[0], "validation")
            val_tags = check_tags(validation_data[1], validation_data[0], "validation")
        else:
            cut = len(tokens) - round(len(tokens) * params["val_fraction"])
            tokens, tags, val_tokens, val_tags = tokens[:cut], tags[:cut], tokens[cut:], tags[cut:]
        scheme = check_scheme(params["tag_scheme"]) if params["tag_scheme"] else detect_scheme(tags)
        train_tags = self._internal(tags, scheme, "training")
        val_internal = self._internal(val_tags, scheme, "validation")
        tag_names = tag_set(train_tags, scheme)
        tag_index = {t: i for i, t in enumerate(tag_names)}
        check_known_tags(val_internal, tag_index, "the validation data")

        words = [[normalize(t, params["lowercase"]) for t in sentence] for sentence in tokens]
        vocab = Vocab.build(words, num_words=params["num_words"], min_freq=params["min_freq"])
        char_vocab = Vocab.build(list(t) for sentence in tokens for t in sentence)
        train_set = encode(tokens, vocab, char_vocab, params["lowercase"], tag_index, train_tags)
        val_set = encode(val_tokens, vocab, char_vocab, params["lowercase"], tag_index, val_internal)
        pretrained = None
        if params["embeddings"] is not None:
            pretrained = pretrained_matrix(params["embeddings"], vocab, params["seed"], params["verbose"])
            params = {**params, "embedding_dim": pretrained.shape[1]}  # the file decides (identity: as given)

        rare = [vocab[word] for word, n in Counter(w for sentence in words for w in sentence).items() if n == 1]
        chunked = scheme != "plain"
        monitor = params["monitor"] or ("f1" if chunked else "accuracy")
        if monitor == "f1" and not chunked:
            raise ConfigError("monitor='f1' needs entity tags (IOB1, IOB2 or BIOES); these are plain tags")
        epochs, patience = schedule(
            len(train_set), params["batch_size"], params["epochs"], params["patience"], TAGGER_MIN_UPDATES
        )
        data = fingerprint(*(map(" ".join, column) for column in (tokens, tags, val_tokens, val_tags)))
        checkpoints = Checkpoints.of_run(checkpoint_dir, checkpoint_every, given, tags=tag_names, data=data)

        def build() -> RNNTagger:
            member = make_member(params, len(vocab), len(char_vocab), tag_names)
            member.rare[rare] = True
            if pretrained is not None:
                use_pretrained(member.embedding, torch.from_numpy(pretrained), params["freeze_embeddings"])
            return member

        train_data = TaggingExamples(train_set, tag_names, chunked)
        val_data = TaggingExamples(val_set, tag_names, chunked) if len(val_set) else None
        trained = train_members(
            params["ensemble"],
            build,
            lambda _: (train_data, val_data),
            TrainSettings.of(params, epochs, patience, monitor),
            checkpoints=checkpoints,
            resume=resume,
        )
        members, histories = zip(*trained, strict=True)
        model = members[0] if len(members) == 1 else TaggerEnsemble(list(members)).eval()
        history = (
            histories[0] if len(members) == 1 else [{"member": i, **r} for i, h in enumerate(histories, 1) for r in h]
        )
        self.params_, self.scheme_, self.tag_names_ = params, scheme, tag_names
        self.vocab_, self.char_vocab_, self.model_, self.history_ = vocab, char_vocab, model, history
        self.train_seconds_ = time.perf_counter() - started
        return self

    def _internal(self, tag_lists: list[list[str]], scheme: str, what: str) -> list[list[str]]:
        """Tags in the scheme the model learns (BIOES, or plain as they are); repairs are warned about."""
        converted = [to_bioes(tags, scheme) for tags in tag_lists]
        repaired = sum(count for _, count in converted)
        if repaired:
            warnings.warn(
                f"{repaired} ill-formed tags in the {what} data (an entity starting with I- in {scheme}) "
                "were read as the start of an entity, as conlleval does",
                TagRepairWarning,
                stacklevel=3,
            )
        return [tags for tags, _ in converted]

    def _encode(self, token_lists: list[list[str]]) -> Sentences:
        return encode(token_lists, self.vocab_, self.char_vocab_, self.params_["lowercase"])

    def predict_bioes(self, X: Sequence[Sequence[str]], confidences: list | None = None) -> list[list[str]]:
        """The tags in the model's own scheme (BIOES, or plain). With ``confidences``, it receives
        each sentence's probabilities of its tags (CRF marginals, or the softmax)."""
        check_is_fitted(self, "model_")
        token_lists = check_tokens(X, "prediction", allow_empty=True)
        keep = [i for i, tokens in enumerate(token_lists) if tokens]
        # The probabilities (CRF marginals: a forward-backward pass) only when asked for.
        found: list[np.ndarray] | None = [] if confidences is not None else None
        ids = predict_tag_ids(self.model_, self._encode([token_lists[i] for i in keep]), confidences=found)
        out: list[list[str]] = [[] for _ in token_lists]
        for i, best in zip(keep, ids, strict=True):
            out[i] = [self.tag_names_[t] for t in best]
        if confidences is not None:
            chosen = [np.zeros(0, dtype=np.float32) for _ in token_lists]
            for i, probability in zip(keep, found, strict=True):
                chosen[i] = probability
            confidences.extend(chosen)
        return out

    def predict(self, X: Sequence[Sequence[str]]) -> list[list[str]]:
        """One tag per token, in the scheme of the training data."""
        return [from_bioes(tags, self.scheme_) for tags in self.predict_bioes(X)]

    def predict_entities(self, texts: Sequence[str]) -> list[list[dict]]:
        """For each raw text, its entities ``{text, label, start, end, score}`` with character
        offsets into the text; ``score`` is the model's mean probability of the entity's tags."""
        check_is_fitted(self, "model_")
        if isinstance(texts, str):
            raise DataError("expected a list of texts, got a single string; wrap it in a list")
        spans = [token_spans(text) for text in texts]
        return self.entities_of(list(texts), spans)

    def entities_of(self, texts: list[str], spans: list[list[tuple[str, int, int]]]) -> list[list[dict]]:
        """Entities of texts already split into ``(token, start, end)`` spans."""
        if self.scheme_ == "plain":
            raise ConfigError("this tagger's tags are plain (such as parts of speech), not entities")
        return self.tag_spans(texts, spans)[1]

    def tag_spans(
        self, texts: list[str], spans: list[list[tuple[str, int, int]]]
    ) -> tuple[list[list[str]], list[list[dict]] | None]:
        """(tags in the training data's scheme, entities ``{text, label, start, end, score}`` or None
        for plain tags) of texts already split into ``(token, start, end)`` spans, from one pass of
        the network; ``score`` is the mean probability of an entity's tags."""
        confidences: list[np.ndarray] = []
        bioes = self.predict_bioes([[token for token, _, _ in s] for s in spans], confidences)
        tags = [from_bioes(sentence_tags, self.scheme_) for sentence_tags in bioes]
        if self.scheme_ == "plain":
            return tags, None
        out = []
        for text, spanned, sentence_tags, probability in zip(texts, spans, bioes, confidences, strict=True):
            entities = []
            for label, first, last in chunks(sentence_tags):
                start, end = spanned[first][1], spanned[last - 1][2]
                score = round(float(probability[first:last].mean()), 4)
                entities.append({"text": text[start:end], "label": label, "start": start, "end": end, "score": score})
            out.append(entities)
        return tags, out

    def report(self, X: Sequence[Sequence[str]], y: Sequence[Sequence[str]]) -> dict:
        """Entity precision/recall/F1 (micro and per type) and token accuracy, or token and per-tag
        accuracy for plain tags: see :func:`rnnkit.tasks.tagging.metrics.tagging_report`."""
        check_is_fitted(self, "model_")
        gold = self._internal(check_tags(y, X, "evaluation"), self.scheme_, "evaluation")
        return tagging_report(gold, self.predict_bioes(X), self.scheme_)

    def score(self, X: Sequence[Sequence[str]], y: Sequence[Sequence[str]]) -> float:
        """Entity F1 (0-1), or token accuracy for plain tags."""
        report = self.report(X, y)
        return report["f1"] if "f1" in report else report["token_accuracy"]

    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write the model bundle directory (atomically); ``metrics`` adds ``metrics.json``."""
        check_is_fitted(self, "model_")
        return bundle.save(self, Path(path), metrics)


def make_tagger(params: dict, vocab_size: int, num_chars: int, tag_names: list[str]) -> RNNTagger | TaggerEnsemble:
    """The untrained network of a parameter set: one tagger, or an ensemble of ``params["ensemble"]``."""
    if params["ensemble"] == 1:
        return make_member(params, vocab_size, num_chars, tag_names)
    return TaggerEnsemble([make_member(params, vocab_size, num_chars, tag_names) for _ in range(params["ensemble"])])


def make_member(params: dict, vocab_size: int, num_chars: int, tag_names: list[str]) -> RNNTagger:
    """One untrained tagging network of a parameter set."""
    names = ("cell", "hidden_size", "num_layers", "embedding_dim", "char_encoder", "char_dim", "char_size")
    return RNNTagger(
        vocab_size,
        num_chars,
        tag_names,
        **{k: params[k] for k in names},
        **{k: params[k] for k in ("casing", "dropout", "word_dropout", "crf")},
    )


def tag_set(tag_lists: list[list[str]], scheme: str) -> list[str]:
    """The tags the model scores: for entities "O" and all four BIOES tags of every type seen (so
    the CRF's constraints are complete); plain tags as seen, sorted."""
    seen = {t for tags in tag_lists for t in tags}
    if scheme == "plain":
        return sorted(seen)
    types = sorted({t[2:] for t in seen if t != "O"})
    return ["O"] + [prefix + kind for kind in types for prefix in BIOES_PREFIXES]


def check_tokens(X, what: str, allow_empty: bool = False) -> list[list[str]]:
    """Sentences as lists of non-empty strings (a single string is refused: wrap it in a list)."""
    if isinstance(X, str):
        raise DataError("expected a list of sentences (token lists), got a single string")
    sentences = []
    for i, sentence in enumerate(X):
        if isinstance(sentence, str):
            raise DataError(f"{what} sentence {i} is a string, not a list of tokens; split it first")
        tokens = list(sentence)
        if not tokens and not allow_empty:
            raise DataError(f"{what} sentence {i} has no tokens")
        if not all(isinstance(t, str) and t and not t.isspace() for t in tokens):
            raise DataError(f"{what} sentence {i}: every token must be a non-blank string")
        sentences.append(tokens)
    return sentences


def check_tags(y, X, what: str) -> list[list[str]]:
    """Tag lists, one tag (a non-empty string) per token of the matching sentence."""
    tag_lists = [list(tags) for tags in y]
    sentences = list(X)
    if len(tag_lists) != len(sentences):
        raise DataError(f"{what} data has {len(sentences)} sentences but {len(tag_lists)} tag lists")
    for i, (tokens, tags) in enumerate(zip(sentences, tag_lists, strict=True)):
        if len(tags) != len(tokens):
            raise DataError(f"{what} sentence {i} has {len(tokens)} tokens but {len(tags)} tags")
        if not all(isinstance(t, str) and t for t in tags):
            raise DataError(f"{what} sentence {i}: every tag must be a non-empty string")
    return tag_lists


def check_known_tags(tag_lists: list[list[str]], tag_index: dict[str, int], what: str) -> None:
    """Refuse tags the model cannot produce (a type or tag absent from the training data)."""
    unknown = sorted({t for tags in tag_lists for t in tags if t not in tag_index})
    if unknown:
        raise DataError(f"{what} has tags the training data lacks: {', '.join(unknown[:10])}")
