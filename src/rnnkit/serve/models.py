"""What each kind of bundle answers over HTTP: one instance in, one prediction out, in batches.

An instance is what one item of a request's ``instances`` (KServe v1) or ``inputs`` (MLflow) holds:

* text classifier: a text (or ``{"text": ...}``) -> ``{"label", "probabilities": {class: p}}``;
  ``:explain`` adds ``"explanation"`` (:mod:`rnnkit.explain.text`);
* series classifier: numbers ``[...]`` or rows ``[[...], ...]`` -> the same;
* tagger: a text -> ``{"entities": [{"text", "label", "start", "end", "score"}], "tokens": [...]}``
  (a tagger of plain tags: ``tokens`` with their tags);
* translator: a sentence -> ``{"translation"}``;
* language model: a prompt (or ``{"prompt", "length", "temperature", "top_k", "seed"}``) -> ``{"text"}``;
* forecaster: rows of the training columns ``[[...], ...]`` (or ``{"history": rows, "last_time"}``)
  -> ``{"values": [[...]], "columns", "times"}`` (times when the model knows its step and the last
  time is given).

Every check of an instance raises :class:`RequestError` with the message the client sees (400).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.explain.text import explain
from rnnkit.tasks.classification.estimator import TextClassifier
from rnnkit.tasks.forecasting.estimator import Forecaster
from rnnkit.tasks.language_model.estimator import LanguageModel
from rnnkit.tasks.series_classification.estimator import SeriesClassifier
from rnnkit.tasks.tagging.estimator import SequenceTagger
from rnnkit.tasks.translation.estimator import Translator
from rnnkit.text.pipeline import token_spans

MAX_TEXT_CHARS = 100_000  # one instance; the request's byte limit usually comes first
MAX_GENERATE = 2_000  # tokens a language-model request may ask for


class RequestError(Exception):
    """A request the server refuses: ``status`` and the one-line ``message`` of its body."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class Served:
    """A loaded bundle as the server uses it: ``parse`` checks one instance, ``predict`` answers a
    batch of parsed ones, ``cost`` is what an instance weighs against the batch cap (characters or
    values)."""

    name: str
    model: Any
    parse: Callable[[Any], Any]
    predict: Callable[[list], list[dict]]
    cost: Callable[[Any], int]
    explain: Callable[[list], list[dict]] | None = None
    example: Any = "a short example"

    @property
    def kind(self) -> str:
        return type(self.model).__name__


def served(name: str, model: Any) -> Served:
    """The :class:`Served` of a loaded bundle."""
    if isinstance(model, TextClassifier):
        return Served(
            name,
            model,
            text_of,
            lambda texts: classify(model, model.predict_proba(texts)),
            len,
            lambda texts: [
                {**p, "explanation": explain(model, t)}
                for t, p in zip(texts, classify(model, model.predict_proba(texts)), strict=True)
            ],
        )
    if isinstance(model, SeriesClassifier):
        return Served(
            name,
            model,
            lambda x: series_of(model, x),
            lambda xs: classify(model, model.predict_proba(xs)),
            np.size,
            example=np.zeros((8, model.channels_)).tolist(),
        )
    if isinstance(model, SequenceTagger):
        return Served(name, model, text_of, lambda texts: tag(model, texts), len)
    if isinstance(model, Translator):
        return Served(name, model, text_of, lambda texts: [{"translation": t} for t in model.translate(texts)], len)
    if isinstance(model, LanguageModel):
        return Served(
            name,
            model,
            prompt_of,
            lambda prompts: [{"text": model.generate(**p)} for p in prompts],
            lambda p: len(p["prompt"]) + p["length"],
            example={"prompt": "", "length": 8},
        )
    if isinstance(model, Forecaster):
        return Served(
            name,
            model,
            lambda x: history_of(model, x),
            lambda xs: [forecast(model, *x) for x in xs],
            lambda x: int(np.size(x[0])),
            example={"history": np.zeros((model.params_["lookback"], len(model.columns_))).tolist()},
        )
    raise RnnkitError(f"{name}: a {type(model).__name__} cannot be served")


def classify(model: TextClassifier | SeriesClassifier, proba: np.ndarray) -> list[dict]:
    classes = [c.item() if hasattr(c, "item") else c for c in np.asarray(model.classes_)]
    return [
        {
            "label": classes[int(row.argmax())],
            "probabilities": {str(c): float(p) for c, p in zip(classes, row, strict=True)},
        }
        for row in proba
    ]


def tag(model: SequenceTagger, texts: list[str]) -> list[dict]:
    spans = [token_spans(text) for text in texts]
    tags, entities = model.tag_spans(texts, spans)
    entities = entities or [None] * len(texts)
    out = []
    for spanned, sentence_tags, found in zip(spans, tags, entities, strict=True):
        tokens = [
            {"text": t, "start": a, "end": b, "tag": g} for (t, a, b), g in zip(spanned, sentence_tags, strict=True)
        ]
        out.append({"tokens": tokens} if found is None else {"entities": found, "tokens": tokens})
    return out


def text_of(instance: Any) -> str:
    if isinstance(instance, dict) and set(instance) == {"text"}:
        instance = instance["text"]
    if not isinstance(instance, str):
        raise RequestError('each instance must be a text (a JSON string, or {"text": ...})')
    if len(instance) > MAX_TEXT_CHARS:
        raise RequestError(f"a text may hold at most {MAX_TEXT_CHARS:,} characters; got {len(instance):,}")
    return instance


def numbers_of(instance: Any) -> np.ndarray:
    try:
        values = np.asarray(instance, dtype=np.float64)
    except (TypeError, ValueError):
        raise RequestError("each instance must be a series: numbers [..] or rows of numbers [[..], ..]") from None
    if values.ndim not in (1, 2) or values.size == 0 or not np.isfinite(values).all():
        raise RequestError("each instance must be a non-empty series of finite numbers, (time,) or (time, channels)")
    return values


def series_of(model: SeriesClassifier, instance: Any) -> np.ndarray:
    values = numbers_of(instance)
    channels = 1 if values.ndim == 1 else values.shape[1]
    if channels != model.channels_:
        raise RequestError(f"the series has {channels} channel(s); the model reads {model.channels_}")
    return values


def prompt_of(instance: Any) -> dict:
    options = {"prompt": instance} if isinstance(instance, str) else instance
    allowed = {"prompt", "length", "temperature", "top_k", "seed"}
    if not isinstance(options, dict) or not isinstance(options.get("prompt", ""), str) or set(options) - allowed:
        raise RequestError(f"each instance must be a prompt, or an object with the keys {', '.join(sorted(allowed))}")
    length = options.get("length", 200)
    if not isinstance(length, int) or isinstance(length, bool) or not 1 <= length <= MAX_GENERATE:
        raise RequestError(f"length must be an integer from 1 to {MAX_GENERATE}")
    return {
        "prompt": options.get("prompt", ""),
        **{k: v for k, v in options.items() if k != "prompt"},
        "length": length,
    }


def history_of(model: Forecaster, instance: Any) -> tuple[np.ndarray, np.datetime64 | None]:
    last = None
    if isinstance(instance, dict):
        if set(instance) - {"history", "last_time"} or "history" not in instance:
            raise RequestError('a forecast instance is rows of numbers, or {"history": rows, "last_time": time}')
        instance, last = instance["history"], instance.get("last_time")
        try:
            last = None if last is None else np.datetime64(last)
        except (TypeError, ValueError):
            raise RequestError(f"last_time {last!r} is not an ISO 8601 time (such as 2018-06-26 19:00)") from None
    values = numbers_of(instance)
    values = values[:, None] if values.ndim == 1 else values
    lookback, columns = model.params_["lookback"], len(model.columns_)
    if len(values) < lookback or values.shape[1] != columns:
        raise RequestError(
            f"the history has {len(values)} rows of {values.shape[1]} values; the model reads the last {lookback} "
            f"rows of {columns} ({', '.join(model.columns_)})"
        )
    return values, last


def forecast(model: Forecaster, history: np.ndarray, last: np.datetime64 | None) -> dict:
    values = model.predict(history)
    out = {"columns": model.columns_[: model.targets_], "values": values.tolist()}
    if last is not None and model.step_ is not None:
        out["times"] = [str(last + model.step_ * (i + 1)) for i in range(len(values))]
    return out


def check_instance(model: Served, instance: Any) -> Any:
    """``model.parse(instance)``, every failure a :class:`RequestError`."""
    try:
        return model.parse(instance)
    except RnnkitError as exc:
        raise RequestError(str(exc)) from None
